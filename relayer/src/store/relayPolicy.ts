/**
 * What the relay's admission of a gasless buyer request reads: recent relayed requests (rate limits), the
 * merchant's gas spend and budget, and whether a request with the same forwarder nonce is queued.
 */
import type { Queryable } from "./db";

export interface RelayUsage {
  /** Requests relayed for the buyer in the last minute. */
  buyer_n: string;
  /** Requests relayed for the merchant's orders in the last minute. */
  merchant_n: string;
  /** Gas (wei) the relayer spent for the merchant over the last `periodDays` days. */
  spent: string;
  /** The merchant's own gas budget (wei); null: the configured default. */
  budget: string | null;
}

/**
 * How much the relay has done for `buyer` and the merchant lately, and the merchant's gas spend over the last
 * `periodDays` UTC days and its own budget.
 */
export async function relayUsage(
  q: Queryable,
  merchantId: string,
  buyer: string,
  periodDays: number,
): Promise<RelayUsage> {
  const r = await q.query<RelayUsage>(
    `select
       (select count(*) from commands where kind = 'relay_forward' and payload->>'buyer' = $2 and created_at > now() - interval '1 minute') as buyer_n,
       (select count(*) from commands where kind = 'relay_forward' and merchant_id = $1 and created_at > now() - interval '1 minute') as merchant_n,
       (select coalesce(sum(cost_wei), 0) from merchant_gas_daily
         where merchant_id = $1 and day > (now() at time zone 'UTC')::date - $3::int) as spent,
       (select gas_budget_wei from merchants where id = $1) as budget`,
    [merchantId, buyer, periodDays],
  );
  return r.rows[0];
}

/**
 * Serialises the admission of `buyer`'s relayed requests until the caller's transaction ends: the check for
 * a queued request with the same nonce and the enqueueing then run as one step.
 */
export async function lockBuyerRelayQueue(q: Queryable, buyer: string): Promise<void> {
  await q.query(`select pg_advisory_xact_lock(hashtext($1))`, [`relay_forward:${buyer}`]);
}

/** True when a relayed request of `buyer` with forwarder nonce `nonce` is queued, sent or done (not failed). */
export async function relayForwardQueued(q: Queryable, buyer: string, nonce: string): Promise<boolean> {
  const queued = await q.query(
    `select 1 from commands where kind = 'relay_forward' and payload->>'buyer' = $1
       and payload->'request'->>'nonce' = $2 and status not in ('failed')`,
    [buyer, nonce],
  );
  return queued.rowCount !== 0;
}
