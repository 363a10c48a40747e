/**
 * Merchant dashboard: log in with an API key (kept in sessionStorage), orders with live status and filters,
 * one order's terms (checked in the page to hash to its id), timeline with chain proofs and actions (ship,
 * refund, cancel, and in a dispute propose or accept a settlement), stock per SKU, the ledger with a volume
 * chart, and webhook endpoints with their deliveries. Everything shown comes from the relayer's /v1 API.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { api, ApiError, newIdempotencyKey, tokenInfo, type TokenInfo } from "./lib/api";
import { $, h, notify, replace, type Child } from "./lib/dom";
import { formatUnits, hexCode, parseUnits, STATUS_LABELS, statusBadge, when } from "./lib/format";
import { checkTerms, readProposal, termsList, type ApiProposal, type TermsJson } from "./lib/terms";
import type { OrderAction, allowedActions } from "../../sdk/orderActions";

type AllowedActions = ReturnType<typeof allowedActions>;

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const POLL_MS = 2000;
const KEY_STORAGE = "orderchain.apiKey";

interface Order {
  id: string;
  reference: string;
  chainOrderId: string;
  status: string;
  buyer: string | null;
  token: string;
  amount: string;
  escrowed: string | null;
  /** Returned to the buyer by partial refunds. */
  refunded?: string | null;
  /** The fee fixed on chain at creation. */
  feeBps: number | null;
  /** The highest fee the order's terms accept. */
  maxFeeBps?: number | null;
  /** Receives the merchant's share at settlement. */
  payee?: string | null;
  deadline: string | null;
  /** While disputed: after this time anyone may refund the buyer everything escrowed. */
  disputeDefaultAfter?: string | null;
  settlementProposal?: ApiProposal | null;
  /** What each party may do now: the relayer's table (sdk/orderActions.ts), so the page offers no action the API
   * would refuse. */
  allowedActions: AllowedActions;
  /** The order's fixed terms (numbers as decimal strings); chainOrderId is their EIP-712 hash. */
  terms?: TermsJson | null;
  items: { sku: string; chainSkuId: string; quantity: number }[];
  paymentDeadline: string;
  chainProof: { txHash: string; blockNumber: number; logIndex: number } | null;
  error: { code: string; message: string } | null;
  createdAt: string;
}
interface OrderDetail extends Order {
  events: {
    name: string;
    txHash: string;
    blockNumber: number;
    logIndex: number;
    at: string | null;
    args: Record<string, string>;
  }[];
  commands: {
    id: string;
    kind: string;
    status: string;
    error: { code: string; message: string } | null;
    createdAt: string;
  }[];
}
interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
interface LedgerEntry {
  id: string;
  chainOrderId: string;
  token: string;
  account: string;
  debit: string;
  credit: string;
  blockNumber: number;
  at: string | null;
  txHash: string;
}

type Tab = "orders" | "stock" | "ledger" | "webhooks";

const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  tab: "orders" as Tab,
  selected: null as string | null,
  pending: null as null | { action: "refund" | "cancel" | "settle"; orderId: string },
  olderPages: [] as Order[],
  nextCursor: null as string | null,
  searchResult: null as Order | null,
  webhook: null as string | null,
  chart: null as Chart | null,
  timer: 0 as number,
  busy: false,
};

// ------------------------------------------------------------------ helpers

/** Turns an API error into a sentence a merchant can act on; the error code is always shown. */
function explain(err: unknown): (Node | string)[] {
  if (err instanceof ApiError) {
    if (err.status === 401) return ["That API key was not accepted. Log in again with a valid key."];
    if (err.code === "insufficient_scope")
      return [`This key may not do that (${err.message}). `, h("code", {}, err.code)];
    if (err.status === 0) return [err.message];
    return [`${err.message} `, h("code", {}, err.code)];
  }
  return [err instanceof Error ? err.message : String(err)];
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await api<T>(method, path, {
      key: state.key,
      body,
      idempotencyKey: method === "POST" ? newIdempotencyKey() : undefined,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      logout("That API key was not accepted. Log in again with a valid key.");
    throw err;
  }
}

async function money(amount: string | null, token: string): Promise<string> {
  if (amount === null) return "—";
  const t = await tokenInfo(token);
  return `${formatUnits(amount, t.decimals)} ${t.symbol}`;
}

function dateParam(value: string, endOfDay: boolean): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00`);
  if (endOfDay) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

// ------------------------------------------------------------------ login

async function login(key: string): Promise<void> {
  const msg = $("#login-message");
  if (!key.trim()) return notify(msg, "error", "Enter an API key.");
  notify(msg, "info", "Checking the key…");
  try {
    const r = await api<{ active: boolean; kind?: string; merchant?: { name: string; address: string } | null }>(
      "POST",
      "/v1/introspect",
      { body: { apiKey: key.trim() } },
    );
    if (!r.active) return notify(msg, "error", "That API key was not accepted. Check it and try again.");
    if (r.kind !== "merchant" || !r.merchant)
      return notify(msg, "error", "That is not a merchant key. The dashboard needs a merchant API key.");
    sessionStorage.setItem(KEY_STORAGE, key.trim());
    state.key = key.trim();
    notify(msg, "");
    showApp(r.merchant);
  } catch (err) {
    notify(msg, "error", ...explain(err));
  }
}

function logout(message?: string): void {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  state.selected = null;
  window.clearTimeout(state.timer);
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#login").hidden = false;
  ($("#api-key") as HTMLInputElement).value = "";
  if (message) notify($("#login-message"), "error", message);
  ($("#api-key") as HTMLInputElement).focus();
}

function showApp(merchant: { name: string; address: string }): void {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#who").hidden = false;
  replace($("#merchant-name"), h("strong", {}, merchant.name), " ", hexCode(merchant.address));
  void tick();
}

// ------------------------------------------------------------------ orders

function filterQuery(): URLSearchParams {
  const f = new FormData($("#filters") as HTMLFormElement);
  const q = new URLSearchParams({ limit: "50" });
  const status = String(f.get("status") ?? "");
  const buyer = String(f.get("buyer") ?? "").trim();
  const sku = String(f.get("sku") ?? "").trim();
  const from = dateParam(String(f.get("from") ?? ""), false);
  const to = dateParam(String(f.get("to") ?? ""), true);
  if (status) q.set("status", status);
  if (buyer) q.set("buyer", buyer);
  if (sku) q.set("sku", sku);
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  return q;
}

function filtersInvalid(): string | null {
  const buyer = ($("#f-buyer") as HTMLInputElement).value.trim();
  if (buyer && !/^0x[0-9a-fA-F]{40}$/.test(buyer)) return "Buyer must be a 0x address of 40 hex digits.";
  const from = ($("#f-from") as HTMLInputElement).value;
  const to = ($("#f-to") as HTMLInputElement).value;
  if (from && to && from > to) return "The From date is after the To date.";
  return null;
}

async function loadOrders(): Promise<void> {
  const msg = $("#orders-message");
  const invalid = filtersInvalid();
  if (invalid) {
    notify(msg, "error", invalid);
    return;
  }
  const page = await call<Page<Order>>("GET", `/v1/orders?${filterQuery()}`);
  const seen = new Set(page.data.map((o) => o.id));
  const rows = state.searchResult
    ? [state.searchResult]
    : [...page.data, ...state.olderPages.filter((o) => !seen.has(o.id))];
  if (!state.olderPages.length) state.nextCursor = page.nextCursor;
  if (!state.searchResult) notify(msg, rows.length ? "" : "info", rows.length ? "" : "No orders match these filters.");
  const tbody = $("#orders-table tbody");
  const trs = await Promise.all(
    rows.map(async (o) =>
      h(
        "tr",
        {
          class: o.id === state.selected ? "selected" : "",
          "data-order": o.id,
          "data-reference": o.reference,
          tabindex: 0,
          "aria-selected": o.id === state.selected ? "true" : "false",
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
      ),
    ),
  );
  replace(tbody, trs);
  $("#orders-more").hidden = !state.nextCursor || !!state.searchResult;
}

async function loadMore(): Promise<void> {
  if (!state.nextCursor) return;
  const q = filterQuery();
  q.set("cursor", state.nextCursor);
  const page = await call<Page<Order>>("GET", `/v1/orders?${q}`);
  state.olderPages.push(...page.data);
  state.nextCursor = page.nextCursor;
  await loadOrders();
}

function selectOrder(id: string): void {
  state.selected = id;
  state.pending = null;
  for (const tr of document.querySelectorAll<HTMLTableRowElement>("#orders-table tbody tr")) {
    const on = tr.dataset.order === id;
    tr.classList.toggle("selected", on);
    tr.setAttribute("aria-selected", on ? "true" : "false");
  }
  void loadDetail(true);
}

async function searchByReference(reference: string): Promise<void> {
  const msg = $("#orders-message");
  if (!reference) {
    state.searchResult = null;
    await loadOrders();
    return;
  }
  try {
    const o = await call<OrderDetail>("GET", `/v1/orders/${encodeURIComponent(reference)}`);
    state.searchResult = o;
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
  state.searchResult = null;
  ($("#search-ref") as HTMLInputElement).value = "";
  notify($("#orders-message"), "");
  await loadOrders();
}

// ------------------------------------------------------------------ one order

type MerchantAction = "ship" | "refund" | "cancel" | "settlement/propose" | "settlement/accept";

async function act(o: Order, action: MerchantAction, body: unknown): Promise<void> {
  const msg = $("#detail-message");
  notify(msg, "info", "Sending…");
  try {
    await call("POST", `/v1/orders/${o.id}/${action}`, body);
    state.pending = null;
    const done = {
      ship: "Marked shipped",
      refund: "Refund requested",
      cancel: "Cancellation requested",
      "settlement/propose": "Settlement proposed",
      "settlement/accept": "Settlement accepted",
    }[action];
    notify(msg, "success", `${done}; the status changes once the chain confirms it.`);
    await loadDetail(false);
  } catch (err) {
    notify(msg, "error", ...explain(err));
  }
}

function actionsFor(o: Order, token: TokenInfo): HTMLElement {
  const wrap = h("div", { class: "actions" });
  const may = (action: OrderAction<"merchant">) => o.allowedActions.merchant.includes(action);
  if (may("ship")) {
    const input = h("input", {
      id: "tracking",
      name: "trackingReference",
      placeholder: "e.g. DHL 00340434",
      required: true,
      maxlength: 200,
    });
    wrap.append(
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (e: Event) => {
            e.preventDefault();
            const tracking = input.value.trim();
            if (!tracking)
              return notify($("#detail-message"), "error", "Enter a tracking reference to mark the order shipped.");
            void act(o, "ship", { trackingReference: tracking });
          },
        },
        h("label", { for: "tracking" }, "Tracking reference"),
        h(
          "div",
          { class: "row" },
          input,
          h("button", { type: "submit", class: "btn btn-primary", id: "ship" }, "Mark shipped"),
        ),
      ),
    );
  }
  if (may("refund")) {
    const amount = h("input", {
      id: "refund-amount",
      inputmode: "decimal",
      placeholder: `all (${formatUnits(o.escrowed ?? o.amount, token.decimals)})`,
    });
    const pending = state.pending?.action === "refund" && state.pending.orderId === o.id;
    wrap.append(
      h(
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
            if (!pending) {
              state.pending = { action: "refund", orderId: o.id };
              void loadDetail(false);
              return;
            }
            void act(o, "refund", body);
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
          pending
            ? h(
                "button",
                {
                  type: "button",
                  class: "btn btn-ghost",
                  onclick: () => ((state.pending = null), void loadDetail(false)),
                },
                "Keep",
              )
            : null,
        ),
      ),
    );
  }
  if (may("propose_settlement")) wrap.append(settlementForm(o, token));
  if (may("cancel")) {
    const pending = state.pending?.action === "cancel" && state.pending.orderId === o.id;
    wrap.append(
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            class: pending ? "btn btn-danger" : "btn",
            id: "cancel",
            onclick: () => {
              if (!pending) {
                state.pending = { action: "cancel", orderId: o.id };
                void loadDetail(false);
              } else void act(o, "cancel", undefined);
            },
          },
          pending ? "Confirm cancellation" : "Cancel order",
        ),
        pending
          ? h(
              "button",
              {
                type: "button",
                class: "btn btn-ghost",
                onclick: () => ((state.pending = null), void loadDetail(false)),
              },
              "Keep",
            )
          : null,
      ),
    );
  }
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

/**
 * A disputed order: accept the buyer's proposal, or propose what the buyer gets back (the rest to the payee). A
 * split names the buyer's share of the whole order: what partial refunds already returned counts towards it.
 */
function settlementForm(o: Order, token: TokenInfo): HTMLElement {
  const p = readProposal(o.settlementProposal);
  const money = (v: string) => `${formatUnits(v, token.decimals)} ${token.symbol}`;
  const refunded = BigInt(o.refunded ?? "0");
  const counted = refunded > 0n ? ` in total, counting the ${money(refunded.toString())} already refunded` : "";
  const amount = h("input", {
    id: "settlement-amount",
    inputmode: "decimal",
    placeholder: `0 to ${formatUnits(o.amount, token.decimals)}`,
  });
  const confirming = state.pending?.action === "settle" && state.pending.orderId === o.id;
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
            `The buyer proposes ${money(p.amount)} back${counted}; the payee would receive the rest minus the fee.`,
          ),
          h(
            "button",
            {
              type: "button",
              class: confirming ? "btn btn-danger" : "btn btn-primary",
              id: "accept-settlement",
              onclick: () => {
                if (!confirming) {
                  state.pending = { action: "settle", orderId: o.id };
                  void loadDetail(false);
                } else void act(o, "settlement/accept", { buyerTotal: p.amount });
              },
            },
            confirming ? "Confirm: end the dispute" : "Accept",
          ),
        )
      : p?.by === "merchant"
        ? h(
            "p",
            { id: "own-proposal" },
            `You proposed ${money(p.amount)} back to the buyer${counted}; waiting for the buyer.`,
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
              `Enter what the buyer gets back of the order's ${money(o.amount)}, from 0 (at most ${token.decimals} decimals).`,
            );
          void act(o, "settlement/propose", { buyerTotal: units.toString() });
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

async function loadDetail(fresh: boolean): Promise<void> {
  const panel = $("#detail");
  if (!state.selected) return;
  let o: OrderDetail;
  try {
    o = await call<OrderDetail>("GET", `/v1/orders/${state.selected}`);
  } catch (err) {
    replace(panel, h("p", { class: "notice notice-error", role: "alert" }, ...explain(err)));
    return;
  }
  // A message about an earlier action stays only while the order's status is unchanged.
  const oldMessage = fresh || panel.dataset.status !== o.status ? null : document.getElementById("detail-message");
  panel.dataset.status = o.status;
  const token = await tokenInfo(o.token);
  const checkoutUrl = `${location.origin}/checkout/${o.chainOrderId}`;
  const content: (Child | Child[])[] = [
    h("h2", {}, "Order ", h("span", { class: "ref" }, o.reference), " ", statusBadge(o.status)),
    oldMessage ?? h("p", { id: "detail-message", class: "notice", hidden: true }),
    h(
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
    ),
    o.error ? h("p", { class: "notice notice-error" }, `${o.error.message} `, h("code", {}, o.error.code)) : null,
    actionsFor(o, token),
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
    o.events.length
      ? h(
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
        )
      : h("p", { class: "muted" }, "No chain events yet; the order is being submitted."),
    h("h3", {}, "Commands"),
    h(
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
    ),
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

// ------------------------------------------------------------------ stock

async function loadStock(): Promise<void> {
  const r = await call<{
    data: {
      id: string;
      reference: string;
      name: string;
      chainSkuId: string;
      status: string;
      stock: null | Record<string, string>;
    }[];
  }>("GET", "/v1/skus");
  const cell = (s: null | Record<string, string>, k: string) => h("td", { class: "num" }, s ? s[k] : "—");
  replace(
    $("#stock-table tbody"),
    r.data.length
      ? r.data.map((s) =>
          h(
            "tr",
            { "data-sku": s.id },
            h("td", {}, h("span", { class: "ref" }, s.reference), h("div", { class: "muted small" }, s.id)),
            h("td", {}, s.name),
            h("td", {}, hexCode(BigInt(s.chainSkuId).toString(16).replace(/^/, "0x"), 8, 6)),
            h("td", {}, s.status),
            cell(s.stock, "available"),
            cell(s.stock, "reserved"),
            cell(s.stock, "delivered"),
            cell(s.stock, "totalSupply"),
          ),
        )
      : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No SKUs yet.")),
  );
}

// ------------------------------------------------------------------ ledger

const ACCOUNT_LABELS: Record<string, string> = {
  escrow: "Held in escrow",
  buyers: "Buyers (paid in − refunded)",
  merchant_payouts: "Paid out to you",
  platform_fees: "Platform fees",
};

async function loadLedger(): Promise<void> {
  const [{ balances }, entries] = await Promise.all([
    call<{ balances: Record<string, Record<string, string>> }>("GET", "/v1/ledger/balances"),
    (async () => {
      const all: LedgerEntry[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 5; i++) {
        const page: Page<LedgerEntry> = await call(
          "GET",
          `/v1/ledger/entries?limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
        );
        all.push(...page.data);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      return all;
    })(),
  ]);
  const tokens = Object.keys(balances);
  const infos = new Map(await Promise.all(tokens.map(async (t) => [t.toLowerCase(), await tokenInfo(t)] as const)));
  replace(
    $("#balances"),
    tokens.length
      ? tokens.map((t) =>
          h(
            "div",
            { class: "balance-card", "data-token": t },
            h("h3", {}, infos.get(t.toLowerCase())?.symbol ?? t),
            h(
              "dl",
              { class: "facts" },
              Object.entries(balances[t]).flatMap(([acct, v]) => [
                h("dt", {}, ACCOUNT_LABELS[acct] ?? acct),
                h(
                  "dd",
                  { "data-account": acct },
                  formatUnits(
                    acct === "buyers" ? (-BigInt(v)).toString() : v,
                    infos.get(t.toLowerCase())?.decimals ?? 0,
                  ),
                ),
              ]),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No money has moved yet."),
  );
  const info = (t: string) => infos.get(t.toLowerCase()) ?? { symbol: "", decimals: 0, token: t };
  const shown = entries.slice(-100).reverse();
  replace(
    $("#ledger-table tbody"),
    shown.length
      ? shown.map((e) =>
          h(
            "tr",
            {},
            h("td", {}, when(e.at)),
            h("td", {}, hexCode(e.chainOrderId)),
            h("td", {}, ACCOUNT_LABELS[e.account] ?? e.account),
            h(
              "td",
              { class: "num" },
              e.debit === "0" ? "" : `${formatUnits(e.debit, info(e.token).decimals)} ${info(e.token).symbol}`,
            ),
            h(
              "td",
              { class: "num" },
              e.credit === "0" ? "" : `${formatUnits(e.credit, info(e.token).decimals)} ${info(e.token).symbol}`,
            ),
            h("td", {}, hexCode(e.txHash)),
          ),
        )
      : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No ledger entries yet.")),
  );
  drawVolume(entries, tokens[0] ? info(tokens[0]) : null);
}

/** Money in (payments), out to the merchant, and back to buyers, per time bucket of the first token. */
function drawVolume(entries: LedgerEntry[], token: TokenInfo | null): void {
  const rows = token ? entries.filter((e) => e.token.toLowerCase() === token.token.toLowerCase() && e.at) : [];
  const times = rows.map((e) => Date.parse(e.at!));
  const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
  const bucketMs =
    span > 14 * 86_400_000
      ? 86_400_000 * 7
      : span > 2 * 86_400_000
        ? 86_400_000
        : span > 3 * 3_600_000
          ? 3_600_000
          : 60_000;
  const label = (t: number) => {
    const d = new Date(Math.floor(t / bucketMs) * bucketMs);
    return bucketMs >= 86_400_000
      ? d.toLocaleDateString()
      : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  };
  const buckets = new Map<string, { paidIn: bigint; paidOut: bigint; refunded: bigint }>();
  for (const e of rows) {
    const key = label(Date.parse(e.at!));
    const b = buckets.get(key) ?? { paidIn: 0n, paidOut: 0n, refunded: 0n };
    if (e.account === "buyers" && e.credit !== "0") b.paidIn += BigInt(e.credit);
    if (e.account === "merchant_payouts") b.paidOut += BigInt(e.debit);
    if (e.account === "buyers" && e.debit !== "0") b.refunded += BigInt(e.debit);
    buckets.set(key, b);
  }
  const num = (v: bigint) => Number(formatUnits(v, token?.decimals ?? 0).replace(/,/g, ""));
  const labels = [...buckets.keys()];
  const data = {
    labels,
    datasets: [
      {
        label: "Paid in",
        data: labels.map((l) => num(buckets.get(l)!.paidIn)),
        backgroundColor: "#3b5bdb",
        maxBarThickness: 48,
      },
      {
        label: "Paid out to you",
        data: labels.map((l) => num(buckets.get(l)!.paidOut)),
        backgroundColor: "#2b8a3e",
        maxBarThickness: 48,
      },
      {
        label: "Refunded",
        data: labels.map((l) => num(buckets.get(l)!.refunded)),
        backgroundColor: "#e8590c",
        maxBarThickness: 48,
      },
    ],
  };
  if (state.chart) {
    state.chart.data = data;
    state.chart.update("none");
    return;
  }
  state.chart = new Chart($("#volume-chart") as HTMLCanvasElement, {
    type: "bar",
    data,
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: token?.symbol ?? "" } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
}

// ------------------------------------------------------------------ webhooks

async function loadWebhooks(): Promise<void> {
  const r = await call<{
    data: { id: string; url: string; events: string[]; disabledAt?: string | null; createdAt: string }[];
  }>("GET", "/v1/webhooks");
  replace(
    $("#webhooks-table tbody"),
    r.data.length
      ? r.data.map((e) =>
          h(
            "tr",
            { class: e.id === state.webhook ? "selected" : "" },
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
                  onclick: () => ((state.webhook = e.id), void loadWebhooks()),
                },
                "Deliveries",
              ),
            ),
          ),
        )
      : h(
          "tr",
          {},
          h("td", { colspan: 5, class: "muted" }, "No webhook endpoints. Register one with POST /v1/webhooks."),
        ),
  );
  if (!state.webhook) return replace($("#deliveries"));
  const d = await call<
    Page<{
      id: string;
      type: string;
      sequence: number;
      status: string;
      attempts: number;
      lastStatusCode: number | null;
      lastError: string | null;
      deliveredAt: string | null;
      createdAt: string;
    }>
  >("GET", `/v1/webhooks/${state.webhook}/deliveries?limit=50`);
  replace(
    $("#deliveries"),
    h("h3", {}, "Deliveries"),
    h(
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
          d.data.length
            ? d.data.map((x) =>
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
            : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No deliveries yet.")),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ tabs and polling

function selectTab(tab: Tab): void {
  state.tab = tab;
  for (const t of ["orders", "stock", "ledger", "webhooks"] as Tab[]) {
    $(`#tab-${t}`).setAttribute("aria-selected", t === tab ? "true" : "false");
    $(`#tab-${t}`).tabIndex = t === tab ? 0 : -1;
    $(`#panel-${t}`).hidden = t !== tab;
  }
  void tick();
}

async function refresh(): Promise<void> {
  if (state.tab === "orders") await Promise.all([loadOrders(), state.selected ? loadDetail(false) : null]);
  else if (state.tab === "stock") await loadStock();
  else if (state.tab === "ledger") await loadLedger();
  else await loadWebhooks();
}

async function tick(): Promise<void> {
  window.clearTimeout(state.timer);
  if (!state.key) return;
  if (!state.busy) {
    state.busy = true;
    try {
      await refresh();
      notify($("#app-message"), "");
    } catch (err) {
      if (state.key) notify($("#app-message"), "error", ...explain(err));
    } finally {
      state.busy = false;
    }
  }
  if (state.key) state.timer = window.setTimeout(() => void tick(), POLL_MS);
}

function init(): void {
  ($("#login-form") as HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    void login(($("#api-key") as HTMLInputElement).value);
  });
  $("#logout").addEventListener("click", () => logout());
  const filters = $("#filters") as HTMLFormElement;
  const refilter = () => {
    state.olderPages = [];
    state.nextCursor = null;
    void tick();
  };
  filters.addEventListener("change", refilter);
  filters.addEventListener("reset", () => setTimeout(refilter));
  filters.addEventListener("submit", (e) => (e.preventDefault(), refilter()));
  ($("#search") as HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    void searchByReference(($("#search-ref") as HTMLInputElement).value.trim());
  });
  $("#orders-more").addEventListener(
    "click",
    () => void loadMore().catch((err) => notify($("#orders-message"), "error", ...explain(err))),
  );
  const tabs = ["orders", "stock", "ledger", "webhooks"] as Tab[];
  for (const t of tabs) {
    const btn = $(`#tab-${t}`);
    btn.addEventListener("click", () => selectTab(t));
    btn.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(t);
      const next =
        e.key === "ArrowRight"
          ? tabs[(i + 1) % tabs.length]
          : e.key === "ArrowLeft"
            ? tabs[(i + tabs.length - 1) % tabs.length]
            : null;
      if (next) {
        selectTab(next);
        $(`#tab-${next}`).focus();
      }
    });
  }
  ($("#ledger-csv") as HTMLAnchorElement).addEventListener("click", async (e) => {
    e.preventDefault();
    try {
      const res = await fetch("/v1/ledger/export.csv", { headers: { authorization: `Bearer ${state.key}` } });
      if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, "The CSV export failed.");
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: "ledger.csv" });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      notify($("#app-message"), "error", ...explain(err));
    }
  });

  if (state.key) {
    // A key from this tab's session: check it is still accepted before showing anything.
    const key = state.key;
    state.key = null;
    $("#login").hidden = false;
    void login(key);
  } else {
    $("#login").hidden = false;
  }
}

init();
