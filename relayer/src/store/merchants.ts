import type { Queryable } from "./db";

export interface MerchantRow {
  id: string;
  name: string;
  address: string;
  encrypted_key: string;
  status: string;
  sku_counter: number;
  /** Gas (wei) the relayer may spend for it over the last 30 days; null: the configured default. */
  gas_budget_wei: string | null;
  created_at: Date;
}

export async function insertMerchant(
  q: Queryable,
  m: { id: string; name: string; address: string; encryptedKey: string },
) {
  await q.query(`insert into merchants (id, name, address, encrypted_key) values ($1, $2, $3, $4)`, [
    m.id,
    m.name,
    m.address,
    m.encryptedKey,
  ]);
}

export async function getMerchant(q: Queryable, id: string): Promise<MerchantRow | undefined> {
  return (await q.query<MerchantRow>(`select * from merchants where id = $1`, [id])).rows[0];
}

export async function listMerchants(q: Queryable): Promise<MerchantRow[]> {
  return (await q.query<MerchantRow>(`select * from merchants order by created_at, id`)).rows;
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
