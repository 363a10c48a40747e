import { cursorTime, type Queryable } from "./db";
import { GAS_BUDGET_COLUMNS, gasBudgetCtes, type GasBudgetTerms, type MerchantGasSpend } from "./relaySpend";
import type { CommandKind, CommandStatus } from "../domain/command";
import type { OrderStatus } from "../domain/model";
import type { OrderViewJson, OrderViewRow, TermsJson } from "../domain/orderView";

export type { OrderViewJson, TermsJson };

/** A stored order: the fields its API view reads (domain/orderView.ts), and the store's own. */
export interface OrderRow extends OrderViewRow {
  merchant_id: string;
  last_event_block: string | null;
}

/**
 * The statement that writes the line items of the orders the CTE `cte` inserted (returning id, merchant_id,
 * items, created_at): one row per SKU, quantities of a SKU named twice added.
 */
const insertOrderItemsOf = (cte: string) =>
  `insert into order_items (order_id, merchant_id, sku_id, created_at, quantity)
   select ${cte}.id, ${cte}.merchant_id, i->>'sku', ${cte}.created_at, sum((i->>'quantity')::numeric)
   from ${cte} cross join lateral jsonb_array_elements(${cte}.items) as i
   where i->>'sku' is not null
   group by ${cte}.id, ${cte}.merchant_id, ${cte}.created_at, i->>'sku'`;

/** Inserts an order and its line items (one statement). */
export async function insertOrder(
  q: Queryable,
  o: {
    id: string;
    merchantId: string;
    reference: string;
    chainOrderId: string;
    buyer: string | null;
    token: string;
    amount: string;
    items: unknown;
    paymentDeadline: number;
    shipWithin: number;
    protectionPeriod: number;
    terms: TermsJson;
    /** The merchant's metadata, checked (domain/metadata.ts). */
    metadata?: Record<string, string>;
  },
) {
  await q.query(
    `with o as (
       insert into orders (id, merchant_id, reference, chain_order_id, buyer, token, amount, items, payment_deadline, ship_within, protection_period, terms, metadata)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
       returning id, merchant_id, items, created_at
     )
     ${insertOrderItemsOf("o")}`,
    [
      o.id,
      o.merchantId,
      o.reference,
      o.chainOrderId,
      o.buyer,
      o.token,
      o.amount,
      JSON.stringify(o.items),
      o.paymentDeadline,
      o.shipWithin,
      o.protectionPeriod,
      JSON.stringify(o.terms),
      JSON.stringify(o.metadata ?? {}),
    ],
  );
}

/*
 * A merchant's order by one of its three names, each looked up on its own (services/orders.ts `getOrderOr404`
 * picks one by the name's form): an id, a chain order id and a reference never match each other's rows.
 */

/** The merchant's order with the API id `id`. */
export async function findOrderById(q: Queryable, merchantId: string, id: string): Promise<OrderRow | undefined> {
  return (await q.query<OrderRow>(`select * from orders where merchant_id = $1 and id = $2`, [merchantId, id])).rows[0];
}

/** The merchant's order with the chain order id `chainOrderId` (any case). */
export async function findMerchantOrderByChainId(
  q: Queryable,
  merchantId: string,
  chainOrderId: string,
): Promise<OrderRow | undefined> {
  return (
    await q.query<OrderRow>(`select * from orders where merchant_id = $1 and chain_order_id = lower($2)`, [
      merchantId,
      chainOrderId,
    ])
  ).rows[0];
}

/** The merchant's order with its own reference `reference`. */
export async function findOrderByReference(
  q: Queryable,
  merchantId: string,
  reference: string,
): Promise<OrderRow | undefined> {
  return (
    await q.query<OrderRow>(`select * from orders where merchant_id = $1 and reference = $2`, [merchantId, reference])
  ).rows[0];
}

export async function orderEvents(q: Queryable, chainOrderId: string) {
  return (
    await q.query<{
      name: string;
      args: Record<string, unknown>;
      tx_hash: string;
      block_number: string;
      log_index: number;
      block_time: string | null;
    }>(
      `select name, args, tx_hash, block_number, log_index, block_time from chain_events where order_id = $1 order by block_number, log_index`,
      [chainOrderId],
    )
  ).rows;
}

export async function orderCommands(q: Queryable, orderId: string) {
  return (
    await q.query<{
      id: string;
      kind: CommandKind;
      status: CommandStatus;
      error_code: string | null;
      error_message: string | null;
      created_at: Date;
      updated_at: Date;
    }>(
      `select id, kind, status, error_code, error_message, created_at, updated_at from commands where order_id = $1 order by id`,
      [orderId],
    )
  ).rows;
}

/** What the accepting statement did (`insertOrderWithCommand`). */
export type OrderAcceptance =
  /** The order is stored, with its command, its audit line and its idempotent response. */
  | { outcome: "accepted"; row: OrderRow }
  /** The idempotency claim's key is already stored and live: nothing was inserted (the caller replays). */
  | { outcome: "replay" }
  /** The merchant's gas budget has no room for the order's command: nothing was inserted. */
  | { outcome: "over_budget"; spend: MerchantGasSpend }
  /** The merchant's payee is no longer the terms' (a payout change became due): nothing was inserted. */
  | { outcome: "payee_changed"; payee: string }
  /** No such merchant. */
  | { outcome: "no_merchant" };

/**
 * Accepts an order in one statement (atomic without an explicit transaction): the merchant's gas budget checked
 * and its running count of queued commands held for the statement (store/relaySpend.ts `gasBudgetCtes`: accepts
 * of a merchant racing each other, from any relayer process, are counted one after another), the payee of the
 * terms checked against the merchant's active payout address (read and held for key share: a payout change's
 * job waits for the order, store/payouts.ts), then the order, its line items, its create command, its audit line
 * and, with an idempotency claim, the stored first response (an expired key is taken over). A reused reference
 * fails with the unique violation of `orders_merchant_id_reference_key`, inserting nothing.
 */
export async function insertOrderWithCommand(
  q: Queryable,
  o: Parameters<typeof insertOrder>[1],
  command: { payload: unknown; apiKeyId: string | null },
  audit: { action: string; details: unknown },
  budget: GasBudgetTerms,
  idempotency?: {
    scope: string;
    key: string;
    hash: string;
    apiKeyId: string | null;
    ttlSeconds: number;
    status: number;
    response: (row: OrderRow) => unknown;
  },
): Promise<OrderAcceptance> {
  const now = new Date();
  const row: OrderRow = {
    id: o.id,
    merchant_id: o.merchantId,
    reference: o.reference,
    chain_order_id: o.chainOrderId,
    buyer: o.buyer,
    token: o.token,
    amount: o.amount,
    items: o.items as OrderRow["items"],
    payment_deadline: String(o.paymentDeadline),
    ship_within: o.shipWithin,
    protection_period: o.protectionPeriod,
    status: "pending",
    terms: o.terms,
    record: null,
    created_tx_hash: null,
    created_block: null,
    created_log_index: null,
    last_event_block: null,
    error_code: null,
    error_message: null,
    metadata: o.metadata ?? {},
    created_at: now,
    updated_at: now,
  };
  const r = await q.query<MerchantGasSpend & { inserted: number; payee: string; known: boolean }>(
    `with ${gasBudgetCtes("$2::text", budget, true)},
     payout as materialized (
       select address, (pending_address is not null and pending_due_at <= clock_timestamp()) as switching
       from payout_addresses where merchant_id = $2 for key share
     ), payee as materialized (
       select coalesce((select address from payout where not switching), $22::jsonb->>'merchant') as address
     ), go as materialized (
       select 1 from gas_budget, payee where gas_budget.within and payee.address = $22::jsonb->>'payee'
     ), k as (
       insert into idempotency_keys (scope, key, request_hash, status_code, response, api_key_id)
       select $17::text, $18::text, $19::text, $20::int, $21::jsonb, $23::text
       where $17::text is not null and exists (select 1 from go)
       on conflict (scope, key) do update
         set request_hash = excluded.request_hash, status_code = excluded.status_code, response = excluded.response,
             api_key_id = excluded.api_key_id, created_at = now()
         where idempotency_keys.created_at <= now() - make_interval(secs => $24::double precision)
       returning 1
     ), o as (
       insert into orders (id, merchant_id, reference, chain_order_id, buyer, token, amount, items, payment_deadline,
                           ship_within, protection_period, terms, metadata, created_at, updated_at)
       select $1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $22::jsonb, $25::jsonb, $16, $16
       where exists (select 1 from go) and ($17::text is null or exists (select 1 from k))
       returning id, merchant_id, items, created_at
     ), it as (
       ${insertOrderItemsOf("o")}
     ), c as (
       insert into commands (kind, merchant_id, order_id, payload, api_key_id)
       select 'create_order', o.merchant_id, o.id, $12::jsonb, $13 from o
     ), a as (
       insert into audit_log (merchant_id, api_key_id, action, resource_type, resource_id, details)
       select o.merchant_id, $13, $14, 'order', o.id, $15::jsonb from o
     )
     select (select count(*)::int from o) as inserted, (select address from payee) as payee,
            gas_budget.within is not null as known, ${GAS_BUDGET_COLUMNS}
     from (select 1) one left join gas_budget on true`,
    [
      o.id,
      o.merchantId,
      o.reference,
      o.chainOrderId,
      o.buyer,
      o.token,
      o.amount,
      JSON.stringify(o.items),
      o.paymentDeadline,
      o.shipWithin,
      o.protectionPeriod,
      JSON.stringify(command.payload),
      command.apiKeyId,
      audit.action,
      JSON.stringify(audit.details),
      now,
      idempotency?.scope ?? null,
      idempotency?.key ?? null,
      idempotency?.hash ?? null,
      idempotency?.status ?? null,
      idempotency ? JSON.stringify(idempotency.response(row)) : null,
      JSON.stringify(o.terms),
      idempotency?.apiKeyId ?? null,
      idempotency?.ttlSeconds ?? 0,
      JSON.stringify(o.metadata ?? {}),
    ],
  );
  const res = r.rows[0];
  if (Number(res.inserted) > 0) return { outcome: "accepted", row };
  if (!res.known) return { outcome: "no_merchant" };
  if (!res.within) {
    const { budget_wei, spent_wei, gas_used, queued, recent_cost_wei, within } = res;
    return { outcome: "over_budget", spend: { budget_wei, spent_wei, gas_used, queued, recent_cost_wei, within } };
  }
  if (res.payee !== o.terms.payee) return { outcome: "payee_changed", payee: res.payee };
  return { outcome: "replay" };
}

/** The order's fixed terms and items as accepted (every chain call is encoded from them); none before acceptance. */
export async function orderTermsRow(
  q: Queryable,
  orderId: string,
): Promise<
  | {
      chain_order_id: string;
      status: OrderStatus;
      terms: TermsJson | null;
      items: { skuId: string; quantity: string }[];
    }
  | undefined
> {
  const r = await q.query<{
    chain_order_id: string;
    status: OrderStatus;
    terms: TermsJson | null;
    items: { skuId: string; quantity: string }[];
  }>("select chain_order_id, status, terms, items from orders where id = $1", [orderId]);
  return r.rows[0];
}

/**
 * Records why a command of the order failed; with `failPending`, an order still pending (never created on chain)
 * becomes failed.
 */
export async function recordOrderError(
  q: Queryable,
  orderId: string,
  code: string,
  message: string,
  failPending: boolean,
): Promise<void> {
  await q.query(
    `update orders set error_code = $2, error_message = $3,
       status = case when $4 and status = 'pending' then 'failed' else status end, updated_at = now()
     where id = $1`,
    [orderId, code, message, failPending],
  );
}

/** The order with chain order id `chainOrderId` (any merchant's: the checkout page and the arbiter look orders up by it). */
export async function findOrderByChainId(q: Queryable, chainOrderId: string): Promise<OrderRow | undefined> {
  return (await q.query<OrderRow>(`select * from orders where chain_order_id = lower($1)`, [chainOrderId])).rows[0];
}

export type DisputeRow = OrderRow & { evidence: string | null; evidence_hash: string | null; merchant_name: string };

/**
 * The disputed orders, oldest change first, with the buyer's evidence and the merchant's name: from after
 * `after` (a change time and an order id), at most `limit`.
 */
export async function openDisputes(
  q: Queryable,
  page: { after: { at: string; id: string } | null; limit: number },
): Promise<(DisputeRow & { cursor_at: string })[]> {
  const r = await q.query<DisputeRow & { cursor_at: string }>(
    `select o.*, d.evidence, d.evidence_hash, m.name as merchant_name, ${cursorTime("o.updated_at")} as cursor_at from orders o
     join merchants m on m.id = o.merchant_id left join dispute_evidence d on d.order_id = o.id
     where o.status = 'disputed' and ($1::timestamptz is null or (o.updated_at, o.id) > ($1::timestamptz, $2::text))
     order by o.updated_at, o.id limit $3`,
    [page.after?.at ?? null, page.after?.id ?? null, page.limit],
  );
  return r.rows;
}

/*
 * The indexer's projections of escrow events onto orders:
 *   unknownChainOrderIds      which chain order ids are not this relayer's (their events are not stored)
 *   storeOrderViews           the orders' views as folded from their events: record, status, buyer, creation
 *   markOrdersUncreated       every event of the orders was rolled back: pending again (failed stays failed)
 */

/** Those of `chainOrderIds` that no order of this relayer has (orders created on the escrow by others); nulls are skipped. */
export async function unknownChainOrderIds(q: Queryable, chainOrderIds: (string | null)[]): Promise<string[]> {
  const r = await q.query<{ order_id: string }>(
    `select u.o as order_id from unnest($1::text[]) as u(o)
     where u.o is not null and not exists (select 1 from orders where chain_order_id = u.o)`,
    [chainOrderIds],
  );
  return r.rows.map((row) => row.order_id);
}

/** An order's view as its stored events describe it, with where it was created and its last event's block. */
export interface OrderViewUpdate {
  chainOrderId: string;
  /** The `OrderView` as JSON text (`OrderViewJson`). */
  record: string;
  status: OrderStatus;
  /** The view's buyer; the zero address (not paid yet) keeps the stored buyer. */
  buyer: string;
  createdTxHash: string | null;
  createdBlock: string | null;
  createdLogIndex: number | null;
  lastEventBlock: string | null;
}

/** Stores the views folded from the orders' events and the API statuses they mean, in one statement. */
export async function storeOrderViews(q: Queryable, views: OrderViewUpdate[]): Promise<void> {
  const cols: unknown[][] = [[], [], [], [], [], [], [], []];
  for (const v of views) {
    [
      v.chainOrderId,
      v.record,
      v.status,
      v.buyer,
      v.createdTxHash,
      v.createdBlock,
      v.createdLogIndex,
      v.lastEventBlock,
    ].forEach((x, k) => cols[k].push(x));
  }
  await q.query(
    `update orders o set record = u.rec::jsonb, status = u.st,
       buyer = coalesce(nullif(u.buyer, '0x0000000000000000000000000000000000000000'), o.buyer),
       created_tx_hash = u.tx, created_block = u.blk, created_log_index = u.li, last_event_block = u.lb, updated_at = now()
     from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::bigint[])
       as u(id, rec, st, buyer, tx, blk, li, lb)
     where o.chain_order_id = u.id`,
    cols,
  );
}

/**
 * Every event of the orders `chainOrderIds` was rolled back (a reorg): they have no view and wait to be created
 * again, pending (a failed order stays failed).
 */
export async function markOrdersUncreated(q: Queryable, chainOrderIds: string[]): Promise<void> {
  await q.query(
    `update orders set record = null, status = case when status = 'failed' then 'failed' else 'pending' end,
       created_tx_hash = null, created_block = null, created_log_index = null, last_event_block = null, updated_at = now()
     where chain_order_id = any($1::text[])`,
    [chainOrderIds],
  );
}
