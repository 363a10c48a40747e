/**
 * A chain in memory behind ethers' JSON-RPC provider: it takes signed type-2 transactions into a pool, mines
 * them when told (highest fee per sender and nonce, nonces in order), answers receipts, nonces, fee quotes and
 * estimates, and lets a test script the node's answers: an error for the next broadcasts, a receipt's status
 * and logs, a reorg that forgets blocks. The submitter talks to it exactly as to a node.
 */
import {
  JsonRpcProvider,
  Network,
  Transaction,
  keccak256,
  makeError,
  toBeHex,
  zeroPadValue,
  type JsonRpcPayload,
  type JsonRpcResult,
} from "ethers";

export interface RpcFault {
  code: number;
  message: string;
  data?: string;
  /** The node took the transaction into its pool and still answered this error (Nethermind's AlreadyKnown). */
  taken?: boolean;
}

interface Mined {
  tx: Transaction;
  hash: string;
  raw: string;
  block: number;
  index: number;
  status: 0 | 1;
  logs: { address: string; topics: string[]; data: string }[];
}

const ZERO_HASH = `0x${"0".repeat(64)}`;
const BLOOM = `0x${"0".repeat(512)}`;
const hex = (n: bigint | number) => toBeHex(n);

export class FakeChain extends JsonRpcProvider {
  readonly chainIdValue: bigint;
  /** Signed transactions the node holds, by hash. */
  readonly pool = new Map<string, { tx: Transaction; raw: string }>();
  readonly mined = new Map<string, Mined>();
  /** Each eth_sendRawTransaction's raw bytes, in order (including refused ones). */
  readonly broadcasts: string[] = [];
  /** Every method called, in order. */
  readonly calls: string[] = [];
  private readonly nonces = new Map<string, number>();
  private blocks: string[][] = [[]];
  baseFee = 1_000_000_000n;
  priorityFee = 1_000_000_000n;
  /**
   * What the next broadcasts meet, first in first out: a JSON-RPC error, `lost` (the connection fails before the
   * node sees it), `taken` (the node takes it but the answer is lost), or undefined (accepted).
   */
  readonly sendFaults: (RpcFault | "lost" | "taken" | undefined)[] = [];
  /** Revert data eth_estimateGas answers for every call while set. */
  estimateRevert: string | undefined;
  estimate = 100_000n;
  /** What the next mined transactions' receipts say, first in first out (default: success, no logs). */
  readonly outcomes: { status: 0 | 1; logs?: Mined["logs"] }[] = [];
  /** Balances in wei of senders that have a limit (others have plenty); a transaction must be able to pay gasLimit × maxFee. */
  readonly balances = new Map<string, bigint>();
  /** Revert data eth_call answers while set. */
  callRevert: string | undefined;

  constructor(chainId = 31337n) {
    const network = Network.from(chainId);
    super("http://fake.invalid", network, { staticNetwork: network, cacheTimeout: -1, batchMaxCount: 1 });
    this.chainIdValue = chainId;
  }

  get head(): number {
    return this.blocks.length - 1;
  }

  /** The sender's nonce counting mined transactions only. */
  nonceOf(address: string): number {
    return this.nonces.get(address.toLowerCase()) ?? 0;
  }

  /** Mines one block with every pool transaction whose nonce is next for its sender (highest tip wins). */
  mine(): string[] {
    const block: string[] = [];
    const height = this.blocks.length;
    for (;;) {
      const next = [...this.pool.entries()].filter(([, p]) => p.tx.nonce === this.nonceOf(p.tx.from!));
      if (next.length === 0) break;
      const bySender = new Map<string, [string, { tx: Transaction; raw: string }]>();
      for (const e of next) {
        const k = e[1].tx.from!.toLowerCase();
        const cur = bySender.get(k);
        if (!cur || e[1].tx.maxPriorityFeePerGas! > cur[1].tx.maxPriorityFeePerGas!) bySender.set(k, e);
      }
      for (const [hash, p] of bySender.values()) {
        const from = p.tx.from!.toLowerCase();
        for (const [h, q] of this.pool)
          if (q.tx.from!.toLowerCase() === from && q.tx.nonce === p.tx.nonce) this.pool.delete(h);
        const outcome = this.outcomes.shift() ?? { status: 1 as const };
        this.mined.set(hash, {
          ...p,
          hash,
          block: height,
          index: block.length,
          status: outcome.status,
          logs: outcome.logs ?? [],
        });
        this.nonces.set(from, p.tx.nonce + 1);
        block.push(hash);
      }
    }
    this.blocks.push(block);
    return block;
  }

  /** Mines empty blocks (confirmation depth). */
  advance(n: number): void {
    for (let i = 0; i < n; i++) this.blocks.push([]);
  }

  /** Forgets the last `depth` blocks: their transactions are neither mined nor in the pool (a node that lost them). */
  reorg(depth: number): void {
    for (const hashes of this.blocks.splice(this.blocks.length - depth, depth)) {
      for (const h of hashes) {
        const m = this.mined.get(h)!;
        this.mined.delete(h);
        const from = m.tx.from!.toLowerCase();
        const n = this.nonces.get(from)!;
        if (m.tx.nonce < n) this.nonces.set(from, m.tx.nonce);
      }
    }
  }

  /** Hashes whose receipt the node answers with an error. */
  readonly receiptFaults = new Set<string>();
  /** While true every request fails as a refused connection (an outage). */
  down = false;

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const list = Array.isArray(payload) ? payload : [payload];
    if (this.down) {
      this.calls.push(...list.map((p) => `${p.method} (down)`));
      throw makeError("fetch failed: connect ECONNREFUSED", "NETWORK_ERROR", { event: "request" });
    }
    return list.map((p) => {
      this.calls.push(p.method);
      try {
        return { id: p.id, result: this.answer(p.method, p.params as unknown[]) };
      } catch (e) {
        const f = e as RpcFault;
        if (typeof f.code !== "number") throw e;
        return { id: p.id, error: { code: f.code, message: f.message, data: f.data } } as unknown as JsonRpcResult;
      }
    });
  }

  private answer(method: string, params: unknown[]): unknown {
    switch (method) {
      case "eth_chainId":
        return hex(this.chainIdValue);
      case "eth_blockNumber":
        return hex(this.head);
      case "eth_getTransactionCount": {
        const addr = String(params[0]).toLowerCase();
        let n = this.nonceOf(addr);
        const tag = String(params[1]);
        if (tag.startsWith("0x")) {
          // At a past block: the sender's transactions mined up to and including it.
          n = 0;
          for (const m of this.mined.values())
            if (m.tx.from!.toLowerCase() === addr && m.block <= Number(tag)) n = Math.max(n, m.tx.nonce + 1);
        }
        if (params[1] === "pending") {
          const pooled = [...this.pool.values()]
            .filter((p) => p.tx.from!.toLowerCase() === addr)
            .map((p) => p.tx.nonce);
          while (pooled.includes(n)) n += 1;
        }
        return hex(n);
      }
      case "eth_getBalance":
        return hex(this.balances.get(String(params[0]).toLowerCase()) ?? 10n ** 21n);
      case "eth_gasPrice":
        return hex(this.baseFee + this.priorityFee);
      case "eth_maxPriorityFeePerGas":
        return hex(this.priorityFee);
      case "eth_getBlockByNumber":
        return this.blockJson(params[0] === "latest" ? this.head : Number(params[0]));
      case "eth_estimateGas":
        if (this.estimateRevert !== undefined)
          throw { code: 3, message: "execution reverted", data: this.estimateRevert };
        return hex(this.estimate);
      case "eth_call":
        if (this.callRevert !== undefined) throw { code: 3, message: "execution reverted", data: this.callRevert };
        return "0x";
      case "eth_sendRawTransaction":
        return this.accept(String(params[0]));
      case "eth_getTransactionReceipt":
        if (this.receiptFaults.has(String(params[0]).toLowerCase()))
          throw { code: -32603, message: "header not found" };
        return this.receiptJson(String(params[0]).toLowerCase());
      case "eth_getTransactionByHash":
        return this.txJson(String(params[0]).toLowerCase());
      default:
        throw { code: -32601, message: `the method ${method} does not exist/is not available` };
    }
  }

  private accept(raw: string): string {
    this.broadcasts.push(raw);
    const fault = this.sendFaults.shift();
    if (fault === "lost") throw makeError("fetch failed: ECONNRESET", "NETWORK_ERROR", { event: "request" });
    if (fault && fault !== "taken" && !fault.taken) throw fault;
    const tx = Transaction.from(raw);
    const hash = keccak256(raw);
    if (this.pool.has(hash) || this.mined.has(hash)) throw { code: -32000, message: "already known" };
    if (tx.nonce < this.nonceOf(tx.from!)) throw { code: -32000, message: "nonce too low" };
    for (const [h, p] of this.pool) {
      if (p.tx.from === tx.from && p.tx.nonce === tx.nonce) {
        // A replacement must raise both fees by 10%, as geth requires.
        const ok =
          tx.maxPriorityFeePerGas! * 10n >= p.tx.maxPriorityFeePerGas! * 11n &&
          tx.maxFeePerGas! * 10n >= p.tx.maxFeePerGas! * 11n;
        if (!ok) throw { code: -32000, message: "replacement transaction underpriced" };
        this.pool.delete(h);
      }
    }
    const balance = this.balances.get(tx.from!.toLowerCase());
    if (balance !== undefined && balance < tx.gasLimit * tx.maxFeePerGas!) {
      throw {
        code: -32000,
        message: `insufficient funds for gas * price + value: have ${balance} want ${tx.gasLimit * tx.maxFeePerGas!}`,
      };
    }
    this.pool.set(hash, { tx, raw });
    if (typeof fault === "object" && fault.taken) throw { code: fault.code, message: fault.message, data: fault.data };
    if (fault === "taken") throw makeError("request timed out", "TIMEOUT", { operation: "request", reason: "timeout" });
    return hash;
  }

  private blockJson(n: number): unknown {
    if (n > this.head) return null;
    return {
      hash: zeroPadValue(hex(n + 1), 32),
      parentHash: n === 0 ? ZERO_HASH : zeroPadValue(hex(n), 32),
      number: hex(n),
      timestamp: hex(1_700_000_000 + n),
      nonce: "0x0000000000000000",
      difficulty: "0x0",
      gasLimit: hex(30_000_000),
      gasUsed: "0x0",
      miner: `0x${"0".repeat(40)}`,
      extraData: "0x",
      baseFeePerGas: hex(this.baseFee),
      transactions: this.blocks[n],
    };
  }

  private receiptJson(hash: string): unknown {
    const m = this.mined.get(hash);
    if (!m) return null;
    return {
      transactionHash: hash,
      transactionIndex: hex(m.index),
      blockHash: zeroPadValue(hex(m.block + 1), 32),
      blockNumber: hex(m.block),
      from: m.tx.from!.toLowerCase(),
      to: m.tx.to!.toLowerCase(),
      contractAddress: null,
      cumulativeGasUsed: hex(m.tx.gasLimit),
      gasUsed: hex(m.tx.gasLimit / 2n),
      effectiveGasPrice: hex(this.baseFee + m.tx.maxPriorityFeePerGas!),
      logsBloom: BLOOM,
      type: "0x2",
      status: hex(m.status),
      logs: m.logs.map((l, i) => ({
        ...l,
        blockHash: zeroPadValue(hex(m.block + 1), 32),
        blockNumber: hex(m.block),
        transactionHash: hash,
        transactionIndex: hex(m.index),
        logIndex: hex(i),
        removed: false,
      })),
    };
  }

  private txJson(hash: string): unknown {
    const m = this.mined.get(hash);
    const p = m ?? this.pool.get(hash);
    if (!p) return null;
    const tx = p.tx;
    return {
      hash,
      blockHash: m ? zeroPadValue(hex(m.block + 1), 32) : null,
      blockNumber: m ? hex(m.block) : null,
      transactionIndex: m ? hex(m.index) : null,
      from: tx.from!.toLowerCase(),
      to: tx.to!.toLowerCase(),
      gas: hex(tx.gasLimit),
      gasPrice: hex(tx.maxFeePerGas!),
      maxFeePerGas: hex(tx.maxFeePerGas!),
      maxPriorityFeePerGas: hex(tx.maxPriorityFeePerGas!),
      input: tx.data,
      nonce: hex(tx.nonce),
      value: hex(tx.value),
      type: "0x2",
      chainId: hex(tx.chainId),
      accessList: [],
      r: tx.signature!.r,
      s: tx.signature!.s,
      yParity: hex(tx.signature!.yParity),
      v: hex(tx.signature!.yParity),
    };
  }
}
