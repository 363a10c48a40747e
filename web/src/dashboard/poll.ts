/** While logged in, the visible tab is read again every 2 seconds; one refresh runs at a time. */
import { $, notify } from "../lib/dom";
import { explain } from "./errors";
import { loadLedger } from "./ledger";
import { loadDetail } from "./orders/detail";
import { loadOrders } from "./orders/list";
import { state, type Tab } from "./state";
import { loadStock } from "./stock";
import { loadWebhooks } from "./webhooks";

const POLL_MS = 2000;

const REFRESH = {
  orders: () => Promise.all([loadOrders(), state.orders.selected ? loadDetail(false) : null]),
  stock: loadStock,
  ledger: loadLedger,
  webhooks: loadWebhooks,
} satisfies Record<Tab, () => Promise<unknown>>;

/** Refreshes the visible tab now and schedules the next refresh; an error is shown above the tabs. */
export async function tick(): Promise<void> {
  window.clearTimeout(state.poll.timer);
  if (!state.key) return;
  if (!state.poll.busy) {
    state.poll.busy = true;
    try {
      await REFRESH[state.tab]();
      notify($("#app-message"), "");
    } catch (err) {
      if (state.key) notify($("#app-message"), "error", ...explain(err));
    } finally {
      state.poll.busy = false;
    }
  }
  if (state.key) state.poll.timer = window.setTimeout(() => void tick(), POLL_MS);
}
