/**
 * Sending a merchant action on the selected order, and the second click that destructive actions ask for. The
 * detail panel passes `rerender` (redraw it from a fresh read of the order), so these modules never import it.
 */
import { newIdempotencyKey, ok } from "../../../../sdk/api/client";
import { $, h, notify } from "../../lib/dom";
import { explain } from "../errors";
import { state, type PendingConfirmation } from "../state";
import type { Order } from "../types";

export type MerchantAction = "ship" | "refund" | "cancel" | "settlement/propose" | "settlement/accept";
export type Rerender = () => Promise<void>;

const DONE: Record<MerchantAction, string> = {
  ship: "Marked shipped",
  refund: "Refund requested",
  cancel: "Cancellation requested",
  "settlement/propose": "Settlement proposed",
  "settlement/accept": "Settlement accepted",
};

/** What an action's request is sent with: the order's id, and the click's own Idempotency-Key. */
export interface ActionParams {
  path: { id: string };
  header: { "Idempotency-Key": string };
}

/** The action's request, e.g. `(params) => api.POST("/v1/orders/{id}/ship", { params, body })`. */
export type SendAction = (params: ActionParams) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

/** Sends one click's action with an Idempotency-Key of its own, so a retried request can never act twice. */
export async function act(o: Order, action: MerchantAction, send: SendAction, rerender: Rerender): Promise<void> {
  const msg = $("#detail-message");
  notify(msg, "info", "Sending…");
  try {
    await ok(send({ path: { id: o.id }, header: { "Idempotency-Key": newIdempotencyKey() } }));
    state.orders.pending = null;
    notify(msg, "success", `${DONE[action]}; the status changes once the chain confirms it.`);
    await rerender();
  } catch (err) {
    notify(msg, "error", ...explain(err));
  }
}

/** Whether `action` on this order had its first click and now waits for the confirming one. */
export function isConfirming(action: PendingConfirmation["action"], o: Order): boolean {
  return state.orders.pending?.action === action && state.orders.pending.orderId === o.id;
}

/** The first click: the panel redraws with the button asking for confirmation. */
export function askToConfirm(action: PendingConfirmation["action"], o: Order, rerender: Rerender): void {
  state.orders.pending = { action, orderId: o.id };
  void rerender();
}

/** Drops a pending confirmation. */
export function keepButton(rerender: Rerender): HTMLElement {
  return h(
    "button",
    {
      type: "button",
      class: "btn btn-ghost",
      onclick: () => ((state.orders.pending = null), void rerender()),
    },
    "Keep",
  );
}
