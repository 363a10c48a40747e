/** Rendering shared by the tabs. */
import { tokenInfo } from "../lib/api";
import { h } from "../lib/dom";
import { formatUnits } from "../lib/format";

/** An amount in base units with the token's symbol: "25.00 mUSD". */
export function formatMoney(amount: string, token: { decimals: number; symbol: string }): string {
  return `${formatUnits(amount, token.decimals)} ${token.symbol}`;
}

/** Like formatMoney, asking the relayer for the token's symbol and decimals first; "—" for no amount. */
export async function money(amount: string | null, token: string): Promise<string> {
  if (amount === null) return "—";
  return formatMoney(amount, await tokenInfo(token));
}

/** The one row of a table that has nothing to list. */
export function emptyRow(columns: number, text: string): HTMLTableRowElement {
  return h("tr", {}, h("td", { colspan: columns, class: "muted" }, text));
}
