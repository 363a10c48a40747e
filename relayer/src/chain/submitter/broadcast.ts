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
  /** The node may or may not hold the transaction: keep it stored and tracked, recover before anything newer. */
  | { kind: "network" }
  | { kind: "nonce_gap" }
  | { kind: "nonce_low" }
  | { kind: "funds" }
  | { kind: "known" }
  /** The node holds another transaction at this nonce with fees this one does not beat. */
  | { kind: "underpriced_replacement" }
  | { kind: "rejected"; message: string };

/** What nodes answer when they already hold the transaction (geth, Erigon, Besu, Nethermind, OpenEthereum, Reth). */
const KNOWN = [
  "already known",
  "known transaction",
  "alreadyknown",
  "already imported",
  "already exists",
  "already in pool",
];

/**
 * Refusals that prove the node did not take the transaction: only these give its nonce back. Every other answer,
 * including errors never seen before, is treated as "maybe taken" (like a lost connection): the transaction stays
 * stored and tracked until a receipt, or until another transaction is mined at its nonce.
 */
const DEFINITE_REFUSALS = [
  "transaction underpriced",
  "max fee per gas less than block base fee",
  "fee cap less than block base fee",
  "feecap too low",
  "max priority fee per gas higher than max fee per gas",
  "tip higher than fee cap",
  "intrinsic gas too low",
  "exceeds block gas limit",
  "gas limit reached",
  "oversized data",
  "exceeds the configured cap",
  "invalid sender",
  "invalid chain id",
  "chain id mismatch",
  "transaction type not supported",
  "tx type not supported",
];

/** How a failed broadcast is treated; only a definite refusal gives the nonce back. */
export function classifyBroadcastError(err: unknown): Classified {
  const msg = String((err as { message?: string })?.message ?? err).toLowerCase();
  if (KNOWN.some((k) => msg.includes(k))) return { kind: "known" };
  if (isError(err, "NONCE_EXPIRED") || msg.includes("nonce too low")) return { kind: "nonce_low" };
  if (msg.includes("nonce too high")) return { kind: "nonce_gap" };
  // geth, Erigon, Besu, Nethermind: "insufficient funds for gas * price + value"; Hardhat: "Sender doesn't have
  // enough funds to send tx".
  if (isError(err, "INSUFFICIENT_FUNDS") || msg.includes("insufficient funds") || msg.includes("enough funds")) {
    return { kind: "funds" };
  }
  if (
    isError(err, "REPLACEMENT_UNDERPRICED") ||
    msg.includes("replacement transaction underpriced") ||
    msg.includes("replacement fee too low")
  ) {
    return { kind: "underpriced_replacement" };
  }
  if (DEFINITE_REFUSALS.some((k) => msg.includes(k))) return { kind: "rejected", message: msg.slice(0, 300) };
  return { kind: "network" };
}
