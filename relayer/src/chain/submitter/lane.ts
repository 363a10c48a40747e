/** What the submitter's parts share: its options, one lane per signer, and the services they work through. */
import type { Wallet } from "ethers";
import type { Logger } from "pino";
import type { Db } from "../../store/db";
import type { Metrics } from "../../metrics";
import type { ChainContext } from "../context";
import type { JobRegistry } from "../jobPort";

export interface WriterOptions {
  /** What each command kind prepares and what its outcome means (jobs/registry.ts). */
  jobs: JobRegistry;
  batchSize: number;
  confirmations: number;
  pollIntervalMs: number;
  replaceAfterMs: number;
  feeBumpPercent: number;
  leaseTtlMs: number;
  merchantKeySecret: string;
  arbiterKey?: string;
  /** No transaction offers more per gas than this (default: defaultFeeCeiling of the chain). */
  maxFeePerGas?: bigint;
  /** Replacements of one stuck nonce before the writer stops raising its fees and alerts (default 10). */
  maxReplacements?: number;
  /** How often a signer paused out of funds checks its balance again (default 15 s). */
  fundsRecheckMs?: number;
  /** How often held signers' balances are read for the metric and the low-balance warning (default 30 s). */
  balanceCheckMs?: number;
  /** Below this balance a signer is reported low (warning log; default 0.05 ETH). */
  lowBalanceWei?: bigint;
  /**
   * Gas limits from the node's estimate for every transaction instead of the jobs' per-call bounds: on chains
   * whose gas also pays for L1 data (OP-stack, Arbitrum) a fixed bound can run out (default: by chain id).
   */
  estimateAllGas?: boolean;
  /**
   * How a nonce is found taken by another transaction: "twice" (at least TAKEN_MIN_DEPTH deep, the same verdict
   * on two checks at different heads: a provider's backends may lag each other) or "once" (at the confirmation
   * depth, on one check: a local node, whose head may stand still for as long as nothing is sent). Default: by
   * chain id, "once" on local chains only.
   */
  takenNonceChecks?: "once" | "twice";
  /**
   * A command whose estimate reverts on a state older than the relayer's waits `staleRetryMs` (default 1000) and is
   * prepared again, at most `maxStaleVerdicts` times in a row (default 60); then the node's revert decides.
   */
  staleRetryMs?: number;
  maxStaleVerdicts?: number;
}

/** One signer: its next nonce and how many of its transactions are not yet final. */
export class SignerLane {
  nextNonce: bigint | null = null;
  busy = false;
  /** Offered back to the other processes by the lease refresh under way: no pass may start on it meanwhile. */
  releasing = false;
  needsRecovery = true;
  inFlight = 0;
  /**
   * Nonces the node called too low while it did not show our transaction there: another transaction may have
   * used them, or a lagging backend has not seen ours. The tracker decides them from the chain (closeTakenNonces).
   */
  readonly possiblyTaken = new Set<bigint>();
  /**
   * Transactions the node refused without showing them, by nonce, with the commands they carried: a backend behind
   * a balancer may have taken one all the same. Commands are bound to nonces, not to transactions, so only this
   * record tells which commands a refused transaction mined later ran, and which the nonce's later transactions
   * carried (refusals.ts). `rebound` holds the commands bound to the nonce again once the chain showed it used.
   */
  readonly refused = new Map<bigint, { hash: string; ids: string[]; rebound?: string[] }[]>();
  /** Whether `refused` holds the refusals stored before this process took the signer (NonceKeeper.recover). */
  refusedLoaded = false;
  /** Why the lane sends nothing for now: its signer cannot pay for gas. */
  paused: "insufficient_funds" | null = null;
  /** What the refused transaction needed (gas limit × max fee): the balance that ends the pause. */
  fundsNeeded = 0n;
  nextFundsCheck = 0;
  balance: bigint | null = null;
  /** Consecutive failed passes (an RPC outage): the next pass waits until `retryAt`. */
  failures = 0;
  retryAt = 0;
  constructor(readonly wallet: Wallet) {}
  get address(): string {
    return this.wallet.address;
  }
}

export interface SubmitterContext {
  db: Db;
  chain: ChainContext;
  opts: WriterOptions;
  log: Logger;
  metrics: Metrics;
  instanceId: string;
  lanes: Map<string, SignerLane>;
}
