/**
 * Which order status allows which action, for each party: the one table the relayer's API, its web pages and
 * clients share. The relayer refuses an action outside it (`invalid_order_state`) before anything reaches the
 * chain, and returns `allowedActions` on every order. The escrow has the last word: an action the table allows can
 * still revert for a reason of time (a ship-by time passed, a protection period over).
 */

/** Order statuses as the relayer's API reports them: the escrow's states, plus `pending` (accepted, not yet on
 * chain) and `failed` (never created). */
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

export type OrderParty = "merchant" | "buyer" | "arbiter";

export const ORDER_ACTIONS = {
  /** Through the merchant API (API keys), carried out by the relayer as the merchant's operator. */
  merchant: {
    ship: ["paid"],
    refund: ["paid", "shipped", "disputed"],
    cancel: ["pending", "created"],
    propose_settlement: ["disputed"],
    accept_settlement: ["disputed"],
    /** Money given back after completion, within the refund window, funded by the payee. */
    return: ["completed"],
  },
  /** Signed by the buyer's wallet and relayed (or sent by the buyer itself). */
  buyer: {
    pay: ["created"],
    confirm: ["shipped"],
    dispute: ["paid", "shipped"],
    propose_settlement: ["disputed"],
    accept_settlement: ["disputed"],
  },
  /** The arbiter's ruling on a dispute. */
  arbiter: {
    resolve: ["disputed"],
  },
} as const satisfies Record<OrderParty, Record<string, readonly OrderStatus[]>>;

export type OrderAction<P extends OrderParty = OrderParty> = P extends OrderParty
  ? keyof (typeof ORDER_ACTIONS)[P] & string
  : never;

/** What the order shows about itself that the table needs beyond its status. */
export interface ActionContext {
  status: string;
  /** Who proposed the pending settlement of a disputed order, if anyone: only the other side can accept it. */
  settlementProposal?: { by: "buyer" | "merchant" } | null;
}

/** The statuses in which `party` may take `action`. */
export function statusesFor<P extends OrderParty>(party: P, action: OrderAction<P>): readonly OrderStatus[] {
  return (ORDER_ACTIONS[party] as Record<string, readonly OrderStatus[]>)[action] ?? [];
}

/** Whether `party` may take `action` on an order now (as far as the relayer can tell without the chain's clock). */
export function isAllowed<P extends OrderParty>(party: P, action: OrderAction<P>, o: ActionContext): boolean {
  if (!(statusesFor(party, action) as readonly string[]).includes(o.status)) return false;
  if (action === "accept_settlement") return !!o.settlementProposal && o.settlementProposal.by !== party;
  return true;
}

/** Every action each party may take on the order now. */
export function allowedActions(o: ActionContext): { [P in OrderParty]: OrderAction<P>[] } {
  const of = <P extends OrderParty>(party: P) =>
    (Object.keys(ORDER_ACTIONS[party]) as OrderAction<P>[]).filter((a) => isAllowed(party, a, o));
  return { merchant: of("merchant"), buyer: of("buyer"), arbiter: of("arbiter") };
}
