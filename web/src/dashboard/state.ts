/**
 * The dashboard's one mutable state. Every module that reads or changes it imports this object; each slice
 * belongs to the module named beside it, and nothing else on the page keeps state of its own.
 */
import type { Chart } from "chart.js";
import type { Order } from "./types";

export const TABS = ["orders", "stock", "ledger", "webhooks"] as const;
export type Tab = (typeof TABS)[number];

/** A destructive action waiting for its second click, on one order. */
export interface PendingConfirmation {
  action: "refund" | "cancel" | "settle";
  orderId: string;
}

export interface DashboardState {
  /** The merchant API key of this tab's session (session.ts); null while logged out. */
  key: string | null;
  /** The visible tab (main.ts). */
  tab: Tab;
  /** The orders tab (orders/). */
  orders: {
    /** The order shown in the detail panel. */
    selected: string | null;
    pending: PendingConfirmation | null;
    /** Pages fetched with "Load more", kept below the live first page. */
    olderPages: Order[];
    nextCursor: string | null;
    /** The one order found by reference; while set, the table shows only it. */
    searchResult: Order | null;
    /** The search box's query (the search language), ANDed with the filters; null for the plain list. */
    query: string | null;
  };
  /** The webhooks tab (webhooks.ts): the endpoint whose deliveries are shown. */
  webhooks: { selected: string | null };
  /** The ledger tab (volumeChart.ts): the chart, created once and then updated in place. */
  ledger: { chart: Chart | null };
  /** The refresh loop (poll.ts). */
  poll: { timer: number; busy: boolean };
}

export const state: DashboardState = {
  key: null,
  tab: "orders",
  orders: { selected: null, pending: null, olderPages: [], nextCursor: null, searchResult: null, query: null },
  webhooks: { selected: null },
  ledger: { chart: null },
  poll: { timer: 0, busy: false },
};
