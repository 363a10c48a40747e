/** The order rules the API enforces before anything reaches the chain: the shared table of sdk/orderActions.ts. */
import { statusesFor, type OrderAction, type OrderParty } from "../../../sdk/orderActions";
import { AppError } from "./errors";

export { allowedActions, isAllowed, ORDER_ACTIONS } from "../../../sdk/orderActions";

/**
 * Refuses with `invalid_order_state` when the order's status does not allow `party` to take `action` (`verb` says
 * it in the message: "cannot <verb> an order that is <status>"). With `needsRecord`, an order the indexer has not
 * seen on chain yet is refused the same way.
 */
export function assertAllowed<P extends OrderParty>(
  party: P,
  action: OrderAction<P>,
  o: { status: string; record?: unknown },
  verb: string = action.replace(/_/g, " "),
  needsRecord = false,
): void {
  const allowed = statusesFor(party, action);
  if (!(allowed as readonly string[]).includes(o.status) || (needsRecord && !o.record)) {
    throw new AppError("invalid_order_state", `cannot ${verb} an order that is ${o.status}`, {
      status: o.status,
      allowed: [...allowed],
    });
  }
}

/** The prefix of the API's order ids (`ord_` and 24 hex digits). */
export const ORDER_ID_PREFIX = "ord_";
/** A chain order id: the EIP-712 struct hash of the order's terms, 0x and 64 hex digits (any case). */
const CHAIN_ORDER_ID = /^0x[0-9a-fA-F]{64}$/;

/**
 * What a name of an order in a URL is, by its form alone: an order id, a chain order id, or else the merchant's
 * reference. References may take neither of the first two forms (`referenceProblem`), so a name means one order.
 */
export function orderNameKind(name: string): "id" | "chainOrderId" | "reference" {
  if (name.startsWith(ORDER_ID_PREFIX)) return "id";
  if (CHAIN_ORDER_ID.test(name)) return "chainOrderId";
  return "reference";
}

/** Why `reference` cannot name an order (it has the form of an order id or a chain order id), or null. */
export function referenceProblem(reference: string): string | null {
  const kind = orderNameKind(reference);
  if (kind === "id") return `a reference may not start with "${ORDER_ID_PREFIX}", the prefix of order ids`;
  if (kind === "chainOrderId") return "a reference may not be 0x and 64 hex digits, the form of a chain order id";
  return null;
}
