/**
 * The keepers' commands (queued by relayer/src/keepers/): the escrow calls anyone may make once an order's
 * deadline passed, encoded from the order's stored terms. `keeper_release` pays a shipped order out after its
 * protection period (`autoRelease`), `keeper_expire` cancels an unpaid order after its payment deadline, its stock
 * going back to the merchant (`cancel`), `keeper_dispute_default` applies a dispute's default outcome after its
 * deadline (`settleExpiredDispute`).
 *
 * An order can move while its keeper command waits or is in flight (the buyer confirms, the merchant refunds,
 * another party calls the escrow first). Such a command ends confirmed as moot, never failed and never retried:
 * before sending, when the escrow already shows another state; after, when the escrow refused the call with
 * InvalidState. Any other refusal fails the command; the keeper loop queues the action again after a backoff, up to
 * a number of attempts (keepers/keeperLoop.ts), and the order shows the error meanwhile.
 */
import { OrderState, OrderStateName } from "../../../sdk/orderRecord";
import type { KeeperActionName, KeeperKind } from "../domain/command";
import type { JobDeps, JobHandler, Prepared, RevertDecision } from "../chain/jobPort";
import { RETRYABLE_ERRORS } from "../chain/decodeError";
import type { Db } from "../store/db";
import { keeperCommandWasMoot, noteKeeperMoot } from "../store/keepers";
import { NO_TERMS, noteOrderError, orderTermsOf } from "./common";

/** What one keeper does: when an order is due for it, and the escrow call that carries it out. */
export interface KeeperAction {
  name: KeeperActionName;
  kind: KeeperKind;
  /** The order's API status while the action is due (its deadline then means the action's deadline). */
  status: "shipped" | "created" | "disputed";
  /** The escrow state the call needs. */
  state: number;
  /** The escrow function, called with the order's terms and items. */
  call: "autoRelease" | "cancel" | "settleExpiredDispute";
}

export const KEEPER_ACTIONS: Record<KeeperActionName, KeeperAction> = {
  release: {
    name: "release",
    kind: "keeper_release",
    status: "shipped",
    state: OrderState.Shipped,
    call: "autoRelease",
  },
  expire: { name: "expire", kind: "keeper_expire", status: "created", state: OrderState.Created, call: "cancel" },
  dispute_default: {
    name: "dispute_default",
    kind: "keeper_dispute_default",
    status: "disputed",
    state: OrderState.Disputed,
    call: "settleExpiredDispute",
  },
};

/** How a keeper command ended: carried out, moot (the order had moved), or failed. */
export type KeeperOutcome = "confirmed" | "moot" | "failed";
type OutcomeObserver = (action: KeeperActionName, outcome: KeeperOutcome) => void;

/*
 * Outcomes are reported to the observer of the writer that handled the command (its process's metrics). The jobs
 * know their writer only by its database handle, so observers are keyed by it: two relayers in one process (the
 * tests) count each their own.
 */
const observers = new WeakMap<Db, OutcomeObserver>();

/** `observe` hears the outcome of every keeper command the writer on `db` finishes. */
export function observeKeeperOutcomes(db: Db, observe: OutcomeObserver): void {
  observers.set(db, observe);
}

const report = (deps: JobDeps, action: KeeperActionName, outcome: KeeperOutcome) =>
  observers.get(deps.db)?.(action, outcome);

/** Retry a command whose deadline has not passed on chain yet after this long (a reorg took the block back). */
const NOT_DUE_RETRY_MS = 5_000;

function keeperJob(action: KeeperAction): JobHandler {
  return {
    async prepare(cmd, deps): Promise<Prepared> {
      const o = await orderTermsOf(deps, cmd.order_id!);
      if (!o) {
        report(deps, action.name, "failed");
        return NO_TERMS;
      }
      const [status, head] = await Promise.all([
        deps.chain.escrow.statusOf(o.chainOrderId),
        deps.chain.provider.getBlock("latest"),
      ]);
      const state = Number(status.state);
      if (state !== action.state) {
        const reason = `the order is ${OrderStateName[state] ?? state} on chain, not ${OrderStateName[action.state]}`;
        await noteKeeperMoot(deps.db, cmd.id, reason);
        return { type: "done", note: reason };
      }
      // The escrow lets the merchant's operators (the relayer's signers) cancel before the payment deadline: the
      // deadline is checked here, against the chain's clock, for every action alike.
      if (!head || status.deadline >= BigInt(head.timestamp)) {
        return {
          type: "wait",
          delayMs: NOT_DUE_RETRY_MS,
          reason: `the deadline ${status.deadline} has not passed on chain (block time ${head?.timestamp})`,
        };
      }
      return { type: "escrow", data: deps.chain.escrowAbi.encode(action.call, [o.terms, o.items]) };
    },

    async onReverted(cmd, error, deps): Promise<RevertDecision> {
      // Someone moved the order while the call was in flight: the keeper's work is done by other hands.
      if (error.name === "InvalidState") {
        const now = OrderStateName[Number(error.args.current)] ?? error.args.current;
        await noteKeeperMoot(deps.db, cmd.id, `InvalidState: the order was ${now} when the call ran`);
        report(deps, action.name, "moot");
        return { type: "confirmed" };
      }
      // A creation reorged away and not mined again yet: the writer retries it a bounded number of times.
      if (RETRYABLE_ERRORS.has(error.name)) return { type: "default" };
      report(deps, action.name, "failed");
      const args = Object.entries(error.args).map(([k, v]) => `${k}=${v}`);
      return { type: "fail", code: error.name, message: `${error.name}(${args.join(", ")})` };
    },

    async onConfirmed(cmd, deps) {
      report(deps, action.name, (await keeperCommandWasMoot(deps.db, cmd.id)) ? "moot" : "confirmed");
      return "done";
    },

    // The order keeps its state and shows the error (with the attempt it ended); the keeper tries again after a
    // backoff, and the merchant (or anyone) can still make the call.
    onFailed: (q, cmd, code, message) =>
      noteOrderError(q, cmd, code, `${message} (attempt ${Number(cmd.payload.attempt ?? 1)})`),
  };
}

export const keeperJobs = {
  keeper_release: keeperJob(KEEPER_ACTIONS.release),
  keeper_expire: keeperJob(KEEPER_ACTIONS.expire),
  keeper_dispute_default: keeperJob(KEEPER_ACTIONS.dispute_default),
} satisfies Record<KeeperKind, JobHandler>;
