/**
 * The escrow's and the inventory's events as the indexer decoded them (`chain_events`): stored per block range,
 * read back to fold orders' views, and deleted after a reorg's common ancestor.
 */
import { ORDER_EVENTS } from "../../../sdk/orderRecord";
import type { Queryable } from "./db";

/** One decoded event to store; `args` are its decoded values as JSON text. */
export interface NewChainEvent {
  blockNumber: number;
  blockHash: string;
  txHash: string;
  logIndex: number;
  contract: string;
  name: string;
  orderId: string | null;
  merchant: string | null;
  args: string;
  blockTime: number | null;
}

/** A stored event of an order, as folded into the order's view. */
export interface OrderEventRow {
  /** The stored row's id: an event mined again after a reorg is a new row. */
  id: string;
  order_id: string;
  name: string;
  args: Record<string, unknown>;
  tx_hash: string;
  block_number: string;
  block_hash: string;
  log_index: number;
}

/**
 * Stores `events` in one statement (the indexer shares the database with the API); an event already stored at
 * the same block and log index is kept as it is.
 */
export async function insertChainEvents(q: Queryable, events: NewChainEvent[]): Promise<void> {
  const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
  for (const e of events) {
    [
      e.blockNumber,
      e.blockHash,
      e.txHash,
      e.logIndex,
      e.contract,
      e.name,
      e.orderId,
      e.merchant,
      e.args,
      e.blockTime,
    ].forEach((v, i) => cols[i].push(v));
  }
  await q.query(
    `insert into chain_events (block_number, block_hash, tx_hash, log_index, contract, name, order_id, merchant, args, block_time)
     select b, h, t, l, c, n, o, m, a::jsonb, bt
     from unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
       as u(b, h, t, l, c, n, o, m, a, bt)
     on conflict (block_number, log_index) do nothing`,
    cols,
  );
}

/** The order-changing events (`ORDER_EVENTS`) of `chainOrderIds`, by order, in chain order: one read. */
export async function orderViewEvents(q: Queryable, chainOrderIds: string[]): Promise<OrderEventRow[]> {
  const r = await q.query<OrderEventRow>(
    `select id, order_id, name, args, tx_hash, block_number, block_hash, log_index from chain_events
     where order_id = any($1::text[]) and name = any($2::text[]) order by order_id, block_number, log_index`,
    [chainOrderIds, ORDER_EVENTS],
  );
  return r.rows;
}

/** The order-changing events (`ORDER_EVENTS`) after block `number`, in chain order (what a rollback removes). */
export async function orderEventsAfter(q: Queryable, number: number): Promise<OrderEventRow[]> {
  const r = await q.query<OrderEventRow>(
    `select id, order_id, name, args, tx_hash, block_number, block_hash, log_index from chain_events
     where block_number > $1 and order_id is not null and name = any($2::text[]) order by block_number, log_index`,
    [number, ORDER_EVENTS],
  );
  return r.rows;
}

/** The chain order ids named by events after block `number`. */
export async function ordersWithEventsAfter(q: Queryable, number: number): Promise<string[]> {
  const r = await q.query<{ order_id: string }>(
    `select distinct order_id from chain_events where block_number > $1 and order_id is not null`,
    [number],
  );
  return r.rows.map((row) => row.order_id);
}

/** The chain SKU ids of the SkuCreated events after block `number`. */
export async function skusCreatedAfter(q: Queryable, number: number): Promise<string[]> {
  const r = await q.query<{ sku: string }>(
    `select args->>'skuId' as sku from chain_events where block_number > $1 and name = 'SkuCreated'`,
    [number],
  );
  return r.rows.map((row) => row.sku);
}

/** Deletes the events after block `number` (a reorg's common ancestor): the chain no longer has them. */
export async function deleteEventsAfter(q: Queryable, number: number): Promise<void> {
  await q.query(`delete from chain_events where block_number > $1`, [number]);
}
