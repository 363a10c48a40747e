/** Order states as the API reports them, derived from chain events, and the scopes of API keys. Command kinds and
 * states are in ./command. */
import { keccak256, randomBytes, hexlify } from "ethers";
import { OrderStateName } from "../../../sdk/orderRecord";

import type { OrderStatus } from "../../../sdk/orderActions";

// The statuses and the actions each allows are one table shared with the web pages and clients.
export { ORDER_STATUSES, type OrderStatus } from "../../../sdk/orderActions";

/** API status of an order from its on-chain state number. */
export function statusFromChainState(state: bigint | number): OrderStatus {
  const name = OrderStateName[Number(state)];
  if (!name || name === "None") throw new Error(`no API status for chain state ${state}`);
  return name.toLowerCase() as OrderStatus;
}

/** A merchant is pending until its operators are authorised on chain (the merchant_setup command), then active. */
export type MerchantStatus = "pending" | "active";

/** A SKU is pending until the chain shows it created; failed when its creation command failed. */
export type SkuStatus = "pending" | "created" | "failed";

export const SCOPES = ["read", "orders", "refunds", "stock", "keys"] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * The salt of an order's terms (`OrderTerms.salt`): a hash of the merchant's address and its own order
 * reference. It makes the terms of two orders of one merchant differ, so each reference names one order id
 * (the EIP-712 struct hash of the terms, `orderIdOf`); a retry after a crash builds the same terms, hence the same
 * id, and the escrow refuses a second creation.
 */
export function orderSalt(merchantAddress: string, reference: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(merchantAddress)) throw new Error(`not an address: ${merchantAddress}`);
  // A lone surrogate has no UTF-8 form (Buffer would write U+FFFD): two references must never share an id.
  if (!(reference as unknown as { isWellFormed(): boolean }).isWellFormed())
    throw new Error("reference is not well-formed Unicode");
  // abi.encode("orderchain/order", merchant, reference), laid out by hand: this runs on every accepted order,
  // and the generic coder costs several times the hash itself.
  const ref = Buffer.from(reference, "utf8");
  const padded = (n: number) => Math.ceil(n / 32) * 32;
  const buf = Buffer.alloc(32 * 3 + 32 + padded(ORDER_ID_DOMAIN.length) + 32 + padded(ref.length));
  buf.writeUInt32BE(0x60, 28);
  buf.write(merchantAddress.slice(2), 32 + 12, "hex");
  buf.writeUInt32BE(0x60 + 32 + padded(ORDER_ID_DOMAIN.length), 64 + 28);
  buf.writeUInt32BE(ORDER_ID_DOMAIN.length, 96 + 28);
  ORDER_ID_DOMAIN.copy(buf, 128);
  const at = 128 + padded(ORDER_ID_DOMAIN.length);
  buf.writeUInt32BE(ref.length, at + 28);
  ref.copy(buf, at + 32);
  return keccak256(buf);
}

const ORDER_ID_DOMAIN = Buffer.from("orderchain/order", "utf8");

/** A prefixed random identifier, e.g. `mch_3f9a...`. */
export function newId(prefix: string): string {
  return `${prefix}_${hexlify(randomBytes(12)).slice(2)}`;
}
