/**
 * The one SQL builder of order lists and searches: parsed search clauses (domain/searchQuery.ts) and the list
 * filters of `GET /v1/orders` become one parameterised statement over the merchant's orders. Values only ever
 * travel as parameters; column names and operators come from the fixed maps below.
 */
import type { Queryable } from "./db";
import type { OrderRow } from "./orders";
import type { SearchClause, SearchOperator, SearchQuery } from "../domain/searchQuery";

export const ORDER_SORTS = ["created_at", "updated_at", "amount"] as const;
export type OrderSort = (typeof ORDER_SORTS)[number];
export type SortDirection = "asc" | "desc";

/** A page's last row as the next page starts after it: its sort key exactly as stored (text), and its id. */
export interface SearchCursor {
  key: string;
  id: string;
}

export interface OrderSearch {
  merchantId: string;
  query: SearchQuery;
  sort: OrderSort;
  direction: SortDirection;
  cursor?: SearchCursor;
  limit: number;
  /**
   * The reference prefix of the query matches at most PREFIX_SORT_MAX of the merchant's orders (searchOrderRows
   * counts them first): its matches are read on the prefix index and sorted, instead of walking every order in
   * the sort's order until a page of them is found.
   */
  fewPrefixMatches?: boolean;
}

/**
 * A reference prefix with at most this many orders is read whole and sorted (a few milliseconds). References
 * grow with time (INV-2025-…), so a prefix's orders are often all old: walking the newest orders first to find
 * them read 522,001 orders (1.3 s) for ord-12* at a million orders.
 */
export const PREFIX_SORT_MAX = 10_000;

/** Counts stop here: beyond it a total is a lower bound. */
export const TOTAL_CAP = 10_000;

const SORT_COLUMNS: Record<OrderSort, { column: string; type: string }> = {
  created_at: { column: "o.created_at", type: "timestamptz" },
  updated_at: { column: "o.updated_at", type: "timestamptz" },
  amount: { column: "o.amount", type: "numeric" },
};

const COMPARISONS: Record<SearchOperator, string> = { ":": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<=" };

/** Collects parameters: each value gets its own `$n`. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** A LIKE pattern matching every text that starts with `prefix` (its % _ and \ taken literally). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** One clause as a SQL condition on `orders o`, true or false (never null, so negation is exact). */
function clauseSql(c: SearchClause, p: Params): string {
  let sql: string;
  switch (c.field) {
    case "status":
      sql = `o.status = ${p.add(c.value)}`;
      break;
    case "reference":
      sql = c.prefix ? `o.reference like ${p.add(likePrefix(c.value))}` : `o.reference = ${p.add(c.value)}`;
      break;
    case "buyer":
      sql = `lower(o.buyer) = ${p.add(c.value)}`;
      break;
    case "token":
      sql = `lower(o.token) = ${p.add(c.value)}`;
      break;
    case "sku":
      // The order's line items (order_items, one row per SKU), on their (merchant, sku, created_at) index. The
      // merchant is the statement's first parameter: a subquery without outer references becomes a join.
      sql = `o.id in (select i.order_id from order_items i where i.merchant_id = $1 and i.sku_id = ${p.add(c.value)})`;
      break;
    case "tx": {
      const hash = p.add(c.value);
      // Any chain transaction of the order: the events the indexer stored, or a transaction the relayer sent. One
      // list of order ids (not two tests joined by OR, which no index serves: every order of the merchant was
      // tested), looked up by primary key.
      sql = `o.id in (select eo.id from chain_events e join orders eo on eo.chain_order_id = e.order_id where e.tx_hash = ${hash}
                      union all
                      select c.order_id from chain_txs t join commands c on c.tx_signer = t.signer and c.tx_nonce = t.nonce
                      where t.hash = ${hash} and c.order_id is not null)`;
      break;
    }
    case "amount":
      sql = `o.amount ${COMPARISONS[c.op]} ${p.add(c.value)}::numeric`;
      break;
    case "created":
    case "updated": {
      const column = c.field === "created" ? "o.created_at" : "o.updated_at";
      sql =
        c.op === ":"
          ? `(${column} >= ${p.add(c.value)}::timestamptz and ${column} < ${p.add(c.until)}::timestamptz)`
          : `${column} ${COMPARISONS[c.op]} ${p.add(c.value)}::timestamptz`;
      break;
    }
    case "metadata":
      // The order's metadata as rows (order_metadata, kept by trigger), on their (merchant, key, value) index.
      sql = `o.id in (select d.order_id from order_metadata d where d.merchant_id = $1 and d.key = ${p.add(c.key)} and d.value = ${p.add(c.value)})`;
      break;
  }
  return c.negated ? `not coalesce(${sql}, false)` : sql;
}

/** The conditions of `groups` on the merchant's orders; the merchant is always the first parameter ($1). */
function whereSql(merchantId: string, groups: SearchClause[][], p: Params): string[] {
  const where = [`o.merchant_id = ${p.add(merchantId)}`];
  for (const group of groups) {
    const parts = group.map((c) => clauseSql(c, p));
    where.push(parts.length === 1 ? parts[0] : `(${parts.join(" or ")})`);
  }
  return where;
}

/** The page's rows (at most `limit`), each with `sort_key`, its sort column as text for the next cursor. */
export async function searchOrderRows(q: Queryable, s: OrderSearch): Promise<(OrderRow & { sort_key: string })[]> {
  const { text, values } = await searchStatement(q, s);
  return (await q.query<OrderRow & { sort_key: string }>(text, values)).rows;
}

/** The statement `searchOrderRows` runs: a reference prefix's orders counted first (see PREFIX_SORT_MAX). */
export async function searchStatement(q: Queryable, s: OrderSearch): Promise<{ text: string; values: unknown[] }> {
  const prefix = prefixGroup(s)?.[0];
  let fewPrefixMatches = false;
  if (prefix?.field === "reference") {
    // Counted on the prefix index alone (an index-only range), stopping past the bound.
    const r = await q.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from orders where merchant_id = $1 and reference like $2 limit $3) m`,
      [s.merchantId, likePrefix(prefix.value), PREFIX_SORT_MAX + 1],
    );
    fewPrefixMatches = Number(r.rows[0].n) <= PREFIX_SORT_MAX;
  }
  return searchSql({ ...s, fewPrefixMatches });
}

/** The query's reference prefix, when the rows could be read from its matches (a single, non-negated clause). */
function prefixGroup(s: OrderSearch): SearchClause[] | undefined {
  if (s.sort !== "created_at") return undefined;
  if (s.query.groups.some((g) => g.length === 1 && ["sku", "metadata"].includes(g[0].field) && !g[0].negated))
    return undefined;
  return s.query.groups.find(
    (g) => g.length === 1 && g[0].field === "reference" && g[0].prefix === true && !g[0].negated,
  );
}

/** The statement of a search page: its text (no value in it) and its parameters. */
export function searchSql(s: OrderSearch): { text: string; values: unknown[] } {
  const p = new Params();
  // Orders of a given SKU or metadata value sorted by creation: walk its rows (line items, metadata) in date
  // order on their index, each joined to its order (the orders' own indexes would return every match of a busy
  // SKU or a common value, then sort them). A SKU leads when both are given.
  const lead =
    s.sort === "created_at"
      ? (["sku", "metadata"] as const)
          .map((field) => s.query.groups.find((g) => g.length === 1 && g[0].field === field && !g[0].negated))
          .find((g) => g !== undefined)
      : undefined;
  // Several statuses, newest first: a walk of (merchant, status, created_at desc, id desc) per status, each
  // stopped after a page, then merged. One walk of every order filtered by status reads many pages of rows for a
  // set of rare statuses; a bitmap of the matches fetches and sorts every one of them.
  const statusGroup =
    s.sort === "created_at" && !lead
      ? s.query.groups.find((g) => g.length > 1 && g.every((x) => x.field === "status" && !x.negated))
      : undefined;
  // A reference prefix of few orders: their (created_at, id), read from the prefix index alone and sorted, each
  // then joined to its order until a page passes the other conditions.
  const prefixed = s.fewPrefixMatches ? prefixGroup(s) : undefined;
  const where = whereSql(
    s.merchantId,
    s.query.groups.filter((g) => g !== lead && g !== statusGroup && g !== prefixed),
    p,
  );
  let from = "orders o";
  const { type } = SORT_COLUMNS[s.sort];
  let column = SORT_COLUMNS[s.sort].column;
  let idColumn = "o.id";
  const dir = s.direction === "asc" ? "asc" : "desc";
  const c = lead?.[0] ?? prefixed?.[0];
  // Led by line items, metadata rows or the prefix's orders, the merchant is theirs (copied from the order by the statement or trigger
  // that writes them, and an order never changes merchant): the orders' own merchant condition is left out, or
  // the planner multiplies the two as if independent, expects a few dozen rows, and sorts every match instead of
  // walking the index (458 ms for a common value of a small merchant at a million orders).
  if (c) where.shift();
  if (c?.field === "reference") {
    from = `(select id, created_at from orders where merchant_id = $1 and reference like ${p.add(likePrefix(c.value))}
             order by created_at ${dir}, id ${dir} offset 0) p join orders o on o.id = p.id`;
    [column, idColumn] = ["p.created_at", "p.id"];
  } else if (c?.field === "sku") {
    from = "order_items i join orders o on o.id = i.order_id";
    where.push(`i.merchant_id = $1 and i.sku_id = ${p.add(c.value)}`);
    [column, idColumn] = ["i.created_at", "i.order_id"];
  } else if (c?.field === "metadata") {
    from = "order_metadata d join orders o on o.id = d.order_id";
    where.push(`d.merchant_id = $1 and d.key = ${p.add(c.key)} and d.value = ${p.add(c.value)}`);
    [column, idColumn] = ["d.created_at", "d.order_id"];
  }
  if (s.cursor) {
    // Row comparison against the exact stored key (text keeps microseconds and every digit): ties by id.
    where.push(
      `(${column}, ${idColumn}) ${dir === "asc" ? ">" : "<"} (${p.add(s.cursor.key)}::${type}, ${p.add(s.cursor.id)}::text)`,
    );
  }
  const limit = p.add(s.limit);
  const select = (conditions: string[]) =>
    `select o.*, ${column}::text as sort_key from ${from} ${conditions.length ? `where ${conditions.join(" and ")}` : ""}
     order by ${column} ${dir}, ${idColumn} ${dir} limit ${limit}`;
  if (statusGroup) {
    const statuses = [...new Set(statusGroup.map((x) => x.value))];
    const branches = statuses.map((v) => `(${select([...where, `o.status = ${p.add(v)}`])})`);
    return {
      text: `select * from (${branches.join(" union all ")}) o order by o.created_at ${dir}, o.id ${dir} limit ${limit}`,
      values: p.values,
    };
  }
  return { text: select(where), values: p.values };
}

/** How many orders match (cursor aside), counted up to TOTAL_CAP. */
export async function countOrders(
  q: Queryable,
  merchantId: string,
  query: SearchQuery,
): Promise<{ total: number; totalIsLowerBound: boolean }> {
  const p = new Params();
  const where = whereSql(merchantId, query.groups, p);
  const r = await q.query<{ n: number }>(
    `select count(*)::int as n from (select 1 from orders o where ${where.join(" and ")} limit ${p.add(TOTAL_CAP + 1)}) m`,
    p.values,
  );
  const n = Number(r.rows[0].n);
  return { total: Math.min(n, TOTAL_CAP), totalIsLowerBound: n > TOTAL_CAP };
}

/** The order's metadata, locked until the transaction ends (a metadata update reads, merges and writes). */
export async function lockOrderMetadata(
  q: Queryable,
  merchantId: string,
  id: string,
): Promise<Record<string, string> | undefined> {
  const r = await q.query<{ metadata: Record<string, string> }>(
    `select metadata from orders where merchant_id = $1 and id = $2 for update`,
    [merchantId, id],
  );
  return r.rows[0]?.metadata;
}

/** Stores the order's new metadata and returns the row (updated_at moves by trigger when the metadata changed). */
export async function storeOrderMetadata(
  q: Queryable,
  merchantId: string,
  id: string,
  metadata: Record<string, string>,
): Promise<OrderRow> {
  const r = await q.query<OrderRow>(
    `update orders set metadata = $3::jsonb where merchant_id = $1 and id = $2 returning *`,
    [merchantId, id, JSON.stringify(metadata)],
  );
  return r.rows[0];
}
