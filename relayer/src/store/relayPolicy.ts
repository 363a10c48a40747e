/**
 * What the relay's admission of a gasless buyer request reads: recent relayed requests (rate limits), the
 * merchant's gas spend and budget, and whether a request with the same forwarder nonce is queued.
 */
import type { Queryable } from "./db";

export interface RelayUsage {
  /** Requests relayed for the buyer in the last minute (forwarded requests and ERC-3009 authorizations). */
  buyer_n: string;
  /** Requests relayed for the merchant's orders in the last minute. */
  merchant_n: string;
}

/**
 * How much the relay has done for `buyer` (any letter case) and the merchant in the last minute: forwarded requests
 * and ERC-3009 authorizations together. Each count is a range of a partial index on the relayed commands
 * (commands_relay_buyer, commands_relay_merchant).
 */
export async function relayUsage(q: Queryable, merchantId: string, buyer: string): Promise<RelayUsage> {
  const r = await q.query<RelayUsage>(
    `select
       (select count(*) from commands where kind in ('relay_forward', 'relay_authorization')
          and lower(payload->>'buyer') = lower($2) and created_at > now() - interval '1 minute') as buyer_n,
       (select count(*) from commands where kind in ('relay_forward', 'relay_authorization')
          and merchant_id = $1 and created_at > now() - interval '1 minute') as merchant_n`,
    [merchantId, buyer],
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

/**
 * True when a relayed request of `buyer` (any letter case) with forwarder nonce `nonce` is queued, sent or done
 * (not failed): one probe of commands_relay_nonce.
 */
export async function relayForwardQueued(q: Queryable, buyer: string, nonce: string): Promise<boolean> {
  const queued = await q.query(
    `select 1 from commands where kind = 'relay_forward' and lower(payload->>'buyer') = lower($1)
       and payload->'request'->>'nonce' = $2 and status not in ('failed') limit 1`,
    [buyer, nonce],
  );
  return queued.rowCount !== 0;
}

/** True when a relayed ERC-3009 payment of order `orderId` is queued, sent or done (not failed): commands_order. */
export async function relayAuthorizationQueued(q: Queryable, orderId: string): Promise<boolean> {
  const r = await q.query(
    `select 1 from commands where order_id = $1 and kind = 'relay_authorization' and status <> 'failed' limit 1`,
    [orderId],
  );
  return r.rowCount !== 0;
}
