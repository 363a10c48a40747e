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
  "relay_authorization",
  "set_payout_address",
  "sweep_payouts",
  "return_order",
  "keeper_release",
  "keeper_expire",
  "keeper_dispute_default",
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

/**
 * What the keepers do on the relayer's own initiative once an order's deadline passed (relayer/src/keepers/):
 * release a shipped order's payment, cancel an unpaid order (its stock returns), apply a dispute's default.
 * At most one command of each kind per order (migration 011).
 */
export const KEEPER_KINDS = [
  "keeper_release",
  "keeper_expire",
  "keeper_dispute_default",
] as const satisfies readonly CommandKind[];
export type KeeperKind = (typeof KEEPER_KINDS)[number];

/** What the keepers may do (relayer/src/keepers/): release payments, expire unpaid orders, apply dispute defaults. */
export const KEEPER_ACTION_NAMES = ["release", "expire", "dispute_default"] as const;
export type KeeperActionName = (typeof KEEPER_ACTION_NAMES)[number];
