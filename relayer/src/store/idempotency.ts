import type { Queryable } from "./db";

/**
 * Stored first responses of requests that carried an Idempotency-Key, per scope (a merchant, the admin, the
 * arbiter, or anonymous buyers). A row lives `ttlSeconds` from the first request: an older one is ignored, taken
 * over by the next request with its key, and purged.
 */
export interface StoredResponse {
  request_hash: string;
  status_code: number | null;
  response: unknown;
  /** The API key that made the first request (null without one). */
  api_key_id: string | null;
}

export interface IdempotencyRow {
  scope: string;
  key: string;
  requestHash: string;
  apiKeyId: string | null;
  ttlSeconds: number;
}

/**
 * Claims the key (a new row, or an expired one taken over); returns null when claimed, else the live stored row.
 * Waits for a concurrent holder.
 */
export async function claimIdempotencyKey(q: Queryable, c: IdempotencyRow): Promise<null | StoredResponse> {
  const ins = await q.query(
    `insert into idempotency_keys (scope, key, request_hash, api_key_id) values ($1, $2, $3, $4)
     on conflict (scope, key) do update
       set request_hash = excluded.request_hash, api_key_id = excluded.api_key_id, status_code = null,
           response = null, created_at = now()
       where idempotency_keys.created_at <= now() - make_interval(secs => $5)
     returning key`,
    [c.scope, c.key, c.requestHash, c.apiKeyId, c.ttlSeconds],
  );
  if (ins.rowCount > 0) return null;
  return (
    (await findIdempotentResponse(q, c.scope, c.key, c.ttlSeconds))[0] ?? {
      request_hash: c.requestHash,
      status_code: null,
      response: null,
      api_key_id: c.apiKeyId,
    }
  );
}

/** The live (not expired) stored row of the key, if any. */
export async function findIdempotentResponse(q: Queryable, scope: string, key: string, ttlSeconds: number) {
  const r = await q.query<StoredResponse>(
    `select request_hash, status_code, response, api_key_id from idempotency_keys
     where scope = $1 and key = $2 and created_at > now() - make_interval(secs => $3)`,
    [scope, key, ttlSeconds],
  );
  return r.rows;
}

export async function saveIdempotentResponse(
  q: Queryable,
  scope: string,
  key: string,
  status: number,
  response: unknown,
) {
  await q.query(`update idempotency_keys set status_code = $3, response = $4 where scope = $1 and key = $2`, [
    scope,
    key,
    status,
    JSON.stringify(response),
  ]);
}

/** Deletes up to `limit` rows older than `ttlSeconds`; returns how many. */
export async function purgeExpiredIdempotencyKeys(q: Queryable, ttlSeconds: number, limit = 10_000): Promise<number> {
  const r = await q.query(
    `delete from idempotency_keys where ctid = any(array(
       select ctid from idempotency_keys where created_at <= now() - make_interval(secs => $1) limit $2))`,
    [ttlSeconds, limit],
  );
  return r.rowCount;
}
