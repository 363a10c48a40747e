/** The webhooks tab: the merchant's endpoints and, for the one picked, its delivery log. */
import { ok } from "../../../sdk/api/client";
import { $, h, replace } from "../lib/dom";
import { when } from "../lib/format";
import { api } from "./client";
import { emptyRow } from "./render";
import { state } from "./state";
import type { WebhookDelivery, WebhookEndpoint } from "./types";

export async function loadWebhooks(): Promise<void> {
  // Disabled endpoints are listed too (the table says which): the first 200 registered.
  const r = await ok(api.GET("/v1/webhooks", { params: { query: { include_disabled: true, limit: 200 } } }));
  replace(
    $("#webhooks-table tbody"),
    r.data.length ? r.data.map(endpointRow) : emptyRow(5, "No webhook endpoints. Register one with POST /v1/webhooks."),
  );
  if (!state.webhooks.selected) return replace($("#deliveries"));
  const d = await ok(
    api.GET("/v1/webhooks/{id}/deliveries", {
      params: { path: { id: state.webhooks.selected }, query: { limit: 50 } },
    }),
  );
  replace($("#deliveries"), h("h3", {}, "Deliveries"), deliveriesTable(d.data));
}

function endpointRow(e: WebhookEndpoint): HTMLTableRowElement {
  return h(
    "tr",
    { class: e.id === state.webhooks.selected ? "selected" : "" },
    h("td", {}, h("code", {}, e.url)),
    h("td", {}, (e.events ?? []).join(", ") || "all"),
    h("td", {}, e.disabledAt ? "disabled" : "active"),
    h("td", {}, when(e.createdAt)),
    h(
      "td",
      {},
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost",
          onclick: () => ((state.webhooks.selected = e.id), void loadWebhooks()),
        },
        "Deliveries",
      ),
    ),
  );
}

function deliveriesTable(deliveries: WebhookDelivery[]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Event", "Status", "Attempts", "Last response", "Delivered"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        deliveries.length
          ? deliveries.map((x) =>
              h(
                "tr",
                {},
                h("td", {}, h("code", {}, x.type)),
                h("td", {}, x.status),
                h("td", { class: "num" }, String(x.attempts)),
                h("td", {}, x.lastStatusCode ? String(x.lastStatusCode) : (x.lastError ?? "—")),
                h("td", {}, when(x.deliveredAt)),
              ),
            )
          : emptyRow(5, "No deliveries yet."),
      ),
    ),
  );
}
