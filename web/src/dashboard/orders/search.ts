/**
 * The search box: the relayer's search language (status:'paid' AND amount>1000 AND metadata['email']:'a@b.c'),
 * ANDed with the filters beside it, or a plain reference. A query the relayer refuses is shown with a caret
 * under the character where it went wrong.
 */
import { ApiError } from "../../../../sdk/api/client";
import { $, h, notify } from "../../lib/dom";

/** Text that starts like a clause of the language (a field and an operator) rather than a reference. */
const CLAUSE_START = /^-?(status|reference|buyer|token|sku|amount|created|updated|tx)(:|>|<)|^-?metadata\[/;

export function isSearchQuery(text: string): boolean {
  return CLAUSE_START.test(text);
}

/** A value quoted for the language: backslashes and single quotes escaped. */
export function quoted(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

export interface FilterValues {
  status?: string;
  buyer?: string;
  sku?: string;
  /** ISO times: created at or after `from`, before `to`. */
  from?: string;
  to?: string;
}

/** The filters as clauses ANDed after the typed query (which keeps its positions for error messages). */
export function withFilters(query: string, f: FilterValues): string {
  const clauses = [query];
  if (f.status) clauses.push(`status:${quoted(f.status)}`);
  if (f.buyer) clauses.push(`buyer:${quoted(f.buyer)}`);
  if (f.sku) clauses.push(`sku:${quoted(f.sku)}`);
  if (f.from) clauses.push(`created>=${quoted(f.from)}`);
  if (f.to) clauses.push(`created<${quoted(f.to)}`);
  return clauses.join(" AND ");
}

/**
 * An `invalid_query` refusal as the merchant reads it: what was expected, and the query with a caret under
 * the position. An error placed in the filters' part (past the typed query) is said to be in the filters.
 */
export function explainQueryError(err: unknown, typed: string): (Node | string)[] | null {
  if (!(err instanceof ApiError) || err.code !== "invalid_query") return null;
  const position = Number(err.details.position);
  const expected = String(err.details.expected ?? "");
  if (!Number.isInteger(position) || position > typed.length) {
    return [`The filters do not combine with this search: expected ${expected}. `, h("code", {}, err.code)];
  }
  return [
    `The search has an error at character ${position + 1}: expected ${expected}. `,
    h("code", {}, err.code),
    h("pre", { class: "query-error", "data-position": String(position) }, `${typed}\n${" ".repeat(position)}^`),
  ];
}

/**
 * The search box's own message, under it (the table's message line is rewritten by every refresh): a refused
 * query stays shown until the next search. `null` hides it.
 */
export function showSearchError(content: (Node | string)[] | null): void {
  let el = document.getElementById("search-error");
  if (!el) {
    el = h("p", { id: "search-error", class: "notice" });
    $("#search").append(el);
  }
  if (content) notify(el, "error", ...content);
  else notify(el, "");
}
