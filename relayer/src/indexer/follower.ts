/**
 * Follows the chain from the deployment block: reads the escrow's and the inventory's logs block range by
 * block range (`logReader.ts`: ranges the provider accepts, answers checked against the blocks' headers), keeps
 * a checkpoint with the hashes of recent blocks, detects reorgs by parent hash and rolls back to the common
 * ancestor. What the events mean for the store is the projector's work (`projector.ts`); each step or rollback
 * runs both in one transaction.
 *
 * It indexes up to a target: the head (`latest`) or the chain's `safe` or `finalized` block, minus
 * `indexDepth` blocks. Behind a load balancer the backends are at different heights: a block one of them does
 * not have yet (a null header) means "not there yet", and the follower waits for it; only a block the chain
 * gives with another hash, seen twice, is a reorg.
 */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { Metrics } from "../metrics";
import type { Db, Queryable } from "../store/db";
import {
  commitWithoutFlush,
  forgetBlocksAfter,
  forgetBlocksBefore,
  readCheckpoint,
  rememberBlocks,
  rememberedBlocksUpTo,
  saveCheckpoint,
} from "../store/indexerCheckpoint";
import { resetReconciliation, retractLedgerAfter } from "../store/ledger";
import { BlockNotYetAvailable, LogReader } from "./logReader";
import type { EventProjector } from "./projector";

/** How many recent block hashes are kept to find a common ancestor after a reorg. */
const KEEP_BLOCKS = 256;
/** A wait for a block that lasts longer than this is worth a warning (the endpoint may be stuck). */
const WARN_WAITING_MS = 30_000;
/**
 * While the head stands still, the checkpoint's block is read again at most this often: an idle poll costs one
 * request. A reorg is seen at the latest when the next block comes (its parent hash), or by this re-read.
 */
const RECHECK_IDLE_MS = 5_000;

/** The block the indexer follows: the head, or the chain's `safe` or `finalized` block (post-merge chains). */
export type IndexTarget = "latest" | "safe" | "finalized";
export const INDEX_TARGETS: readonly IndexTarget[] = ["latest", "safe", "finalized"];

export interface IndexerOptions {
  pollIntervalMs: number;
  /** The largest block range of one `eth_getLogs` call; narrowed while the provider refuses it. */
  batchBlocks: number;
  /** The block followed (default `latest`). */
  indexTarget?: IndexTarget;
  /** Blocks left unindexed below the target (default 0): a reorg shallower than this never reaches the store. */
  indexDepth?: number;
  /** Blocks below the head whose blooms are checked against the logs received (default 128). */
  verifyRecentBlocks?: number;
}

export class ChainFollower {
  /** The head (or the `safe` / `finalized` block) seen by the last step. */
  lastHead = 0n;
  private readonly reader: LogReader;
  private readonly target: IndexTarget;
  private readonly depth: number;
  private waitingSince: number | null = null;
  private warnedWaiting = false;
  /** The checkpoint whose block was last found unchanged, the tip seen then, and when. */
  private verified: { tip: number; lastBlock: bigint; lastHash: string; at: number } | null = null;

  constructor(
    private readonly db: Db,
    private readonly chain: ChainContext,
    private readonly opts: IndexerOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly projector: EventProjector,
  ) {
    this.target = opts.indexTarget ?? "latest";
    if (!INDEX_TARGETS.includes(this.target)) throw new Error(`indexTarget must be one of ${INDEX_TARGETS.join(", ")}`);
    this.depth = opts.indexDepth ?? 0;
    if (!Number.isSafeInteger(this.depth) || this.depth < 0) throw new Error("indexDepth must be a whole number >= 0");
    this.reader = new LogReader(
      chain.provider,
      [chain.addresses.escrow, chain.addresses.inventory],
      { maxSpan: opts.batchBlocks, verifyRecentBlocks: opts.verifyRecentBlocks },
      log,
    );
  }

  /** The last indexed block and its hash; before the first step, the block before the deployment. */
  async checkpoint(q: Queryable = this.db): Promise<{ lastBlock: bigint; lastHash: string | null }> {
    return (await readCheckpoint(q)) ?? { lastBlock: BigInt(this.chain.addresses.startBlock) - 1n, lastHash: null };
  }

  /**
   * Indexes the next range (at most `batchBlocks` blocks, fewer while the provider refuses that many), or rolls
   * back a reorg; true when there is more to do. A block the endpoint does not have yet ends the step: false,
   * and the next poll asks again.
   */
  async step(): Promise<boolean> {
    try {
      const more = await this.advance();
      this.waitingSince = null;
      this.warnedWaiting = false;
      return more;
    } catch (err) {
      if (!(err instanceof BlockNotYetAvailable)) throw err;
      const now = Date.now();
      this.waitingSince ??= now;
      if (now - this.waitingSince > WARN_WAITING_MS && !this.warnedWaiting) {
        this.warnedWaiting = true;
        this.log.warn(
          { err: err.message, waitingMs: now - this.waitingSince },
          "still waiting for a block the endpoint does not give",
        );
      } else {
        this.log.debug({ err: err.message }, "block not available yet (a backend behind the head answered); waiting");
      }
      return false;
    }
  }

  /** The block to index up to: the target block's number minus `indexDepth`; and that target block's number. */
  private async tip(): Promise<{ tip: number; upTo: number }> {
    let tip: number;
    if (this.target === "latest") tip = await this.chain.provider.getBlockNumber();
    else {
      const b = await this.reader.headerOrNull(this.target);
      if (!b)
        throw new Error(`the endpoint gives no "${this.target}" block: use indexTarget "latest" with an indexDepth`);
      tip = b.number;
    }
    return { tip, upTo: tip - this.depth };
  }

  private async advance(): Promise<boolean> {
    const started = performance.now();
    const { tip, upTo } = await this.tip();
    const head = BigInt(upTo);
    this.lastHead = BigInt(tip);
    const { lastBlock, lastHash } = await this.checkpoint();
    this.metrics.indexerLag.set(Number(BigInt(tip) > lastBlock ? BigInt(tip) - lastBlock : 0n));
    if (lastBlock >= 0n && lastHash && !this.stillVerified(tip, lastBlock, lastHash)) {
      // A null header (a backend behind the head) is no evidence: `header` throws BlockNotYetAvailable.
      const current = await this.reader.header(Number(lastBlock));
      if (current.hash !== lastHash) {
        this.verified = null;
        return this.rollback(lastBlock);
      }
      this.verified = { tip, lastBlock, lastHash, at: Date.now() };
    }
    if (head <= lastBlock) return false;
    const from = lastBlock + 1n;
    const limit = head < from + BigInt(this.opts.batchBlocks) - 1n ? head : from + BigInt(this.opts.batchBlocks) - 1n;
    const { to: end, logs, blocks } = await this.reader.read(Number(from), Number(limit), tip, lastHash !== null);
    const to = BigInt(end);
    const first = blocks.get(Number(from));
    if (first && lastHash && first.parentHash !== lastHash) return this.rollback(lastBlock);
    const fetchedMs = performance.now() - started;
    await this.db.tx(async (q) => {
      // Everything this transaction writes is derived from the chain, checkpoint included: if a crash loses
      // its commit, the checkpoint goes with it and the step is done again. It need not wait for the disk.
      await commitWithoutFlush(q);
      await this.projector.project(q, Number(from), Number(to), logs, blocks);
      await rememberBlocks(q, blocks);
      await forgetBlocksBefore(q, Number(to) - KEEP_BLOCKS);
      await saveCheckpoint(q, Number(to), blocks.get(Number(to))!.hash);
    });
    this.metrics.indexerLag.set(Number(BigInt(tip) - to));
    this.log.debug(
      {
        from: String(from),
        to: String(to),
        logs: logs.length,
        span: this.reader.currentSpan,
        rpcMs: Math.round(fetchedMs),
        dbMs: Math.round(performance.now() - started - fetchedMs),
      },
      "indexed",
    );
    return to < head;
  }

  /** Whether the checkpoint's block was found unchanged lately, with the same tip and checkpoint as now. */
  private stillVerified(tip: number, lastBlock: bigint, lastHash: string): boolean {
    const v = this.verified;
    return (
      v !== null &&
      v.tip === tip &&
      v.lastBlock === lastBlock &&
      v.lastHash === lastHash &&
      Date.now() - v.at < RECHECK_IDLE_MS
    );
  }

  /**
   * Walks back from `fromBlock` to the newest block whose stored hash the chain still has, and undoes the rest.
   * Every hash is read again here: when `fromBlock` itself is back to its stored hash, the other hash came from
   * a backend on a stale fork and nothing is undone; a block the endpoint does not give (null) stops the walk
   * (BlockNotYetAvailable) rather than counting as replaced. True when it rolled back.
   */
  private async rollback(fromBlock: bigint): Promise<boolean> {
    const stored = await rememberedBlocksUpTo(this.db, Number(fromBlock));
    let ancestor = BigInt(this.chain.addresses.startBlock) - 1n;
    let ancestorHash: string | null = null;
    for (const row of stored) {
      const b = await this.reader.header(Number(row.number));
      if (b.hash === row.hash) {
        ancestor = BigInt(row.number);
        ancestorHash = row.hash;
        break;
      }
    }
    if (ancestor === fromBlock) {
      this.log.info(
        { block: String(fromBlock) },
        "a block's hash differed, then matched again (a backend on another fork answered); not rolled back",
      );
      return false;
    }
    this.log.warn(
      { from: String(fromBlock), ancestor: String(ancestor) },
      "reorg detected; rolling back to the common ancestor",
    );
    await this.db.tx(async (q) => {
      // The ledger lines of the removed blocks leave their accounts' running totals before their events go.
      await retractLedgerAfter(q, Number(ancestor));
      const retracted = await this.projector.retractAfter(q, Number(ancestor));
      await forgetBlocksAfter(q, Number(ancestor));
      await this.projector.reproject(q, Number(ancestor), retracted);
      await saveCheckpoint(q, Number(ancestor), ancestorHash);
      await resetReconciliation(q, Number(ancestor));
      await this.projector.requeueReorgedCommands(q);
    });
    return true;
  }
}
