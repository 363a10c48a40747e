import type { Queryable } from "./db";

/** The PostgreSQL notification channel of API key revocations (store/apiKeyCache.ts listens to it). */
export const API_KEYS_CHANNEL = "orderchain_api_keys";

export interface ApiKeyRow {
  id: string;
  merchant_id: string | null;
  role: "merchant" | "arbiter";
  name: string;
  scopes: string[];
  key_hash: string;
  prefix: string;
  created_by: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export async function insertApiKey(
  q: Queryable,
  k: {
    id: string;
    merchantId: string | null;
    role: "merchant" | "arbiter";
    name: string;
    scopes: string[];
    keyHash: string;
    prefix: string;
    createdBy: string;
  },
) {
  await q.query(
    `insert into api_keys (id, merchant_id, role, name, scopes, key_hash, prefix, created_by) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [k.id, k.merchantId, k.role, k.name, k.scopes, k.keyHash, k.prefix, k.createdBy],
  );
}

export async function findApiKeyByHash(q: Queryable, keyHash: string): Promise<ApiKeyRow | undefined> {
  return (await q.query<ApiKeyRow>(`select * from api_keys where key_hash = $1`, [keyHash])).rows[0];
}

export async function listApiKeys(q: Queryable, merchantId: string): Promise<ApiKeyRow[]> {
  return (
    await q.query<ApiKeyRow>(`select * from api_keys where merchant_id = $1 order by created_at, id`, [merchantId])
  ).rows;
}

export async function getApiKey(q: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  return (await q.query<ApiKeyRow>(`select * from api_keys where id = $1`, [id])).rows[0];
}

/** Revokes the key; every relayer process on the database is told once the transaction commits. */
export async function revokeApiKey(q: Queryable, id: string): Promise<void> {
  await q.query(`update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1`, [id]);
  await q.query(`select pg_notify($1, $2)`, [API_KEYS_CHANNEL, id]);
}
