/**
 * Webhooks: a merchant's endpoints, the events announced for its orders (with the orders' announcement
 * bookkeeping) and one delivery per event and subscribed endpoint.
 */
import type { Queryable } from "./db";
import type { OrderViewJson } from "./orders";

// ---------------------------------------------------------------------------------------------------------
// Endpoints

export interface EndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  events: string[];
  created_at: Date;
  disabled_at: Date | null;
}

export async function insertEndpoint(
  q: Queryable,
  e: { id: string; merchantId: string; url: string; events: string[]; encryptedSecret: string },
): Promise<void> {
  await q.query(
    `insert into webhook_endpoints (id, merchant_id, url, events, encrypted_secret) values ($1, $2, $3, $4, $5)`,
    [e.id, e.merchantId, e.url, e.events, e.encryptedSecret],
  );
}

export async function getEndpoint(q: Queryable, id: string): Promise<EndpointRow | undefined> {
  return (await q.query<EndpointRow>(`select * from webhook_endpoints where id = $1`, [id])).rows[0];
}

/** The merchant's endpoint `id`, or undefined when it has none of that id. */
export async function findMerchantEndpoint(
  q: Queryable,
  merchantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  return (
    await q.query<EndpointRow>(`select * from webhook_endpoints where merchant_id = $1 and id = $2`, [merchantId, id])
  ).rows[0];
}

export async function listMerchantEndpoints(q: Queryable, merchantId: string): Promise<EndpointRow[]> {
  return (
    await q.query<EndpointRow>(`select * from webhook_endpoints where merchant_id = $1 order by created_at, id`, [
      merchantId,
    ])
  ).rows;
}

/** The endpoint gets no new deliveries from now on; disabling it again keeps the first time it was disabled. */
export async function disableEndpointNow(q: Queryable, id: string): Promise<void> {
  await q.query(`update webhook_endpoints set disabled_at = coalesce(disabled_at, now()) where id = $1`, [id]);
}

// ---------------------------------------------------------------------------------------------------------
// Events and the orders' announcement bookkeeping

/** What announcing an order needs: its current state and what was last announced of it. */
export interface AnnounceableOrder {
  id: string;
  merchant_id: string;
  reference: string;
  chain_order_id: string;
  status: string;
  announced_status: string | null;
  webhook_sequence: number;
  record: OrderViewJson | null;
  amount: string;
  token: string;
  buyer: string | null;
  created_tx_hash: string | null;
  last_event_block: string | null;
}

/** An event to write: `payload` is the JSON body sent to the endpoints. */
export interface NewWebhookEvent {
  id: string;
  merchantId: string;
  orderId: string;
  type: string;
  sequence: number;
  payload: string;
}

/**
 * The orders of `chainOrderIds`, locked (in id order, so two lockers never deadlock) for the rest of the
 * caller's transaction: two indexers never announce one change twice.
 */
export async function lockOrdersToAnnounce(q: Queryable, chainOrderIds: string[]): Promise<AnnounceableOrder[]> {
  return (
    await q.query<AnnounceableOrder>(
      `select id, merchant_id, reference, chain_order_id, status, announced_status, webhook_sequence, record, amount, token, buyer,
              created_tx_hash, last_event_block from orders where chain_order_id = any($1::text[]) order by id for update`,
      [chainOrderIds],
    )
  ).rows;
}

/** The chain order id of the relayer's order `orderId`, or undefined when there is no such order. */
export async function chainOrderIdOf(q: Queryable, orderId: string): Promise<string | undefined> {
  const r = await q.query<{ chain_order_id: string }>(`select chain_order_id from orders where id = $1`, [orderId]);
  return r.rows[0]?.chain_order_id;
}

/** The arguments of the order's latest indexed DisputeResolved event (how the dispute ended, and the split). */
export async function lastDisputeResolution(
  q: Queryable,
  chainOrderId: string,
): Promise<{ args: Record<string, string> } | undefined> {
  return (
    await q.query<{ args: Record<string, string> }>(
      `select args from chain_events where order_id = $1 and name = 'DisputeResolved'
             order by block_number desc, log_index desc limit 1`,
      [chainOrderId],
    )
  ).rows[0];
}

/** The order's latest indexed chain event, whatever its name. */
export async function lastOrderEvent(
  q: Queryable,
  chainOrderId: string,
): Promise<{ name: string; args: Record<string, string>; tx_hash: string; log_index: number } | undefined> {
  return (
    await q.query<{ name: string; args: Record<string, string>; tx_hash: string; log_index: number }>(
      `select name, args, tx_hash, log_index from chain_events where order_id = $1
           order by block_number desc, log_index desc limit 1`,
      [chainOrderId],
    )
  ).rows[0];
}

/** True when the settlement proposal of the chain event `eventRef` (tx hash:log index) was already announced. */
export async function settlementProposalAnnounced(q: Queryable, orderId: string, eventRef: string): Promise<boolean> {
  const seen = await q.query(
    `select 1 from webhook_events where order_id = $1 and type = 'order.settlement_proposed'
             and payload->'data'->>'eventRef' = $2`,
    [orderId, eventRef],
  );
  return seen.rowCount !== 0;
}

/** True when a partial refund leaving `remaining` escrowed was already announced for the order. */
export async function partialRefundAnnounced(q: Queryable, orderId: string, remaining: string): Promise<boolean> {
  const seen = await q.query(
    `select 1 from webhook_events where order_id = $1 and type = 'order.partially_refunded' and payload->'data'->>'escrowed' = $2`,
    [orderId, remaining],
  );
  return seen.rowCount !== 0;
}

/** Writes the events, in one statement. */
export async function insertEvents(q: Queryable, events: NewWebhookEvent[]): Promise<void> {
  await q.query(
    `insert into webhook_events (id, merchant_id, order_id, type, sequence, payload)
       select id, m, o, t, s, p::jsonb from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[])
         as u(id, m, o, t, s, p)`,
    [
      events.map((e) => e.id),
      events.map((e) => e.merchantId),
      events.map((e) => e.orderId),
      events.map((e) => e.type),
      events.map((e) => e.sequence),
      events.map((e) => e.payload),
    ],
  );
}

/**
 * Queues one pending delivery of each event to every enabled endpoint of its merchant that subscribes to its
 * type (or to "*"), in the events' order, in one statement.
 */
export async function enqueueDeliveries(q: Queryable, events: NewWebhookEvent[]): Promise<void> {
  await q.query(
    `insert into webhook_deliveries (event_id, endpoint_id)
       select u.id, w.id
       from unnest($1::text[], $2::text[], $3::text[]) with ordinality as u(id, m, t, n)
       join webhook_endpoints w on w.merchant_id = u.m and w.disabled_at is null and (u.t = any(w.events) or '*' = any(w.events))
       order by u.n, w.id`,
    [events.map((e) => e.id), events.map((e) => e.merchantId), events.map((e) => e.type)],
  );
}

/** Records what was announced of each order: its status and the sequence number of its latest event. */
export async function markAnnounced(
  q: Queryable,
  orders: { id: string; status: string; sequence: number }[],
): Promise<void> {
  await q.query(
    `update orders o set announced_status = u.st, webhook_sequence = u.seq
       from unnest($1::text[], $2::text[], $3::int[]) as u(id, st, seq) where o.id = u.id`,
    [orders.map((o) => o.id), orders.map((o) => o.status), orders.map((o) => o.sequence)],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Deliveries

/*
 * Every status transition of a delivery is one named function here:
 *   enqueueDeliveries / enqueueDelivery   -> pending (a new delivery; redelivering by hand adds one)
 *   claimDueDeliveries                    pending -> delivering (it is due)
 *                                         delivering -> delivering (the claimer died mid-attempt: try again)
 *   markDelivered                         delivering -> delivered (the endpoint answered 2xx)
 *   scheduleRetry                         delivering -> pending (the attempt failed; try again later)
 *   giveUpDelivery                        delivering -> failed (the last allowed attempt failed)
 */

export interface DeliveryLogRow {
  id: string;
  event_id: string;
  type: string;
  sequence: number;
  order_id: string | null;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** Up to `limit` deliveries to the endpoint, newest first, older than delivery `before` when given. */
export async function listEndpointDeliveries(
  q: Queryable,
  endpointId: string,
  limit: number,
  before?: string,
): Promise<DeliveryLogRow[]> {
  return (
    await q.query<DeliveryLogRow>(
      `select d.id, d.event_id, ev.type, ev.sequence, ev.order_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at
     from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
     where d.endpoint_id = $1 ${before ? "and d.id < $3" : ""} order by d.id desc limit $2`,
      before ? [endpointId, limit, before] : [endpointId, limit],
    )
  ).rows;
}

/** The delivery `deliveryId` when it goes to one of the merchant's endpoints. */
export async function findMerchantDelivery(
  q: Queryable,
  merchantId: string,
  deliveryId: string,
): Promise<{ id: string; event_id: string; endpoint_id: string } | undefined> {
  return (
    await q.query<{ id: string; event_id: string; endpoint_id: string }>(
      `select d.id, d.event_id, d.endpoint_id from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
       where d.id = $1 and e.merchant_id = $2`,
      [deliveryId, merchantId],
    )
  ).rows[0];
}

/** Queues a new pending delivery of the event to the endpoint (a redelivery); returns its id. */
export async function enqueueDelivery(q: Queryable, eventId: string, endpointId: string): Promise<string> {
  const r = await q.query<{ id: string }>(
    `insert into webhook_deliveries (event_id, endpoint_id) values ($1, $2) returning id`,
    [eventId, endpointId],
  );
  return String(r.rows[0].id);
}

/** A claimed delivery, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  url: string;
  encrypted_secret: string;
  payload: unknown;
  event_id: string;
}

/**
 * Claims up to `limit` deliveries that are due: pending ones whose next attempt time has come, and ones left
 * 'delivering' for longer than `abandonedAfterMs` by a process that died. Rows locked by another claimer are
 * skipped, so concurrent deliverers take disjoint sets.
 */
export async function claimDueDeliveries(
  q: Queryable,
  limit: number,
  abandonedAfterMs: number,
): Promise<ClaimedDelivery[]> {
  return (
    await q.query<ClaimedDelivery>(
      `with due as (
           select d.id from webhook_deliveries d
           where (d.status = 'pending' and d.next_attempt_at <= now())
              -- a delivery left 'delivering' by a process that died is retried
              or (d.status = 'delivering' and d.updated_at < now() - ($2::int * interval '1 millisecond'))
           order by d.next_attempt_at, d.id limit $1 for update skip locked
         )
         update webhook_deliveries d set status = 'delivering', updated_at = now()
         from webhook_endpoints e, webhook_events ev
         where d.id in (select id from due) and e.id = d.endpoint_id and ev.id = d.event_id
         returning d.id, d.attempts, e.url, e.encrypted_secret, ev.payload, d.event_id`,
      [limit, abandonedAfterMs],
    )
  ).rows;
}

/** The endpoint accepted the delivery (a 2xx answer) on attempt number `attempts`. */
export async function markDelivered(
  q: Queryable,
  id: string,
  attempts: number,
  statusCode: number | null,
): Promise<void> {
  await q.query(
    `update webhook_deliveries set status = 'delivered', attempts = $2, last_status_code = $3, last_error = null, delivered_at = now(), updated_at = now() where id = $1`,
    [id, attempts, statusCode],
  );
}

/** An attempt that failed: its number, the endpoint's HTTP status if it answered, and what went wrong. */
export interface FailedAttempt {
  attempts: number;
  statusCode: number | null;
  error: string;
  /** When the next attempt is due, from now. */
  retryInMs: number;
}

/** Attempt number `attempts` failed: the delivery is pending again and due after `retryInMs`. */
export async function scheduleRetry(q: Queryable, id: string, a: FailedAttempt): Promise<void> {
  await recordFailedAttempt(q, id, "pending", a);
}

/**
 * The last allowed attempt failed: the delivery is not tried again (the event can still be redelivered by
 * hand). Its next attempt time is still moved on by `retryInMs`; nothing reads it for a failed delivery.
 */
export async function giveUpDelivery(q: Queryable, id: string, a: FailedAttempt): Promise<void> {
  await recordFailedAttempt(q, id, "failed", a);
}

async function recordFailedAttempt(
  q: Queryable,
  id: string,
  status: "pending" | "failed",
  a: FailedAttempt,
): Promise<void> {
  await q.query(
    `update webhook_deliveries set status = $2, attempts = $3, last_status_code = $4, last_error = $5,
         next_attempt_at = now() + ($6::bigint * interval '1 millisecond'), updated_at = now() where id = $1`,
    [id, status, a.attempts, a.statusCode, a.error, a.retryInMs],
  );
}
