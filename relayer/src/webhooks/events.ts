/**
 * Webhook events: every order state change the indexer derives becomes one event per order, numbered by a
 * per-order sequence, with one delivery per subscribed endpoint. A state that a reorg took back is
 * announced as `order.reverted`.
 */
import { newId } from "../domain/model";
import type { Queryable } from "../store/db";

export const WEBHOOK_EVENT_TYPES = [
  "order.created",
  "order.paid",
  "order.shipped",
  "order.completed",
  "order.cancelled",
  "order.refunded",
  "order.partially_refunded",
  "order.disputed",
  "order.resolved",
  "order.failed",
  "order.reverted",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

interface OrderSnapshot {
  id: string;
  merchant_id: string;
  reference: string;
  chain_order_id: string;
  status: string;
  announced_status: string | null;
  webhook_sequence: number;
  record: Record<string, string> | null;
  amount: string;
  token: string;
  buyer: string | null;
  created_tx_hash: string | null;
  last_event_block: string | null;
}

async function emit(q: Queryable, o: OrderSnapshot, type: string, data: Record<string, unknown>): Promise<void> {
  const sequence = o.webhook_sequence + 1;
  o.webhook_sequence = sequence;
  const id = newId("evt");
  const payload = {
    id,
    type,
    createdAt: new Date().toISOString(),
    data: {
      orderId: o.id,
      reference: o.reference,
      chainOrderId: o.chain_order_id,
      sequence,
      status: o.status,
      escrowed: o.record?.amount ?? null,
      amount: String(o.amount),
      token: o.token,
      buyer: o.buyer,
      lastEventBlock: o.last_event_block ? Number(o.last_event_block) : null,
      ...data,
    },
  };
  await q.query(
    `insert into webhook_events (id, merchant_id, order_id, type, sequence, payload) values ($1, $2, $3, $4, $5, $6)`,
    [id, o.merchant_id, o.id, type, sequence, JSON.stringify(payload)],
  );
  await q.query(
    `insert into webhook_deliveries (event_id, endpoint_id)
     select $1, id from webhook_endpoints where merchant_id = $2 and disabled_at is null and ($3 = any(events) or '*' = any(events))`,
    [id, o.merchant_id, type],
  );
}

/** Announces the orders whose status (or escrowed amount) changed since their last announcement. */
export async function announceOrders(q: Queryable, chainOrderIds: Iterable<string>, reverted = false): Promise<void> {
  for (const chainOrderId of chainOrderIds) {
    const o = (
      await q.query<OrderSnapshot & { announced_amount: string | null }>(
        `select id, merchant_id, reference, chain_order_id, status, announced_status, webhook_sequence, record, amount, token, buyer,
                created_tx_hash, last_event_block from orders where chain_order_id = $1 for update`,
        [chainOrderId],
      )
    ).rows[0];
    if (!o) continue;
    const before = o.webhook_sequence;
    if (reverted && o.announced_status && o.announced_status !== o.status) {
      await emit(q, o, "order.reverted", { previousStatus: o.announced_status });
    } else if (o.status !== o.announced_status && o.status !== "pending") {
      await emit(q, o, `order.${o.status}`, { previousStatus: o.announced_status });
    } else if (!reverted) {
      // Same status but a new event: a partial refund lowered what is escrowed.
      const last = (
        await q.query<{ name: string; args: Record<string, string> }>(
          `select name, args from chain_events where order_id = $1 order by block_number desc, log_index desc limit 1`,
          [chainOrderId],
        )
      ).rows[0];
      if (last?.name === "OrderRefunded" && last.args.remaining !== "0") {
        const seen = await q.query(
          `select 1 from webhook_events where order_id = $1 and type = 'order.partially_refunded' and payload->'data'->>'escrowed' = $2`,
          [o.id, last.args.remaining],
        );
        if (seen.rowCount === 0)
          await emit(q, o, "order.partially_refunded", { refunded: last.args.amount, remaining: last.args.remaining });
      }
    }
    if (o.webhook_sequence !== before || o.announced_status !== o.status) {
      await q.query(`update orders set announced_status = $2, webhook_sequence = $3 where id = $1`, [
        o.id,
        o.status,
        o.webhook_sequence,
      ]);
    }
  }
}

/** An order that failed before reaching the chain is announced too. */
export async function announceFailed(q: Queryable, orderId: string): Promise<void> {
  const r = await q.query<{ chain_order_id: string }>(`select chain_order_id from orders where id = $1`, [orderId]);
  if (r.rows[0]) await announceOrders(q, [r.rows[0].chain_order_id]);
}
