/**
 * Webhooks: a merchant's endpoints, the events announced for its orders (with the orders' announcement
 * bookkeeping) and one delivery per event and subscribed endpoint.
 */
import { cursorTime, type Queryable } from "./db";
import type { OrderRow } from "./orders";

// ---------------------------------------------------------------------------------------------------------
// Endpoints

export interface EndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  events: string[];
  created_at: Date;
  disabled_at: Date | null;
  /** Failed attempts in a row (any delivery); a success resets it. */
  consecutive_failures: number;
  /** While the circuit breaker holds the endpoint: no attempt before this time. */
  paused_until: Date | null;
}

/**
 * Inserts the endpoint unless its merchant already has `limit` active (not disabled) ones; false when it has.
 * Registrations of one merchant are serialised by a transaction-scoped advisory lock, so two at once cannot
 * both pass the count. Run it inside the caller's transaction.
 */
export async function insertEndpointWithinLimit(
  q: Queryable,
  e: { id: string; merchantId: string; url: string; events: string[]; encryptedSecret: string },
  limit: number,
): Promise<boolean> {
  await q.query(`select pg_advisory_xact_lock(hashtext('webhook_endpoints'), hashtext($1))`, [e.merchantId]);
  const r = await q.query(
    `insert into webhook_endpoints (id, merchant_id, url, events, encrypted_secret)
       select $1::text, $2::text, $3::text, $4::text[], $5::text
       where (select count(*) from webhook_endpoints where merchant_id = $2 and disabled_at is null) < $6`,
    [e.id, e.merchantId, e.url, e.events, e.encryptedSecret, limit],
  );
  return r.rowCount === 1;
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

/** The merchant's endpoints in creation order (disabled ones only if asked), from after `after`, at most `limit`. */
export async function listMerchantEndpoints(
  q: Queryable,
  merchantId: string,
  page: { after: { at: string; id: string } | null; limit: number; includeDisabled: boolean },
): Promise<(EndpointRow & { cursor_at: string })[]> {
  return (
    await q.query<EndpointRow & { cursor_at: string }>(
      `select *, ${cursorTime("created_at")} as cursor_at from webhook_endpoints
       where merchant_id = $1 and ($2 or disabled_at is null)
         and ($3::timestamptz is null or (created_at, id) > ($3::timestamptz, $4::text))
       order by created_at, id limit $5`,
      [merchantId, page.includeDisabled, page.after?.at ?? null, page.after?.id ?? null, page.limit],
    )
  ).rows;
}

/**
 * The endpoint gets no new deliveries from now on, and its queued ones are cancelled (one still on the wire is
 * recorded as delivered if the endpoint takes it, and cancelled if not). Disabling it again keeps the first
 * time it was disabled.
 */
export async function disableEndpointNow(q: Queryable, id: string): Promise<void> {
  await q.query(
    `with e as (update webhook_endpoints set disabled_at = coalesce(disabled_at, now()) where id = $1 returning id)
     update webhook_deliveries d set status = 'cancelled', updated_at = now()
       from e where d.endpoint_id = e.id and d.status in ('pending', 'delivering')`,
    [id],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Events and the orders' announcement bookkeeping

/** What announcing an order needs: its current state and what was last announced of it. */
/** An order to announce: the stored order (the webhook payload is its API view) and its announcement state. */
export interface AnnounceableOrder extends OrderRow {
  announced_status: string | null;
  webhook_sequence: number;
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
      `select * from orders where chain_order_id = any($1::text[]) order by id for update`,
      [chainOrderIds],
    )
  ).rows;
}

/** The chain order id of the relayer's order `orderId`, or undefined when there is no such order. */
export async function chainOrderIdOf(q: Queryable, orderId: string): Promise<string | undefined> {
  const r = await q.query<{ chain_order_id: string }>(`select chain_order_id from orders where id = $1`, [orderId]);
  return r.rows[0]?.chain_order_id;
}

/** Which of the event ids `ids` are stored already (events announced before, by this process or another). */
export async function storedEventIds(q: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await q.query<{ id: string }>(`select id from webhook_events where id = any($1::text[])`, [ids]);
  return new Set(r.rows.map((row) => row.id));
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
 *   claimDueDeliveries                    pending -> delivering (it is due, and its endpoint is free)
 *                                         delivering -> delivering (the claimer died mid-attempt: try again)
 *   markDelivered                         delivering -> delivered (the endpoint answered 2xx)
 *   scheduleRetry                         delivering -> pending (the attempt failed; try again later)
 *   giveUpDelivery                        delivering -> failed (the last allowed attempt failed)
 *   disableEndpointNow                    pending, delivering -> cancelled (its endpoint was disabled)
 *   scheduleRetry, giveUpDelivery         delivering -> cancelled (the attempt failed after its endpoint was disabled)
 * Claiming a delivery leases its endpoint; recording the attempt releases it: one delivery in flight per endpoint.
 */

/** What a delivery can be. */
export const DELIVERY_STATUSES = ["pending", "delivering", "delivered", "failed", "cancelled"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryLogRow {
  id: string;
  event_id: string;
  type: string;
  sequence: number;
  order_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  last_response_body: string | null;
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
      `select d.id, d.event_id, ev.type, ev.sequence, ev.order_id, d.status, d.attempts, d.next_attempt_at,
              d.last_status_code, d.last_error, d.last_response_body, d.delivered_at, d.created_at
     from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
     where d.endpoint_id = $1 ${before ? "and d.id < $3" : ""} order by d.id desc limit $2`,
      before ? [endpointId, limit, before] : [endpointId, limit],
    )
  ).rows;
}

/** The delivery `deliveryId` when it goes to one of the merchant's endpoints, and whether that one is disabled. */
export async function findMerchantDelivery(
  q: Queryable,
  merchantId: string,
  deliveryId: string,
): Promise<{ id: string; event_id: string; endpoint_id: string; endpoint_disabled: boolean } | undefined> {
  return (
    await q.query<{ id: string; event_id: string; endpoint_id: string; endpoint_disabled: boolean }>(
      `select d.id, d.event_id, d.endpoint_id, e.disabled_at is not null as endpoint_disabled
       from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
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
  event_id: string;
  endpoint_id: string;
  merchant_id: string;
  url: string;
  encrypted_secret: string;
  /** The endpoint's failed attempts in a row before this one (the circuit breaker counts on from there). */
  consecutive_failures: number;
  payload: unknown;
}

export interface ClaimLimits {
  /** Deliveries to claim at most (the deliverer's free slots). */
  limit: number;
  /** Endpoints of one merchant in flight at most, counting those other deliverers hold. */
  perMerchant: number;
  /**
   * How long a claim holds its endpoint. A delivery still 'delivering' after this long was abandoned by a
   * process that died, and is claimed again.
   */
  leaseMs: number;
}

/**
 * Claims due deliveries, one per endpoint, fairly between merchants. Due are pending deliveries whose next
 * attempt time has come, and ones left 'delivering' by a process that died. Only endpoints that are enabled,
 * not leased (no delivery in flight) and not paused by the circuit breaker take part. Each merchant's endpoints
 * are ranked (least recently attempted first) and the claim goes round the merchants by rank, so one merchant's
 * many endpoints queue behind every other merchant's first; a merchant never has more than `perMerchant`
 * endpoints in flight. The claimed endpoints are locked (SKIP LOCKED: concurrent deliverers take disjoint sets,
 * and nobody waits) and leased in the same statement; each gets the delivery that has been due the longest
 * (a failed one goes to the back: while the breaker lets one attempt through per cool-down, they take turns).
 */
export async function claimDueDeliveries(q: Queryable, c: ClaimLimits): Promise<ClaimedDelivery[]> {
  return (
    await q.query<ClaimedDelivery>(
      `with due_endpoints as (
           select distinct d.endpoint_id as id from webhook_deliveries d
           where (d.status = 'pending' and d.next_attempt_at <= now())
              or (d.status = 'delivering' and d.updated_at < now() - ($3::int * interval '1 millisecond'))
         ),
         candidates as (
           select e.id,
                  row_number() over (partition by e.merchant_id order by e.last_attempt_at nulls first, e.id) as turn,
                  (select count(*) from webhook_endpoints b
                    where b.merchant_id = e.merchant_id and b.disabled_at is null and b.busy_until > now()) as busy
           from webhook_endpoints e join due_endpoints u on u.id = e.id
           where e.disabled_at is null
             and (e.busy_until is null or e.busy_until <= now())
             and (e.paused_until is null or e.paused_until <= now())
         ),
         picked as (
           select e.id from webhook_endpoints e join candidates c on c.id = e.id
           where c.turn + c.busy <= $2
             -- checked again on the locked row: another deliverer may have leased it, or the merchant disabled it
             and e.disabled_at is null
             and (e.busy_until is null or e.busy_until <= now())
             and (e.paused_until is null or e.paused_until <= now())
           order by c.turn, e.last_attempt_at nulls first, e.id
           limit $1
           for update of e skip locked
         ),
         next as (
           select distinct on (d.endpoint_id) d.id, d.endpoint_id
           from webhook_deliveries d join picked p on p.id = d.endpoint_id
           where (d.status = 'pending' and d.next_attempt_at <= now())
              or (d.status = 'delivering' and d.updated_at < now() - ($3::int * interval '1 millisecond'))
           order by d.endpoint_id, d.next_attempt_at, d.id
         ),
         leased as (
           update webhook_endpoints e
              set busy_until = now() + ($3::int * interval '1 millisecond'), last_attempt_at = now()
           from next n where e.id = n.endpoint_id
           returning e.id, e.merchant_id, e.url, e.encrypted_secret, e.consecutive_failures
         )
         update webhook_deliveries d set status = 'delivering', updated_at = now()
         from next n, leased l, webhook_events ev
         where d.id = n.id and l.id = n.endpoint_id and ev.id = d.event_id
         returning d.id, d.attempts, d.event_id, d.endpoint_id, l.merchant_id, l.url, l.encrypted_secret,
                   l.consecutive_failures, ev.payload`,
      [c.limit, c.perMerchant, c.leaseMs],
    )
  ).rows;
}

/** An attempt the endpoint accepted: its number, the 2xx status and the first bytes of its answer. */
export interface DeliveredAttempt {
  attempts: number;
  statusCode: number;
  responseBody: string;
}

/**
 * The endpoint accepted the delivery: it is delivered, and the endpoint is free again with its breaker closed.
 * Like every statement that touches both, it locks the endpoint before the delivery (as claiming and disabling
 * do): two of them never wait for each other in a circle.
 */
export async function markDelivered(q: Queryable, id: string, a: DeliveredAttempt): Promise<void> {
  await q.query(
    `with e as (
       update webhook_endpoints e set busy_until = null, consecutive_failures = 0, paused_until = null
         from webhook_deliveries d where d.id = $1 and e.id = d.endpoint_id
         returning e.id
     )
     update webhook_deliveries d set status = 'delivered', attempts = $2, last_status_code = $3, last_error = null,
            last_response_body = $4, delivered_at = now(), updated_at = now()
       from e where d.id = $1`,
    [id, a.attempts, a.statusCode, a.responseBody],
  );
}

/** An attempt that failed: its number, the endpoint's HTTP status if it answered, and what went wrong. */
export interface FailedAttempt {
  attempts: number;
  statusCode: number | null;
  error: string;
  /** The first bytes of the endpoint's answer, if it answered. */
  responseBody: string | null;
  /** When the next attempt is due, from now. */
  retryInMs: number;
  /** The circuit breaker opens: the endpoint gets no attempt for this long. Null: it stays closed. */
  pauseEndpointForMs: number | null;
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

/**
 * Records the failure (as cancelled when the endpoint was disabled meanwhile: the endpoint row is locked first,
 * so a disabling that committed is seen) and frees the endpoint.
 */
async function recordFailedAttempt(
  q: Queryable,
  id: string,
  status: "pending" | "failed",
  a: FailedAttempt,
): Promise<void> {
  await q.query(
    `with e as (
       update webhook_endpoints e
          set busy_until = null, consecutive_failures = e.consecutive_failures + 1,
              paused_until = case when $8::bigint is null then null
                                  else now() + ($8::bigint * interval '1 millisecond') end
         from webhook_deliveries d where d.id = $1 and e.id = d.endpoint_id
         returning e.disabled_at
     )
     update webhook_deliveries d
        set status = case when e.disabled_at is null then $2::text else 'cancelled' end, attempts = $3,
            last_status_code = $4, last_error = $5, last_response_body = $6,
            next_attempt_at = now() + ($7::bigint * interval '1 millisecond'), updated_at = now()
       from e where d.id = $1`,
    [id, status, a.attempts, a.statusCode, a.error, a.responseBody, a.retryInMs, a.pauseEndpointForMs],
  );
}
