/**
 * Projects the escrow's and the inventory's events into the store: decodes the logs of a block range, stores
 * them as `chain_events`, marks created SKUs, and folds every touched order's events into its view
 * (`OrderView`, stored in `orders.record`) and API status. After a reorg it takes back what the removed events
 * had projected. The ledger and the webhook events are derived through `IndexerHooks`, in the same transaction.
 *
 * Only the relayer's own orders are followed: an escrow event that names an order id (OrderCreated and every
 * later event) is stored only when that id is in the orders table. The escrow is open to anyone, and orders
 * created on it directly by others never appear in the API, the ledger or the webhooks.
 */
import type { ParamType } from "ethers";
import type { ChainContext } from "../chain/context";
import type { RawLog } from "../chain/rpc";
import { statusFromChainState } from "../domain/model";
import {
  deleteEventsAfter,
  insertChainEvents,
  orderEventsAfter,
  orderViewEvents,
  ordersWithEventsAfter,
  skusCreatedAfter,
  type NewChainEvent,
  type OrderEventRow,
} from "../store/chainEvents";
import { requeueReorgedCreates } from "../store/commands";
import type { Queryable } from "../store/db";
import { markOrdersUncreated, storeOrderViews, unknownChainOrderIds, type OrderViewUpdate } from "../store/orders";
import { markSkusCreated, markSkuUncreated } from "../store/skus";
import { applyOrderEvent, ORDER_EVENTS, type OrderView } from "../../../sdk/orderRecord";

/** Work derived from indexed events, done in the indexer's own transaction (ledger, webhook events). */
export interface IndexerHooks {
  onIndexed(q: Queryable, fromBlock: number, toBlock: number, touchedOrders: Set<string>): Promise<void>;
  /** `retracted`: what the rollback removed (its order events, in chain order, are already deleted). */
  onRolledBack(q: Queryable, ancestorBlock: number, retracted: RetractedEvents): Promise<void>;
}

/** What the events removed by a rollback had named: their orders and the SKUs they created; their order events. */
export interface RetractedEvents {
  orders: string[];
  skus: string[];
  orderEvents: OrderEventRow[];
}

/** A log decoded by the escrow's or the inventory's ABI. */
interface DecodedEvent {
  contract: string;
  name: string;
  args: Record<string, unknown>;
}

/** Converts decoded event values to JSON by their ABI types: integers as decimal strings, structs as objects. */
function toJson(value: unknown, type: ParamType): unknown {
  if (type.isArray()) return (value as unknown[]).map((v) => toJson(v, type.arrayChildren));
  if (type.isTuple()) {
    const out: Record<string, unknown> = {};
    type.components.forEach((c, i) => (out[c.name] = toJson((value as unknown[])[i], c)));
    return out;
  }
  return typeof value === "bigint" ? value.toString() : value;
}

export class EventProjector {
  constructor(
    private readonly chain: ChainContext,
    private readonly hooks?: IndexerHooks,
  ) {}

  /**
   * Projects the logs of blocks `fromBlock`..`toBlock` (`blocks` gives their timestamps): stores the events of
   * this relayer's orders and of the inventory, marks created SKUs, rebuilds the touched orders, then runs
   * `onIndexed`.
   */
  async project(
    q: Queryable,
    fromBlock: number,
    toBlock: number,
    logs: RawLog[],
    blocks: ReadonlyMap<number, { timestamp: number }>,
  ): Promise<void> {
    const touchedOrders = new Set<string>();
    let events: NewChainEvent[] = [];
    const createdSkus: string[] = [];
    for (const log of logs) {
      const ev = this.decode(log);
      if (!ev) continue;
      const orderId = (ev.args.orderId as string | undefined) ?? null;
      events.push({
        blockNumber: log.blockNumber,
        blockHash: log.blockHash,
        txHash: log.transactionHash,
        logIndex: log.index,
        contract: ev.contract,
        name: ev.name,
        orderId,
        merchant: (ev.args.merchant as string | undefined) ?? null,
        args: JSON.stringify(ev.args),
        blockTime: blocks.get(log.blockNumber)?.timestamp ?? null,
      });
      if (orderId && (ORDER_EVENTS as readonly string[]).includes(ev.name)) touchedOrders.add(orderId);
      if (ev.name === "SkuCreated") createdSkus.push(String(ev.args.skuId));
    }
    if (events.length > 0) {
      // Events of order ids this relayer did not accept are left out (orders created on the escrow by others).
      const foreign = await unknownChainOrderIds(
        q,
        events.map((e) => e.orderId),
      );
      if (foreign.length > 0) {
        const skip = new Set(foreign);
        events = events.filter((e) => e.orderId === null || !skip.has(e.orderId));
        for (const o of skip) touchedOrders.delete(o);
      }
    }
    if (events.length > 0) await insertChainEvents(q, events);
    if (createdSkus.length > 0) await markSkusCreated(q, createdSkus);
    await this.rebuildOrders(q, [...touchedOrders]);
    if (this.hooks) await this.hooks.onIndexed(q, fromBlock, toBlock, touchedOrders);
  }

  /** Deletes the events after block `ancestor` (a reorg's common ancestor); returns what they had named. */
  async retractAfter(q: Queryable, ancestor: number): Promise<RetractedEvents> {
    const orders = await ordersWithEventsAfter(q, ancestor);
    const skus = await skusCreatedAfter(q, ancestor);
    const orderEvents = await orderEventsAfter(q, ancestor);
    await deleteEventsAfter(q, ancestor);
    return { orders, skus, orderEvents };
  }

  /**
   * Undoes the projections of retracted events: their SKUs are pending again, their orders are rebuilt from the
   * events that remain, then `onRolledBack` runs.
   */
  async reproject(q: Queryable, ancestor: number, retracted: RetractedEvents): Promise<void> {
    for (const sku of retracted.skus) await markSkuUncreated(q, sku);
    await this.rebuildOrders(q, retracted.orders);
    if (this.hooks) await this.hooks.onRolledBack(q, ancestor, retracted);
  }

  /**
   * Commands whose effect was reorged away are not lost: their orders show the chain's truth, and a confirmed
   * create that no longer exists is queued again (its id is deterministic, so it cannot double).
   */
  async requeueReorgedCommands(q: Queryable): Promise<void> {
    await requeueReorgedCreates(q);
  }

  /** Folds the stored events of `chainOrderIds` into their views and API statuses (one read, one write). */
  private async rebuildOrders(q: Queryable, chainOrderIds: string[]): Promise<void> {
    if (chainOrderIds.length === 0) return;
    const events = await orderViewEvents(q, chainOrderIds);
    const byOrder = new Map<string, OrderEventRow[]>();
    for (const e of events) {
      const list = byOrder.get(e.order_id) ?? [];
      list.push(e);
      byOrder.set(e.order_id, list);
    }
    const views: OrderViewUpdate[] = [];
    const gone: string[] = [];
    for (const chainOrderId of chainOrderIds) {
      let record: OrderView | undefined;
      let created: { tx: string; block: string; log: number } | null = null;
      let lastBlock: string | null = null;
      for (const e of byOrder.get(chainOrderId) ?? []) {
        // The stored args are the decoded values as JSON; applyOrderEvent reads them by name.
        record = applyOrderEvent(record, { name: e.name, args: { ...e.args } } as never);
        if (e.name === "OrderCreated") created = { tx: e.tx_hash, block: e.block_number, log: e.log_index };
        lastBlock = e.block_number;
      }
      if (!record) {
        gone.push(chainOrderId);
        continue;
      }
      views.push({
        chainOrderId,
        record: JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
        status: statusFromChainState(record.state),
        buyer: record.buyer,
        createdTxHash: created?.tx ?? null,
        createdBlock: created?.block ?? null,
        createdLogIndex: created?.log ?? null,
        lastEventBlock: lastBlock,
      });
    }
    // Every event of the gone orders was rolled back: they wait to be created again.
    if (gone.length > 0) await markOrdersUncreated(q, gone);
    if (views.length > 0) await storeOrderViews(q, views);
  }

  private decode(log: RawLog): DecodedEvent | null {
    const isEscrow = log.address.toLowerCase() === this.chain.addresses.escrow.toLowerCase();
    const abi = isEscrow ? this.chain.escrowAbi : this.chain.inventoryAbi;
    try {
      const ev = abi.decode(log);
      if (!ev) return null;
      const args: Record<string, unknown> = {};
      ev.fragment.inputs.forEach((input, i) => (args[input.name] = toJson(ev.values[i], input)));
      return { contract: isEscrow ? "PaymentEscrow" : "InventoryToken", name: ev.name, args };
    } catch {
      return null;
    }
  }
}
