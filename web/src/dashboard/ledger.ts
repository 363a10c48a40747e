/** The ledger tab: balances per token, the volume chart, the latest entries and the CSV export. */
import { ApiError, ok } from "../../../sdk/api/client";
import { tokenInfo, type TokenInfo } from "../lib/api";
import { $, h, notify, replace } from "../lib/dom";
import { formatUnits, hexCode, when } from "../lib/format";
import { api } from "./client";
import { explain } from "./errors";
import { emptyRow, formatMoney } from "./render";
import type { LedgerEntry } from "./types";
import { drawVolume } from "./volumeChart";

const ACCOUNT_LABELS: Record<string, string> = {
  escrow: "Held in escrow",
  buyers: "Buyers (paid in − refunded)",
  merchant_payouts: "Paid out to you",
  platform_fees: "Platform fees",
};

/** Up to 5 pages of 1000 entries, oldest first. */
async function loadEntries(): Promise<LedgerEntry[]> {
  const all: LedgerEntry[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const page = await ok(api.GET("/v1/ledger/entries", { params: { query: { limit: 1000, cursor } } }));
    all.push(...page.data);
    cursor = page.nextCursor ?? undefined;
    if (!cursor) break;
  }
  return all;
}

export async function loadLedger(): Promise<void> {
  const [{ balances }, entries] = await Promise.all([ok(api.GET("/v1/ledger/balances")), loadEntries()]);
  const tokens = Object.keys(balances);
  const infos = new Map(await Promise.all(tokens.map(async (t) => [t.toLowerCase(), await tokenInfo(t)] as const)));
  const info = (t: string): TokenInfo => infos.get(t.toLowerCase()) ?? { symbol: "", decimals: 0, token: t };
  replace(
    $("#balances"),
    tokens.length
      ? tokens.map((t) => balanceCard(t, balances[t], infos.get(t.toLowerCase())))
      : h("p", { class: "muted" }, "No money has moved yet."),
  );
  const shown = entries.slice(-100).reverse();
  const amountCell = (v: string, token: string) =>
    h("td", { class: "num" }, v === "0" ? "" : formatMoney(v, info(token)));
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
            amountCell(e.debit, e.token),
            amountCell(e.credit, e.token),
            h("td", {}, hexCode(e.txHash)),
          ),
        )
      : emptyRow(6, "No ledger entries yet."),
  );
  drawVolume(entries, tokens[0] ? info(tokens[0]) : null);
}

/** One token's balance per account; the buyers' account is shown as what they paid in, net of refunds. */
function balanceCard(token: string, accounts: Record<string, string>, t: TokenInfo | undefined): HTMLElement {
  return h(
    "div",
    { class: "balance-card", "data-token": token },
    h("h3", {}, t?.symbol ?? token),
    h(
      "dl",
      { class: "facts" },
      Object.entries(accounts).flatMap(([acct, v]) => [
        h("dt", {}, ACCOUNT_LABELS[acct] ?? acct),
        h(
          "dd",
          { "data-account": acct },
          formatUnits(acct === "buyers" ? (-BigInt(v)).toString() : v, t?.decimals ?? 0),
        ),
      ]),
    ),
  );
}

/** The CSV needs the key in a header, so it is fetched through the client and handed to the browser as a download. */
export async function downloadLedgerCsv(e: Event): Promise<void> {
  e.preventDefault();
  try {
    const csv = await ok(api.GET("/v1/ledger/export.csv", { parseAs: "blob", headers: { accept: "text/csv" } })).catch(
      (err: unknown) => {
        // Any refusal reads "The CSV export failed." with its HTTP status (a refused key: see explain()).
        throw err instanceof ApiError && err.status > 0
          ? new ApiError(err.status, `http_${err.status}`, "The CSV export failed.")
          : err;
      },
    );
    const url = URL.createObjectURL(csv);
    const a = h("a", { href: url, download: "ledger.csv" });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (err) {
    notify($("#app-message"), "error", ...explain(err));
  }
}
