/**
 * The orders table: live first page under the filters (and the search box's query, when one is set), older
 * pages on request, or the one order found by reference.
 */
import { ApiError, ok, type paths } from "../../../../sdk/api/client";
import { $, h, notify, replace } from "../../lib/dom";
import { hexCode, statusBadge, when } from "../../lib/format";
import { api } from "../client";
import { explain } from "../errors";
import { money } from "../render";
import { state } from "../state";
import type { Order } from "../types";
import { loadDetail } from "./detail";
import { explainQueryError, isSearchQuery, showSearchError, withFilters, type FilterValues } from "./search";

/** A date input's day as an ISO time: its start, or (`endOfDay`) the start of the next day. */
function dateParam(value: string, endOfDay: boolean): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00`);
  if (endOfDay) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

type OrdersQuery = NonNullable<paths["/v1/orders"]["get"]["parameters"]["query"]>;
type OrdersPage = { data: Order[]; nextCursor: string | null };

/** The filters' values; an empty filter is left out. */
function filterValues(): FilterValues {
  const f = new FormData($("#filters") as HTMLFormElement);
  const text = (name: string) => String(f.get(name) ?? "").trim() || undefined;
  return {
    status: text("status"),
    buyer: text("buyer"),
    sku: text("sku"),
    from: dateParam(String(f.get("from") ?? ""), false),
    to: dateParam(String(f.get("to") ?? ""), true),
  };
}

/** The filters as the list's query. */
function filterQuery(): OrdersQuery {
  const { status, ...rest } = filterValues();
  return { limit: 50, ...(status ? { status: [status] } : {}), ...rest };
}

/** One page of the list: the search box's query ANDed with the filters, or the filters alone. */
async function fetchPage(query: string | null, cursor?: string): Promise<OrdersPage> {
  if (query === null) return ok(api.GET("/v1/orders", { params: { query: { ...filterQuery(), cursor } } }));
  return ok(
    api.GET("/v1/orders/search", {
      params: { query: { query: withFilters(query, filterValues()), limit: 50, cursor } },
    }),
  );
}

function filtersInvalid(): string | null {
  const buyer = ($("#f-buyer") as HTMLInputElement).value.trim();
  if (buyer && !/^0x[0-9a-fA-F]{40}$/.test(buyer)) return "Buyer must be a 0x address of 40 hex digits.";
  const from = ($("#f-from") as HTMLInputElement).value;
  const to = ($("#f-to") as HTMLInputElement).value;
  if (from && to && from > to) return "The From date is after the To date.";
  return null;
}

/** Changed filters start again from the first page. */
export function resetPaging(): void {
  state.orders.olderPages = [];
  state.orders.nextCursor = null;
}

export async function loadOrders(): Promise<void> {
  const msg = $("#orders-message");
  const invalid = filtersInvalid();
  if (invalid) {
    notify(msg, "error", invalid);
    return;
  }
  const { orders } = state;
  const page = await fetchPage(orders.query);
  const seen = new Set(page.data.map((o) => o.id));
  const rows = orders.searchResult
    ? [orders.searchResult]
    : [...page.data, ...orders.olderPages.filter((o) => !seen.has(o.id))];
  if (!orders.olderPages.length) orders.nextCursor = page.nextCursor;
  if (orders.query !== null) showQuery(orders.query, rows.length);
  else if (!orders.searchResult)
    notify(msg, rows.length ? "" : "info", rows.length ? "" : "No orders match these filters.");
  replace($("#orders-table tbody"), await Promise.all(rows.map(orderRow)));
  $("#orders-more").hidden = !orders.nextCursor || !!orders.searchResult;
}

async function orderRow(o: Order): Promise<HTMLTableRowElement> {
  const selected = o.id === state.orders.selected;
  return h(
    "tr",
    {
      class: selected ? "selected" : "",
      "data-order": o.id,
      "data-reference": o.reference,
      tabindex: 0,
      "aria-selected": selected ? "true" : "false",
      onclick: () => selectOrder(o.id),
      onkeydown: (e: Event) => {
        if ((e as KeyboardEvent).key === "Enter" || (e as KeyboardEvent).key === " ") {
          e.preventDefault();
          selectOrder(o.id);
        }
      },
    },
    h("td", {}, h("span", { class: "ref" }, o.reference)),
    h("td", {}, statusBadge(o.status)),
    h("td", { class: "num" }, await money(o.amount, o.token)),
    h("td", {}, o.buyer ? hexCode(o.buyer) : h("span", { class: "muted" }, "anyone")),
    h("td", {}, when(o.createdAt)),
  );
}

export async function loadMore(): Promise<void> {
  if (!state.orders.nextCursor) return;
  const page = await fetchPage(state.orders.query, state.orders.nextCursor);
  state.orders.olderPages.push(...page.data);
  state.orders.nextCursor = page.nextCursor;
  await loadOrders();
}

function selectOrder(id: string): void {
  state.orders.selected = id;
  state.orders.pending = null;
  for (const tr of document.querySelectorAll<HTMLTableRowElement>("#orders-table tbody tr")) {
    const on = tr.dataset.order === id;
    tr.classList.toggle("selected", on);
    tr.setAttribute("aria-selected", on ? "true" : "false");
  }
  void loadDetail(true);
}

/** The search box's line above the table while a query is set, with the way back to all orders. */
function showQuery(query: string, count: number): void {
  notify(
    $("#orders-message"),
    "info",
    count ? "Showing the orders matching " : "No orders match ",
    h("code", { class: "query" }, query),
    " and the filters. ",
    h("button", { type: "button", class: "link", onclick: () => void clearSearch() }, "Show all orders"),
  );
}

/**
 * The search box: a query of the search language (checked by a first request: a refused query is shown with
 * its position and the table keeps what it showed), or a reference to find one order by.
 */
export async function searchByReference(text: string): Promise<void> {
  const msg = $("#orders-message");
  showSearchError(null);
  if (!text) {
    state.orders.searchResult = null;
    state.orders.query = null;
    await loadOrders();
    return;
  }
  if (isSearchQuery(text)) {
    try {
      await fetchPage(text);
    } catch (err) {
      showSearchError(explainQueryError(err, text) ?? explain(err));
      return;
    }
    state.orders.searchResult = null;
    state.orders.query = text;
    resetPaging();
    await loadOrders();
    return;
  }
  const reference = text;
  state.orders.query = null;
  try {
    const o = await ok(api.GET("/v1/orders/{id}", { params: { path: { id: reference } } }));
    state.orders.searchResult = o;
    notify(
      msg,
      "info",
      `Showing the order with reference “${o.reference}”. `,
      h("button", { type: "button", class: "link", onclick: () => void clearSearch() }, "Show all orders"),
    );
    selectOrder(o.id);
    await loadOrders();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      notify(msg, "error", `No order has the reference “${reference}”.`);
    else notify(msg, "error", ...explain(err));
  }
}

async function clearSearch(): Promise<void> {
  showSearchError(null);
  state.orders.searchResult = null;
  state.orders.query = null;
  resetPaging();
  ($("#search-ref") as HTMLInputElement).value = "";
  notify($("#orders-message"), "");
  await loadOrders();
}
