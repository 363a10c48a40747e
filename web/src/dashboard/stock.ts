/** The stock tab: every SKU with its stock read live from the inventory contract. */
import { ok } from "../../../sdk/api/client";
import { $, h, replace } from "../lib/dom";
import { hexCode } from "../lib/format";
import { api } from "./client";
import { emptyRow } from "./render";
import type { Sku } from "./types";

/** A shop's SKUs come in pages of 100 at most: the tab follows the cursor up to this many. */
const MAX_SKUS_SHOWN = 1000;

export async function loadStock(): Promise<void> {
  const skus: Sku[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(api.GET("/v1/skus", { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
    skus.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && skus.length < MAX_SKUS_SHOWN);
  const r = { data: skus };
  const cell = (s: Sku["stock"], k: keyof NonNullable<Sku["stock"]>) => h("td", { class: "num" }, s ? s[k] : "—");
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
      : emptyRow(8, "No SKUs yet."),
  );
}
