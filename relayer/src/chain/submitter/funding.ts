/**
 * Each signer's money for gas: a signer the node refuses for insufficient funds is paused (its work goes to the
 * others through the shared queue) until its balance covers what was refused; held signers' balances are read
 * periodically for the metric and a low-balance warning; the store keeps whether each can pay, for /readyz.
 */
import { recordSignerFunding } from "../../store/signerLeases";
import type { SignerLane, SubmitterContext } from "./lane";

const ETH = 10n ** 18n;

export interface SignerState {
  signer: string;
  canPay: boolean;
  reason: "insufficient_funds" | null;
}

export class Funding {
  private lastPoll = 0;
  private readonly warnedLow = new Set<string>();

  constructor(private readonly ctx: SubmitterContext) {}

  private get recheckMs(): number {
    return this.ctx.opts.fundsRecheckMs ?? 15_000;
  }

  /** The node refused a transaction of the lane's signer for lack of funds: it sends nothing until re-funded. */
  async pause(lane: SignerLane, needed: bigint): Promise<void> {
    const first = lane.paused === null;
    lane.paused = "insufficient_funds";
    lane.fundsNeeded = needed;
    lane.nextFundsCheck = Date.now() + this.recheckMs;
    this.ctx.metrics.signerCanPay.set({ signer: lane.address }, 0);
    await recordSignerFunding(this.ctx.db, lane.address, { canPay: false, balanceWei: lane.balance });
    if (first) {
      this.ctx.log.error(
        { signer: lane.address, neededWei: needed.toString() },
        "signer is out of funds: paused until re-funded; other signers take its work",
      );
    }
  }

  /** True when the lane may send: it was not paused, or its balance now covers what was refused. */
  async mayProceed(lane: SignerLane): Promise<boolean> {
    if (lane.paused === null) return true;
    if (Date.now() < lane.nextFundsCheck) return false;
    lane.nextFundsCheck = Date.now() + this.recheckMs;
    const balance = await this.ctx.chain.provider.getBalance(lane.address);
    lane.balance = balance;
    this.ctx.metrics.signerBalance.set({ signer: lane.address }, Number(balance));
    if (balance < lane.fundsNeeded) return false;
    lane.paused = null;
    this.ctx.metrics.signerCanPay.set({ signer: lane.address }, 1);
    await recordSignerFunding(this.ctx.db, lane.address, { canPay: true, balanceWei: balance });
    this.ctx.log.info({ signer: lane.address, balanceWei: balance.toString() }, "signer re-funded: sending again");
    return true;
  }

  /** Reads the held signers' balances at most every balanceCheckMs; warns once per signer below the threshold. */
  async poll(held: string[]): Promise<void> {
    const every = this.ctx.opts.balanceCheckMs ?? 30_000;
    if (Date.now() - this.lastPoll < every) return;
    this.lastPoll = Date.now();
    const low = this.ctx.opts.lowBalanceWei ?? ETH / 20n;
    for (const s of held) {
      const lane = this.ctx.lanes.get(s)!;
      const balance = await this.ctx.chain.provider.getBalance(s);
      lane.balance = balance;
      this.ctx.metrics.signerBalance.set({ signer: s }, Number(balance));
      this.ctx.metrics.signerCanPay.set({ signer: s }, lane.paused ? 0 : 1);
      await recordSignerFunding(this.ctx.db, s, { canPay: lane.paused === null, balanceWei: balance });
      if (balance < low && !this.warnedLow.has(s)) {
        this.warnedLow.add(s);
        this.ctx.log.warn(
          { signer: s, balanceWei: balance.toString(), lowWei: low.toString() },
          "signer balance is low",
        );
      } else if (balance >= low) {
        this.warnedLow.delete(s);
      }
    }
  }

  states(held: string[]): SignerState[] {
    return held.map((s) => {
      const lane = this.ctx.lanes.get(s)!;
      return { signer: s, canPay: lane.paused === null, reason: lane.paused };
    });
  }
}
