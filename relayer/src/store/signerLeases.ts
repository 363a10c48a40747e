/** Relayer processes and the signer leases they hold (chain/leases.ts decides the fair share). */
import type { Queryable } from "./db";

/** Records that the process `id` is alive now. */
export async function heartbeat(q: Queryable, id: string): Promise<void> {
  await q.query(
    `insert into relayer_instances (id, heartbeat_at) values ($1, now())
     on conflict (id) do update set heartbeat_at = now()`,
    [id],
  );
}

/** Processes that heartbeat within the last `ttlMs`. */
export async function liveInstanceCount(q: Queryable, ttlMs: number): Promise<number> {
  const r = await q.query<{ n: string }>(
    `select count(*) as n from relayer_instances where heartbeat_at > now() - ($1::int * interval '1 millisecond')`,
    [ttlMs],
  );
  return Number(r.rows[0].n);
}

/** A lease row for every signer, free until someone takes it. */
export async function ensureLeaseRows(q: Queryable, signers: string[]): Promise<void> {
  for (const s of signers) {
    await q.query(
      `insert into signer_leases (address, owner, expires_at) values ($1, null, now()) on conflict do nothing`,
      [s],
    );
  }
}

/** Extends the leases `owner` holds among `signers` by `ttlMs`; returns them. */
export async function renewLeases(q: Queryable, owner: string, ttlMs: number, signers: string[]): Promise<string[]> {
  const r = await q.query<{ address: string }>(
    `update signer_leases set expires_at = now() + ($2::int * interval '1 millisecond')
     where owner = $1 and address = any($3::text[]) returning address`,
    [owner, ttlMs, signers],
  );
  return r.rows.map((row) => row.address);
}

/** Gives `signer`'s lease back, if `owner` holds it. */
export async function giveBackLease(q: Queryable, signer: string, owner: string): Promise<void> {
  await q.query(`update signer_leases set owner = null, expires_at = now() where address = $1 and owner = $2`, [
    signer,
    owner,
  ]);
}

/** Takes up to `count` free or expired leases among `signers` for `owner` (others' claims skipped); returns them. */
export async function acquireLeases(
  q: Queryable,
  owner: string,
  ttlMs: number,
  count: number,
  signers: string[],
): Promise<string[]> {
  const r = await q.query<{ address: string }>(
    `update signer_leases set owner = $1, expires_at = now() + ($2::int * interval '1 millisecond')
     where address in (
       select address from signer_leases
       where address = any($4::text[]) and (owner is null or expires_at < now()) and coalesce(owner, '') <> $1
       order by address limit $3 for update skip locked)
     returning address`,
    [owner, ttlMs, count, signers],
  );
  return r.rows.map((row) => row.address);
}

/** A process that stops gives back every lease and leaves the live set. */
export async function retireInstance(q: Queryable, owner: string): Promise<void> {
  await q.query(`update signer_leases set owner = null, expires_at = now() where owner = $1`, [owner]);
  await q.query(`delete from relayer_instances where id = $1`, [owner]);
}

/** What the holder of `signer`'s lease saw of its balance: whether it can pay for the next transaction. */
export async function recordSignerFunding(
  q: Queryable,
  signer: string,
  f: { canPay: boolean; balanceWei: bigint | null },
): Promise<void> {
  await q.query(
    `update signer_leases set can_pay = $2, balance_wei = $3, funding_checked_at = now() where address = $1`,
    [signer, f.canPay, f.balanceWei === null ? null : f.balanceWei.toString()],
  );
}

/** Signers held by a live lease, and how many of them can pay (for readiness). */
export async function signerFunding(q: Queryable): Promise<{ held: number; canPay: number }> {
  const r = await q.query<{ held: string; can_pay: string }>(
    `select count(*) as held, count(*) filter (where can_pay) as can_pay
     from signer_leases where owner is not null and expires_at > now()`,
  );
  return { held: Number(r.rows[0].held), canPay: Number(r.rows[0].can_pay) };
}
