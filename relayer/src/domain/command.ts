/** Durable chain commands: what kinds exist and the states one moves through. */

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
  "propose_settlement",
  "accept_settlement",
  "relay_permit",
  "relay_forward",
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/**
 * pending -> claimed (a writer prepares it) -> submitted (in a transaction of a signer's nonce) -> confirmed or
 * failed; a claimed or submitted command whose transaction did not land goes back to pending. The same list is the
 * `commands.status` check constraint (migration 001).
 */
export const COMMAND_STATUSES = ["pending", "claimed", "submitted", "confirmed", "failed"] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** Commands that change a merchant's inventory or identity run one after another, in order of acceptance. */
export const MERCHANT_LANE_KINDS: readonly CommandKind[] = ["merchant_setup", "create_sku", "mint_stock", "burn_stock"];

/** Commands relayed for someone else (a buyer, a merchant's custodial key): their gas counts as relay spend. */
export const RELAYED_KINDS: ReadonlySet<CommandKind> = new Set(["relay_permit", "relay_forward", "merchant_setup"]);
