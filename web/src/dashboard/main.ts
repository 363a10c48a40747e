/**
 * Merchant dashboard: log in with an API key (kept in sessionStorage), orders with live status and filters,
 * one order's terms (checked in the page to hash to its id), timeline with chain proofs and actions (ship,
 * refund, cancel, and in a dispute propose or accept a settlement), stock per SKU, the ledger with a volume
 * chart, and webhook endpoints with their deliveries. Everything shown comes from the relayer's /v1 API.
 *
 * This entry wires the page's forms and tabs to the modules beside it and starts the session; it is bundled
 * as dashboard.js (web/build.ts).
 */
import { $, h, notify, replace } from "../lib/dom";
import { hexCode } from "../lib/format";
import { explain } from "./errors";
import { downloadLedgerCsv } from "./ledger";
import { loadMore, resetPaging, searchByReference } from "./orders/list";
import { tick } from "./poll";
import { login, logout, savedKey } from "./session";
import { state, TABS, type Tab } from "./state";
import type { KeyMerchant } from "./types";

function showApp(merchant: KeyMerchant): void {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#who").hidden = false;
  replace($("#merchant-name"), h("strong", {}, merchant.name), " ", hexCode(merchant.address));
  void tick();
}

function selectTab(tab: Tab): void {
  state.tab = tab;
  for (const t of TABS) {
    $(`#tab-${t}`).setAttribute("aria-selected", t === tab ? "true" : "false");
    $(`#tab-${t}`).tabIndex = t === tab ? 0 : -1;
    $(`#panel-${t}`).hidden = t !== tab;
  }
  void tick();
}

/** Arrow keys move between tabs, as in the WAI-ARIA tabs pattern. */
function wireTabs(): void {
  for (const t of TABS) {
    const btn = $(`#tab-${t}`);
    btn.addEventListener("click", () => selectTab(t));
    btn.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(t);
      const next =
        e.key === "ArrowRight"
          ? TABS[(i + 1) % TABS.length]
          : e.key === "ArrowLeft"
            ? TABS[(i + TABS.length - 1) % TABS.length]
            : null;
      if (next) {
        selectTab(next);
        $(`#tab-${next}`).focus();
      }
    });
  }
}

function wireOrders(): void {
  const filters = $("#filters") as HTMLFormElement;
  const refilter = () => {
    resetPaging();
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
}

function init(): void {
  ($("#login-form") as HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    void login(($("#api-key") as HTMLInputElement).value, showApp);
  });
  $("#logout").addEventListener("click", () => logout());
  wireOrders();
  wireTabs();
  ($("#ledger-csv") as HTMLAnchorElement).addEventListener("click", downloadLedgerCsv);

  $("#login").hidden = false;
  // A key from this tab's session: check it is still accepted before showing anything.
  const key = savedKey();
  if (key) void login(key, showApp);
}

init();
