/**
 * Reads the logs of block ranges from an endpoint as hosted providers really are: a load balancer over
 * backends at different heights, with limits on `eth_getLogs`.
 *
 * - A block a backend does not have yet (a null header, "unknown block") is `BlockNotYetAvailable`: the caller
 *   waits and asks again. It is never evidence of a reorg.
 * - A lagging backend answers a range with nothing for the blocks past its own head, and no error. Every block
 *   near the head is therefore checked: its header's logs bloom (from whichever backend gave the header) says
 *   whether it may hold logs of the watched contracts; such a block with no logs in the answer is asked again by
 *   its hash (EIP-234), which a backend without the block must refuse rather than answer empty.
 * - A refused range ("range too large", "block range is too wide", "query returned more than 10000 results",
 *   "Log response size exceeded", -32005 "limit exceeded"…) is halved, or cut to the range the provider
 *   suggests, until it is accepted; the working span is kept for the next ranges and grows back slowly.
 */
import { getBytes, keccak256, type JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { getLogsRaw, type RawLog } from "../chain/rpc";

/** A block header as the indexer uses it. */
export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
  /** 0x and 512 hex digits; null when the endpoint does not give it. */
  logsBloom: string | null;
}

/** The endpoint (or the backend that answered) does not have this block yet: wait and ask again. */
export class BlockNotYetAvailable extends Error {
  constructor(
    readonly block: number | string,
    detail = "is not available yet",
  ) {
    super(`block ${block} ${detail}`);
    this.name = "BlockNotYetAvailable";
  }
}

export interface LogReaderOptions {
  /** The largest span of one `eth_getLogs` call, in blocks. */
  maxSpan: number;
  /** Blocks within this distance of the head have their blooms checked against the logs received (default 128). */
  verifyRecentBlocks?: number;
}

/** The logs of a range that was read, with the headers of the blocks that are its evidence. */
export interface ReadRange {
  /** The last block read: at most the `to` asked, less when the working span is smaller. */
  to: number;
  /** The watched contracts' logs, in chain order. */
  logs: RawLog[];
  /** Headers of `to`, of every block with logs, of `from` when asked, and of every recent block. */
  blocks: Map<number, BlockHeader>;
}

/** Default distance from the head within which answers are checked against the blocks' blooms. */
export const DEFAULT_VERIFY_RECENT_BLOCKS = 128;
/** Consecutive full-span successes before the span grows again. */
const GROW_AFTER = 8;

/** A log as the node sends it. */
interface NodeLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

interface NodeHeader {
  number: string;
  hash: string | null;
  parentHash: string;
  timestamp: string;
  logsBloom?: string | null;
}

/** The three bloom bits of `address` (EIP-1: bytes of keccak256(address) taken in pairs, mod 2048). */
function bloomBits(address: string): [number, number][] {
  const h = getBytes(keccak256(getBytes(address)));
  return [0, 2, 4].map((i) => {
    const bit = ((h[i] << 8) | h[i + 1]) & 2047;
    return [255 - (bit >> 3), 1 << (bit & 7)];
  });
}

/** Text and code of a JSON-RPC error as ethers and the relayer's transport carry them. */
function rpcErrorOf(err: unknown): { code: number | null; text: string } {
  const e = err as {
    message?: unknown;
    error?: { code?: unknown; message?: unknown; data?: unknown };
    info?: { error?: { code?: unknown; message?: unknown; data?: unknown }; responseBody?: unknown };
  };
  const inner = e?.error ?? e?.info?.error;
  // The node's own words when there are some: ethers' message also quotes the request, addresses and all.
  const parts = inner ? [inner.message, inner.data] : [e?.info?.responseBody, e?.message];
  return {
    code: typeof inner?.code === "number" ? inner.code : null,
    text: parts.filter((p): p is string => typeof p === "string").join(" | "),
  };
}

/** How providers refuse an `eth_getLogs` range as too large (Alchemy, Infura, QuickNode, Ankr, geth, erigon…). */
const RANGE_REFUSED = [
  /range (is )?too (large|wide|big)/i,
  /block range/i,
  /max(imum)? (block )?range/i,
  /range limit/i,
  /more than \d[\d,]* (results|logs|blocks)/i,
  /query returned more than/i,
  /response size/i,
  /too many (results|logs|blocks)/i,
  /limit exceeded/i,
  /is limited to/i,
  /exceed(s|ed)? (the )?max/i,
];
/** What rate limits say (the caller backs off instead of narrowing). */
const RATE_LIMITED = /\brate\b|rate.?limit|too many requests|per second|throughput|compute units/i;

/**
 * When `err` is a provider's refusal of an `eth_getLogs` range as too large, the span it suggests (or
 * undefined without a suggestion); null for any other error.
 */
export function refusedRange(err: unknown): { suggestedSpan?: number } | null {
  const { code, text } = rpcErrorOf(err);
  if (RATE_LIMITED.test(text) && !/range|results|logs|response size/i.test(text)) return null;
  if (!RANGE_REFUSED.some((r) => r.test(text)) && code !== -32005) return null;
  // Infura and Alchemy name a range that works: "Try with this block range [0x1, 0x1f4]".
  const suggested = /\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]/i.exec(text);
  if (suggested) {
    const span = Number.parseInt(suggested[2], 16) - Number.parseInt(suggested[1], 16) + 1;
    if (span >= 1) return { suggestedSpan: span };
  }
  // Others name their limit: "max: 1000", "maximum block range: 5000", "limited to a 10,000 range".
  const limit =
    /(?:max(?:imum)?(?: block)? range|range limit|limited to an?|not exceed|max)\s*:?\s*([\d,]+)\s*(k?)\b/i.exec(text);
  if (limit) {
    const n = Number(limit[1].replace(/,/g, "")) * (limit[2] ? 1000 : 1);
    if (Number.isSafeInteger(n) && n >= 1) return { suggestedSpan: n };
  }
  return {};
}

/** Whether `err` says the block asked by hash is unknown to the backend that answered. */
function unknownBlock(err: unknown): boolean {
  return /unknown block|block ?hash cannot be found|block (with hash \S+ )?not found|header not found|could not find block/i.test(
    rpcErrorOf(err).text,
  );
}

export class LogReader {
  private span: number;
  private streak = 0;
  private readonly bits: [number, number][][];
  private readonly verifyRecent: number;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly addresses: string[],
    private readonly opts: LogReaderOptions,
    private readonly log?: Logger,
  ) {
    this.span = Math.max(1, opts.maxSpan);
    this.bits = addresses.map(bloomBits);
    this.verifyRecent = opts.verifyRecentBlocks ?? DEFAULT_VERIFY_RECENT_BLOCKS;
  }

  /** The span of the next `eth_getLogs` call, in blocks: the largest the provider accepted lately. */
  get currentSpan(): number {
    return this.span;
  }

  /** The header of block `tag` (a number or "latest", "safe", "finalized"), or null when the answer has none. */
  async headerOrNull(tag: number | string): Promise<BlockHeader | null> {
    const param = typeof tag === "number" ? `0x${tag.toString(16)}` : tag;
    const b = (await this.provider.send("eth_getBlockByNumber", [param, false])) as NodeHeader | null;
    if (!b || !b.hash) return null;
    return {
      number: Number.parseInt(b.number, 16),
      hash: b.hash.toLowerCase(),
      parentHash: b.parentHash.toLowerCase(),
      timestamp: Number.parseInt(b.timestamp, 16),
      logsBloom: b.logsBloom ?? null,
    };
  }

  /** The header of block `n`; `BlockNotYetAvailable` when the backend that answered does not have it. */
  async header(n: number): Promise<BlockHeader> {
    const b = await this.headerOrNull(n);
    if (!b) throw new BlockNotYetAvailable(n);
    return b;
  }

  /**
   * Reads the logs of `from`..`to`, or of the first blocks of it that the working span allows, and checks them
   * against the blocks' headers: each log's block hash against its header, and each block within
   * `verifyRecentBlocks` of `head` against its bloom. `withFirst` adds the header of `from` (its parent hash is
   * compared with the checkpoint).
   */
  async read(from: number, to: number, head: number, withFirst = false): Promise<ReadRange> {
    const { end, logs } = await this.getLogs(from, to);
    const recentFrom = Math.max(from, head - this.verifyRecent + 1);
    const numbers = new Set<number>([end, ...logs.map((l) => l.blockNumber)]);
    if (withFirst) numbers.add(from);
    for (let n = recentFrom; n <= end; n++) numbers.add(n);
    const blocks = new Map<number, BlockHeader>();
    await Promise.all(
      [...numbers].map(async (n) => {
        blocks.set(n, await this.header(n));
      }),
    );
    for (const l of logs) {
      if (blocks.get(l.blockNumber)!.hash !== l.blockHash)
        throw new Error(`log of block ${l.blockNumber} does not match its header; chain moving`);
    }
    const withLogs = new Set(logs.map((l) => l.blockNumber));
    for (let n = recentFrom; n <= end; n++) {
      const b = blocks.get(n)!;
      if (withLogs.has(n) || !this.mayHoldLogs(b)) continue;
      // The bloom says this block may hold the contracts' logs, and the range's answer had none: it may come
      // from a backend that does not have the block yet. Asked by hash, such a backend must refuse.
      const missed = await this.getLogsOfBlock(b);
      if (missed.length > 0) {
        this.log?.info(
          { block: n, logs: missed.length },
          "logs missing from a range answer (a backend behind the head answered); taken by block hash",
        );
        logs.push(...missed);
      }
    }
    logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    return { to: end, logs, blocks };
  }

  /** Whether the block's bloom admits a log of a watched contract (false without a bloom: nothing to check). */
  private mayHoldLogs(b: BlockHeader): boolean {
    if (!b.logsBloom || b.logsBloom.length !== 514) return false;
    const bloom = getBytes(b.logsBloom);
    return this.bits.some((bits) => bits.every(([byte, mask]) => (bloom[byte] & mask) !== 0));
  }

  /** The watched contracts' logs of block `b`, asked by its hash; `BlockNotYetAvailable` if the backend lacks it. */
  private async getLogsOfBlock(b: BlockHeader): Promise<RawLog[]> {
    let raw: NodeLog[];
    try {
      raw = (await this.provider.send("eth_getLogs", [{ address: this.addresses, blockHash: b.hash }])) as NodeLog[];
    } catch (err) {
      if (unknownBlock(err))
        throw new BlockNotYetAvailable(b.number, "is not known yet to the backend asked for its logs");
      throw err;
    }
    const logs: RawLog[] = raw
      .filter((l) => !l.removed)
      .map((l) => ({
        address: l.address,
        topics: l.topics.map((t) => t.toLowerCase()),
        data: l.data,
        blockNumber: Number.parseInt(l.blockNumber, 16),
        blockHash: l.blockHash.toLowerCase(),
        transactionHash: l.transactionHash.toLowerCase(),
        index: Number.parseInt(l.logIndex, 16),
      }));
    for (const l of logs) {
      if (l.blockHash !== b.hash || l.blockNumber !== b.number)
        throw new Error(`logs asked of block ${b.number} by hash came from another block; chain moving`);
    }
    return logs;
  }

  /** `eth_getLogs` of the first blocks of `from`..`to` the provider accepts, narrowing the span as it refuses. */
  private async getLogs(from: number, to: number): Promise<{ end: number; logs: RawLog[] }> {
    for (;;) {
      const end = Math.min(to, from + this.span - 1);
      const asked = end - from + 1;
      try {
        const logs = await getLogsRaw(this.provider, this.addresses, from, end);
        this.succeeded(asked === this.span);
        return { end, logs };
      } catch (err) {
        const refused = refusedRange(err);
        if (!refused || asked <= 1) throw err;
        const next = refused.suggestedSpan && refused.suggestedSpan < asked ? refused.suggestedSpan : asked >> 1;
        this.span = Math.max(1, next);
        this.streak = 0;
        this.log?.info(
          { from, to: end, span: this.span, reason: rpcErrorOf(err).text.slice(0, 200) },
          "eth_getLogs range refused by the provider; narrowing it",
        );
      }
    }
  }

  /** A full-span answer counts towards growing the span back (by a quarter, after GROW_AFTER in a row). */
  private succeeded(fullSpan: boolean): void {
    if (!fullSpan || this.span >= this.opts.maxSpan) return;
    this.streak += 1;
    if (this.streak < GROW_AFTER) return;
    this.streak = 0;
    this.span = Math.min(this.opts.maxSpan, this.span + Math.max(1, this.span >> 2));
  }
}
