/** Formatting of amounts, addresses, hashes, dates and order statuses. */
import { h } from "./dom";

/** `value` base units as a decimal string with `decimals` places (trailing zeros trimmed to 2). */
export function formatUnits(value: string | bigint, decimals: number): string {
  let v = BigInt(value);
  const neg = v < 0n;
  if (neg) v = -v;
  const base = 10n ** BigInt(decimals);
  const whole = (v / base).toLocaleString("en-US");
  let frac = decimals ? (v % base).toString().padStart(decimals, "0").replace(/0+$/, "") : "";
  if (decimals && frac.length < 2) frac = frac.padEnd(Math.min(2, decimals), "0");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/** Parses a decimal amount typed by a person into base units; null when it is not a valid amount. */
export function parseUnits(text: string, decimals: number): bigint | null {
  const m = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (frac.length > decimals) return null;
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}

export function short(hex: string | null | undefined, head = 6, tail = 4): string {
  if (!hex) return "—";
  return hex.length <= head + tail + 2 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

/** A hash or address shown short, with the full value in the title and for copying. */
export function hexCode(hex: string | null | undefined, head = 6, tail = 4): HTMLElement {
  return h("code", { class: "hex", title: hex ?? "" }, short(hex, head, tail));
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export const STATUS_LABELS: Record<string, string> = {
  pending: "Pending",
  created: "Awaiting payment",
  paid: "Paid",
  shipped: "Shipped",
  completed: "Completed",
  cancelled: "Cancelled",
  refunded: "Refunded",
  disputed: "Disputed",
  resolved: "Resolved",
  failed: "Failed",
};

export function statusBadge(status: string): HTMLElement {
  return h("span", { class: `badge badge-${status}`, "data-status": status }, STATUS_LABELS[status] ?? status);
}
