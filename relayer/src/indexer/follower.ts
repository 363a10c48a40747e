/**
 * Follows the chain from the deployment block: reads the escrow's and the inventory's logs block range by
 * block range, keeps a checkpoint with the hashes of recent blocks, detects reorgs by parent hash and rolls
 * back to the common ancestor. What the events mean for the store is the projector's work (`projector.ts`);
 * each step or rollback runs both in one transaction.
 */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import { getLogsRaw } from "../chain/rpc";
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
import type { EventProjector } from "./projector";

/** How many recent block hashes are kept to find a common ancestor after a reorg. */
const KEEP_BLOCKS = 256;

export interface IndexerOptions {
  pollIntervalMs: number;
  batchBlocks: number;
}

export class ChainFollower {
  /** The chain head seen by the last step. */
  lastHead = 0n;

  constructor(
    private readonly db: Db,
    private readonly chain: ChainContext,
    private readonly opts: IndexerOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly projector: EventProjector,
  ) {}

  /** The last indexed block and its hash; before the first step, the block before the deployment. */
  async checkpoint(q: Queryable = this.db): Promise<{ lastBlock: bigint; lastHash: string | null }> {
    return (await readCheckpoint(q)) ?? { lastBlock: BigInt(this.chain.addresses.startBlock) - 1n, lastHash: null };
  }

  /** Indexes the next range of at most `batchBlocks` blocks, or rolls back a reorg; true when there is more to do. */
  async step(): Promise<boolean> {
    const started = performance.now();
    const provider = this.chain.provider;
    const head = BigInt(await provider.getBlockNumber());
    this.lastHead = head;
    const { lastBlock, lastHash } = await this.checkpoint();
    this.metrics.indexerLag.set(Number(head > lastBlock ? head - lastBlock : 0n));
    if (lastBlock >= 0n && lastHash) {
      const current = await provider.getBlock(Number(lastBlock));
      if (!current || current.hash !== lastHash) {
        await this.rollback(lastBlock);
        return true;
      }
    }
    if (head <= lastBlock) return false;
    const from = lastBlock + 1n;
    const to = head < from + BigInt(this.opts.batchBlocks) - 1n ? head : from + BigInt(this.opts.batchBlocks) - 1n;
    const logs = await getLogsRaw(
      provider,
      [this.chain.addresses.escrow, this.chain.addresses.inventory],
      Number(from),
      Number(to),
    );
    // Block headers of the range end and of every block with logs: their hashes are the reorg evidence.
    const numbers = new Set<number>([Number(to), ...logs.map((l) => l.blockNumber)]);
    if (from === lastBlock + 1n && lastHash) numbers.add(Number(from));
    const blocks = new Map<number, { hash: string; parentHash: string; timestamp: number }>();
    await Promise.all(
      [...numbers].map(async (n) => {
        const b = await provider.getBlock(n);
        if (!b || !b.hash) throw new Error(`block ${n} not available`);
        blocks.set(n, { hash: b.hash, parentHash: b.parentHash, timestamp: b.timestamp });
      }),
    );
    const first = blocks.get(Number(from));
    if (first && lastHash && first.parentHash !== lastHash) {
      await this.rollback(lastBlock);
      return true;
    }
    for (const l of logs) {
      if (blocks.get(l.blockNumber)?.hash !== l.blockHash)
        throw new Error(`log of block ${l.blockNumber} does not match its header; chain moving`);
    }
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
    this.metrics.indexerLag.set(Number(head - to));
    this.log.debug(
      {
        from: String(from),
        to: String(to),
        logs: logs.length,
        rpcMs: Math.round(fetchedMs),
        dbMs: Math.round(performance.now() - started - fetchedMs),
      },
      "indexed",
    );
    return to < head;
  }

  /** Walks back from `fromBlock` to the newest block whose stored hash the chain still has, and undoes the rest. */
  private async rollback(fromBlock: bigint): Promise<void> {
    const stored = await rememberedBlocksUpTo(this.db, Number(fromBlock));
    let ancestor = BigInt(this.chain.addresses.startBlock) - 1n;
    let ancestorHash: string | null = null;
    for (const row of stored) {
      const b = await this.chain.provider.getBlock(Number(row.number));
      if (b && b.hash === row.hash) {
        ancestor = BigInt(row.number);
        ancestorHash = row.hash;
        break;
      }
    }
    this.log.warn(
      { from: String(fromBlock), ancestor: String(ancestor) },
      "reorg detected; rolling back to the common ancestor",
    );
    await this.db.tx(async (q) => {
      const retracted = await this.projector.retractAfter(q, Number(ancestor));
      await forgetBlocksAfter(q, Number(ancestor));
      await this.projector.reproject(q, Number(ancestor), retracted);
      await saveCheckpoint(q, Number(ancestor), ancestorHash);
      await this.projector.requeueReorgedCommands(q);
    });
  }
}
