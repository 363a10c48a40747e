/**
 * Webhook events: every order state change the indexer derives becomes one event per order, numbered by a
 * per-order sequence, with one delivery per subscribed endpoint. A state that a reorg took back is
 * announced as `order.reverted`.
 */
import { newId } from "../domain/model";
import type { Queryable } from "../store/db";
import type { OrderViewJson } from "../store/orders";
import { OrderState } from "../../../sdk/orderRecord";

export const WEBHOOK_EVENT_TYPES = [
  "order.created",
  "order.paid",
  "order.shipped",
  "order.completed",
  "order.cancelled",
  "order.refunded",
  "order.partially_refunded",
  "order.disputed",
  "order.settlement_proposed",
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
  record: OrderViewJson | null;
  amount: string;
  token: string;
  buyer: string | null;
  created_tx_hash: string | null;
  last_event_block: string | null;
}

const RESOLUTIONS = ["arbiter", "settlement", "default"];
const PARTIES = ["none", "buyer", "merchant"];

interface Emitted {
  id: string;
  merchantId: string;
  orderId: string;
  type: string;
  sequence: number;
  payload: string;
}

function emit(out: Emitted[], o: OrderSnapshot, type: string, data: Record<string, unknown>): void {
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
      escrowed: o.record?.escrowed ?? null,
      amount: String(o.amount),
      token: o.token,
      buyer: o.buyer,
      payee: o.record?.terms.payee ?? null,
      disputeDefaultAfter:
        o.record && Number(o.record.state) === OrderState.Disputed
          ? new Date(Number(o.record.deadline) * 1000).toISOString()
          : null,
      lastEventBlock: o.last_event_block ? Number(o.last_event_block) : null,
      ...data,
    },
  };
  out.push({ id, merchantId: o.merchant_id, orderId: o.id, type, sequence, payload: JSON.stringify(payload) });
}

/**
 * Announces the orders whose status (or escrowed amount) changed since their last announcement. The orders
 * are locked (in id order) for the rest of the caller's transaction, so two indexers never announce one
 * change twice; the events, their deliveries and the orders' sequences are written in one statement each.
 */
export async function announceOrders(q: Queryable, chainOrderIds: Iterable<string>, reverted = false): Promise<void> {
  const ids = [...new Set(chainOrderIds)];
  if (ids.length === 0) return;
  const orders = (
    await q.query<OrderSnapshot>(
      `select id, merchant_id, reference, chain_order_id, status, announced_status, webhook_sequence, record, amount, token, buyer,
              created_tx_hash, last_event_block from orders where chain_order_id = any($1::text[]) order by id for update`,
      [ids],
    )
  ).rows;
  const out: Emitted[] = [];
  const changed: OrderSnapshot[] = [];
  for (const o of orders) {
    const before = o.webhook_sequence;
    if (reverted && o.announced_status && o.announced_status !== o.status) {
      emit(out, o, "order.reverted", { previousStatus: o.announced_status });
    } else if (o.status !== o.announced_status && o.status !== "pending") {
      const extra: Record<string, unknown> = {};
      if (o.status === "resolved") {
        // How the dispute ended, and the split.
        const ev = (
          await q.query<{ args: Record<string, string> }>(
            `select args from chain_events where order_id = $1 and name = 'DisputeResolved'
             order by block_number desc, log_index desc limit 1`,
            [o.chain_order_id],
          )
        ).rows[0];
        if (ev) {
          extra.resolution = RESOLUTIONS[Number(ev.args.resolution)] ?? ev.args.resolution;
          extra.buyerAmount = ev.args.buyerAmount;
          extra.payeeAmount = ev.args.payeeAmount;
          extra.fee = ev.args.fee;
        }
      }
      emit(out, o, `order.${o.status}`, { previousStatus: o.announced_status, ...extra });
    } else if (!reverted) {
      // Same status but a new event: a partial refund lowered what is escrowed, or a side of a dispute
      // proposed a settlement.
      const last = (
        await q.query<{ name: string; args: Record<string, string>; tx_hash: string; log_index: number }>(
          `select name, args, tx_hash, log_index from chain_events where order_id = $1
           order by block_number desc, log_index desc limit 1`,
          [o.chain_order_id],
        )
      ).rows[0];
      if (last?.name === "SettlementProposed") {
        const eventRef = `${last.tx_hash}:${last.log_index}`;
        const seen = await q.query(
          `select 1 from webhook_events where order_id = $1 and type = 'order.settlement_proposed'
             and payload->'data'->>'eventRef' = $2`,
          [o.id, eventRef],
        );
        if (seen.rowCount === 0)
          emit(out, o, "order.settlement_proposed", {
            proposedBy: PARTIES[Number(last.args.by)] ?? last.args.by,
            buyerTotal: last.args.buyerTotal,
            eventRef,
          });
      } else if (last?.name === "OrderRefunded" && last.args.remaining !== "0") {
        const seen = await q.query(
          `select 1 from webhook_events where order_id = $1 and type = 'order.partially_refunded' and payload->'data'->>'escrowed' = $2`,
          [o.id, last.args.remaining],
        );
        if (seen.rowCount === 0)
          emit(out, o, "order.partially_refunded", { refunded: last.args.amount, remaining: last.args.remaining });
      }
    }
    if (o.webhook_sequence !== before || o.announced_status !== o.status) changed.push(o);
  }
  if (out.length > 0) {
    await q.query(
      `insert into webhook_events (id, merchant_id, order_id, type, sequence, payload)
       select id, m, o, t, s, p::jsonb from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[])
         as u(id, m, o, t, s, p)`,
      [
        out.map((e) => e.id),
        out.map((e) => e.merchantId),
        out.map((e) => e.orderId),
        out.map((e) => e.type),
        out.map((e) => e.sequence),
        out.map((e) => e.payload),
      ],
    );
    await q.query(
      `insert into webhook_deliveries (event_id, endpoint_id)
       select u.id, w.id
       from unnest($1::text[], $2::text[], $3::text[]) with ordinality as u(id, m, t, n)
       join webhook_endpoints w on w.merchant_id = u.m and w.disabled_at is null and (u.t = any(w.events) or '*' = any(w.events))
       order by u.n, w.id`,
      [out.map((e) => e.id), out.map((e) => e.merchantId), out.map((e) => e.type)],
    );
  }
  if (changed.length > 0) {
    await q.query(
      `update orders o set announced_status = u.st, webhook_sequence = u.seq
       from unnest($1::text[], $2::text[], $3::int[]) as u(id, st, seq) where o.id = u.id`,
      [changed.map((o) => o.id), changed.map((o) => o.status), changed.map((o) => o.webhook_sequence)],
    );
  }
}

/** An order that failed before reaching the chain is announced too. */
export async function announceFailed(q: Queryable, orderId: string): Promise<void> {
  const r = await q.query<{ chain_order_id: string }>(`select chain_order_id from orders where id = $1`, [orderId]);
  if (r.rows[0]) await announceOrders(q, [r.rows[0].chain_order_id]);
}
