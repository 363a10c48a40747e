import type { Queryable } from "./db";

/** Inserts the key if new; returns null when inserted, else the stored row. Waits for a concurrent holder. */
export async function claimIdempotencyKey(
  q: Queryable,
  scope: string,
  key: string,
  requestHash: string,
): Promise<null | { request_hash: string; status_code: number | null; response: unknown }> {
  const ins = await q.query(
    `insert into idempotency_keys (scope, key, request_hash) values ($1, $2, $3) on conflict do nothing returning key`,
    [scope, key, requestHash],
  );
  if (ins.rowCount > 0) return null;
  return (
    (await findIdempotentResponse(q, scope, key))[0] ?? { request_hash: requestHash, status_code: null, response: null }
  );
}

export async function findIdempotentResponse(q: Queryable, scope: string, key: string) {
  const r = await q.query<{ request_hash: string; status_code: number | null; response: unknown }>(
    `select request_hash, status_code, response from idempotency_keys where scope = $1 and key = $2`,
    [scope, key],
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
