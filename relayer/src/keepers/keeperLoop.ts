/**
 * The keepers: a loop that, every KEEPER_INTERVAL_MS, finds the relayer's orders whose deadline passed on chain
 * and queues the escrow call that anyone may then make (jobs/keepers.ts): release a shipped order's payment once
 * its protection period ended, cancel an unpaid order once its payment deadline passed (its stock returns to the
 * merchant), apply a dispute's default outcome once its deadline passed.
 *
 * Time is the chain's: the latest block's timestamp, which is what the escrow compares its deadlines with. Any
 * number of relayer processes may run it on one database: one pass runs at a time (a transaction-scoped advisory
 * lock; a process that finds it taken skips its turn), and each order gets at most one live or carried-out command
 * per action (a unique index, inserts that conflict do nothing). A pass queues at most KEEPER_MAX_ORDERS_PER_PASS
 * orders per action, the longest overdue first; the rest wait for the next pass.
 *
 * A command that failed (the escrow refused the call for a reason that may pass) does not end the keeper's work on
 * the order: the action is queued again after a backoff (doubling after each failure), up to a number of attempts;
 * after the last, the order keeps the error for the merchant to act on. An order that moved on chain meanwhile is
 * not retried: its command ends moot, and the order is no longer due.
 */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { KeeperActionName } from "../domain/command";
import { KEEPER_ACTIONS, observeKeeperOutcomes } from "../jobs/keepers";
import type { Metrics } from "../metrics";
import type { Db } from "../store/db";
import {
  DEFAULT_KEEPER_RETRY,
  countDueOrders,
  enqueueDueKeeperCommands,
  tryTakeKeeperPass,
  type KeeperRetry,
  type QueuedKeeperCommand,
} from "../store/keepers";

export interface KeeperOptions {
  /** The actions this process runs (KEEPERS); none: the loop does not start. */
  actions: readonly KeeperActionName[];
  intervalMs: number;
  /** Orders queued per action and pass, at most. */
  maxOrdersPerPass: number;
  /** Attempts after failures (default: 5 in all, a backoff of 4 intervals doubling up to an hour). */
  retry?: Partial<KeeperRetry>;
}

/**
 * The retry settings of `opts`, defaults filled in (store/keepers.ts DEFAULT_KEEPER_RETRY; the first wait is 4
 * intervals): with the default interval, 1, 2, 4, 8 minutes between tries.
 */
export function keeperRetry(opts: Pick<KeeperOptions, "intervalMs" | "retry">): KeeperRetry {
  return {
    maxAttempts: opts.retry?.maxAttempts ?? DEFAULT_KEEPER_RETRY.maxAttempts,
    backoffMs: opts.retry?.backoffMs ?? 4 * opts.intervalMs,
    maxBackoffMs: opts.retry?.maxBackoffMs ?? DEFAULT_KEEPER_RETRY.maxBackoffMs,
  };
}

/** What one pass saw and did. */
export interface KeeperPass {
  /** Another process was running a pass: this one did nothing. */
  skipped: boolean;
  /** The chain time the pass compared deadlines with (unix seconds). */
  chainTime: bigint;
  /** Per action: orders due without a command when the pass began, how many it queued, how many of those again. */
  actions: Partial<Record<KeeperActionName, { due: number; queued: number; retried: number }>>;
}

/** Longest wait after failed passes (a node or database that does not answer). */
const MAX_BACKOFF_MS = 60_000;

export class KeeperLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<KeeperPass> | null = null;
  private stopped = true;
  private backoffMs = 0;

  constructor(
    private readonly db: Db,
    private readonly chain: ChainContext,
    private readonly opts: KeeperOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    // This process's writer may carry out keeper commands another process queued: count their outcomes here
    // whether or not this process runs keepers itself.
    observeKeeperOutcomes(db, (action, outcome) => metrics.keeperActions.inc({ action, outcome }));
  }

  start(): void {
    if (this.opts.actions.length === 0) {
      this.log.info("keepers are off (KEEPERS=none)");
      return;
    }
    this.stopped = false;
    this.log.info(
      { actions: this.opts.actions, intervalMs: this.opts.intervalMs, maxOrdersPerPass: this.opts.maxOrdersPerPass },
      "keepers started",
    );
    const loop = async () => {
      if (this.stopped) return;
      try {
        await this.pass();
        this.backoffMs = 0;
      } catch (err) {
        this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1_000, this.backoffMs * 2));
        this.log.warn({ err: String(err), retryInMs: this.backoffMs }, "keeper pass failed; backing off");
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs + this.backoffMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops taking passes and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass: queues the commands of the orders due now (a pass already running is awaited instead). */
  pass(): Promise<KeeperPass> {
    if (this.running) return this.running;
    this.running = this.runPass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runPass(): Promise<KeeperPass> {
    const head = await this.chain.provider.getBlock("latest");
    if (!head) throw new Error("the node returned no latest block");
    const chainTime = BigInt(head.timestamp);
    const queuedNow: { name: KeeperActionName; orders: QueuedKeeperCommand[] }[] = [];
    const retry = keeperRetry(this.opts);
    const result = await this.db.tx(async (q): Promise<KeeperPass> => {
      const out: KeeperPass = { skipped: false, chainTime, actions: {} };
      if (!(await tryTakeKeeperPass(q))) return { ...out, skipped: true };
      for (const name of this.opts.actions) {
        const action = KEEPER_ACTIONS[name];
        const selection = { action: name, kind: action.kind, status: action.status, chainTime, retry };
        const due = await countDueOrders(q, selection);
        const orders = due === 0 ? [] : await enqueueDueKeeperCommands(q, selection, this.opts.maxOrdersPerPass);
        out.actions[name] = { due, queued: orders.length, retried: orders.filter((o) => o.attempt > 1).length };
        queuedNow.push({ name, orders });
      }
      return out;
    });
    // Reported once committed: a pass whose transaction failed queued nothing.
    for (const { name, orders } of queuedNow) {
      this.metrics.keeperDueOrders.set({ action: name }, result.actions[name]!.due);
      if (orders.length > 0) this.metrics.keeperActions.inc({ action: name, outcome: "enqueued" }, orders.length);
      const retried = result.actions[name]!.retried;
      if (retried > 0) this.metrics.keeperActions.inc({ action: name, outcome: "retried" }, retried);
      for (const o of orders) {
        this.log.info(
          {
            action: name,
            orderId: o.order_id,
            chainOrderId: o.chain_order_id,
            merchantId: o.merchant_id,
            attempt: o.attempt,
          },
          o.attempt > 1 ? "keeper action queued again after a failure" : "keeper action queued",
        );
      }
    }
    this.log.debug({ chainTime: String(chainTime), skipped: result.skipped, actions: result.actions }, "keeper pass");
    return result;
  }
}
