/**
 * Turns claimed commands into transactions: each command's job prepares it, escrow calls are batched into one
 * non-atomic `batch` transaction, the rest are sent alone. Every transaction is signed with the lane's next
 * nonce and stored, with its commands marked submitted, before it is broadcast.
 */
import {
  claimReadyCommands,
  markSubmitted,
  noteWaiting,
  releaseCommands,
  sleepCommand,
  requeueRefused,
  type CommandRow,
} from "../../store/commands";
import { insertTx, markDropped, seenStateBlock } from "../../store/chainTxs";
import { isError, toQuantity } from "ethers";
import { describeError } from "../../domain/redact";
import { decodeRevertData, nodeFailure, revertDataOf, type DecodedRevert } from "../decodeError";
import type { Prepared } from "../jobPort";
import { broadcastRaw, classifyBroadcastError, signTx } from "./broadcast";
import type { FeeQuoter } from "./fees";
import type { Funding } from "./funding";
import { TX_GAS_CAP, batchGasBound, estimatesAllGas, limitFromEstimate } from "./gas";
import type { SignerLane, SubmitterContext } from "./lane";
import type { CommandOutcomes } from "./outcomes";
import { reclaimRefused } from "./refusals";

/** How long a command whose estimate reverted on a stale state waits before it is prepared again. */
const STALE_STATE_RETRY_MS = 1000;
/** Stale verdicts on one command after which the node's revert decides (about a minute of waiting). */
const MAX_STALE_VERDICTS = 60;

interface EscrowCall {
  cmd: CommandRow;
  data: string;
  gasBound?: bigint;
}

/** Where a writer pass spent its time (debug log of each transaction sent). */
interface PassTiming {
  commands: number;
  claimMs: number;
  prepareMs?: number;
  estimateMs?: number;
}

function roundedTiming(t?: PassTiming): Record<string, number> {
  if (!t) return {};
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v as number)]));
}

export class Sender {
  /** Commands whose estimate reverted on a state older than the relayer's, by id: how many times in a row. */
  private readonly staleVerdicts = new Map<string, number>();

  constructor(
    private readonly ctx: SubmitterContext,
    private readonly outcomes: CommandOutcomes,
    private readonly fees: FeeQuoter,
    private readonly funding: Funding,
  ) {}

  /** Claims, prepares and sends one batch; true when the batch was full (more work is likely waiting). */
  async fill(lane: SignerLane): Promise<boolean> {
    const { db, opts, instanceId } = this.ctx;
    const started = performance.now();
    const claimed = await claimReadyCommands(db, instanceId, opts.batchSize);
    if (claimed.length === 0) return false;
    const timing: PassTiming = { claimMs: performance.now() - started, commands: claimed.length };
    const unsent = new Set(claimed.map((c) => c.id));
    try {
      const prepared: { cmd: CommandRow; p: Prepared }[] = [];
      for (const cmd of claimed) {
        try {
          prepared.push({ cmd, p: await this.outcomes.prepare(cmd) });
        } catch (err) {
          // A command whose call cannot be encoded never will be: it fails visibly. Anything else (the node or
          // the database not answering) is tried again.
          if (isError(err, "INVALID_ARGUMENT") || isError(err, "NUMERIC_FAULT")) {
            prepared.push({ cmd, p: { type: "fail", code: "UnencodableCommand", message: describeError(err) } });
          } else {
            prepared.push({ cmd, p: { type: "wait", delayMs: 1000, reason: String(err) } });
          }
        }
      }
      timing.prepareMs = performance.now() - started - timing.claimMs;
      const escrowCalls: EscrowCall[] = [];
      const singles: { cmd: CommandRow; to: string; data: string; kind: string }[] = [];
      for (const { cmd, p } of prepared) {
        if (p.type === "escrow") escrowCalls.push({ cmd, data: p.data, gasBound: p.gasBound });
        else if (p.type === "tx") singles.push({ cmd, to: p.to, data: p.data, kind: p.kind });
        else {
          if (p.type === "done") await this.outcomes.confirmed([cmd]);
          else if (p.type === "wait") await releaseCommands(db, [cmd.id], p.delayMs);
          else if (p.type === "sleep") await sleepCommand(db, cmd.id, p.code, p.reason);
          else await this.outcomes.failed(cmd, p.code, p.message);
          unsent.delete(cmd.id);
        }
      }
      if (escrowCalls.length > 0) {
        const sent = await this.sendBatch(lane, escrowCalls, timing);
        for (const id of sent) unsent.delete(id);
      }
      for (const s of singles) {
        if (lane.needsRecovery) break;
        const ok = await this.sendTx(lane, s.to, s.data, s.kind, [s.cmd]);
        if (ok) unsent.delete(s.cmd.id);
      }
    } finally {
      // Anything claimed but not handed to the chain goes back to the queue.
      await releaseCommands(db, [...unsent]).catch(() => undefined);
    }
    return claimed.length >= opts.batchSize && unsent.size === 0 && !lane.needsRecovery;
  }

  /**
   * Sends escrow calls as one non-atomic batch; splits it if it would exceed the per-transaction gas cap.
   * When every call has a known gas bound and is on its first attempt, the gas limit is the sum of the bounds
   * and nothing is estimated; otherwise the node estimates the batch (which also finds a batch that would
   * revert as a whole before any gas is spent). Returns the ids of the commands handed to the chain.
   */
  private async sendBatch(lane: SignerLane, calls: EscrowCall[], timing?: PassTiming): Promise<string[]> {
    const { chain, db, log } = this.ctx;
    const estimateAll = this.ctx.opts.estimateAllGas ?? estimatesAllGas(chain.chainId);
    let bound = estimateAll ? null : batchGasBound(calls);
    if (bound !== null && bound > TX_GAS_CAP && calls.length > 1) return this.sendHalves(lane, calls, timing);
    // One call whose bound is above the cap: a bound is an upper limit, the node's estimate decides.
    if (bound !== null && bound > TX_GAS_CAP) bound = null;
    const data = chain.escrowAbi.encode("batch", [calls.map((c) => c.data), false]);
    let estimate: bigint | undefined;
    if (bound === null) {
      const t = performance.now();
      try {
        estimate = await chain.provider.estimateGas({ from: lane.address, to: chain.addresses.escrow, data });
      } catch (err) {
        const revert = revertDataOf(err);
        if (revert === undefined) throw nodeFailure(err);
        const decoded = decodeRevertData(revert);
        log.error({ signer: lane.address, error: decoded.name }, "batch would revert as a whole");
        await releaseCommands(
          db,
          calls.map((c) => c.cmd.id),
          5000,
          true,
        );
        return calls.map((c) => c.cmd.id);
      } finally {
        if (timing) timing.estimateMs = (timing.estimateMs ?? 0) + performance.now() - t;
      }
      if ((estimate * 12n) / 10n > TX_GAS_CAP && calls.length > 1) return this.sendHalves(lane, calls, timing);
      if (estimate > TX_GAS_CAP) {
        await this.failAboveCap(calls[0].cmd, estimate);
        return [calls[0].cmd.id];
      }
    }
    const ok = await this.sendTx(
      lane,
      chain.addresses.escrow,
      data,
      "batch",
      calls.map((c) => c.cmd),
      bound ?? limitFromEstimate(estimate!),
      timing,
    );
    return ok ? calls.map((c) => c.cmd.id) : [];
  }

  /**
   * The revert of a call the node's estimate refused, read again with eth_call at the newest block the relayer
   * has acted on (its own mined transactions, the indexer's checkpoint): the estimate may have been answered by a
   * backend behind the others, which has not seen, say, the SKU creation a stock addition follows. Null if the
   * call does not revert there: the estimate saw a stale state and the command waits for the node to catch up.
   * A node without that block (the lagging backend again) fails the pass as any node failure does.
   */
  private async revertOnSeenState(from: string, to: string, data: string): Promise<DecodedRevert | null> {
    const { chain, db, log, metrics } = this.ctx;
    const block = await seenStateBlock(db);
    try {
      // With the gas one transaction may carry: a node's default for calls can be lower or higher.
      await chain.provider.call({
        from,
        to,
        data,
        gasLimit: TX_GAS_CAP,
        blockTag: block > 0n ? toQuantity(block) : "latest",
      });
    } catch (err) {
      const revert = revertDataOf(err);
      if (revert === undefined) throw nodeFailure(err);
      return decodeRevertData(revert);
    }
    metrics.staleEstimates.inc();
    log.info(
      { signer: from, to, block: String(block) },
      "an estimate reverted on a state older than the relayer's; waiting",
    );
    return null;
  }

  /**
   * A single call the node estimates above the per-transaction cap cannot be split: sent with the cap, it would
   * run out of gas and spend it for nothing. It fails with a code that says so.
   */
  private async failAboveCap(cmd: CommandRow, estimate: bigint): Promise<void> {
    await this.outcomes.failed(
      cmd,
      "GasAboveTransactionCap",
      `the call needs ${estimate} gas by the node's estimate, above the ${TX_GAS_CAP} one transaction may use`,
    );
  }

  private async sendHalves(lane: SignerLane, calls: EscrowCall[], timing?: PassTiming): Promise<string[]> {
    const half = Math.ceil(calls.length / 2);
    const first = await this.sendBatch(lane, calls.slice(0, half), timing);
    if (lane.needsRecovery) return first;
    return [...first, ...(await this.sendBatch(lane, calls.slice(half), timing))];
  }

  /**
   * Signs with the lane's next nonce, stores the transaction and marks the commands submitted in one database
   * transaction, then broadcasts. Returns false if nothing was handed to the chain (commands stay claimed
   * for the caller to release).
   */
  private async sendTx(
    lane: SignerLane,
    to: string,
    data: string,
    kind: string,
    cmds: CommandRow[],
    knownGasLimit?: bigint,
    timing?: PassTiming,
  ): Promise<boolean> {
    const { chain, db, log, metrics } = this.ctx;
    let gasLimit = knownGasLimit;
    if (gasLimit === undefined) {
      let estimate: bigint;
      try {
        estimate = await chain.provider.estimateGas({ from: lane.address, to, data });
      } catch (err) {
        const revert = revertDataOf(err);
        if (revert === undefined) throw nodeFailure(err);
        // It would revert: decide without spending gas, on a state that holds what the relayer has seen.
        const key = String(cmds[0].id);
        const stale = this.staleVerdicts.get(key) ?? 0;
        // A state the relayer has seen that never comes to hold the revert's cause (nothing newer mined nor
        // indexed): after a bounded wait the node's own answer decides.
        const verdict =
          stale >= (this.ctx.opts.maxStaleVerdicts ?? MAX_STALE_VERDICTS)
            ? decodeRevertData(revert)
            : await this.revertOnSeenState(lane.address, to, data).catch((e: unknown) => {
                // No state at that block here (a lagging or pruned node): the command waits like a stale one.
                this.ctx.metrics.staleEstimates.inc();
                log.debug({ signer: lane.address, err: describeError(e) }, "the seen state could not be read; waiting");
                return null;
              });
        if (verdict === null) {
          this.staleVerdicts.set(key, stale + 1);
          await releaseCommands(
            db,
            cmds.map((c) => c.id),
            this.ctx.opts.staleRetryMs ?? STALE_STATE_RETRY_MS,
          );
          return true;
        }
        this.staleVerdicts.delete(key);
        await this.outcomes.reverted(cmds[0], verdict);
        return true;
      }
      this.staleVerdicts.delete(String(cmds[0].id));
      if (estimate > TX_GAS_CAP) {
        await this.failAboveCap(cmds[0], estimate);
        return true;
      }
      gasLimit = limitFromEstimate(estimate);
    }
    // The estimate's margin must not lift the limit above what one transaction may carry (a node refuses it);
    // the call itself fits, as its estimate is below the cap.
    if (gasLimit > TX_GAS_CAP) gasLimit = TX_GAS_CAP;
    const { maxFee, priority } = await this.fees.quote();
    const nonce = lane.nextNonce!;
    const { raw, hash } = signTx(lane.wallet, {
      type: 2,
      chainId: chain.chainId,
      nonce: Number(nonce),
      to,
      data,
      value: 0n,
      gasLimit,
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: priority,
    });
    await db.tx(async (q) => {
      await insertTx(q, {
        signer: lane.address,
        nonce,
        hash,
        raw,
        kind,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: priority,
        gasLimit,
        commandIds: cmds.map((c) => String(c.id)),
      });
      await markSubmitted(
        q,
        cmds.map((c) => c.id),
        lane.address,
        nonce,
      );
    });
    lane.nextNonce = nonce + 1n;
    lane.inFlight += 1;
    const sendStarted = performance.now();
    for (const c of cmds) metrics.submitLatency.observe((Date.now() - new Date(c.created_at).getTime()) / 1000);
    try {
      await broadcastRaw(chain, raw);
      metrics.txs.inc({ outcome: "sent" });
      log.debug(
        {
          signer: lane.address,
          nonce: String(nonce),
          hash,
          kind,
          commands: cmds.length,
          gasLimit: String(gasLimit),
          ...roundedTiming(timing),
          broadcastMs: Math.round(performance.now() - sendStarted),
        },
        "transaction sent",
      );
    } catch (err) {
      const c = classifyBroadcastError(err);
      if (c.kind === "nonce_low") {
        // "Nonce too low" also answers a transaction the node already took (a lost answer, a retried request, a
        // node behind a load balancer that mined it). A node that does not show it proves nothing either: a
        // lagging backend answers null for a transaction another one mined, and dropping it here would run its
        // commands twice. It stays stored and tracked; the tracker closes it only once the chain, at the
        // confirmation depth, shows the nonce used and no receipt of ours (Tracker.closeTakenNonces).
        const ours = await chain.provider.getTransaction(hash).catch(() => undefined);
        if (ours) return true;
        lane.possiblyTaken.add(nonce);
        lane.needsRecovery = true;
        // Ours refused at this nonce before may be what used it.
        await reclaimRefused(this.ctx, lane, nonce);
        log.warn(
          { signer: lane.address, nonce: String(nonce), hash, err: String(err) },
          "nonce too low and the node does not show this transaction: kept tracked until the chain decides",
        );
        return true;
      }
      if (c.kind === "known") return true;
      // "Nonce too high" is no refusal either: geth queues such a transaction until the gap fills.
      if (c.kind === "network" || c.kind === "nonce_gap") {
        // Unknown whether the node has it (no answer, or an answer that does not prove a refusal): keep it
        // stored and tracked; recovery rebroadcasts it before anything newer.
        lane.needsRecovery = true;
        log.warn({ signer: lane.address, nonce: String(nonce), err: String(err) }, "broadcast failed, will recover");
        return true;
      }
      // A refusal of a transaction the node shows is no refusal: a node behind a balancer (or one that answers
      // before its pool settles) took it. Giving its nonce back would send the next transaction at a nonce already
      // used and run these commands again; it stays tracked instead.
      if (await chain.provider.getTransaction(hash).catch(() => null)) {
        log.warn(
          { signer: lane.address, nonce: String(nonce), hash, err: String(err) },
          "the node refused a transaction it shows: kept tracked",
        );
        return true;
      }
      // Definitively refused: the nonce was not used; give it back and requeue the commands. What it carried is
      // kept in case a backend took it all the same (refusals.ts).
      lane.refused.set(nonce, [...(lane.refused.get(nonce) ?? []), { hash, ids: cmds.map((x) => String(x.id)) }]);
      await db.tx(async (q) => {
        await markDropped(q, hash);
        await requeueRefused(q, lane.address, nonce, 2000);
        if (c.kind === "funds") {
          await noteWaiting(
            q,
            cmds.map((x) => x.id),
            "signer_out_of_funds",
            `the relayer's signer ${lane.address} is out of funds; waiting for it to be re-funded or for another signer`,
          );
        }
      });
      lane.inFlight -= 1;
      metrics.txs.inc({ outcome: "dropped" });
      // Another transaction holds the nonce in the node's pool (ours from before, or one signed elsewhere): learn
      // it again.
      if (c.kind === "underpriced_replacement") {
        lane.needsRecovery = true;
      } else {
        lane.nextNonce = nonce;
      }
      if (c.kind === "funds") await this.funding.pause(lane, gasLimit * maxFee);
      log.warn(
        { signer: lane.address, nonce: String(nonce), reason: c.kind, err: String(err) },
        "transaction refused by the node",
      );
      return true;
    }
    return true;
  }
}
