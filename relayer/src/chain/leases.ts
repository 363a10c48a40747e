/**
 * Signer leases: each signer key is used by one relayer process at a time. Live processes heartbeat; each
 * takes a fair share of the signers (free or expired leases first) and gives back the ones above its share
 * once they are idle, so work spreads over processes and a dead process's signers are taken over after the
 * lease expires.
 */
import type { Db } from "../store/db";

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
      await q.query(
        `insert into relayer_instances (id, heartbeat_at) values ($1, now())
         on conflict (id) do update set heartbeat_at = now()`,
        [this.instanceId],
      );
      const live = Number(
        (
          await q.query<{ n: string }>(
            `select count(*) as n from relayer_instances where heartbeat_at > now() - ($1::int * interval '1 millisecond')`,
            [this.ttlMs],
          )
        ).rows[0].n,
      );
      const share = Math.max(1, Math.ceil(this.signers.length / Math.max(1, live)));
      for (const s of this.signers) {
        await q.query(
          `insert into signer_leases (address, owner, expires_at) values ($1, null, now()) on conflict do nothing`,
          [s],
        );
      }
      // Renew what we hold.
      const held = (
        await q.query<{ address: string }>(
          `update signer_leases set expires_at = now() + ($2::int * interval '1 millisecond')
           where owner = $1 and address = any($3::text[]) returning address`,
          [this.instanceId, this.ttlMs, this.signers],
        )
      ).rows.map((r) => r.address);
      // Give back idle signers above our share so a newcomer can take them.
      const keep: string[] = [];
      for (const s of held) {
        if (keep.length >= share && isIdle(s)) {
          await q.query(`update signer_leases set owner = null, expires_at = now() where address = $1 and owner = $2`, [
            s,
            this.instanceId,
          ]);
        } else keep.push(s);
      }
      if (keep.length < share) {
        const got = await q.query<{ address: string }>(
          `update signer_leases set owner = $1, expires_at = now() + ($2::int * interval '1 millisecond')
           where address in (
             select address from signer_leases
             where address = any($4::text[]) and (owner is null or expires_at < now()) and coalesce(owner, '') <> $1
             order by address limit $3 for update skip locked)
           returning address`,
          [this.instanceId, this.ttlMs, share - keep.length, this.signers],
        );
        keep.push(...got.rows.map((r) => r.address));
      }
      return keep.sort();
    });
  }

  async releaseAll(): Promise<void> {
    await this.db.query(`update signer_leases set owner = null, expires_at = now() where owner = $1`, [
      this.instanceId,
    ]);
    await this.db.query(`delete from relayer_instances where id = $1`, [this.instanceId]);
  }
}
