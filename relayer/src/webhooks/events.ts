/**
 * Webhook events: every chain event of an order that means something to its merchant becomes exactly one event,
 * in chain order, numbered by a per-order sequence, with one delivery per subscribed endpoint. Events are
 * derived per chain event, never from the difference between two states: a block range that holds several
 * events of one order (a completion and two returns in one block) announces each of them. A chain event that a
 * reorg took back is announced as `order.reverted`; mined again, it is a new chain event and is announced again.
 */
import { createHash } from "node:crypto";
import { ZeroAddress } from "ethers";
import { newId, statusFromChainState } from "../domain/model";
import type { OrderViewJson } from "../domain/orderView";
import type { OrderEventRow } from "../store/chainEvents";
import { orderViewEvents } from "../store/chainEvents";
import type { Queryable } from "../store/db";
import {
  chainOrderIdOf,
  enqueueDeliveries,
  insertEvents,
  lockOrdersToAnnounce,
  markAnnounced,
  storedEventIds,
  type AnnounceableOrder,
  type NewWebhookEvent,
} from "../store/webhooks";
import { orderView } from "../domain/orderView";
import { movedByKeeper } from "../store/keepers";
import { applyOrderEvent, type OrderEventName, type OrderView } from "../../../sdk/orderRecord";

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
  "order.returned",
  "merchant.payout_address_pending",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const RESOLUTIONS = ["arbiter", "settlement", "default"];
const PARTIES = ["none", "buyer", "merchant"];

/** The chain events a keeper can send (relayer/src/keepers/): their events say `by: "keeper"` when it did. */
const KEEPER_EVENTS: ReadonlySet<string> = new Set(["OrderCompleted", "OrderCancelled", "DisputeResolved"]);

/** `<txHash>:<logIndex>`: the chain event an event announces. */
const eventRefOf = (e: OrderEventRow) => `${e.tx_hash}:${e.log_index}`;

/**
 * The id of the event announcing the stored chain event `e`: derived from the stored row, so announcing it again
 * (a second pass over the same blocks, another indexer process) finds it announced. A chain event mined again
 * after a reorg is a new row, and a new event.
 */
function eventIdOf(e: OrderEventRow): string {
  const h = createHash("sha256").update(`orderchain/webhook-event/${e.id}/${e.block_hash}/${e.log_index}`);
  return `evt_${h.digest("hex").slice(0, 24)}`;
}

/** What a chain event announces: its type and the fields it adds beside the order. */
function meaningOf(e: OrderEventRow): { type: WebhookEventType; extra: Record<string, unknown> } {
  const a = e.args as Record<string, string>;
  switch (e.name as OrderEventName) {
    case "OrderCreated":
      return { type: "order.created", extra: {} };
    case "OrderPaid":
      return { type: "order.paid", extra: {} };
    case "OrderShipped":
      return { type: "order.shipped", extra: {} };
    case "OrderCompleted":
      return { type: "order.completed", extra: {} };
    case "OrderCancelled":
      return { type: "order.cancelled", extra: {} };
    case "OrderRefunded":
      // A refund of everything escrowed ends the order; a partial one lowers what is escrowed.
      return a.remaining === "0"
        ? { type: "order.refunded", extra: {} }
        : { type: "order.partially_refunded", extra: { refundAmount: a.amount, remaining: a.remaining } };
    case "OrderDisputed":
      return { type: "order.disputed", extra: {} };
    case "SettlementProposed":
      return {
        type: "order.settlement_proposed",
        extra: { proposedBy: PARTIES[Number(a.by)] ?? a.by, buyerTotal: a.buyerTotal },
      };
    case "DisputeResolved":
      return {
        type: "order.resolved",
        extra: {
          resolution: RESOLUTIONS[Number(a.resolution)] ?? a.resolution,
          buyerAmount: a.buyerAmount,
          payeeAmount: a.payeeAmount,
          fee: a.fee,
        },
      };
    case "OrderReturned":
      // A return after completion; a return of everything also ends the order (its status is refunded).
      return { type: "order.returned", extra: { returnAmount: a.amount, totalReturned: a.totalReturned } };
  }
}

/**
 * One event of order `o`: `data` is `view`, the order as `GET /v1/orders/{id}` shows it (one serializer,
 * domain/orderView.ts) as of the event, with the event's own fields beside it: `orderId`, the per-order `sequence`, `lastEventBlock`, and
 * what the event type adds (`previousStatus`, `eventRef`, a resolution's split, a return's amount, ...).
 */
function emit(
  out: NewWebhookEvent[],
  o: AnnounceableOrder,
  type: WebhookEventType,
  data: Record<string, unknown>,
  id = newId("evt"),
  view: AnnounceableOrder = o,
): void {
  const sequence = o.webhook_sequence + 1;
  o.webhook_sequence = sequence;
  const payload = {
    id,
    type,
    createdAt: new Date().toISOString(),
    data: {
      ...orderView(view),
      orderId: o.id,
      sequence,
      lastEventBlock: view.last_event_block ? Number(view.last_event_block) : null,
      ...data,
    },
  };
  out.push({ id, merchantId: o.merchant_id, orderId: o.id, type, sequence, payload: JSON.stringify(payload) });
}

/** The stored order as it was right after one of its chain events: what that event's `data` shows. */
function asOf(o: AnnounceableOrder, record: OrderView, e: OrderEventRow): AnnounceableOrder {
  const json = JSON.parse(
    JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
  ) as OrderViewJson;
  return {
    ...o,
    record: json,
    status: statusFromChainState(record.state),
    // As the orders table keeps it: no buyer until one is known (an order open to anyone names the zero address).
    buyer: record.buyer === ZeroAddress ? null : record.buyer,
    last_event_block: e.block_number,
  };
}

/**
 * Locks the orders (in id order, for the rest of the caller's transaction: two indexers never announce one
 * chain event twice), runs `afterLock` (what is announced already is read under the lock), lets
 * `announceOrder` add each order's events, then writes the events, their deliveries and the orders'
 * announcement state in one statement each.
 */
async function announce(
  q: Queryable,
  chainOrderIds: Iterable<string>,
  announceOrder: (o: AnnounceableOrder, out: NewWebhookEvent[]) => Promise<void>,
  afterLock: () => Promise<void> = async () => undefined,
): Promise<void> {
  const ids = [...new Set(chainOrderIds)];
  if (ids.length === 0) return;
  const orders = await lockOrdersToAnnounce(q, ids);
  await afterLock();
  const out: NewWebhookEvent[] = [];
  const changed: AnnounceableOrder[] = [];
  for (const o of orders) {
    const before = o.webhook_sequence;
    await announceOrder(o, out);
    // An order that failed before reaching the chain has no chain event: its status is what is announced.
    if (o.status === "failed" && o.announced_status !== "failed")
      emit(out, o, "order.failed", { previousStatus: o.announced_status });
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

/**
 * Announces the chain events of the orders `chainOrderIds` indexed in blocks `fromBlock`..`toBlock`: one event
 * each, in chain order, skipping those announced already. Each carries the order as of its chain event (the
 * order's events are folded up to it) and that event's `eventRef`.
 */
export async function announceIndexed(
  q: Queryable,
  chainOrderIds: Iterable<string>,
  fromBlock: number,
  toBlock: number,
): Promise<void> {
  const ids = [...new Set(chainOrderIds)];
  if (ids.length === 0) return;
  const history = new Map<string, OrderEventRow[]>();
  for (const e of await orderViewEvents(q, ids)) {
    const list = history.get(e.order_id) ?? [];
    list.push(e);
    history.set(e.order_id, list);
  }
  const inRange = (e: OrderEventRow) => Number(e.block_number) >= fromBlock && Number(e.block_number) <= toBlock;
  let announced = new Set<string>();
  const readAnnounced = async () => {
    const candidates = [...history.values()].flatMap((events) => events.filter(inRange).map(eventIdOf));
    announced = await storedEventIds(q, candidates);
  };
  const announceOrder = async (o: AnnounceableOrder, out: NewWebhookEvent[]) => {
    const events = history.get(o.chain_order_id) ?? [];
    let record: OrderView | undefined;
    for (const e of events) {
      const previousStatus = record ? statusFromChainState(record.state) : null;
      // The stored args are the decoded values as JSON; applyOrderEvent reads them by name.
      record = applyOrderEvent(record, { name: e.name, args: { ...e.args } } as never);
      const id = eventIdOf(e);
      if (!inRange(e) || announced.has(id)) continue;
      const { type, extra } = meaningOf(e);
      if (KEEPER_EVENTS.has(e.name) && (await movedByKeeper(q, o.id, o.chain_order_id, e.name))) extra.by = "keeper";
      emit(out, o, type, { previousStatus, ...extra, eventRef: eventRefOf(e) }, id, asOf(o, record, e));
    }
  };
  await announce(q, ids, announceOrder, readAnnounced);
}

/**
 * After a rollback: an order whose announced chain events a reorg took back (`retracted`: the order events the
 * rollback removed), or whose status went back, gets one `order.reverted`, with the status announced before
 * (`previousStatus`) and the `eventRef`s of the announced events that no longer hold (`revertedEvents`).
 */
export async function announceRolledBack(
  q: Queryable,
  chainOrderIds: Iterable<string>,
  retracted: OrderEventRow[],
): Promise<void> {
  let announced = new Set<string>();
  const readAnnounced = async () => {
    announced = await storedEventIds(q, retracted.map(eventIdOf));
  };
  const announceOrder = async (o: AnnounceableOrder, out: NewWebhookEvent[]) => {
    const taken = retracted.filter((e) => e.order_id === o.chain_order_id && announced.has(eventIdOf(e)));
    const statusWentBack = o.announced_status !== null && o.announced_status !== o.status;
    if (taken.length === 0 && !statusWentBack) return;
    emit(out, o, "order.reverted", { previousStatus: o.announced_status, revertedEvents: taken.map(eventRefOf) });
  };
  await announce(q, chainOrderIds, announceOrder, readAnnounced);
}

/** An order that failed before reaching the chain is announced too. */
export async function announceFailed(q: Queryable, orderId: string): Promise<void> {
  const chainOrderId = await chainOrderIdOf(q, orderId);
  if (chainOrderId !== undefined) await announce(q, [chainOrderId], async () => undefined);
}
