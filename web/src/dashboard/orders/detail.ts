/** The selected order's panel: its facts, actions, terms (checked to hash to its id), chain timeline and commands. */
import { ok } from "../../../../sdk/api/client";
import { tokenInfo } from "../../lib/api";
import { $, h, replace, type Child } from "../../lib/dom";
import { hexCode, statusBadge, when } from "../../lib/format";
import { checkTerms, termsList } from "../../lib/terms";
import { api } from "../client";
import { explain } from "../errors";
import { money } from "../render";
import { state } from "../state";
import type { OrderDetail } from "../types";
import { actionsFor } from "./actions";

/** Reads the selected order again and redraws the panel; `fresh` (a newly selected order) drops the old message. */
export async function loadDetail(fresh: boolean): Promise<void> {
  const panel = $("#detail");
  if (!state.orders.selected) return;
  let o: OrderDetail;
  try {
    o = await ok(api.GET("/v1/orders/{id}", { params: { path: { id: state.orders.selected } } }));
  } catch (err) {
    replace(panel, h("p", { class: "notice notice-error", role: "alert" }, ...explain(err)));
    return;
  }
  // A message about an earlier action stays only while the order's status is unchanged.
  const oldMessage = fresh || panel.dataset.status !== o.status ? null : document.getElementById("detail-message");
  panel.dataset.status = o.status;
  const token = await tokenInfo(o.token);
  const content: (Child | Child[])[] = [
    h("h2", {}, "Order ", h("span", { class: "ref" }, o.reference), " ", statusBadge(o.status)),
    oldMessage ?? h("p", { id: "detail-message", class: "notice", hidden: true }),
    await facts(o),
    o.error ? h("p", { class: "notice notice-error" }, `${o.error.message} `, h("code", {}, o.error.code)) : null,
    actionsFor(o, token, () => loadDetail(false)),
    o.terms !== undefined
      ? [
          h("h3", {}, "Terms"),
          termsList(
            checkTerms(o.chainOrderId, o.terms, o.items),
            token,
            o.chainOrderId,
            new Map(o.items.filter((i) => i.chainSkuId).map((i) => [BigInt(i.chainSkuId).toString(), i.sku])),
          ),
        ]
      : null,
    h("h3", {}, "Timeline"),
    timeline(o),
    h("h3", {}, "Commands"),
    commands(o),
  ];
  // What the merchant is typing is read only now, after every await above: text typed while the panel refreshed
  // (a poll's round trips take a while on a busy machine) is carried over, never lost.
  const focused = document.activeElement?.id;
  const typed = new Map([...panel.querySelectorAll("input")].map((i) => [i.id, i.value]));
  replace(panel, ...content);
  for (const [id, v] of typed) {
    const input = document.getElementById(id) as HTMLInputElement | null;
    if (input && v) input.value = v;
  }
  if (focused) document.getElementById(focused)?.focus();
}

async function facts(o: OrderDetail): Promise<HTMLElement> {
  const checkoutUrl = `${location.origin}/checkout/${o.chainOrderId}`;
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Amount"),
    h("dd", {}, await money(o.amount, o.token)),
    h("dt", {}, "Escrowed"),
    h("dd", {}, await money(o.escrowed, o.token)),
    o.refunded && o.refunded !== "0"
      ? [h("dt", {}, "Refunded"), h("dd", { id: "refunded" }, await money(o.refunded, o.token))]
      : null,
    h("dt", {}, "Fee"),
    h(
      "dd",
      {},
      o.feeBps === null ? "—" : `${(o.feeBps / 100).toFixed(2)} %`,
      typeof o.maxFeeBps === "number" ? ` (terms accept at most ${(o.maxFeeBps / 100).toFixed(2)} %)` : null,
    ),
    o.payee ? [h("dt", {}, "Payee"), h("dd", { id: "payee" }, hexCode(o.payee, 10, 8))] : null,
    h("dt", {}, "Buyer"),
    h("dd", {}, o.buyer ? hexCode(o.buyer, 10, 8) : "anyone with the link"),
    h("dt", {}, "Chain order id"),
    h("dd", {}, hexCode(o.chainOrderId, 10, 8)),
    h("dt", {}, "Payment deadline"),
    h("dd", {}, when(o.paymentDeadline)),
    o.deadline && (o.status === "paid" || o.status === "shipped")
      ? [h("dt", {}, o.status === "paid" ? "Ship by" : "Releases after"), h("dd", {}, when(o.deadline))]
      : null,
    o.status === "disputed" && o.disputeDefaultAfter
      ? [h("dt", {}, "Buyer refunded in full after"), h("dd", { id: "default-after" }, when(o.disputeDefaultAfter))]
      : null,
    h("dt", {}, "Items"),
    h("dd", {}, o.items.length ? o.items.map((i) => h("div", {}, `${i.quantity} × `, h("code", {}, i.sku))) : "none"),
    h("dt", {}, "Checkout link"),
    h("dd", {}, h("a", { href: checkoutUrl, target: "_blank", rel: "noopener" }, "Open buyer checkout")),
  );
}

/** Every chain event of the order with its proof: transaction, block and log index. */
function timeline(o: OrderDetail): HTMLElement {
  if (!o.events.length) return h("p", { class: "muted" }, "No chain events yet; the order is being submitted.");
  return h(
    "ol",
    { class: "timeline", id: "timeline" },
    o.events.map((e) =>
      h(
        "li",
        { "data-event": e.name },
        h(
          "div",
          { class: "event-name" },
          e.name.replace(/^Order/, ""),
          h("span", { class: "muted" }, ` ${when(e.at)}`),
        ),
        h(
          "div",
          { class: "proof" },
          "tx ",
          hexCode(e.txHash, 10, 6),
          " · block ",
          h("span", { "data-block": String(e.blockNumber) }, String(e.blockNumber)),
          " · log ",
          String(e.logIndex),
        ),
      ),
    ),
  );
}

/** The relayer's commands for the order and how each went. */
function commands(o: OrderDetail): HTMLElement {
  return h(
    "ul",
    { class: "commands" },
    o.commands.map((c) =>
      h(
        "li",
        {},
        h("code", {}, c.kind),
        ` ${c.status}`,
        c.error ? h("span", { class: "error-text" }, ` — ${c.error.message} (${c.error.code})`) : null,
      ),
    ),
  );
}
