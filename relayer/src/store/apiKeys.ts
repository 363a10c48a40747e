import { cursorTime, type Queryable } from "./db";

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

/** The merchant's keys in creation order (revoked ones only if asked), from after `after`, at most `limit`. */
export async function listApiKeys(
  q: Queryable,
  merchantId: string,
  page: { after: { at: string; id: string } | null; limit: number; includeRevoked: boolean },
): Promise<(ApiKeyRow & { cursor_at: string })[]> {
  return (
    await q.query<ApiKeyRow & { cursor_at: string }>(
      `select *, ${cursorTime("created_at")} as cursor_at from api_keys
       where merchant_id = $1 and ($2 or revoked_at is null)
         and ($3::timestamptz is null or (created_at, id) > ($3::timestamptz, $4::text))
       order by created_at, id limit $5`,
      [merchantId, page.includeRevoked, page.after?.at ?? null, page.after?.id ?? null, page.limit],
    )
  ).rows;
}

export async function getApiKey(q: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  return (await q.query<ApiKeyRow>(`select * from api_keys where id = $1`, [id])).rows[0];
}

/**
 * The merchant's keys not revoked, counted after taking the merchant's key lock (held until the transaction ends),
 * so that keys issued at once are counted one after another.
 */
export async function countActiveApiKeysLocked(q: Queryable, merchantId: string): Promise<number> {
  await q.query(`select pg_advisory_xact_lock(hashtext('api_keys'), hashtext($1))`, [merchantId]);
  const r = await q.query<{ n: string }>(
    `select count(*) as n from api_keys where merchant_id = $1 and revoked_at is null`,
    [merchantId],
  );
  return Number(r.rows[0].n);
}

/** Revokes the key; every relayer process on the database is told once the transaction commits. */
export async function revokeApiKey(q: Queryable, id: string): Promise<void> {
  await q.query(`update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1`, [id]);
  await q.query(`select pg_notify($1, $2)`, [API_KEYS_CHANNEL, id]);
}
