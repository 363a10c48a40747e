/**
 * The indexer follows the escrow's and the inventory's events from the deployment block, keeps a checkpoint
 * with the hashes of recent blocks, detects reorgs by parent hash and rolls back to the common ancestor, and
 * derives every order's view (`OrderView`, stored in `orders.record`) and API status from the events alone.
 *
 * This module runs it: a polling loop with backoff around the follower (`follower.ts`: checkpoint, target
 * block and depth, reorgs), which reads block ranges through `logReader.ts` (ranges the provider accepts,
 * answers checked against the blocks' headers) and hands each range's events to the projector
 * (`projector.ts`: events into the store, then the ledger and webhook hooks).
 */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { Metrics } from "../metrics";
import type { Db, Queryable } from "../store/db";
import { ChainFollower, type IndexerOptions } from "./follower";
import { EventProjector, type IndexerHooks } from "./projector";

export { INDEX_TARGETS, type IndexerOptions, type IndexTarget } from "./follower";
export type { IndexerHooks } from "./projector";

/** Longest wait between failed passes: short, so the API catches up soon after the RPC endpoint returns. */
const MAX_BACKOFF_MS = 5_000;

export class Indexer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private backoffMs = 0;
  private stopped = false;
  private readonly follower: ChainFollower;
  lastError: string | null = null;

  constructor(
    db: Db,
    chain: ChainContext,
    private readonly opts: IndexerOptions,
    private readonly log: Logger,
    metrics: Metrics,
    hooks?: IndexerHooks,
  ) {
    this.follower = new ChainFollower(db, chain, opts, log, metrics, new EventProjector(chain, hooks));
  }

  /** The chain head (or the followed `safe` / `finalized` block) seen by the last step. */
  get lastHead(): bigint {
    return this.follower.lastHead;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        await this.tick();
        this.backoffMs = 0;
        this.lastError = null;
      } catch (err) {
        this.lastError = String(err);
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs === 0 ? 500 : this.backoffMs * 2);
        this.log.warn({ err: String(err), retryInMs: this.backoffMs }, "indexer pass failed; backing off");
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.pollIntervalMs + this.backoffMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** The last indexed block and its hash; before the first step, the block before the deployment. */
  checkpoint(q?: Queryable): Promise<{ lastBlock: bigint; lastHash: string | null }> {
    return this.follower.checkpoint(q);
  }

  /** Indexes up to the target block minus `indexDepth` (at most `batchBlocks` per step); returns when caught up. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (;;) {
          const progressed = await this.follower.step();
          if (!progressed || this.stopped) break;
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
