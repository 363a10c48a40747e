/** The merchant's actions on one order, offered only where the order's allowedActions permit them. */
import type { TokenInfo } from "../../lib/api";
import { $, h, notify } from "../../lib/dom";
import { formatUnits, parseUnits, STATUS_LABELS } from "../../lib/format";
import type { OrderAction } from "../../../../sdk/orderActions";
import { api } from "../client";
import type { Order } from "../types";
import { act, askToConfirm, isConfirming, keepButton, type Rerender } from "./act";
import { settlementForm } from "./settlement";

export function actionsFor(o: Order, token: TokenInfo, rerender: Rerender): HTMLElement {
  const wrap = h("div", { class: "actions" });
  const may = (action: OrderAction<"merchant">) => o.allowedActions.merchant.includes(action);
  if (may("ship")) wrap.append(shipForm(o, rerender));
  if (may("refund")) wrap.append(refundForm(o, token, rerender));
  if (may("propose_settlement")) wrap.append(settlementForm(o, token, rerender));
  if (may("cancel")) wrap.append(cancelButtons(o, rerender));
  if (!wrap.childElementCount)
    wrap.append(
      h(
        "p",
        { class: "muted" },
        `No merchant action applies to a ${STATUS_LABELS[o.status]?.toLowerCase() ?? o.status} order.`,
      ),
    );
  return wrap;
}

function shipForm(o: Order, rerender: Rerender): HTMLElement {
  const input = h("input", {
    id: "tracking",
    name: "trackingReference",
    placeholder: "e.g. DHL 00340434",
    required: true,
    maxlength: 200,
  });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const tracking = input.value.trim();
        if (!tracking)
          return notify($("#detail-message"), "error", "Enter a tracking reference to mark the order shipped.");
        const body = { trackingReference: tracking };
        void act(o, "ship", (params) => api.POST("/v1/orders/{id}/ship", { params, body }), rerender);
      },
    },
    h("label", { for: "tracking" }, "Tracking reference"),
    h(
      "div",
      { class: "row" },
      input,
      h("button", { type: "submit", class: "btn btn-primary", id: "ship" }, "Mark shipped"),
    ),
  );
}

/** All or part of what is escrowed; asks for a second click. */
function refundForm(o: Order, token: TokenInfo, rerender: Rerender): HTMLElement {
  const amount = h("input", {
    id: "refund-amount",
    inputmode: "decimal",
    placeholder: `all (${formatUnits(o.escrowed ?? o.amount, token.decimals)})`,
  });
  const pending = isConfirming("refund", o);
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const text = amount.value.trim();
        let body: { amount?: string } = {};
        if (text) {
          const units = parseUnits(text, token.decimals);
          if (units === null || units <= 0n)
            return notify(
              $("#detail-message"),
              "error",
              `Enter an amount like 12.50 (at most ${token.decimals} decimals), or leave it empty to refund everything.`,
            );
          body = { amount: units.toString() };
        }
        if (!pending) return askToConfirm("refund", o, rerender);
        void act(o, "refund", (params) => api.POST("/v1/orders/{id}/refund", { params, body }), rerender);
      },
    },
    h("label", { for: "refund-amount" }, `Refund amount (${token.symbol}, empty = everything escrowed)`),
    h(
      "div",
      { class: "row" },
      amount,
      h(
        "button",
        { type: "submit", class: pending ? "btn btn-danger" : "btn", id: "refund" },
        pending ? "Confirm refund" : "Refund",
      ),
      pending ? keepButton(rerender) : null,
    ),
  );
}

/** Cancels an unpaid order; asks for a second click. */
function cancelButtons(o: Order, rerender: Rerender): HTMLElement {
  const pending = isConfirming("cancel", o);
  return h(
    "div",
    { class: "row" },
    h(
      "button",
      {
        type: "button",
        class: pending ? "btn btn-danger" : "btn",
        id: "cancel",
        onclick: () => {
          if (!pending) return askToConfirm("cancel", o, rerender);
          void act(o, "cancel", (params) => api.POST("/v1/orders/{id}/cancel", { params }), rerender);
        },
      },
      pending ? "Confirm cancellation" : "Cancel order",
    ),
    pending ? keepButton(rerender) : null,
  );
}
