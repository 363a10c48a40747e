/**
 * An escrow order is its fixed terms (whose EIP-712 struct hash, `hashStruct`, is the order id) plus a small changing status that
 * the escrow keeps on chain. Calls take the terms; these helpers compute ids and item commitments exactly as
 * the contract does, and fold the escrow's events into each order's current view, so a client, the relayer's
 * indexer and the tests all derive it the same way.
 */
import { AbiCoder, Interface, TypedDataEncoder, keccak256, type Log, type LogDescription } from "ethers";

/** EIP-712 name and version of the escrow's domain. */
export const ESCROW_DOMAIN_NAME = "orderchain PaymentEscrow";
export const ESCROW_DOMAIN_VERSION = "2";

export interface LineItem {
  skuId: bigint;
  quantity: bigint;
}

/** `IPaymentEscrow.OrderTerms`: what the merchant creates or signs; never changes. */
export interface OrderTerms {
  merchant: string;
  payee: string;
  buyer: string;
  token: string;
  amount: bigint;
  maxFeeBps: bigint;
  paymentDeadline: bigint;
  shipWithin: bigint;
  protectionPeriod: bigint;
  refundWindow: bigint;
  itemsHash: string;
  salt: string;
}

/** EIP-712 types of an order (and of a checkout offer): wallets show the items as a list. */
export const ORDER_TYPES = {
  Order: [
    { name: "merchant", type: "address" },
    { name: "payee", type: "address" },
    { name: "buyer", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "uint256" },
    { name: "maxFeeBps", type: "uint16" },
    { name: "paymentDeadline", type: "uint64" },
    { name: "shipWithin", type: "uint32" },
    { name: "protectionPeriod", type: "uint32" },
    { name: "refundWindow", type: "uint32" },
    { name: "items", type: "LineItem[]" },
    { name: "salt", type: "bytes32" },
  ],
  LineItem: [
    { name: "skuId", type: "uint256" },
    { name: "quantity", type: "uint256" },
  ],
};

export interface EscrowDomain {
  chainId: bigint | number | string;
  verifyingContract: string;
}

export function escrowDomain(d: EscrowDomain) {
  return {
    name: ESCROW_DOMAIN_NAME,
    version: ESCROW_DOMAIN_VERSION,
    chainId: BigInt(d.chainId),
    verifyingContract: d.verifyingContract,
  };
}

const LINE_ITEM_TYPEHASH = keccak256(new TextEncoder().encode("LineItem(uint256 skuId,uint256 quantity)"));

/** The escrow's line-items commitment: the EIP-712 hash of the `LineItem[]` array. */
export function hashItems(items: readonly LineItem[]): string {
  const coder = AbiCoder.defaultAbiCoder();
  const hashes = items.map((i) =>
    keccak256(coder.encode(["bytes32", "uint256", "uint256"], [LINE_ITEM_TYPEHASH, i.skuId, i.quantity])),
  );
  return keccak256("0x" + hashes.map((h) => h.slice(2)).join(""));
}

/** The commitment of an order without items. */
export const NO_ITEMS_HASH = hashItems([]);

/** The typed-data message of an order: the terms with the items in place of their hash. */
export function orderMessage(terms: OrderTerms, items: readonly LineItem[]) {
  const { itemsHash: _itemsHash, ...rest } = terms;
  void _itemsHash;
  return { ...rest, items: items.map((i) => ({ skuId: i.skuId, quantity: i.quantity })) };
}

/**
 * The order id of `terms`, as the escrow computes it: the EIP-712 struct hash of the terms (a checkout offer's
 * signature is over the EIP-712 digest of the same typed data in the escrow's domain). Throws when `items` do
 * not match `terms.itemsHash`.
 */
export function orderIdOf(terms: OrderTerms, items: readonly LineItem[]): string {
  const h = hashItems(items);
  if (h !== terms.itemsHash) throw new Error(`items do not match the terms' itemsHash (${h} != ${terms.itemsHash})`);
  return TypedDataEncoder.hashStruct("Order", ORDER_TYPES, orderMessage(terms, items));
}

/** The EIP-712 digest a merchant (or its operator) signs for a checkout offer of `terms`. */
export function offerDigest(domain: EscrowDomain, terms: OrderTerms, items: readonly LineItem[]): string {
  return TypedDataEncoder.hash(escrowDomain(domain), ORDER_TYPES, orderMessage(terms, items));
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
  Revoked: 9,
} as const;
export type OrderStateValue = (typeof OrderState)[keyof typeof OrderState];
export const OrderStateName: Record<number, keyof typeof OrderState> = Object.fromEntries(
  Object.entries(OrderState).map(([k, v]) => [v, k as keyof typeof OrderState]),
);

export const Resolution = { Arbiter: 0, Settlement: 1, Default: 2 } as const;
export const Party = { None: 0, Buyer: 1, Merchant: 2 } as const;

/** An order as its events describe it: the fixed terms and the changing status. */
export interface OrderView {
  terms: OrderTerms;
  items: LineItem[];
  feeBps: bigint;
  state: bigint;
  /** Meaning follows the state, as `IPaymentEscrow.OrderStatus.deadline`. */
  deadline: bigint;
  /** The terms' buyer, or the payer of an order open to any payer (zero until paid). */
  buyer: string;
  /** Still held by the escrow for this order (zero before payment and after settlement). */
  escrowed: bigint;
  /** Total returned to the buyer by partial refunds. */
  refunded: bigint;
  /** Pending settlement proposal of a disputed order: the buyer's share of the whole order, refunds included. */
  proposal?: { by: bigint; buyerTotal: bigint };
  /** Returned to the buyer after completion, funded by the payee (`refunded` includes it too). */
  returned?: bigint;
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
  "SettlementProposed",
  "DisputeResolved",
  "OrderReturned",
] as const;
export type OrderEventName = (typeof ORDER_EVENTS)[number];

type TermsLike = { [K in keyof OrderTerms]: OrderTerms[K] | bigint | string | number };

/** Copies the terms tuple ethers decodes (or JSON with decimal strings) into plain terms. */
export function toTerms(t: TermsLike): OrderTerms {
  return {
    merchant: String(t.merchant),
    payee: String(t.payee),
    buyer: String(t.buyer),
    token: String(t.token),
    amount: BigInt(t.amount),
    maxFeeBps: BigInt(t.maxFeeBps),
    paymentDeadline: BigInt(t.paymentDeadline),
    shipWithin: BigInt(t.shipWithin),
    protectionPeriod: BigInt(t.protectionPeriod),
    refundWindow: BigInt(t.refundWindow),
    itemsHash: String(t.itemsHash),
    salt: String(t.salt),
  };
}

/** Terms as JSON-safe strings (decimal for numbers), the inverse of {@link toTerms}. */
export function termsToJson(t: OrderTerms): Record<keyof OrderTerms, string> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, String(v)])) as Record<keyof OrderTerms, string>;
}

/**
 * Applies one decoded escrow event to the view it follows (undefined before OrderCreated) and returns the
 * view after it. Throws on an event that cannot follow the given view.
 */
export function applyOrderEvent(prev: OrderView | undefined, ev: LogDescription): OrderView {
  const a = ev.args;
  if (ev.name === "OrderCreated") {
    const terms = toTerms(a.terms);
    const items = (a.items as ReadonlyArray<{ skuId: bigint; quantity: bigint }>).map((i) => ({
      skuId: BigInt(i.skuId),
      quantity: BigInt(i.quantity),
    }));
    return {
      terms,
      items,
      feeBps: BigInt(a.feeBps),
      state: BigInt(OrderState.Created),
      deadline: terms.paymentDeadline,
      buyer: terms.buyer,
      escrowed: 0n,
      refunded: 0n,
    };
  }
  if (!prev) throw new Error(`${ev.name} for order ${a.orderId} without a preceding OrderCreated`);
  const next: OrderView = { ...prev };
  switch (ev.name as OrderEventName) {
    case "OrderPaid":
      next.buyer = a.buyer;
      next.state = BigInt(OrderState.Paid);
      next.deadline = BigInt(a.shipBy);
      next.escrowed = BigInt(a.amount);
      break;
    case "OrderShipped":
      next.state = BigInt(OrderState.Shipped);
      next.deadline = BigInt(a.releaseAfter);
      break;
    case "OrderCompleted":
      next.state = BigInt(OrderState.Completed);
      next.escrowed = 0n;
      break;
    case "OrderCancelled":
      next.state = BigInt(OrderState.Cancelled);
      break;
    case "OrderRefunded":
      if (BigInt(a.remaining) === 0n) {
        next.state = BigInt(OrderState.Refunded);
        delete next.proposal; // a full refund ends a dispute and its pending proposal
      } else {
        next.refunded = prev.refunded + BigInt(a.amount);
      }
      next.escrowed = BigInt(a.remaining);
      break;
    case "OrderDisputed":
      next.state = BigInt(OrderState.Disputed);
      next.deadline = BigInt(a.defaultAfter);
      break;
    case "SettlementProposed":
      next.proposal = { by: BigInt(a.by), buyerTotal: BigInt(a.buyerTotal) };
      break;
    case "DisputeResolved":
      next.state = BigInt(OrderState.Resolved);
      next.escrowed = 0n;
      delete next.proposal;
      break;
    case "OrderReturned":
      // A return after completion: the escrow's `refunded` becomes the total, and a return of everything the
      // buyer paid ends the order (Refunded).
      next.returned = (prev.returned ?? 0n) + BigInt(a.amount);
      next.refunded = BigInt(a.totalReturned);
      if (next.refunded === prev.terms.amount) next.state = BigInt(OrderState.Refunded);
      break;
    default:
      throw new Error(`not an order event: ${ev.name}`);
  }
  return next;
}

/**
 * Folds the escrow logs (in chain order) into the current view of every order they touch (a revoked offer has no
 * order and no view: read `statusOf` or the `OfferRevoked` event for revocations). Only logs emitted by
 * `escrow` count: order ids depend on the terms alone, so another deployment (anyone can deploy the same code)
 * emits events for the very same ids. Other events are ignored. Pass `known` to continue from views built
 * earlier.
 */
export function applyOrderLogs(
  iface: Interface,
  escrow: string,
  logs: readonly Log[],
  known: Map<string, OrderView> = new Map(),
): Map<string, OrderView> {
  const address = escrow.toLowerCase();
  for (const log of logs) {
    if (log.address.toLowerCase() !== address) continue;
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
