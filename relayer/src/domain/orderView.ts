/**
 * An order as the API shows it and as its webhook events carry it: one serializer, so a webhook's `data` and
 * `GET /v1/orders/{id}` agree field for field. A pure function of the stored row.
 */
import { ZeroAddress } from "ethers";
import { OrderState, Party } from "../../../sdk/orderRecord";
import type { OrderStatus } from "./model";
import { allowedActions } from "./order";

/** `OrderTerms` as stored: numbers as decimal strings (`termsToJson`). */
export type TermsJson = Record<
  | "merchant"
  | "payee"
  | "buyer"
  | "token"
  | "amount"
  | "maxFeeBps"
  | "paymentDeadline"
  | "shipWithin"
  | "protectionPeriod"
  | "refundWindow"
  | "itemsHash"
  | "salt",
  string
>;

/** `OrderView` as stored by the indexer: numbers as decimal strings. */
export interface OrderViewJson {
  terms: TermsJson;
  items: { skuId: string; quantity: string }[];
  feeBps: string;
  state: string;
  deadline: string;
  buyer: string;
  escrowed: string;
  refunded: string;
  /** `buyerTotal`: the buyer's share of the whole order proposed, partial refunds included. */
  proposal?: { by: string; buyerTotal: string };
  /** Returned after completion (OrderReturned), funded by the payee. */
  returned?: string;
}

/** The stored order's fields the view reads (store/orders.ts's OrderRow has them all). */
export interface OrderViewRow {
  id: string;
  reference: string;
  chain_order_id: string;
  buyer: string | null;
  token: string;
  amount: string;
  items: { skuId: string; sku: string; quantity: string }[];
  payment_deadline: string;
  ship_within: number;
  protection_period: number;
  status: OrderStatus;
  terms: TermsJson | null;
  record: OrderViewJson | null;
  created_tx_hash: string | null;
  created_block: string | null;
  created_log_index: number | null;
  error_code: string | null;
  error_message: string | null;
  /** The merchant's own string keys and values (domain/metadata.ts). */
  metadata: Record<string, string>;
  created_at: Date;
  updated_at: Date;
}

const PARTY_NAMES: Record<string, "buyer" | "merchant"> = {
  [String(Party.Buyer)]: "buyer",
  [String(Party.Merchant)]: "merchant",
};

/**
 * The pending settlement proposal of a disputed order, as the API shows it: `buyerTotal` is the buyer's share of
 * the whole order (partial refunds included); the rest goes to the payee minus the fee.
 */
export function proposalOf(o: OrderViewRow): { by: "buyer" | "merchant"; buyerTotal: string } | null {
  const p = o.record?.proposal;
  if (!p || o.status !== "disputed" || !PARTY_NAMES[p.by] || p.buyerTotal === undefined) return null;
  return { by: PARTY_NAMES[p.by], buyerTotal: p.buyerTotal };
}

const isoOf = (unixSeconds: string | number) => new Date(Number(unixSeconds) * 1000).toISOString();

export function orderView(o: OrderViewRow) {
  const rec = o.record;
  const terms = o.terms;
  return {
    id: o.id,
    reference: o.reference,
    chainOrderId: o.chain_order_id,
    status: o.status,
    buyer: o.buyer,
    token: o.token === ZeroAddress ? "native" : o.token,
    amount: String(o.amount),
    escrowed: rec ? rec.escrowed : null,
    /** Returned to the buyer by partial refunds so far. */
    refunded: rec ? rec.refunded : null,
    /** Returned to the buyer after completion (returns funded by the payee); included in `refunded`. */
    returnedAmount: rec ? (rec.returned ?? "0") : null,
    feeBps: rec ? Number(rec.feeBps) : null,
    /** The highest fee the merchant accepted with the order (the escrow's fee when it was accepted). */
    maxFeeBps: terms ? Number(terms.maxFeeBps) : null,
    /** Receives the merchant's share at settlement. */
    payee: terms ? terms.payee : null,
    deadline: rec ? isoOf(rec.deadline) : null,
    /** While disputed: when anyone may apply the default outcome (the buyer refunded everything escrowed). */
    disputeDefaultAfter: rec && Number(rec.state) === OrderState.Disputed ? isoOf(rec.deadline) : null,
    settlementProposal: proposalOf(o),
    /** What each party may do now (sdk/orderActions.ts), as far as the order's status tells. */
    allowedActions: allowedActions({ status: o.status, settlementProposal: proposalOf(o) }),
    /** The order's fixed terms (numbers as decimal strings); the chain order id is their EIP-712 struct hash. */
    terms,
    items: o.items.map((i) => ({ sku: i.sku, chainSkuId: i.skuId, quantity: Number(i.quantity) })),
    paymentDeadline: new Date(Number(o.payment_deadline) * 1000).toISOString(),
    shipWithinSeconds: o.ship_within,
    protectionPeriodSeconds: o.protection_period,
    chainProof: o.created_tx_hash
      ? { txHash: o.created_tx_hash, blockNumber: Number(o.created_block), logIndex: o.created_log_index }
      : null,
    error: o.error_code ? { code: o.error_code, message: o.error_message } : null,
    metadata: o.metadata ?? {},
    createdAt: new Date(o.created_at).toISOString(),
    updatedAt: new Date(o.updated_at).toISOString(),
  };
}
