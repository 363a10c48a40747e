/** The ledger's bar chart of money paid in, paid out and refunded over time (chart.js). */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import type { TokenInfo } from "../lib/api";
import { $ } from "../lib/dom";
import { formatUnits } from "../lib/format";
import { state } from "./state";
import type { LedgerEntry } from "./types";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Buckets of a week, a day, an hour or a minute, so that the span shown fills a readable number of bars. */
function bucketSize(spanMs: number): number {
  if (spanMs > 14 * DAY_MS) return 7 * DAY_MS;
  if (spanMs > 2 * DAY_MS) return DAY_MS;
  if (spanMs > 3 * HOUR_MS) return HOUR_MS;
  return 60_000;
}

/** Money in (payments), out to the merchant, and back to buyers, per time bucket of the first token. */
export function drawVolume(entries: LedgerEntry[], token: TokenInfo | null): void {
  const rows = token ? entries.filter((e) => e.token.toLowerCase() === token.token.toLowerCase() && e.at) : [];
  const times = rows.map((e) => Date.parse(e.at!));
  const bucketMs = bucketSize(times.length ? Math.max(...times) - Math.min(...times) : 0);
  const label = (t: number) => {
    const d = new Date(Math.floor(t / bucketMs) * bucketMs);
    return bucketMs >= DAY_MS
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
  const dataset = (label: string, key: "paidIn" | "paidOut" | "refunded", backgroundColor: string) => ({
    label,
    data: labels.map((l) => num(buckets.get(l)![key])),
    backgroundColor,
    maxBarThickness: 48,
  });
  const data = {
    labels,
    datasets: [
      dataset("Paid in", "paidIn", "#3b5bdb"),
      dataset("Paid out to you", "paidOut", "#2b8a3e"),
      dataset("Refunded", "refunded", "#e8590c"),
    ],
  };
  if (state.ledger.chart) {
    state.ledger.chart.data = data;
    state.ledger.chart.update("none");
    return;
  }
  state.ledger.chart = new Chart($("#volume-chart") as HTMLCanvasElement, {
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
