/**
 * Follows stored transactions to their receipts and the confirmation depth, reports each command's outcome,
 * and hands transactions not mined in time to the replacer.
 */
import { Transaction } from "ethers";
import { commandsOfTx, releaseCommands, requeueRefused, type CommandRow } from "../../store/commands";
import {
  carriedIds,
  markNonceTaken,
  markSiblingsReplaced,
  openTxs,
  reopenTx,
  setTxStatus,
  txsAtNonce,
  type ChainTxRow,
} from "../../store/chainTxs";
import { recordGasSpend } from "../../store/relaySpend";
import { decodeRevertData, revertDataOf } from "../decodeError";
import { getReceiptRaw, type RawReceipt } from "../rpc";
import { isLocalChain } from "../transport";
import type { SubmitterContext } from "./lane";
import type { CommandOutcomes } from "./outcomes";
import { reclaimRefused, splitByRefusal } from "./refusals";
import type { Replacer } from "./replacement";

/** The soonest a signer's nonces are compared with the chain's confirmed nonce count again. */
const TAKEN_CHECK_MS = 1000;
/**
 * The least depth at which the chain's nonce count closes a nonce as taken by another transaction, whatever the
 * confirmation depth: behind a load balancer the count and the receipts may come from backends at different heads,
 * and at the head itself an up-to-date count beside a lagging backend's null receipts would requeue commands that
 * ran.
 */
export const TAKEN_MIN_DEPTH = 3;

/** When a signer's nonces were last compared with the chain's count, and how long until the next comparison. */
interface TakenCheck {
  head: bigint;
  at: number;
  waitMs: number;
}

/** The stored transactions at one signer's nonce, and what this pass learnt of their receipts. */
interface NonceGroup {
  txs: ChainTxRow[];
  mined?: { tx: ChainTxRow; r: RawReceipt };
  /** A receipt the node failed to give: the nonce is undecided this pass. */
  unknown?: boolean;
}

export class Tracker {
  /** Nonces already reported at the replacement cap (one log line each). */
  private readonly capped = new Set<string>();
  /** When each signer's nonces were last compared with the chain's confirmed nonce count. */
  private readonly lastTakenCheck = new Map<string, TakenCheck>();
  /**
   * A first verdict "taken by another transaction", by signer:nonce, with the head it was reached at: a nonce is
   * closed only on the same verdict again at a higher head.
   */
  private readonly takenVerdicts = new Map<string, bigint>();

  constructor(
    private readonly ctx: SubmitterContext,
    private readonly outcomes: CommandOutcomes,
    private readonly replacer: Replacer,
  ) {}

  /** One pass over the open transactions of the signers this process holds. */
  async track(held: string[]): Promise<void> {
    const { chain, db, lanes, opts } = this.ctx;
    const txs = await openTxs(db, held);
    if (txs.length === 0) {
      for (const s of held) lanes.get(s)!.inFlight = 0;
      return;
    }
    const head = BigInt(await chain.provider.getBlockNumber());
    // One receipt the node failed to give leaves its nonce undecided this pass; the others go on.
    const receipts = await Promise.allSettled(txs.map((t) => getReceiptRaw(chain.provider, t.hash)));
    const groups = new Map<string, NonceGroup>();
    txs.forEach((t, i) => {
      const key = `${t.signer}:${t.nonce}`;
      const g = groups.get(key) ?? { txs: [] };
      g.txs.push(t);
      const r = receipts[i];
      if (r.status === "rejected") g.unknown = true;
      else if (r.value) g.mined = { tx: t, r: r.value };
      groups.set(key, g);
    });
    const failed = receipts.filter((r) => r.status === "rejected").length;
    if (failed === receipts.length) throw (receipts[0] as PromiseRejectedResult).reason;
    const inFlight = new Map<string, number>();
    // Only a signer's lowest unmined nonce is raised: the ones above it wait for it, not for their own fees.
    const lowestUnmined = new Map<string, bigint>();
    for (const g of groups.values()) {
      if (g.mined) continue;
      // An undecided nonce may be the lowest: nothing above it is raised either.
      const n = BigInt(g.txs[0].nonce);
      const cur = lowestUnmined.get(g.txs[0].signer);
      if (cur === undefined || n < cur) lowestUnmined.set(g.txs[0].signer, n);
    }
    const taken = await this.closeTakenNonces(groups, lowestUnmined, head);
    for (const [key, g] of groups) {
      if (taken.has(key)) continue;
      const signer = g.txs[0].signer;
      if (g.mined) {
        const { tx, r } = g.mined;
        const depth = head - BigInt(r.blockNumber) + 1n;
        if (depth >= BigInt(opts.confirmations)) {
          await this.finalize(tx, r, g.txs);
          continue;
        }
        if (tx.status !== "mined")
          await setTxStatus(db, tx.id, "mined", { blockNumber: BigInt(r.blockNumber), gasUsed: r.gasUsed });
      } else if (!g.unknown && BigInt(g.txs[0].nonce) === lowestUnmined.get(signer)) {
        await this.maybeReplace(g.txs);
      }
      inFlight.set(signer, (inFlight.get(signer) ?? 0) + 1);
    }
    for (const s of held) lanes.get(s)!.inFlight = inFlight.get(s) ?? 0;
  }

  /**
   * Nonces of ours that another transaction used on chain (the signer's key in use elsewhere, or a transaction
   * the store does not know): no transaction of ours at them can be mined, so their commands would stay submitted
   * and the nonces above never be raised. The chain decides, at max(confirmations, TAKEN_MIN_DEPTH): the signer's
   * nonce count at the deepest block taken as final is above the nonce, and none of the transactions stored at it,
   * dropped ones included, has a receipt, on two checks at different heads. Then our commands never ran and are
   * queued again. A signer is checked when the node called one of its nonces too low without showing our
   * transaction there, when a first verdict awaits its second, or when its lowest unmined nonce is overdue; only
   * once the head moved since its last check, at most once a second, and an overdue nonce alone (stuck at the fee
   * ceiling or the replacement cap) backs off up to replaceAfterMs. Returns the keys of the nonces closed.
   */
  /** "once" on a local chain (one node, whose head stands still while nothing is sent), else "twice". */
  private takenChecks(): "once" | "twice" {
    return this.ctx.opts.takenNonceChecks ?? (isLocalChain(this.ctx.chain.chainId) ? "once" : "twice");
  }

  private async closeTakenNonces(
    groups: Map<string, NonceGroup>,
    lowestUnmined: Map<string, bigint>,
    head: bigint,
  ): Promise<Set<string>> {
    const { chain, lanes, opts } = this.ctx;
    const closed = new Set<string>();
    const depth = BigInt(
      this.takenChecks() === "once" ? opts.confirmations : Math.max(opts.confirmations, TAKEN_MIN_DEPTH),
    );
    const finalBlock = head - depth + 1n;
    if (finalBlock < 0n) return closed;
    const undecided = new Map<string, [string, NonceGroup][]>();
    for (const [key, g] of groups) {
      if (g.mined || g.unknown) {
        this.takenVerdicts.delete(key);
        continue;
      }
      const list = undecided.get(g.txs[0].signer) ?? [];
      list.push([key, g]);
      undecided.set(g.txs[0].signer, list);
    }
    for (const key of this.takenVerdicts.keys()) if (!groups.has(key)) this.takenVerdicts.delete(key);
    const now = Date.now();
    const backoffCapMs = Math.max(TAKEN_CHECK_MS, opts.replaceAfterMs);
    for (const [signer, list] of undecided) {
      const lane = lanes.get(signer)!;
      let urgent = false;
      let overdue = false;
      for (const [key, g] of list) {
        const nonce = BigInt(g.txs[0].nonce);
        if (lane.possiblyTaken.has(nonce) || this.takenVerdicts.has(key)) urgent = true;
        else if (nonce === lowestUnmined.get(signer) && now - latestSentAt(g.txs) > opts.replaceAfterMs) overdue = true;
      }
      if (!urgent && !overdue) continue;
      const last = this.lastTakenCheck.get(signer);
      // The count at a block already read cannot change: a check at the same head learns nothing.
      if (last && head <= last.head) continue;
      if (last && now - last.at < (urgent ? TAKEN_CHECK_MS : last.waitMs)) continue;
      // The other nonces go on; this signer's are checked again on a later pass.
      const count = await chain.provider.getTransactionCount(signer, Number(finalBlock)).catch(() => null);
      if (count === null) continue;
      let verdicts = 0;
      for (const [key, g] of list) {
        const nonce = BigInt(g.txs[0].nonce);
        if (nonce >= BigInt(count)) {
          this.takenVerdicts.delete(key);
          continue;
        }
        const verdict = await this.closeIfTaken(signer, nonce, BigInt(count), head, key);
        if (verdict === "closed") closed.add(key);
        if (verdict !== "not_taken") verdicts += 1;
      }
      const waitMs =
        urgent || verdicts > 0 ? TAKEN_CHECK_MS : Math.min(backoffCapMs, (last?.waitMs ?? 0) * 2 || TAKEN_CHECK_MS);
      this.lastTakenCheck.set(signer, { head, at: now, waitMs });
    }
    return closed;
  }

  /**
   * Reads the receipt of every transaction stored at the nonce again, after the nonce count: one mined meanwhile,
   * or recorded as dropped and mined after all, is ours, and the next pass finalizes it. Otherwise the first such
   * verdict is remembered with its head ("first"), and the nonce is closed on the second at a higher head.
   */
  private async closeIfTaken(
    signer: string,
    nonce: bigint,
    chainNonce: bigint,
    head: bigint,
    key: string,
  ): Promise<"closed" | "first" | "not_taken"> {
    const { chain, db, lanes, log, metrics } = this.ctx;
    const stored = await txsAtNonce(db, signer, nonce);
    const receipts = await Promise.allSettled(stored.map((t) => getReceiptRaw(chain.provider, t.hash)));
    if (receipts.some((r) => r.status === "rejected")) return "not_taken";
    const minedAt = receipts.findIndex((r) => r.status === "fulfilled" && r.value !== null);
    if (minedAt >= 0) {
      this.takenVerdicts.delete(key);
      const ours = stored[minedAt];
      if (ours.status === "dropped") {
        const lane = lanes.get(signer)!;
        if (lane.refused.get(nonce)?.some((t) => t.hash === ours.hash)) {
          await reclaimRefused(this.ctx, lane, nonce);
          log.warn(
            { signer, nonce: String(nonce), hash: ours.hash },
            "transaction recorded as dropped was mined; reopened",
          );
        } else if (carriedIds(ours) !== null) {
          // Nothing in memory (a restart or a lease hand-off since the refusal): the row tells what it carried.
          lane.refused.set(nonce, [...(lane.refused.get(nonce) ?? []), { hash: ours.hash, ids: carriedIds(ours)! }]);
          await reclaimRefused(this.ctx, lane, nonce);
          log.warn(
            { signer, nonce: String(nonce), hash: ours.hash },
            "transaction recorded as dropped was mined; reopened",
          );
        } else if (heldNonce(ours, stored)) {
          // A refused replacement: it carried the same calls as the transaction it replaced, whose commands are
          // still bound to the nonce.
          await reopenTx(db, ours.id);
          log.warn(
            { signer, nonce: String(nonce), hash: ours.hash },
            "transaction recorded as dropped was mined; reopened",
          );
        } else {
          await this.closeUnattributed(ours, (receipts[minedAt] as PromiseFulfilledResult<RawReceipt>).value, stored);
        }
      }
      return "not_taken";
    }
    const first = this.takenVerdicts.get(key);
    if (this.takenChecks() === "twice" && (first === undefined || head <= first)) {
      if (first === undefined) this.takenVerdicts.set(key, head);
      return "first";
    }
    this.takenVerdicts.delete(key);
    await db.tx(async (q) => {
      await markNonceTaken(q, signer, nonce);
      await requeueRefused(q, signer, nonce, 0);
    });
    const lane = lanes.get(signer)!;
    lane.possiblyTaken.delete(nonce);
    lane.refused.delete(nonce);
    // The signer's next nonce is at least the chain's count: learn it before sending anything new.
    lane.needsRecovery = true;
    metrics.foreignNonces.inc({ signer });
    metrics.txs.inc({ outcome: "dropped" }, stored.filter((t) => t.status === "sent" || t.status === "mined").length);
    log.error(
      {
        signer,
        nonce: String(nonce),
        chainNonce: String(chainNonce),
        hashes: stored.map((t) => t.hash),
      },
      "another transaction used this signer's nonce on chain (is its key in use elsewhere?): ours closed as dropped, its commands queued again",
    );
    return "closed";
  }

  /**
   * A transaction recorded as dropped was mined, and nothing in this process tells which commands it carried (a
   * restart or a lease hand-off since the node refused it): the commands bound to its nonce now are a later
   * transaction's, which can no longer be mined. None is settled as run by it: it is closed at its receipt, the
   * nonce's other transactions are closed, and their commands are queued again.
   */
  private async closeUnattributed(ours: ChainTxRow, r: RawReceipt, stored: ChainTxRow[]): Promise<void> {
    const { db, lanes, log, metrics } = this.ctx;
    const nonce = BigInt(ours.nonce);
    await db.tx(async (q) => {
      await markNonceTaken(q, ours.signer, nonce);
      await setTxStatus(q, ours.id, r.status === 1 ? "confirmed" : "reverted", {
        blockNumber: BigInt(r.blockNumber),
        gasUsed: r.gasUsed,
      });
      await requeueRefused(q, ours.signer, nonce, 0);
    });
    const lane = lanes.get(ours.signer);
    lane?.possiblyTaken.delete(nonce);
    lane?.refused.delete(nonce);
    if (lane) lane.needsRecovery = true;
    metrics.txs.inc({ outcome: "mined_unattributed" });
    log.error(
      {
        signer: ours.signer,
        nonce: String(nonce),
        hash: ours.hash,
        requeued: stored.filter((t) => t.status === "sent" || t.status === "mined").map((t) => t.hash),
      },
      "a transaction recorded as dropped was mined, and which commands it carried is not known here: no command is settled by it; the commands bound to its nonce are queued again",
    );
  }

  /** Replaces the nonce's latest transaction once it waited replaceAfterMs, up to maxReplacements times. */
  private async maybeReplace(txs: ChainTxRow[]): Promise<void> {
    const { opts, metrics, log } = this.ctx;
    const latest = txs.reduce((a, b) => (BigInt(a.id) > BigInt(b.id) ? a : b));
    if (Date.now() - new Date(latest.sent_at).getTime() <= opts.replaceAfterMs) return;
    const replacements = txs.length - 1;
    if (replacements >= (opts.maxReplacements ?? 10)) {
      metrics.replacementsCapped.inc();
      const key = `${latest.signer}:${latest.nonce}`;
      if (!this.capped.has(key)) {
        this.capped.add(key);
        log.error(
          { signer: latest.signer, nonce: latest.nonce, hash: latest.hash, replacements },
          "stuck transaction reached the maximum number of replacements: not raised further",
        );
      }
      return;
    }
    await this.replacer.replace(latest);
  }

  /** `atNonce`: the open transactions stored at the mined one's nonce. */
  private async finalize(tx: ChainTxRow, r: RawReceipt, atNonce: ChainTxRow[]): Promise<void> {
    const { db, log, metrics } = this.ctx;
    const nonce = BigInt(tx.nonce);
    const lane = this.ctx.lanes.get(tx.signer);
    const cmds = await commandsOfTx(db, tx.signer, nonce);
    let { ran, notRun } = splitByRefusal(lane, nonce, tx.hash, cmds);
    const carried = carriedIds(tx);
    if (!lane?.refused.get(nonce)?.length && lines(atNonce) > 1 && carried !== null) {
      // Transactions of different commands stand at this nonce, and nothing in memory tells them apart (a restart
      // or a lease hand-off since the refusal): the row tells what the mined one carried.
      const ids = new Set(carried);
      ran = cmds.filter((c) => ids.has(String(c.id)));
      notRun = cmds.filter((c) => !ids.has(String(c.id)));
    } else if (!lane?.refused.get(nonce)?.length && lines(atNonce) > 1) {
      // Transactions of different commands stand at this nonce (it was given back after a refusal) and this
      // process holds no record of which carried what (a restart or a lease hand-off since): none is settled as
      // run by the mined one; they are queued again.
      ({ ran, notRun } = { ran: [], notRun: cmds });
      metrics.txs.inc({ outcome: "mined_unattributed" });
      log.error(
        { signer: tx.signer, nonce: String(nonce), hash: tx.hash, commands: cmds.map((c) => c.id) },
        "transactions of different commands stand at the mined nonce and which one carried what is not known here: no command is settled by it; they are queued again",
      );
    }
    // Commands of another transaction at this nonce never ran: they are queued again.
    await releaseCommands(
      db,
      notRun.map((c) => c.id),
      0,
      true,
    );
    // The commands' outcomes are recorded before the transaction is closed: a crash in between leaves the
    // transaction open, so the next pass finalizes the commands still submitted instead of losing them.
    await this.settleCommands(tx, r, ran);
    await db.tx(async (q) => {
      await setTxStatus(q, tx.id, r.status === 1 ? "confirmed" : "reverted", {
        blockNumber: BigInt(r.blockNumber),
        gasUsed: r.gasUsed,
      });
      await markSiblingsReplaced(q, tx.signer, nonce, tx.id);
    });
    lane?.possiblyTaken.delete(nonce);
    lane?.refused.delete(nonce);
    metrics.txs.inc({ outcome: r.status === 1 ? "confirmed" : "reverted" });
    metrics.confirmationLatency.observe((Date.now() - new Date(tx.sent_at).getTime()) / 1000);
  }

  private async settleCommands(tx: ChainTxRow, r: RawReceipt, cmds: CommandRow[]): Promise<void> {
    // Every command's gas counts against its merchant's budget; a batch's calls share its gas equally.
    await recordGasSpend(this.ctx.db, r, cmds);
    if (tx.kind === "batch") return this.settleBatch(r, cmds);
    const { chain } = this.ctx;
    for (const cmd of cmds) {
      if (r.status === 1) {
        await this.outcomes.confirmed([cmd]);
      } else {
        // Replayed at the block before to learn the reason: a receipt carries no revert data.
        const t = Transaction.from(tx.raw);
        let data: string | undefined;
        try {
          await chain.provider.call({ from: tx.signer, to: t.to!, data: t.data, blockTag: r.blockNumber - 1 });
        } catch (err) {
          data = revertDataOf(err);
        }
        await this.outcomes.reverted(cmd, decodeRevertData(data));
      }
    }
  }

  /** A non-atomic batch: each call that failed inside it emitted BatchItemFailed(index, reason). */
  private async settleBatch(r: RawReceipt, cmds: CommandRow[]): Promise<void> {
    const { chain, db } = this.ctx;
    if (r.status !== 1) {
      await releaseCommands(
        db,
        cmds.map((c) => c.id),
        2000,
        true,
      );
      return;
    }
    const failures = new Map<number, string>();
    const failedTopic = chain.escrowAbi.topicOf("BatchItemFailed");
    const escrow = chain.addresses.escrow.toLowerCase();
    for (const log of r.logs) {
      // Only the failures are decoded: a batch of hundreds of orders carries hundreds of other events.
      if (log.topics[0] !== failedTopic || log.address.toLowerCase() !== escrow) continue;
      const ev = chain.escrowAbi.decode(log);
      if (ev) failures.set(Number(ev.values[0]), ev.values[1] as string);
    }
    const ok: CommandRow[] = [];
    for (const cmd of cmds) {
      const reason = failures.get(cmd.batch_index ?? -1);
      if (reason === undefined) ok.push(cmd);
      else await this.outcomes.reverted(cmd, decodeRevertData(reason));
    }
    await this.outcomes.confirmed(ok);
  }
}

function latestSentAt(txs: ChainTxRow[]): number {
  return Math.max(...txs.map((t) => new Date(t.sent_at).getTime()));
}

/**
 * Whether the first transaction of the replacements `t` belongs to still holds the nonce (not dropped): then the
 * nonce was never given back, and the commands bound to it are the ones every transaction of that line carried.
 */
function heldNonce(t: ChainTxRow, stored: ChainTxRow[]): boolean {
  const byId = new Map(stored.map((x) => [x.id, x]));
  let root = t;
  for (
    let parent = root.replaces && byId.get(String(root.replaces));
    parent;
    parent = root.replaces && byId.get(String(root.replaces))
  )
    root = parent;
  return root !== t && root.status !== "dropped";
}

/** How many lines of replacements the transactions hold: one per transaction replacing none of them. */
function lines(txs: ChainTxRow[]): number {
  const ids = new Set(txs.map((t) => t.id));
  return txs.filter((t) => t.replaces === null || !ids.has(String(t.replaces))).length;
}
