/**
 * The escrow stores only the hash of each order's current record; callers pass the record with every call.
 * These helpers rebuild the record from the escrow's events, exactly as the contract changes it, so a client,
 * the relayer's indexer and the tests all derive it the same way.
 */
import { AbiCoder, Interface, keccak256, type Log, type LogDescription } from "ethers";

const ZERO_HASH = "0x" + "00".repeat(32);

/** The escrow's line-items commitment: keccak256(abi.encode(items)). */
export function hashItems(items: readonly LineItem[]): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["tuple(uint256 skuId,uint256 quantity)[]"],
      [items.map((i) => [i.skuId, i.quantity])],
    ),
  );
}

export const OrderState = {
  None: 0,
  Created: 1,
  Paid: 2,
  Shipped: 3,
  Completed: 4,
  Cancelled: 5,
  Refunded: 6,
  Disputed: 7,
  Resolved: 8,
} as const;
export type OrderStateValue = (typeof OrderState)[keyof typeof OrderState];
export const OrderStateName: Record<number, keyof typeof OrderState> = Object.fromEntries(
  Object.entries(OrderState).map(([k, v]) => [v, k as keyof typeof OrderState]),
);

/** The on-chain `IPaymentEscrow.Order` record. */
export interface OrderRecord {
  merchant: string;
  buyer: string;
  token: string;
  amount: bigint;
  feeBps: bigint;
  state: bigint;
  deadline: bigint;
  shipWithin: bigint;
  protectionPeriod: bigint;
  itemsHash: string;
}

export interface LineItem {
  skuId: bigint;
  quantity: bigint;
}

/** The escrow events that change an order, by name. */
export const ORDER_EVENTS = [
  "OrderCreated",
  "OrderPaid",
  "OrderShipped",
  "OrderCompleted",
  "OrderCancelled",
  "OrderRefunded",
  "OrderDisputed",
  "DisputeResolved",
] as const;
export type OrderEventName = (typeof ORDER_EVENTS)[number];

/** Copies the tuple ethers decodes into a plain record. */
export function toRecord(o: { [K in keyof OrderRecord]: OrderRecord[K] | bigint | string }): OrderRecord {
  return {
    merchant: String(o.merchant),
    buyer: String(o.buyer),
    token: String(o.token),
    amount: BigInt(o.amount),
    feeBps: BigInt(o.feeBps),
    state: BigInt(o.state),
    deadline: BigInt(o.deadline),
    shipWithin: BigInt(o.shipWithin),
    protectionPeriod: BigInt(o.protectionPeriod),
    itemsHash: String(o.itemsHash),
  };
}

/**
 * Applies one decoded escrow event to the record it follows (undefined before OrderCreated) and returns the
 * record after it. Throws on an event that cannot follow the given record.
 */
export function applyOrderEvent(prev: OrderRecord | undefined, ev: LogDescription): OrderRecord {
  const a = ev.args;
  if (ev.name === "OrderCreated") {
    const items = a.items as ReadonlyArray<{ skuId: bigint; quantity: bigint }>;
    return {
      merchant: a.merchant,
      buyer: a.buyer,
      token: a.token,
      amount: BigInt(a.amount),
      feeBps: BigInt(a.feeBps),
      state: BigInt(OrderState.Created),
      deadline: BigInt(a.paymentDeadline),
      shipWithin: BigInt(a.shipWithin),
      protectionPeriod: BigInt(a.protectionPeriod),
      itemsHash:
        items.length === 0 ? ZERO_HASH : hashItems(items.map((i) => ({ skuId: i.skuId, quantity: i.quantity }))),
    };
  }
  if (!prev) throw new Error(`${ev.name} for order ${a.orderId} without a preceding OrderCreated`);
  const next: OrderRecord = { ...prev };
  switch (ev.name as OrderEventName) {
    case "OrderPaid":
      next.buyer = a.buyer;
      next.state = BigInt(OrderState.Paid);
      next.deadline = BigInt(a.shipBy);
      break;
    case "OrderShipped":
      next.state = BigInt(OrderState.Shipped);
      next.deadline = BigInt(a.releaseAfter);
      break;
    case "OrderCompleted":
      next.state = BigInt(OrderState.Completed);
      break;
    case "OrderCancelled":
      next.state = BigInt(OrderState.Cancelled);
      break;
    case "OrderRefunded":
      if (BigInt(a.remaining) === 0n) next.state = BigInt(OrderState.Refunded);
      else next.amount = BigInt(a.remaining);
      break;
    case "OrderDisputed":
      next.state = BigInt(OrderState.Disputed);
      break;
    case "DisputeResolved":
      next.state = BigInt(OrderState.Resolved);
      break;
    default:
      throw new Error(`not an order event: ${ev.name}`);
  }
  return next;
}

/**
 * Folds the escrow logs (in chain order) into the current record of every order they touch. Logs of other
 * contracts or other events are ignored. Pass `known` to continue from records built earlier.
 */
export function applyOrderLogs(
  iface: Interface,
  logs: readonly Log[],
  known: Map<string, OrderRecord> = new Map(),
): Map<string, OrderRecord> {
  for (const log of logs) {
    let ev: LogDescription | null = null;
    try {
      ev = iface.parseLog(log);
    } catch {
      ev = null;
    }
    if (!ev || !(ORDER_EVENTS as readonly string[]).includes(ev.name)) continue;
    const orderId: string = ev.args.orderId;
    known.set(orderId, applyOrderEvent(known.get(orderId), ev));
  }
  return known;
}
