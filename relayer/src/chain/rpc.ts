/**
 * The two JSON-RPC reads that carry every event of a batch, taken as the node sends them: ethers' formatting
 * builds an object per log and checksums its address (a keccak each), which for receipts and log ranges of
 * hundreds of orders is most of the writer's and the indexer's work. Only the fields the relayer reads are
 * converted; hashes and data stay the node's hex strings.
 */
import type { JsonRpcProvider } from "ethers";

export interface RawLog {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  /** The log's index in its block. */
  index: number;
}

export interface RawReceipt {
  hash: string;
  /** 1 success, 0 reverted (null before the Byzantium fork's receipts, never on the chains this runs on). */
  status: number | null;
  blockNumber: number;
  gasUsed: bigint;
  /** The effective gas price paid. */
  gasPrice: bigint;
  logs: RawLog[];
}

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

const num = (hex: string): number => Number.parseInt(hex, 16);

function toLog(l: NodeLog): RawLog {
  return {
    address: l.address,
    topics: l.topics.map((t) => t.toLowerCase()),
    data: l.data,
    blockNumber: num(l.blockNumber),
    blockHash: l.blockHash.toLowerCase(),
    transactionHash: l.transactionHash.toLowerCase(),
    index: num(l.logIndex),
  };
}

/** `eth_getLogs` of `addresses` over [fromBlock, toBlock]; logs the node marks removed are left out. */
export async function getLogsRaw(
  provider: JsonRpcProvider,
  addresses: string[],
  fromBlock: number,
  toBlock: number,
): Promise<RawLog[]> {
  const logs = (await provider.send("eth_getLogs", [
    { address: addresses, fromBlock: `0x${fromBlock.toString(16)}`, toBlock: `0x${toBlock.toString(16)}` },
  ])) as NodeLog[];
  return logs.filter((l) => !l.removed).map(toLog);
}

/** `eth_getTransactionReceipt`, or null while the transaction is not mined. */
export async function getReceiptRaw(provider: JsonRpcProvider, hash: string): Promise<RawReceipt | null> {
  const r = (await provider.send("eth_getTransactionReceipt", [hash])) as {
    transactionHash: string;
    status?: string | null;
    blockNumber: string | null;
    gasUsed: string;
    effectiveGasPrice?: string;
    logs: NodeLog[];
  } | null;
  if (!r || r.blockNumber == null) return null;
  return {
    hash: r.transactionHash.toLowerCase(),
    status: r.status == null ? null : num(r.status),
    blockNumber: num(r.blockNumber),
    gasUsed: BigInt(r.gasUsed),
    gasPrice: r.effectiveGasPrice ? BigInt(r.effectiveGasPrice) : 0n,
    logs: r.logs.map(toLog),
  };
}
