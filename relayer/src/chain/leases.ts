/**
 * Signer leases: each signer key is used by one relayer process at a time. Live processes heartbeat; each
 * takes a fair share of the signers (free or expired leases first) and gives back the ones above its share
 * once they are idle, so work spreads over processes and a dead process's signers are taken over after the
 * lease expires.
 */
import type { Db } from "../store/db";
import {
  acquireLeases,
  ensureLeaseRows,
  giveBackLease,
  heartbeat,
  liveInstanceCount,
  renewLeases,
  retireInstance,
} from "../store/signerLeases";

export class LeaseManager {
  constructor(
    private readonly db: Db,
    private readonly instanceId: string,
    private readonly signers: string[],
    private readonly ttlMs: number,
  ) {}

  /** Renews held leases and acquires up to a fair share; returns the signers this process now holds. */
  async refresh(isIdle: (signer: string) => boolean): Promise<string[]> {
    return this.db.tx(async (q) => {
      await heartbeat(q, this.instanceId);
      const live = await liveInstanceCount(q, this.ttlMs);
      const share = Math.max(1, Math.ceil(this.signers.length / Math.max(1, live)));
      await ensureLeaseRows(q, this.signers);
      // Renew what we hold.
      const held = await renewLeases(q, this.instanceId, this.ttlMs, this.signers);
      // Give back idle signers above our share so a newcomer can take them.
      const keep: string[] = [];
      for (const s of held) {
        if (keep.length >= share && isIdle(s)) await giveBackLease(q, s, this.instanceId);
        else keep.push(s);
      }
      if (keep.length < share) {
        keep.push(...(await acquireLeases(q, this.instanceId, this.ttlMs, share - keep.length, this.signers)));
      }
      return keep.sort();
    });
  }

  async releaseAll(): Promise<void> {
    await retireInstance(this.db, this.instanceId);
  }
}
