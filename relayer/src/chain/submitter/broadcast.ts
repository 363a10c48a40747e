/** Signing, broadcasting and reading a node's answer to a broadcast. */
import { Transaction, isError, keccak256, type Wallet } from "ethers";
import type { ChainContext } from "../context";

/**
 * `eth_sendRawTransaction` with the stored bytes. ethers' `broadcastTransaction` would parse the transaction
 * again and recover its sender (a signature recovery and a hash of a batch's whole calldata) only to build a
 * response object the writer does not use. Errors are ethers' own (`getRpcError`), as with broadcastTransaction.
 */
export async function broadcastRaw(chain: ChainContext, raw: string): Promise<void> {
  await chain.provider.send("eth_sendRawTransaction", [raw]);
}

/**
 * Signs a type-2 transaction with the lane's key: one serialisation for the hash to sign and one for the
 * signed bytes (ethers' `signTransaction` copies and re-parses the request first).
 */
export function signTx(wallet: Wallet, fields: Parameters<typeof Transaction.from>[0]): { raw: string; hash: string } {
  const tx = Transaction.from(fields);
  tx.signature = wallet.signingKey.sign(tx.unsignedHash);
  const raw = tx.serialized;
  return { raw, hash: keccak256(raw) };
}

export type Classified =
  | { kind: "network" }
  | { kind: "nonce_gap" }
  | { kind: "nonce_low" }
  | { kind: "funds" }
  | { kind: "known" }
  | { kind: "rejected"; message: string };

/** How a failed broadcast is treated; only a definitive refusal ("rejected", nonce errors) gives the nonce back. */
export function classifyBroadcastError(err: unknown): Classified {
  const msg = String((err as { message?: string })?.message ?? err).toLowerCase();
  if (msg.includes("already known") || msg.includes("known transaction")) return { kind: "known" };
  if (isError(err, "NONCE_EXPIRED") || msg.includes("nonce too low")) return { kind: "nonce_low" };
  if (msg.includes("nonce too high") || msg.includes("can't be queued")) return { kind: "nonce_gap" };
  if (isError(err, "INSUFFICIENT_FUNDS") || msg.includes("insufficient funds")) return { kind: "funds" };
  if (
    isError(err, "TIMEOUT") ||
    isError(err, "NETWORK_ERROR") ||
    // No answer for this request in a batch's response: the node may or may not have taken it.
    (isError(err, "BAD_DATA") && msg.includes("missing response")) ||
    // A node's own timeout (geth: -32002 "request timed out") while the transaction may still enter the pool.
    msg.includes("timed out") ||
    msg.includes("timeout") ||
    msg.includes("econnrefused") ||
    msg.includes("socket") ||
    msg.includes("fetch failed") ||
    msg.includes("econnreset")
  ) {
    return { kind: "network" };
  }
  if (isError(err, "SERVER_ERROR") || isError(err, "UNKNOWN_ERROR")) {
    const e = err as { error?: { code?: number } };
    if (e.error?.code === undefined) return { kind: "network" };
  }
  return { kind: "rejected", message: msg.slice(0, 300) };
}
