/** Replacing a transaction the chain has not mined in time: the same nonce and payload, higher fees. */
import { Transaction } from "ethers";
import { carriedIds, insertTx, markDropped, type ChainTxRow } from "../../store/chainTxs";
import { broadcastRaw, classifyBroadcastError, signTx } from "./broadcast";
import { cappedReplacementFees, replacementFees, type FeeQuoter } from "./fees";
import type { SubmitterContext } from "./lane";

export class Replacer {
  /** Transactions already reported at the ceiling (one log line each). */
  private readonly atCeiling = new Set<string>();

  constructor(
    private readonly ctx: SubmitterContext,
    private readonly fees: FeeQuoter,
  ) {}

  /** Re-signs the same nonce and payload with fees raised by the configured percentage. */
  async replace(t: ChainTxRow): Promise<void> {
    const { chain, db, log, metrics } = this.ctx;
    const lane = this.ctx.lanes.get(t.signer);
    if (!lane || lane.busy) return;
    lane.busy = true;
    try {
      const known = await chain.provider.getTransaction(t.hash);
      const old = Transaction.from(t.raw);
      if (!known) {
        // The node lost it (restart, outage): send the stored bytes again before anything else.
        lane.needsRecovery = true;
        return;
      }
      const oldFees = { maxFee: old.maxFeePerGas ?? 0n, priority: old.maxPriorityFeePerGas ?? 0n };
      const fees = cappedReplacementFees(
        oldFees,
        replacementFees(oldFees, await this.fees.quote(), this.ctx.opts.feeBumpPercent),
        this.fees.ceiling,
      );
      if (!fees) {
        // At the ceiling: the transaction waits for the base fee to come down (or for an operator to raise it).
        metrics.feeCapReached.inc();
        if (!this.atCeiling.has(t.hash)) {
          this.atCeiling.add(t.hash);
          log.error(
            {
              signer: t.signer,
              nonce: t.nonce,
              hash: t.hash,
              maxFeePerGas: String(oldFees.maxFee),
              ceiling: String(this.fees.ceiling),
            },
            "stuck transaction is at the fee ceiling: not raised further",
          );
        }
        return;
      }
      const { maxFee, priority } = fees;
      const { raw, hash } = signTx(lane.wallet, {
        type: 2,
        chainId: old.chainId,
        nonce: old.nonce,
        to: old.to,
        data: old.data,
        value: old.value,
        gasLimit: old.gasLimit,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: priority,
      });
      await insertTx(db, {
        signer: t.signer,
        nonce: BigInt(t.nonce),
        hash,
        raw,
        kind: t.kind,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: priority,
        gasLimit: old.gasLimit,
        replaces: t.id,
        commandIds: carriedIds(t) ?? undefined,
      });
      try {
        await broadcastRaw(chain, raw);
        metrics.txs.inc({ outcome: "replaced" });
        log.info(
          { signer: t.signer, nonce: t.nonce, old: t.hash, hash, maxFeePerGas: String(maxFee) },
          "transaction replaced with higher fees",
        );
      } catch (err) {
        const c = classifyBroadcastError(err);
        if (c.kind !== "known" && c.kind !== "network") {
          await markDropped(db, hash);
          log.warn({ signer: t.signer, nonce: t.nonce, err: String(err) }, "replacement refused");
        }
      }
    } finally {
      lane.busy = false;
    }
  }
}
