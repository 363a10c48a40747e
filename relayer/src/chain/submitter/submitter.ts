/**
 * The chain writer: claims ready commands, batches escrow calls into one transaction, signs with nonces it
 * owns, stores every signed transaction before broadcasting it, follows receipts to the confirmation depth,
 * replaces transactions that are not mined in time (same nonce, higher fees) and reports each command's
 * outcome to its job. Several signers work in parallel; each is leased to one process.
 *
 * The parts: sender.ts (claim, prepare, sign, store, broadcast), nonces.ts (each signer's nonce and its
 * recovery), tracker.ts (receipts, confirmation, outcomes), replacement.ts (fee bumps), outcomes.ts (what an
 * outcome means, decided by the command's job), fees.ts, gas.ts and broadcast.ts.
 */
import { Wallet } from "ethers";
import type { Logger } from "pino";
import type { Db } from "../../store/db";
import { reclaimAbandoned, returnClaims } from "../../store/commands";
import type { Metrics } from "../../metrics";
import type { ChainContext } from "../context";
import { LeaseManager } from "../leases";
import { FeeQuoter, defaultFeeCeiling } from "./fees";
import { Funding, type SignerState } from "./funding";
import { SignerLane, type SubmitterContext, type WriterOptions } from "./lane";
import { NonceKeeper } from "./nonces";
import { CommandOutcomes } from "./outcomes";
import { Replacer } from "./replacement";
import { Sender } from "./sender";
import { Tracker } from "./tracker";

export type { WriterOptions } from "./lane";

const MAX_IN_FLIGHT_PER_SIGNER = 8;
/** Full batches a signer sends back to back before the next tick (a backlog drains without waiting for ticks). */
const MAX_ROUNDS_PER_PASS = 8;

export class ChainWriter {
  private readonly ctx: SubmitterContext;
  private readonly lanes = new Map<string, SignerLane>();
  private held: string[] = [];
  private readonly leases: LeaseManager;
  private readonly nonces: NonceKeeper;
  private readonly sender: Sender;
  private readonly tracker: Tracker;
  private readonly funding: Funding;
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private readonly passes = new Set<Promise<void>>();
  private tracking: Promise<void> | null = null;
  /** Recoveries under way: tracking pauses meanwhile, so a receipt read before a reorg cannot undo a reopen. */
  private recovering = 0;

  constructor(
    private readonly db: Db,
    chain: ChainContext,
    signerKeys: string[],
    private readonly opts: WriterOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    readonly instanceId: string,
  ) {
    for (const key of signerKeys) {
      const w = new Wallet(key);
      this.lanes.set(w.address, new SignerLane(w));
    }
    this.leases = new LeaseManager(db, instanceId, [...this.lanes.keys()], opts.leaseTtlMs);
    this.ctx = { db, chain, opts, log, metrics, instanceId, lanes: this.lanes };
    let lastCapLog = 0;
    const fees = new FeeQuoter(chain, opts.maxFeePerGas ?? defaultFeeCeiling(chain.chainId), (quoted) => {
      metrics.feeCapReached.inc();
      if (Date.now() - lastCapLog < 60_000) return;
      lastCapLog = Date.now();
      log.error(
        { quotedMaxFeePerGas: String(quoted), ceiling: String(fees.ceiling) },
        "the node's fee quote is above the fee ceiling: offering the ceiling (transactions may wait)",
      );
    });
    const outcomes = new CommandOutcomes(this.ctx, () => this.operatorAddresses);
    this.funding = new Funding(this.ctx);
    this.nonces = new NonceKeeper(this.ctx);
    this.sender = new Sender(this.ctx, outcomes, fees, this.funding);
    this.tracker = new Tracker(this.ctx, outcomes, new Replacer(this.ctx, fees));
  }

  get operatorAddresses(): string[] {
    return [...this.lanes.keys()];
  }

  get heldSigners(): string[] {
    return [...this.held];
  }

  /** Whether each held signer can pay for gas now. */
  signerStates(): SignerState[] {
    return this.funding.states(this.held);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.refreshLeases();
    // During an outage every pass fails the same way: log the first failure, then at most one line per 5 s.
    let lastLogged = 0;
    let suppressed = 0;
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => {
        if (!this.running) return;
        fn().catch((err) => {
          if (Date.now() - lastLogged < 5_000) {
            suppressed += 1;
            return;
          }
          this.log.error({ err: String(err), suppressedSinceLast: suppressed }, "writer loop error");
          lastLogged = Date.now();
          suppressed = 0;
        });
      }, ms);
      this.timers.push(t);
    };
    every(Math.max(500, Math.floor(this.opts.leaseTtlMs / 3)), () => this.refreshLeases());
    every(this.opts.pollIntervalMs, () => this.submitTick());
    every(this.opts.pollIntervalMs, () => this.trackTick());
  }

  /** Stops taking new work, lets the current ticks finish, returns unsent claims and the leases. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.passes, this.tracking]);
    await returnClaims(this.db, this.instanceId);
    await this.leases.releaseAll();
  }

  /** Renews this process's signer leases, takes free ones up to a fair share, and reclaims abandoned claims. */
  private async refreshLeases(): Promise<void> {
    const before = new Set(this.held);
    try {
      this.held = await this.leases.refresh((s) => {
        const lane = this.lanes.get(s);
        const idle = !!lane && !lane.busy && lane.inFlight === 0;
        // Until `held` says whether it went, the lane must not start signing with a lease it may have lost.
        if (idle) lane.releasing = true;
        return idle;
      });
    } finally {
      for (const lane of this.lanes.values()) lane.releasing = false;
    }
    for (const s of this.held) {
      if (!before.has(s)) {
        const lane = this.lanes.get(s)!;
        lane.needsRecovery = true;
        // Another process may have held it meanwhile: the refusals it stored are read again by recovery.
        lane.refusedLoaded = false;
        this.log.info({ signer: s }, "signer lease acquired");
      }
    }
    for (const s of before) if (!this.held.includes(s)) this.log.info({ signer: s }, "signer lease released");
    this.metrics.signersHeld.set(this.held.length);
    await reclaimAbandoned(this.db, this.opts.leaseTtlMs);
  }

  /**
   * Starts a pass on every free signer: it claims and sends a batch, and keeps going while its batches come back
   * full. Each signer runs on its own, so one waiting for its transaction to be mined never holds back another.
   * Resolves when the passes under way have ended.
   */
  submitTick(): Promise<void> {
    for (const address of this.held) {
      const lane = this.lanes.get(address);
      if (!lane || lane.busy || lane.releasing) continue;
      lane.busy = true;
      const pass: Promise<void> = this.lanePass(lane).finally(() => {
        lane.busy = false;
        this.passes.delete(pass);
      });
      this.passes.add(pass);
    }
    return Promise.all([...this.passes]).then(() => undefined);
  }

  private async lanePass(lane: SignerLane): Promise<void> {
    if (Date.now() < lane.retryAt) return;
    try {
      if (!(await this.funding.mayProceed(lane))) return;
      for (let round = 0; round < MAX_ROUNDS_PER_PASS; round++) {
        if (round > 0 && (!this.running || !this.held.includes(lane.address))) return;
        if (lane.needsRecovery) await this.recover(lane);
        if (lane.needsRecovery || lane.paused || lane.inFlight >= MAX_IN_FLIGHT_PER_SIGNER) return;
        if (!(await this.sender.fill(lane))) break;
      }
      lane.failures = 0;
    } catch (err) {
      // An outage fails every pass the same way: back off (0.5 s doubling to 30 s), log the first and every 10th.
      lane.failures += 1;
      lane.retryAt = Date.now() + Math.min(30_000, 250 * 2 ** Math.min(lane.failures, 7));
      if (lane.failures === 1 || lane.failures % 10 === 0) {
        this.log.warn({ err: String(err), signer: lane.address, failures: lane.failures }, "signer pass failed");
      }
    }
  }

  /** Recovery waits for a tracking pass under way and holds tracking off until it is done. */
  private async recover(lane: SignerLane): Promise<void> {
    this.recovering += 1;
    try {
      await this.tracking;
      await this.nonces.recover(lane);
    } finally {
      this.recovering -= 1;
    }
  }

  /** Follows stored transactions to their receipts and the confirmation depth; replaces stuck ones. */
  trackTick(): Promise<void> {
    if (this.tracking) return this.tracking;
    if (this.recovering > 0) return Promise.resolve();
    this.tracking = (async () => {
      try {
        await this.nonces.check(this.held);
        await this.tracker.track(this.held);
        await this.funding.poll(this.held);
      } finally {
        this.tracking = null;
      }
    })();
    return this.tracking;
  }
}
