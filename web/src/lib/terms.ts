/**
 * An order's fixed terms as the escrow and a wallet see them: the EIP-712 `Order` typed data of sdk/orderRecord.ts
 * (the line items as a list, not a hash). The pages show the terms field by field and check that the order id the
 * relayer serves is the EIP-712 hash of exactly those terms and items, as the escrow computes it: the id names
 * one merchant's one order, and nothing shown can differ from what the chain will enforce.
 */
import {
  ORDER_TYPES,
  orderIdOf,
  orderMessage,
  toTerms,
  type LineItem,
  type OrderTerms,
} from "../../../sdk/orderRecord";
import { h } from "./dom";
import { formatUnits, hexCode, when } from "./format";
import type { TokenInfo } from "./api";
import type { Schemas } from "../../../sdk/api/client";

/** Terms as the API serves them: OrderTerms with numbers as decimal strings. */
export type TermsJson = Record<string, string>;

/** A line item as the API serves it (the checkout view adds the SKU's name). */
export type ApiItem = Schemas["Order"]["items"][number];

/** A pending settlement proposal as the API serves it: `buyerTotal` is the buyer's share of the whole order. */
export type ApiProposal = NonNullable<Schemas["Order"]["settlementProposal"]>;

/** The proposal's side and amount (the escrow's `buyerTotal`: partial refunds count towards it), or null. */
export function readProposal(p: ApiProposal | null | undefined): { by: "buyer" | "merchant"; amount: string } | null {
  return p ? { by: p.by, amount: p.buyerTotal } : null;
}

export type TermsCheck =
  | { ok: true; terms: OrderTerms; items: LineItem[] }
  | { ok: false; reason: string; terms?: OrderTerms; items?: LineItem[] };

/** Recomputes the order id from the terms and items (the EIP-712 hash of the `Order` struct) and compares. */
export function checkTerms(chainOrderId: string, json: TermsJson | null | undefined, apiItems: ApiItem[]): TermsCheck {
  if (!json) return { ok: false, reason: "the relayer has not served the order's terms yet" };
  let terms: OrderTerms;
  try {
    terms = toTerms(json as Parameters<typeof toTerms>[0]);
  } catch {
    return { ok: false, reason: "the terms the relayer served are malformed" };
  }
  if (apiItems.some((i) => !i.chainSkuId)) return { ok: false, reason: "the line items have no SKU ids yet", terms };
  const items = apiItems.map((i) => ({ skuId: BigInt(i.chainSkuId), quantity: BigInt(i.quantity) }));
  try {
    const id = orderIdOf(terms, items);
    if (id.toLowerCase() !== chainOrderId.toLowerCase())
      return { ok: false, reason: `the terms hash to ${id}, not to this order's id`, terms, items };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err), terms, items };
  }
  return { ok: true, terms, items };
}

const LABELS: Record<string, string> = {
  merchant: "Merchant",
  payee: "Payee (receives the merchant's share)",
  buyer: "Buyer",
  token: "Token",
  amount: "Amount",
  maxFeeBps: "Highest platform fee the merchant accepts",
  paymentDeadline: "Payment deadline",
  shipWithin: "Ship within",
  protectionPeriod: "Buyer protection after shipping",
  refundWindow: "Refund window after completion",
  items: "Items",
  salt: "Salt (makes the order unique)",
};

const duration = (seconds: bigint): string => {
  const s = Number(seconds);
  if (s === 0) return "none";
  if (s % 86_400 === 0) return `${s / 86_400} day${s === 86_400 ? "" : "s"}`;
  if (s % 3_600 === 0) return `${s / 3_600} h`;
  return `${s} s`;
};

/**
 * The terms as a wallet shows the `Order` typed data: every field of ORDER_TYPES in order, the items as a list.
 * `names` maps a chain SKU id to a display name.
 */
export function termsList(
  check: TermsCheck,
  token: TokenInfo,
  chainOrderId: string,
  names: Map<string, string> = new Map(),
): HTMLElement {
  const badge = check.ok
    ? h(
        "p",
        { class: "notice notice-success", id: "terms-check", "data-verified": "true" },
        "Verified in this page: the order id is the EIP-712 hash of these terms, as the escrow computes it. ",
        hexCode(chainOrderId, 10, 8),
      )
    : h(
        "p",
        { class: "notice notice-info", id: "terms-check", "data-verified": "false" },
        `Terms not verified: ${check.reason}.`,
      );
  if (!check.terms) return h("div", { class: "terms" }, badge);
  const message = orderMessage(check.terms, check.items ?? []) as Record<string, unknown>;
  const value = (name: string): Node | string => {
    const v = message[name];
    switch (name) {
      case "merchant":
      case "payee":
      case "buyer":
        return v === "0x0000000000000000000000000000000000000000" ? "anyone (the payer)" : hexCode(String(v), 8, 6);
      case "token":
        return v === "0x0000000000000000000000000000000000000000"
          ? "native currency"
          : h("span", {}, `${token.symbol} `, hexCode(String(v), 8, 6));
      case "amount":
        return `${formatUnits(String(v), token.decimals)} ${token.symbol}`;
      case "maxFeeBps":
        return `${(Number(v) / 100).toFixed(2)} %`;
      case "paymentDeadline":
        return when(new Date(Number(v) * 1000).toISOString());
      case "shipWithin":
      case "protectionPeriod":
      case "refundWindow":
        return duration(BigInt(String(v)));
      case "salt":
        return hexCode(String(v), 8, 6);
      default:
        return String(v);
    }
  };
  const items = (message.items as { skuId: bigint; quantity: bigint }[]) ?? [];
  return h(
    "div",
    { class: "terms" },
    badge,
    h(
      "dl",
      { class: "facts", id: "terms" },
      ORDER_TYPES.Order.flatMap((field) => [
        h("dt", {}, LABELS[field.name] ?? field.name),
        field.name === "items"
          ? h(
              "dd",
              { "data-field": "items" },
              items.length
                ? h(
                    "ol",
                    { class: "items" },
                    items.map((i) =>
                      h(
                        "li",
                        {},
                        `${i.quantity} × ${names.get(i.skuId.toString()) ?? "SKU"} `,
                        hexCode(`0x${i.skuId.toString(16)}`, 8, 6),
                      ),
                    ),
                  )
                : "none",
            )
          : h("dd", { "data-field": field.name }, value(field.name)),
      ]),
    ),
  );
}
