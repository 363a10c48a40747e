/**
 * A disputed order: accept the buyer's proposal, or propose what the buyer gets back (the rest to the payee). A
 * split names the buyer's share of the whole order: what partial refunds already returned counts towards it.
 */
import type { TokenInfo } from "../../lib/api";
import { $, h, notify } from "../../lib/dom";
import { formatUnits, parseUnits, when } from "../../lib/format";
import { readProposal } from "../../lib/terms";
import { api } from "../client";
import { formatMoney } from "../render";
import type { Order } from "../types";
import { act, askToConfirm, isConfirming, type Rerender } from "./act";

export function settlementForm(o: Order, token: TokenInfo, rerender: Rerender): HTMLElement {
  const p = readProposal(o.settlementProposal);
  const refunded = BigInt(o.refunded ?? "0");
  const counted =
    refunded > 0n ? ` in total, counting the ${formatMoney(refunded.toString(), token)} already refunded` : "";
  const amount = h("input", {
    id: "settlement-amount",
    inputmode: "decimal",
    placeholder: `0 to ${formatUnits(o.amount, token.decimals)}`,
  });
  const confirming = isConfirming("settle", o);
  return h(
    "div",
    { class: "settlement", id: "settlement" },
    h("h3", {}, "Settle the dispute"),
    h(
      "p",
      { class: "muted small" },
      "Either side proposes what the buyer gets back; the other accepts the same amount, which ends the dispute. " +
        (o.disputeDefaultAfter
          ? `Unless it ends before ${when(o.disputeDefaultAfter)} (by agreement or by the arbiter), anyone may then refund the buyer everything escrowed.`
          : ""),
    ),
    p?.by === "buyer"
      ? h(
          "div",
          { class: "row", id: "buyer-proposal" },
          h(
            "span",
            {},
            `The buyer proposes ${formatMoney(p.amount, token)} back${counted}; the payee would receive the rest minus the fee.`,
          ),
          h(
            "button",
            {
              type: "button",
              class: confirming ? "btn btn-danger" : "btn btn-primary",
              id: "accept-settlement",
              onclick: () => {
                if (!confirming) return askToConfirm("settle", o, rerender);
                const body = { buyerTotal: p.amount };
                void act(
                  o,
                  "settlement/accept",
                  (params) => api.POST("/v1/orders/{id}/settlement/accept", { params, body }),
                  rerender,
                );
              },
            },
            confirming ? "Confirm: end the dispute" : "Accept",
          ),
        )
      : p?.by === "merchant"
        ? h(
            "p",
            { id: "own-proposal" },
            `You proposed ${formatMoney(p.amount, token)} back to the buyer${counted}; waiting for the buyer.`,
          )
        : null,
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (e: Event) => {
          e.preventDefault();
          const units = parseUnits(amount.value, token.decimals);
          if (units === null || units > BigInt(o.amount))
            return notify(
              $("#detail-message"),
              "error",
              `Enter what the buyer gets back of the order's ${formatMoney(o.amount, token)}, from 0 (at most ${token.decimals} decimals).`,
            );
          const body = { buyerTotal: units.toString() };
          void act(
            o,
            "settlement/propose",
            (params) => api.POST("/v1/orders/{id}/settlement/propose", { params, body }),
            rerender,
          );
        },
      },
      h(
        "label",
        { for: "settlement-amount" },
        `Propose what the buyer gets back of the order (${token.symbol}${refunded > 0n ? ", refunds so far included" : ""})`,
      ),
      h(
        "div",
        { class: "row" },
        amount,
        h("button", { type: "submit", class: "btn", id: "propose-settlement" }, "Propose"),
      ),
    ),
  );
}
