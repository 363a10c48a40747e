/**
 * Follows stored transactions to their receipts and the confirmation depth, reports each command's outcome,
 * and hands transactions not mined in time to the replacer.
 */
import { Transaction } from "ethers";
import { commandsOfTx, releaseCommands, type CommandRow } from "../../store/commands";
import { markSiblingsReplaced, openTxs, setTxStatus, type ChainTxRow } from "../../store/chainTxs";
import { recordGasSpend } from "../../store/relaySpend";
import { decodeRevertData, revertDataOf } from "../decodeError";
import { getReceiptRaw, type RawReceipt } from "../rpc";
import type { SubmitterContext } from "./lane";
import type { CommandOutcomes } from "./outcomes";
import type { Replacer } from "./replacement";

export class Tracker {
  /** Nonces already reported at the replacement cap (one log line each). */
  private readonly capped = new Set<string>();

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
    const groups = new Map<
      string,
      { txs: ChainTxRow[]; mined?: { tx: ChainTxRow; r: RawReceipt }; unknown?: boolean }
    >();
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
    for (const g of groups.values()) {
      const signer = g.txs[0].signer;
      if (g.mined) {
        const { tx, r } = g.mined;
        const depth = head - BigInt(r.blockNumber) + 1n;
        if (depth >= BigInt(opts.confirmations)) {
          await this.finalize(tx, r);
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

  private async finalize(tx: ChainTxRow, r: RawReceipt): Promise<void> {
    const { db, metrics } = this.ctx;
    const nonce = BigInt(tx.nonce);
    const cmds = await commandsOfTx(db, tx.signer, nonce);
    // The commands' outcomes are recorded before the transaction is closed: a crash in between leaves the
    // transaction open, so the next pass finalizes the commands still submitted instead of losing them.
    await this.settleCommands(tx, r, cmds);
    await db.tx(async (q) => {
      await setTxStatus(q, tx.id, r.status === 1 ? "confirmed" : "reverted", {
        blockNumber: BigInt(r.blockNumber),
        gasUsed: r.gasUsed,
      });
      await markSiblingsReplaced(q, tx.signer, nonce, tx.id);
    });
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
