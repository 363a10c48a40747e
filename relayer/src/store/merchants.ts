import type { MerchantStatus } from "../domain/model";
import { cursorTime, type Queryable } from "./db";

/** Who signs for the merchant's address: the relayer's custodial key, or the merchant's own wallet. */
export type SignerKind = "custodial" | "external";

export interface MerchantRow {
  id: string;
  name: string;
  address: string;
  /** The custodial key, encrypted; null for an external signer (the relayer holds no key). */
  encrypted_key: string | null;
  signer_kind: SignerKind;
  status: MerchantStatus;
  sku_counter: number;
  /** Gas (wei) the relayer may spend for it over the last 30 days; null: the configured default. */
  gas_budget_wei: string | null;
  created_at: Date;
}

/** A merchant with a custodial key (`encryptedKey`) or, with `encryptedKey` null, an external signer. */
export async function insertMerchant(
  q: Queryable,
  m: { id: string; name: string; address: string; encryptedKey: string | null },
) {
  await q.query(`insert into merchants (id, name, address, encrypted_key, signer_kind) values ($1, $2, $3, $4, $5)`, [
    m.id,
    m.name,
    m.address,
    m.encryptedKey,
    m.encryptedKey === null ? "external" : "custodial",
  ]);
}

/** The merchant whose address is `address`, in any letter case. */
export async function getMerchantByAddress(q: Queryable, address: string): Promise<MerchantRow | undefined> {
  return (await q.query<MerchantRow>(`select * from merchants where lower(address) = lower($1)`, [address])).rows[0];
}

/** Locks the merchant's row for the rest of the caller's transaction: its setup requests are accepted in turn. */
export async function lockMerchant(q: Queryable, id: string): Promise<MerchantRow | undefined> {
  return (await q.query<MerchantRow>(`select * from merchants where id = $1 for update`, [id])).rows[0];
}

/**
 * Queues an external merchant's merchant_setup not due until its wallet's signatures arrive (wakeMerchantSetup):
 * like a custodial merchant's, it holds the merchant's inventory commands (SKUs, stock) behind it meanwhile.
 */
export async function insertDormantMerchantSetup(
  q: Queryable,
  c: { merchantId: string; payload: Record<string, unknown>; apiKeyId: string | null },
): Promise<string> {
  const r = await q.query<{ id: string }>(
    `insert into commands (kind, merchant_id, payload, api_key_id, not_before)
     values ('merchant_setup', $1, $2, $3, 'infinity') returning id`,
    [c.merchantId, JSON.stringify(c.payload), c.apiKeyId],
  );
  return String(r.rows[0].id);
}

/** The merchant's merchant_setup command not finished yet, if any; `dormant` while it waits for signatures. */
export async function openMerchantSetup(
  q: Queryable,
  merchantId: string,
): Promise<{ id: string; dormant: boolean } | undefined> {
  const r = await q.query<{ id: string; dormant: boolean }>(
    `select id, not_before = 'infinity' as dormant from commands
     where merchant_id = $1 and kind = 'merchant_setup' and status in ('pending', 'claimed', 'submitted')
     order by id limit 1`,
    [merchantId],
  );
  return r.rows[0] ? { id: String(r.rows[0].id), dormant: r.rows[0].dormant } : undefined;
}

/** The dormant merchant_setup `id` gets the signed requests in its payload and is due now. */
export async function wakeMerchantSetup(q: Queryable, id: string, payload: Record<string, unknown>): Promise<void> {
  await q.query(
    `update commands set payload = $2, not_before = now(), error_code = null, error_message = null, updated_at = now()
     where id = $1 and status = 'pending' and not_before = 'infinity'`,
    [id, JSON.stringify(payload)],
  );
}

/**
 * Every relayer signer any writer process configured (each writes its signers' lease rows at start), in address
 * order: the operators a merchant approves. A signer removed from the configuration stays listed.
 */
export async function relayerSignerAddresses(q: Queryable): Promise<string[]> {
  const r = await q.query<{ address: string }>(`select address from signer_leases order by lower(address)`);
  return r.rows.map((row) => row.address);
}

export async function getMerchant(q: Queryable, id: string): Promise<MerchantRow | undefined> {
  return (await q.query<MerchantRow>(`select * from merchants where id = $1`, [id])).rows[0];
}

/** Merchants in creation order, from after `after` (its time and id), at most `limit`. */
export async function listMerchants(
  q: Queryable,
  page: { after: { at: string; id: string } | null; limit: number },
): Promise<(MerchantRow & { cursor_at: string })[]> {
  return (
    await q.query<MerchantRow & { cursor_at: string }>(
      `select *, ${cursorTime("created_at")} as cursor_at from merchants
       where $1::timestamptz is null or (created_at, id) > ($1::timestamptz, $2::text)
       order by created_at, id limit $3`,
      [page.after?.at ?? null, page.after?.id ?? null, page.limit],
    )
  ).rows;
}

/** Reserves the merchant's next SKU number (the on-chain SKU counter it will get). */
export async function nextSkuNumber(q: Queryable, merchantId: string): Promise<number> {
  const r = await q.query<{ sku_counter: number }>(
    `update merchants set sku_counter = sku_counter + 1 where id = $1 returning sku_counter`,
    [merchantId],
  );
  return r.rows[0].sku_counter;
}

/** The merchant's custodial identity became usable: every relayer signer is its operator on chain. */
export async function activateMerchant(q: Queryable, id: string): Promise<void> {
  await q.query(`update merchants set status = 'active' where id = $1`, [id]);
}

/**
 * Sets the merchant's gas budget (wei over the last 30 days; null: back to the configured default). Returns the
 * budget it replaces, or undefined for no such merchant.
 */
export async function setMerchantGasBudget(
  q: Queryable,
  id: string,
  budgetWei: string | null,
): Promise<{ previous: string | null } | undefined> {
  const r = await q.query<{ previous: string | null }>(
    `update merchants m set gas_budget_wei = $2
     from (select id, gas_budget_wei as previous from merchants where id = $1 for update) old
     where m.id = old.id
     returning old.previous`,
    [id, budgetWei],
  );
  return r.rows[0];
}
