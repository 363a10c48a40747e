/**
 * Each signer's nonces: learnt from the chain and from the transactions stored for it, so that after a crash,
 * an RPC outage or a reorg the signer goes on from the right nonce and nothing it signed is lost.
 */
import { reopenReorged } from "../../store/commands";
import {
  maxRecordedNonce,
  minedFromNonce,
  openTxs,
  reopenTx,
  unsettledRefusals,
  type ChainTxRow,
} from "../../store/chainTxs";
import { broadcastRaw, classifyBroadcastError } from "./broadcast";
import type { SignerLane, SubmitterContext } from "./lane";
import { reclaimRefused } from "./refusals";

/** How often an idle signer's nonce is compared with the node's. */
const IDLE_CHECK_MS = 10_000;

export class NonceKeeper {
  private lastCheck = 0;
  private readonly lastIdleCheck = new Map<string, number>();

  constructor(private readonly ctx: SubmitterContext) {}

  /**
   * Learns the signer's next nonce from the chain and from the transactions stored for it, and rebroadcasts
   * stored transactions the node does not have, in nonce order (after a crash or an RPC outage).
   */
  async recover(lane: SignerLane): Promise<void> {
    const { chain, db, log } = this.ctx;
    const chainNonce = BigInt(await chain.provider.getTransactionCount(lane.address, "pending"));
    await this.reopenVanished(lane, chainNonce);
    // Refusals stored before this process took the signer (a restart, a lease hand-off): what they carried is
    // known from their rows only.
    if (!lane.refusedLoaded) {
      for (const t of await unsettledRefusals(db, lane.address)) {
        const n = BigInt(t.nonce);
        const known = lane.refused.get(n) ?? [];
        if (!known.some((k) => k.hash === t.hash)) lane.refused.set(n, [...known, { hash: t.hash, ids: t.ids }]);
      }
      lane.refusedLoaded = true;
    }
    // A nonce given back after a refusal that the chain counts although no transaction of ours is open there:
    // the refused one may be what used it.
    const openNonces = new Set((await openTxs(db, [lane.address])).map((t) => BigInt(t.nonce)));
    for (const n of lane.refused.keys()) {
      if (n < chainNonce && !openNonces.has(n)) await reclaimRefused(this.ctx, lane, n);
    }
    const open = (await openTxs(db, [lane.address])).filter((t) => t.status === "sent");
    const latestPerNonce = new Map<string, ChainTxRow>();
    for (const t of open) {
      const cur = latestPerNonce.get(t.nonce);
      if (!cur || BigInt(t.id) > BigInt(cur.id)) latestPerNonce.set(t.nonce, t);
    }
    const pending = [...latestPerNonce.values()]
      .filter((t) => BigInt(t.nonce) >= chainNonce)
      .sort((a, b) => Number(BigInt(a.nonce) - BigInt(b.nonce)));
    for (const t of pending) {
      try {
        await broadcastRaw(chain, t.raw);
        log.info({ signer: lane.address, nonce: t.nonce, hash: t.hash }, "rebroadcast stored transaction");
      } catch (err) {
        const c = classifyBroadcastError(err);
        if (c.kind === "network") throw err;
        if (c.kind !== "known" && c.kind !== "nonce_low") {
          log.warn(
            { signer: lane.address, nonce: t.nonce, err: String(err) },
            "stored transaction refused on rebroadcast",
          );
        }
      }
    }
    const recorded = await maxRecordedNonce(db, lane.address);
    const afterRecorded = recorded === null ? 0n : recorded + 1n;
    lane.nextNonce = chainNonce > afterRecorded ? chainNonce : afterRecorded;
    lane.inFlight = latestPerNonce.size;
    lane.needsRecovery = false;
  }

  /**
   * Transactions recorded as mined (or final) at nonces the chain has not used: their blocks were reorged
   * away. They become open again and their commands submitted again, so recovery rebroadcasts them in nonce
   * order: the signer's nonces stay contiguous and no command's effect is lost. A create that the indexer
   * queued again meanwhile cannot double: the order id is the hash of its fixed terms, and the second
   * attempt is settled by OrderAlreadyExists with the escrow's status of that id (see settleExistingOrder).
   */
  private async reopenVanished(lane: SignerLane, chainNonce: bigint): Promise<void> {
    const { chain, db, log } = this.ctx;
    for (const t of await minedFromNonce(db, lane.address, chainNonce)) {
      if (await chain.provider.getTransactionReceipt(t.hash)) continue;
      await db.tx(async (q) => {
        await reopenTx(q, t.id);
        await reopenReorged(q, t.signer, t.nonce);
      });
      log.warn({ signer: lane.address, nonce: t.nonce, hash: t.hash }, "transaction reorged away; reopened");
    }
  }

  /**
   * The node no longer knows transactions this process signed (a reorg, a node restart): the signer recovers
   * before sending anything new. A signer with transactions in flight is checked at most once a second, an idle
   * one every 10 s (an idle relayer should cost its RPC provider next to nothing).
   */
  async check(held: string[]): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < 1000) return;
    this.lastCheck = now;
    for (const s of held) {
      const lane = this.ctx.lanes.get(s)!;
      if (lane.busy || lane.needsRecovery || lane.nextNonce === null) continue;
      if (lane.inFlight === 0 && now - (this.lastIdleCheck.get(s) ?? 0) < IDLE_CHECK_MS) continue;
      if (lane.inFlight === 0) this.lastIdleCheck.set(s, now);
      const expected = lane.nextNonce;
      const pending = BigInt(await this.ctx.chain.provider.getTransactionCount(s, "pending"));
      if (pending < expected && !lane.busy && lane.nextNonce === expected) {
        this.ctx.log.warn(
          { signer: s, chainNonce: String(pending), nextNonce: String(expected) },
          "node is missing transactions of this signer; recovering",
        );
        lane.needsRecovery = true;
      }
    }
  }
}
