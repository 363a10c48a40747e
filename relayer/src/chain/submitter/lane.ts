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
}

/** One signer: its next nonce and how many of its transactions are not yet final. */
export class SignerLane {
  nextNonce: bigint | null = null;
  busy = false;
  /** Offered back to the other processes by the lease refresh under way: no pass may start on it meanwhile. */
  releasing = false;
  needsRecovery = true;
  inFlight = 0;
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
