/**
 * Reading an Ignition journal (`journal.jsonl` in a deployment folder): which steps completed, at which
 * address, in which transaction and block. Ignition appends one JSON message per line before acting on it, so
 * the journal is the durable account of what was sent, even when the process was killed.
 */
import fs from "node:fs";
import path from "node:path";

interface JournalMessage {
  type: string;
  futureId?: string;
  hash?: string;
  receipt?: { blockNumber: number; contractAddress?: string; status: string };
  result?: { type: string; address?: string };
}

export interface JournalStep {
  futureId: string;
  /** Address of a deployed contract (deployment steps only). */
  address?: string;
  txHash?: string;
  blockNumber?: number;
}

export interface JournalSummary {
  exists: boolean;
  /** Steps whose execution completed successfully, by future id. */
  completed: Map<string, JournalStep>;
  /** Transactions sent (including ones not confirmed yet). */
  sent: number;
}

export const journalFile = (deploymentDir: string): string => path.join(deploymentDir, "journal.jsonl");

const revive = (_key: string, value: unknown): unknown =>
  typeof value === "object" && value !== null && (value as { _kind?: string })._kind === "bigint"
    ? BigInt((value as { value: string }).value)
    : value;

export function readJournal(deploymentDir: string): JournalSummary {
  const file = journalFile(deploymentDir);
  const summary: JournalSummary = { exists: false, completed: new Map(), sent: 0 };
  if (!fs.existsSync(file)) return summary;
  summary.exists = true;
  const confirmed = new Map<string, { txHash: string; blockNumber: number }>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    let msg: JournalMessage;
    try {
      msg = JSON.parse(line, revive) as JournalMessage;
    } catch {
      continue; // a line cut short by a kill: Ignition ignores it the same way on resume
    }
    if (msg.type === "TRANSACTION_SEND") summary.sent += 1;
    if (msg.type === "TRANSACTION_CONFIRM" && msg.futureId && msg.receipt && msg.hash) {
      confirmed.set(msg.futureId, { txHash: msg.hash, blockNumber: Number(msg.receipt.blockNumber) });
    }
    if (
      (msg.type === "DEPLOYMENT_EXECUTION_STATE_COMPLETE" || msg.type === "CALL_EXECUTION_STATE_COMPLETE") &&
      msg.futureId &&
      msg.result?.type === "SUCCESS"
    ) {
      summary.completed.set(msg.futureId, {
        futureId: msg.futureId,
        address: msg.result.address,
        ...confirmed.get(msg.futureId),
      });
    }
  }
  return summary;
}
