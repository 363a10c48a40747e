/**
 * Webhook events: every order state change the indexer derives becomes one event per order, numbered by a
 * per-order sequence, with one delivery per subscribed endpoint. A state that a reorg took back is
 * announced as `order.reverted`.
 */
import { newId } from "../domain/model";
import type { Queryable } from "../store/db";
import {
  chainOrderIdOf,
  enqueueDeliveries,
  insertEvents,
  lastDisputeResolution,
  lastOrderEvent,
  lockOrdersToAnnounce,
  markAnnounced,
  partialRefundAnnounced,
  settlementProposalAnnounced,
  type AnnounceableOrder,
  type NewWebhookEvent,
} from "../store/webhooks";
import { orderView } from "../domain/orderView";

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

const RESOLUTIONS = ["arbiter", "settlement", "default"];
const PARTIES = ["none", "buyer", "merchant"];

/**
 * One event: `data` is the order exactly as `GET /v1/orders/{id}` shows it now (one serializer, domain/orderView.ts),
 * with the event's own fields beside it: `orderId`, the per-order `sequence`, `lastEventBlock`, and what the
 * event type adds (`previousStatus`, a resolution's split, a proposal, a partial refund's `refundAmount`).
 */
function emit(
  out: NewWebhookEvent[],
  o: AnnounceableOrder,
  type: WebhookEventType,
  data: Record<string, unknown>,
): void {
  const sequence = o.webhook_sequence + 1;
  o.webhook_sequence = sequence;
  const id = newId("evt");
  const payload = {
    id,
    type,
    createdAt: new Date().toISOString(),
    data: {
      ...orderView(o),
      orderId: o.id,
      sequence,
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
  const orders = await lockOrdersToAnnounce(q, ids);
  const out: NewWebhookEvent[] = [];
  const changed: AnnounceableOrder[] = [];
  for (const o of orders) {
    const before = o.webhook_sequence;
    if (reverted && o.announced_status && o.announced_status !== o.status) {
      emit(out, o, "order.reverted", { previousStatus: o.announced_status });
    } else if (o.status !== o.announced_status && o.status !== "pending") {
      const extra: Record<string, unknown> = {};
      if (o.status === "resolved") {
        // How the dispute ended, and the split.
        const ev = await lastDisputeResolution(q, o.chain_order_id);
        if (ev) {
          extra.resolution = RESOLUTIONS[Number(ev.args.resolution)] ?? ev.args.resolution;
          extra.buyerAmount = ev.args.buyerAmount;
          extra.payeeAmount = ev.args.payeeAmount;
          extra.fee = ev.args.fee;
        }
      }
      emit(out, o, `order.${o.status}` as WebhookEventType, { previousStatus: o.announced_status, ...extra });
    } else if (!reverted) {
      // Same status but a new event: a partial refund lowered what is escrowed, or a side of a dispute
      // proposed a settlement.
      const last = await lastOrderEvent(q, o.chain_order_id);
      if (last?.name === "SettlementProposed") {
        const eventRef = `${last.tx_hash}:${last.log_index}`;
        if (!(await settlementProposalAnnounced(q, o.id, eventRef)))
          emit(out, o, "order.settlement_proposed", {
            proposedBy: PARTIES[Number(last.args.by)] ?? last.args.by,
            buyerTotal: last.args.buyerTotal,
            eventRef,
          });
      } else if (last?.name === "OrderRefunded" && last.args.remaining !== "0") {
        if (!(await partialRefundAnnounced(q, o.id, last.args.remaining)))
          emit(out, o, "order.partially_refunded", { refundAmount: last.args.amount, remaining: last.args.remaining });
      }
    }
    if (o.webhook_sequence !== before || o.announced_status !== o.status) changed.push(o);
  }
  if (out.length > 0) {
    await insertEvents(q, out);
    await enqueueDeliveries(q, out);
  }
  if (changed.length > 0) {
    await markAnnounced(
      q,
      changed.map((o) => ({ id: o.id, status: o.status, sequence: o.webhook_sequence })),
    );
  }
}

/** An order that failed before reaching the chain is announced too. */
export async function announceFailed(q: Queryable, orderId: string): Promise<void> {
  const chainOrderId = await chainOrderIdOf(q, orderId);
  if (chainOrderId !== undefined) await announceOrders(q, [chainOrderId]);
}
