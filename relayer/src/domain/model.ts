/** Order states as the API reports them, derived from chain events, and the scopes of API keys. */
import { AbiCoder, keccak256, randomBytes, hexlify } from "ethers";
import { OrderStateName } from "../../../sdk/orderRecord";

export const ORDER_STATUSES = [
  "pending",
  "created",
  "paid",
  "shipped",
  "completed",
  "cancelled",
  "refunded",
  "disputed",
  "resolved",
  "failed",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** API status of an order from its on-chain state number. */
export function statusFromChainState(state: bigint | number): OrderStatus {
  const name = OrderStateName[Number(state)];
  if (!name || name === "None") throw new Error(`no API status for chain state ${state}`);
  return name.toLowerCase() as OrderStatus;
}

export const SCOPES = ["read", "orders", "refunds", "stock", "keys"] as const;
export type Scope = (typeof SCOPES)[number];

export const COMMAND_KINDS = [
  "merchant_setup",
  "create_sku",
  "mint_stock",
  "burn_stock",
  "create_order",
  "ship_order",
  "refund_order",
  "cancel_order",
  "resolve_dispute",
  "relay_permit",
  "relay_forward",
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];
export const COMMAND_STATUSES = ["pending", "submitted", "confirmed", "failed"] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/**
 * The on-chain order id: a hash of the merchant's address and its own order reference, so a retry after a
 * crash derives the same id and the escrow refuses a second creation.
 */
export function deriveOrderId(merchantAddress: string, reference: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["string", "address", "string"],
      ["orderchain/order", merchantAddress, reference],
    ),
  );
}

/** A prefixed random identifier, e.g. `mch_3f9a...`. */
export function newId(prefix: string): string {
  return `${prefix}_${hexlify(randomBytes(12)).slice(2)}`;
}
