/**
 * Order lists, searches and metadata: the list filters and the search language both become search clauses
 * (domain/searchQuery.ts) run by the one SQL builder (store/orderSearch.ts), paged by a keyset cursor that
 * matches the sort.
 */
import { AppError } from "../domain/errors";
import { applyMetadata, metadataUpdate } from "../domain/metadata";
import { ORDER_STATUSES } from "../domain/model";
import { orderView } from "../domain/orderView";
import { parseSearchQuery, SearchQueryError, type SearchClause, type SearchQuery } from "../domain/searchQuery";
import { recordAudit } from "../store/audit";
import type { Queryable } from "../store/db";
import {
  countOrders,
  lockOrderMetadata,
  searchOrderRows,
  storeOrderMetadata,
  type OrderSort,
  type SearchCursor,
  type SortDirection,
} from "../store/orderSearch";
import type { OrderRow } from "../store/orders";
import type { Principal } from "./context";

const DEFAULT_LIMIT = 50;
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

export interface Paging {
  sort?: OrderSort;
  direction?: SortDirection;
  cursor?: string;
  limit?: number;
}

/** The filters of `GET /v1/orders` (querystring as validated); `metadata[key]` entries are read from `raw`. */
export interface ListFilters extends Paging {
  status?: string[];
  reference?: string;
  buyer?: string;
  token?: string;
  sku?: string;
  tx?: string;
  amount_gte?: string;
  amount_lte?: string;
  from?: string;
  to?: string;
  updated_since?: string;
}

const METADATA_PARAM = /^metadata\[(.+)\]$/;

/** The list filters as search clauses: the same SQL as the query language. */
export function listFilterQuery(f: ListFilters & Record<string, unknown>): SearchQuery {
  const groups: SearchClause[][] = [];
  const one = (c: SearchClause) => groups.push([c]);
  const statuses = (f.status ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statuses) {
    if (!(ORDER_STATUSES as readonly string[]).includes(s))
      throw new AppError("validation_failed", `unknown status "${s}"`, { allowed: ORDER_STATUSES });
  }
  if (statuses.length) groups.push([...new Set(statuses)].map((value) => ({ field: "status", value, negated: false })));
  if (f.reference) {
    const prefix = f.reference.endsWith("*");
    one({ field: "reference", value: prefix ? f.reference.slice(0, -1) : f.reference, prefix, negated: false });
  }
  if (f.buyer) one({ field: "buyer", value: f.buyer.toLowerCase(), negated: false });
  if (f.token) {
    one({ field: "token", value: f.token === "native" ? ZERO_ADDRESS : f.token.toLowerCase(), negated: false });
  }
  if (f.sku) one({ field: "sku", value: f.sku, negated: false });
  if (f.tx) one({ field: "tx", value: f.tx.toLowerCase(), negated: false });
  if (f.amount_gte) one({ field: "amount", op: ">=", value: f.amount_gte, negated: false });
  if (f.amount_lte) one({ field: "amount", op: "<=", value: f.amount_lte, negated: false });
  if (f.from) one({ field: "created", op: ">=", value: new Date(f.from).toISOString(), negated: false });
  if (f.to) one({ field: "created", op: "<", value: new Date(f.to).toISOString(), negated: false });
  if (f.updated_since) {
    one({ field: "updated", op: ">=", value: new Date(f.updated_since).toISOString(), negated: false });
  }
  for (const [name, value] of Object.entries(f)) {
    const key = METADATA_PARAM.exec(name)?.[1];
    if (key === undefined) continue;
    if (typeof value !== "string" || value === "")
      throw new AppError("validation_failed", `${name} must be one non-empty value`, { field: name });
    one({ field: "metadata", key, value, negated: false });
  }
  return { groups };
}

/** `GET /v1/orders`: the filters, newest first unless sorted otherwise. */
export async function listOrdersPage(q: Queryable, merchantId: string, f: ListFilters & Record<string, unknown>) {
  return page(q, merchantId, listFilterQuery(f), f);
}

/** `GET /v1/orders/search`: the query language, with an optional (capped) total. */
export async function searchOrdersPage(
  q: Queryable,
  merchantId: string,
  f: Paging & { query: string; total?: boolean },
) {
  let query: SearchQuery;
  try {
    query = parseSearchQuery(f.query);
  } catch (err) {
    if (!(err instanceof SearchQueryError)) throw err;
    throw new AppError("invalid_query", err.message, { position: err.position, expected: err.expected });
  }
  const result = await page(q, merchantId, query, f);
  if (!f.total) return result;
  return { ...result, ...(await countOrders(q, merchantId, query)) };
}

async function page(q: Queryable, merchantId: string, query: SearchQuery, f: Paging) {
  const sort = f.sort ?? "created_at";
  const direction = f.direction ?? "desc";
  const limit = f.limit ?? DEFAULT_LIMIT;
  const cursor = f.cursor ? decodeCursor(f.cursor, sort, direction) : undefined;
  const rows = await searchOrderRows(q, { merchantId, query, sort, direction, cursor, limit: limit + 1 }).catch(
    (err: { code?: string }) => {
      // A forged cursor of the right shape whose time does not exist (a 31st of February): data exception 22xxx.
      if (cursor && typeof err.code === "string" && err.code.startsWith("22"))
        throw new AppError("validation_failed", "cursor is not valid; use the nextCursor of a previous page", {
          field: "cursor",
        });
      throw err;
    },
  );
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return {
    data: data.map(orderView),
    nextCursor: rows.length > limit ? encodeCursor(sort, direction, { key: last.sort_key, id: last.id }) : null,
  };
}

export function encodeCursor(sort: OrderSort, direction: SortDirection, c: SearchCursor): string {
  return Buffer.from(JSON.stringify([sort, direction, c.key, c.id])).toString("base64url");
}

/** A cursor the API issued for the same sort; anything else is refused (400 validation_failed, field cursor). */
export function decodeCursor(cursor: string, sort: OrderSort, direction: SortDirection): SearchCursor {
  const refuse = (why: string) =>
    new AppError("validation_failed", `cursor is not valid ${why}; use the nextCursor of a previous page`, {
      field: "cursor",
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw refuse("");
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((x) => typeof x === "string")) throw refuse("");
  const [s, d, key, id] = parsed as string[];
  if (s !== sort || d !== direction) throw refuse(`for sort=${sort} and direction=${direction}`);
  const keyShape =
    sort === "amount" ? /^[0-9]{1,78}$/ : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
  if (!keyShape.test(key) || id.length > 128) throw refuse("");
  return { key, id };
}

/**
 * `PATCH /v1/orders/{id}`: merges `metadata` into the order's (an empty string deletes a key), audited, in one
 * transaction (the row is locked while merged). Returns the order's view.
 */
export async function updateOrderMetadata(q: Queryable, who: Principal, order: OrderRow, metadata: unknown) {
  const update = metadataUpdate(metadata);
  const current = await lockOrderMetadata(q, order.merchant_id, order.id);
  if (!current) throw new AppError("not_found", `order ${order.id} not found`, { orderId: order.id });
  const next = applyMetadata(current, update);
  const row = await storeOrderMetadata(q, order.merchant_id, order.id, next);
  await recordAudit(q, {
    merchantId: order.merchant_id,
    apiKeyId: who.keyId,
    action: "order.metadata_updated",
    resourceType: "order",
    resourceId: order.id,
    details: { set: update.set, deleted: update.unset },
  });
  return orderView(row);
}
