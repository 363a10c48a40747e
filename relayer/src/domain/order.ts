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
