/**
 * The order search language (modelled on Stripe's search): a pure recursive-descent parser from the query text
 * to typed clauses, with no I/O. store/orderSearch.ts compiles the result to parameterised SQL; the list
 * filters of `GET /v1/orders` build the same clauses directly.
 *
 *   query    = group *( ws "AND" ws group )                 ; at most MAX_CLAUSES clauses
 *   group    = clause *( ws "OR" ws clause )                ; OR joins clauses of the same field only
 *   clause   = [ "-" ] field operator value                 ; "-" negates; no spaces inside a clause
 *   field    = "status" / "reference" / "buyer" / "token" / "sku" / "amount" / "created" / "updated" / "tx"
 *            / "metadata[" quoted "]"
 *   operator = ":" / ">=" / "<=" / ">" / "<"                ; the comparisons only for amount, created, updated
 *   value    = quoted / bare
 *   quoted   = "'" *( char / "\" escaped ) "'"  /  DQUOTE *( char / "\" escaped ) DQUOTE   ; escaped: \ ' "
 *   bare     = 1*( ALPHA / DIGIT / "_" / "." / ":" / "+" / "-" / "*" / "@" / "/" / "#" )
 *   ws       = 1*" "
 *
 * OR binds tighter than AND: `status:'paid' OR status:'shipped' AND amount>1000` is (paid or shipped) and more
 * than 1000. A reference ending in an unescaped `*` is a prefix; `created`/`updated` take unix seconds or an ISO
 * date (with `:` meaning within that second, or that UTC day for a date without a time).
 */
import { ORDER_STATUSES } from "./model";
import { UINT_MAX } from "./uints";

export const SEARCH_FIELDS = [
  "status",
  "reference",
  "buyer",
  "token",
  "sku",
  "amount",
  "created",
  "updated",
  "tx",
  "metadata",
] as const;
export type SearchField = (typeof SEARCH_FIELDS)[number];
export type SearchOperator = ":" | ">" | "<" | ">=" | "<=";

export const MAX_QUERY_LENGTH = 1000;
export const MAX_CLAUSES = 10;
export const METADATA_KEY_MAX = 40;
export const METADATA_VALUE_MAX = 500;

/**
 * One condition, its value checked and normalised: addresses and hashes in lower case, the token "native" as
 * the zero address, amounts as decimal strings, times as ISO strings (`until` closes the range of `:`).
 */
export type SearchClause = { negated: boolean } & (
  | { field: "status"; value: string }
  | { field: "reference"; value: string; prefix: boolean }
  | { field: "buyer" | "token" | "sku" | "tx"; value: string }
  | { field: "amount"; op: SearchOperator; value: string }
  | { field: "created" | "updated"; op: SearchOperator; value: string; until?: string }
  | { field: "metadata"; key: string; value: string }
);

/** Clauses joined by AND, each a list joined by OR (all on one field). */
export interface SearchQuery {
  groups: SearchClause[][];
}

/** A query that does not parse: where (0-based character offset) and what was expected there. */
export class SearchQueryError extends Error {
  constructor(
    readonly position: number,
    readonly expected: string,
    found: string,
  ) {
    super(`invalid query at position ${position}: expected ${expected}, found ${found}`);
    this.name = "SearchQueryError";
  }
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const REFERENCE = /^[A-Za-z0-9._:/#-]{1,128}$/;
const UNSIGNED = /^(0|[1-9][0-9]*)$/;
const UNIX_SECONDS = /^[0-9]{1,11}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const BARE = /[A-Za-z0-9_.:+\-*@/#]/;
const FIELD_LIST = SEARCH_FIELDS.map((f) => (f === "metadata" ? "metadata['key']" : f)).join(", ");
const COMPARABLE = new Set<SearchField>(["amount", "created", "updated"]);

/** A value as written: its text, whether quoted, and where a trailing `*` was left unescaped. */
interface RawValue {
  text: string;
  quoted: boolean;
  /** The value ends with a `*` that was not escaped (a prefix). */
  star: boolean;
  position: number;
}

export function parseSearchQuery(input: string): SearchQuery {
  return new Parser(input).query();
}

class Parser {
  private pos = 0;
  private clauses = 0;
  constructor(private readonly src: string) {}

  query(): SearchQuery {
    if (this.src.length > MAX_QUERY_LENGTH)
      this.fail(`a query of at most ${MAX_QUERY_LENGTH} characters`, MAX_QUERY_LENGTH);
    this.spaces();
    const groups: SearchClause[][] = [this.group()];
    for (;;) {
      if (this.atEnd()) break;
      if (!this.spaces()) this.fail("a space, then AND, OR or the end of the query");
      if (this.atEnd()) break;
      if (!this.keyword("AND")) this.fail("AND, OR or the end of the query");
      groups.push(this.group());
    }
    return { groups };
  }

  private group(): SearchClause[] {
    const first = this.clause();
    const group = [first.clause];
    for (;;) {
      const save = this.pos;
      if (!this.spaces() || !this.keyword("OR")) {
        this.pos = save;
        return group;
      }
      const next = this.clause();
      if (next.clause.field !== first.clause.field || keyOf(next.clause) !== keyOf(first.clause)) {
        this.fail(
          `a clause on ${first.name} (OR joins clauses of the same field; use AND across fields)`,
          next.position,
        );
      }
      group.push(next.clause);
    }
  }

  private clause(): { clause: SearchClause; position: number; name: string } {
    const position = this.pos;
    this.clauses += 1;
    if (this.clauses > MAX_CLAUSES) this.fail(`at most ${MAX_CLAUSES} clauses`, position);
    const negated = this.src[this.pos] === "-";
    if (negated) this.pos += 1;
    const fieldAt = this.pos;
    const word = this.word();
    const field = (SEARCH_FIELDS as readonly string[]).includes(word) ? (word as SearchField) : null;
    if (!field) this.fail(`a field: ${FIELD_LIST}`, fieldAt);
    let key: string | undefined;
    if (field === "metadata") {
      this.expect("[", "[ after metadata");
      const k = this.quoted();
      if (!k) this.fail("a quoted metadata key, e.g. metadata['email']");
      if (k.text.length < 1 || k.text.length > METADATA_KEY_MAX)
        this.fail(`a metadata key of 1 to ${METADATA_KEY_MAX} characters`, k.position);
      key = k.text;
      this.expect("]", "] after the metadata key");
    }
    const name = field === "metadata" ? `metadata['${key}']` : field;
    const opAt = this.pos;
    const op = this.operator();
    if (!op) this.fail(COMPARABLE.has(field) ? "an operator: :, >, <, >= or <=" : "the operator :");
    if (op !== ":" && !COMPARABLE.has(field)) this.fail(`the operator : (${name} compares by equality only)`, opAt);
    const raw = this.value();
    return { clause: { negated, ...this.check(field, op, raw, key) }, position, name };
  }

  /** The value checked for its field (amount, status, address, time...), with the error at the value. */
  private check(
    field: SearchField,
    op: SearchOperator,
    v: RawValue,
    key?: string,
  ): DistributiveOmit<SearchClause, "negated"> {
    const bad = (expected: string): never => this.fail(expected, v.position);
    switch (field) {
      case "status":
        if (!(ORDER_STATUSES as readonly string[]).includes(v.text)) bad(`a status: ${ORDER_STATUSES.join(", ")}`);
        return { field, value: v.text };
      case "reference": {
        const value = v.star ? v.text.slice(0, -1) : v.text;
        if (!REFERENCE.test(value))
          bad("a reference of 1 to 128 letters, digits or ._:/#- (a trailing * for a prefix)");
        return { field, value, prefix: v.star };
      }
      case "buyer":
        if (!ADDRESS.test(v.text)) bad("a 0x address of 40 hex digits");
        return { field, value: v.text.toLowerCase() };
      case "token":
        if (v.text !== "native" && !ADDRESS.test(v.text)) bad('"native" or a 0x address of 40 hex digits');
        return { field, value: v.text === "native" ? ZERO_ADDRESS : v.text.toLowerCase() };
      case "sku":
        if (v.text.length < 1 || v.text.length > 128) bad("a SKU id of 1 to 128 characters");
        return { field, value: v.text };
      case "tx":
        if (!TX_HASH.test(v.text)) bad("a transaction hash: 0x and 64 hex digits");
        return { field, value: v.text.toLowerCase() };
      case "amount":
        if (!UNSIGNED.test(v.text) || BigInt(v.text) > UINT_MAX.uint256)
          bad("an amount: an unsigned integer in base units (at most a uint256)");
        return { field, op, value: v.text };
      case "created":
      case "updated": {
        const t = timeOf(v.text);
        if (!t) bad("unix seconds or an ISO date (2024-01-31 or 2024-01-31T12:00:00Z)");
        return op === ":"
          ? { field, op, value: t!.at.toISOString(), until: new Date(t!.at.getTime() + t!.spanMs).toISOString() }
          : { field, op, value: t!.at.toISOString() };
      }
      case "metadata":
        if (v.text.length < 1 || v.text.length > METADATA_VALUE_MAX)
          bad(`a metadata value of 1 to ${METADATA_VALUE_MAX} characters`);
        return { field, key: key!, value: v.text };
    }
  }

  private word(): string {
    const start = this.pos;
    while (this.pos < this.src.length && /[a-z]/.test(this.src[this.pos])) this.pos += 1;
    return this.src.slice(start, this.pos);
  }

  private operator(): SearchOperator | null {
    for (const op of [">=", "<=", ":", ">", "<"] as const) {
      if (this.src.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    return null;
  }

  private value(): RawValue {
    const q = this.quoted();
    if (q) return q;
    const start = this.pos;
    while (this.pos < this.src.length && BARE.test(this.src[this.pos])) this.pos += 1;
    if (this.pos === start) this.fail("a value: quoted ('...' or \"...\") or bare letters and digits");
    const text = this.src.slice(start, this.pos);
    return { text, quoted: false, star: text.endsWith("*"), position: start };
  }

  /** A quoted string with `\\`, `\'` and `\"` escapes (and `\*`, a star that is not a prefix), or null. */
  private quoted(): RawValue | null {
    const quote = this.src[this.pos];
    if (quote !== "'" && quote !== '"') return null;
    const position = this.pos;
    this.pos += 1;
    let text = "";
    let star = false;
    for (;;) {
      if (this.atEnd()) this.fail(`the closing ${quote}`);
      const c = this.src[this.pos];
      if (c === quote) {
        this.pos += 1;
        return { text, quoted: true, star, position };
      }
      if (c === "\\") {
        const e = this.src[this.pos + 1];
        if (e === undefined || !"\\'\"*".includes(e)) this.fail("an escape: \\\\, \\', \\\" or \\*", this.pos);
        text += e;
        star = false;
        this.pos += 2;
        continue;
      }
      text += c;
      star = c === "*";
      this.pos += 1;
    }
  }

  /** One or more spaces (tabs and newlines count as spaces); whether any were read. */
  private spaces(): boolean {
    const start = this.pos;
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos += 1;
    return this.pos > start;
  }

  /** `word` followed by a space; consumes both, or nothing. */
  private keyword(word: string): boolean {
    if (!this.src.startsWith(word, this.pos)) return false;
    const after = this.pos + word.length;
    if (after >= this.src.length || !/\s/.test(this.src[after])) {
      this.fail(`a space and a clause after ${word}`, after);
    }
    this.pos = after;
    this.spaces();
    return true;
  }

  private expect(text: string, expected: string): void {
    if (!this.src.startsWith(text, this.pos)) this.fail(expected);
    this.pos += text.length;
  }

  private atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  private fail(expected: string, at = this.pos): never {
    const found = at >= this.src.length ? "the end of the query" : JSON.stringify(this.src.slice(at, at + 12));
    throw new SearchQueryError(at, expected, found);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

function keyOf(c: SearchClause): string | undefined {
  return c.field === "metadata" ? c.key : undefined;
}

/** Unix seconds (1-second span) or an ISO date (1-day span) or date-time (1-second span); null if not a time. */
function timeOf(text: string): { at: Date; spanMs: number } | null {
  if (UNIX_SECONDS.test(text)) return { at: new Date(Number(text) * 1000), spanMs: 1000 };
  if (ISO_DATE.test(text)) {
    const at = new Date(`${text}T00:00:00Z`);
    return Number.isNaN(at.getTime()) || at.toISOString().slice(0, 10) !== text ? null : { at, spanMs: 86_400_000 };
  }
  if (ISO_TIME.test(text)) {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? null : { at, spanMs: 1000 };
  }
  return null;
}
