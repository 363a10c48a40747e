import type { SkuStatus } from "../domain/model";
import type { Queryable } from "./db";

export interface SkuRow {
  id: string;
  merchant_id: string;
  reference: string;
  name: string;
  metadata_uri: string;
  metadata: Record<string, unknown>;
  sku_number: number;
  chain_sku_id: string;
  status: SkuStatus;
  created_at: Date;
}

export async function insertSku(
  q: Queryable,
  s: {
    id: string;
    merchantId: string;
    reference: string;
    name: string;
    metadataUri: string;
    metadata: unknown;
    skuNumber: number;
    chainSkuId: string;
  },
) {
  await q.query(
    `insert into skus (id, merchant_id, reference, name, metadata_uri, metadata, sku_number, chain_sku_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      s.id,
      s.merchantId,
      s.reference,
      s.name,
      s.metadataUri,
      JSON.stringify(s.metadata ?? {}),
      s.skuNumber,
      s.chainSkuId,
    ],
  );
}

export async function getSku(q: Queryable, merchantId: string, id: string): Promise<SkuRow | undefined> {
  return (await q.query<SkuRow>(`select * from skus where merchant_id = $1 and id = $2`, [merchantId, id])).rows[0];
}

export async function findSkuByReference(
  q: Queryable,
  merchantId: string,
  reference: string,
): Promise<SkuRow | undefined> {
  return (
    await q.query<SkuRow>(`select * from skus where merchant_id = $1 and reference = $2`, [merchantId, reference])
  ).rows[0];
}

export async function skusByIds(q: Queryable, merchantId: string, ids: string[]): Promise<SkuRow[]> {
  return (
    await q.query<SkuRow>(`select * from skus where merchant_id = $1 and id = any($2::text[])`, [merchantId, ids])
  ).rows;
}

/** The merchant's SKUs in creation order: at most `limit`, after the SKU numbered `afterNumber` when given. */
export async function listSkus(
  q: Queryable,
  merchantId: string,
  page: { afterNumber?: number; limit: number },
): Promise<SkuRow[]> {
  return (
    await q.query<SkuRow>(
      `select * from skus where merchant_id = $1 and sku_number > $2 order by sku_number limit $3`,
      [merchantId, page.afterNumber ?? 0, page.limit],
    )
  ).rows;
}

/** The SKU's creation failed for good. */
export async function markSkuFailed(q: Queryable, id: string): Promise<void> {
  await q.query(`update skus set status = 'failed' where id = $1`, [id]);
}

/** The names of the SKUs with `ids`, by id (any merchant's: the checkout page shows what an order contains). */
export async function skuNames(q: Queryable, ids: string[]): Promise<Map<string, string>> {
  const r = await q.query<{ id: string; name: string }>(`select id, name from skus where id = any($1::text[])`, [ids]);
  return new Map(r.rows.map((s) => [s.id, s.name]));
}

/** The SKUs with chain ids `chainSkuIds` were created on chain (the indexer saw their SkuCreated events). */
export async function markSkusCreated(q: Queryable, chainSkuIds: string[]): Promise<void> {
  await q.query(`update skus set status = 'created' where chain_sku_id = any($1::numeric[])`, [chainSkuIds]);
}

/** The SKU's SkuCreated event was rolled back by a reorg: it is pending again. */
export async function markSkuUncreated(q: Queryable, chainSkuId: string): Promise<void> {
  await q.query(`update skus set status = 'pending' where chain_sku_id = $1`, [chainSkuId]);
}
