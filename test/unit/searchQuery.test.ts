/** The order search language (relayer/src/domain/searchQuery.ts) and its SQL (store/orderSearch.ts), without a database. */
import { expect } from "chai";
import fc from "fast-check";
import {
  MAX_CLAUSES,
  MAX_QUERY_LENGTH,
  parseSearchQuery,
  SearchQueryError,
  type SearchQuery,
} from "../../relayer/src/domain/searchQuery";
import { likePrefix, searchSql } from "../../relayer/src/store/orderSearch";

const ADDR = "0x00000000000000000000000000000000000000Ab";
const TX = `0x${"Cd".repeat(32)}`;

/** The error a query fails with: its position and what was expected there. */
function failure(query: string): { position: number; expected: string } {
  try {
    parseSearchQuery(query);
  } catch (err) {
    expect(err).to.be.instanceOf(SearchQueryError);
    const e = err as SearchQueryError;
    return { position: e.position, expected: e.expected };
  }
  throw new Error(`query parsed: ${query}`);
}

const sql = (query: SearchQuery) =>
  searchSql({ merchantId: "mer_1", query, sort: "created_at", direction: "desc", limit: 10 });

describe("order search language (unit): parsing", function () {
  it("parses every field with the equality operator, values normalised", function () {
    const q = parseSearchQuery(
      `status:'paid' AND reference:"INV-1" AND buyer:'${ADDR}' AND token:native AND sku:'sku_1' AND tx:'${TX}' AND metadata['email']:'a@b.c'`,
    );
    expect(q.groups).to.deep.equal([
      [{ negated: false, field: "status", value: "paid" }],
      [{ negated: false, field: "reference", value: "INV-1", prefix: false }],
      [{ negated: false, field: "buyer", value: ADDR.toLowerCase() }],
      [{ negated: false, field: "token", value: "0x0000000000000000000000000000000000000000" }],
      [{ negated: false, field: "sku", value: "sku_1" }],
      [{ negated: false, field: "tx", value: TX.toLowerCase() }],
      [{ negated: false, field: "metadata", key: "email", value: "a@b.c" }],
    ]);
  });

  it("parses every comparison on amount, created and updated (unix seconds and ISO dates)", function () {
    const q = parseSearchQuery(
      "amount>1000 AND amount<2000 AND amount>=1 AND amount<=5 AND amount:7 AND created>1700000000 AND updated<=2024-01-31 AND created<2024-01-31T12:00:00Z",
    );
    expect(q.groups.map((g) => g[0])).to.deep.equal([
      { negated: false, field: "amount", op: ">", value: "1000" },
      { negated: false, field: "amount", op: "<", value: "2000" },
      { negated: false, field: "amount", op: ">=", value: "1" },
      { negated: false, field: "amount", op: "<=", value: "5" },
      { negated: false, field: "amount", op: ":", value: "7" },
      { negated: false, field: "created", op: ">", value: "2023-11-14T22:13:20.000Z" },
      { negated: false, field: "updated", op: "<=", value: "2024-01-31T00:00:00.000Z" },
      { negated: false, field: "created", op: "<", value: "2024-01-31T12:00:00.000Z" },
    ]);
  });

  it("reads created:<day> as that UTC day and created:<unix seconds> as that second", function () {
    expect(parseSearchQuery("created:2024-02-29").groups[0][0]).to.deep.include({
      value: "2024-02-29T00:00:00.000Z",
      until: "2024-03-01T00:00:00.000Z",
    });
    expect(parseSearchQuery("updated:1700000000").groups[0][0]).to.deep.include({
      value: "2023-11-14T22:13:20.000Z",
      until: "2023-11-14T22:13:21.000Z",
    });
  });

  it("negates a clause with a leading -", function () {
    expect(parseSearchQuery("-status:'paid' AND -metadata['k']:'v'").groups).to.deep.equal([
      [{ negated: true, field: "status", value: "paid" }],
      [{ negated: true, field: "metadata", key: "k", value: "v" }],
    ]);
  });

  it("reads a trailing * of a reference as a prefix, and an escaped \\* as a literal star that no reference has", function () {
    expect(parseSearchQuery("reference:'INV-2024-*'").groups[0][0]).to.deep.equal({
      negated: false,
      field: "reference",
      value: "INV-2024-",
      prefix: true,
    });
    expect(parseSearchQuery("reference:INV*").groups[0][0]).to.deep.include({ value: "INV", prefix: true });
    expect(failure("reference:'INV\\*'")).to.deep.equal({
      position: 10,
      expected: "a reference of 1 to 128 letters, digits or ._:/#- (a trailing * for a prefix)",
    });
  });

  it("unescapes \\\\, \\' and \\\" inside single and double quotes", function () {
    const q = parseSearchQuery(`metadata['it\\'s']:'a\\\\b' AND metadata["q\\"k"]:"say \\"hi\\" 'there'"`);
    expect(q.groups).to.deep.equal([
      [{ negated: false, field: "metadata", key: "it's", value: "a\\b" }],
      [{ negated: false, field: "metadata", key: 'q"k', value: `say "hi" 'there'` }],
    ]);
  });

  it("gives OR precedence over AND: (paid or shipped) and amount > 10", function () {
    const q = parseSearchQuery("status:'paid' OR status:'shipped' AND amount>10 AND amount<20 OR amount>100");
    expect(q.groups).to.deep.equal([
      [
        { negated: false, field: "status", value: "paid" },
        { negated: false, field: "status", value: "shipped" },
      ],
      [{ negated: false, field: "amount", op: ">", value: "10" }],
      [
        { negated: false, field: "amount", op: "<", value: "20" },
        { negated: false, field: "amount", op: ">", value: "100" },
      ],
    ]);
  });

  it("allows OR across clauses of one metadata key, and surrounding spaces, tabs and newlines", function () {
    const q = parseSearchQuery("  metadata['k']:'a'\tOR\nmetadata['k']:'b'  ");
    expect(q.groups).to.have.length(1);
    expect(q.groups[0].map((c) => c.value)).to.deep.equal(["a", "b"]);
  });

  it("takes MAX_CLAUSES clauses and MAX_QUERY_LENGTH characters", function () {
    const ten = Array.from({ length: MAX_CLAUSES }, (_, i) => `amount>${i}`).join(" AND ");
    expect(parseSearchQuery(ten).groups).to.have.length(MAX_CLAUSES);
    const long = `metadata['k']:'${"x".repeat(490)}' AND metadata['j']:'${"y".repeat(MAX_QUERY_LENGTH - 527)}'`;
    expect(long).to.have.length(MAX_QUERY_LENGTH);
    expect(parseSearchQuery(long).groups).to.have.length(2);
  });
});

describe("order search language (unit): every error has its position and what was expected", function () {
  const cases: [string, string, number, string][] = [
    [
      "an empty query",
      "",
      0,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    [
      "an unknown field",
      "colour:'red'",
      0,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    [
      "an unknown field after AND",
      "amount>1 AND email:'x'",
      13,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    [
      "a field in capitals",
      "STATUS:'paid'",
      0,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    ["a missing operator", "status 'paid'", 6, "the operator :"],
    ["a missing operator on a number", "amount=5", 6, "an operator: :, >, <, >= or <="],
    ["a comparison on a text field", "status>'paid'", 6, "the operator : (status compares by equality only)"],
    ["a comparison on metadata", "metadata['k']>'1'", 13, "the operator : (metadata['k'] compares by equality only)"],
    ["a missing value", "status:", 7, "a value: quoted ('...' or \"...\") or bare letters and digits"],
    ["an unterminated string", "status:'paid", 12, "the closing '"],
    ["an unknown escape", "metadata['k']:'a\\nb'", 16, "an escape: \\\\, \\', \\\" or \\*"],
    [
      "an unknown status",
      "status:'lost'",
      7,
      "a status: pending, created, paid, shipped, completed, cancelled, refunded, disputed, resolved, failed",
    ],
    ["a negative amount", "amount>-1", 7, "an amount: an unsigned integer in base units (at most a uint256)"],
    ["a decimal amount", "amount>1.5", 7, "an amount: an unsigned integer in base units (at most a uint256)"],
    [
      "an amount above a uint256",
      `amount>${2n ** 256n}`,
      7,
      "an amount: an unsigned integer in base units (at most a uint256)",
    ],
    [
      "a date that does not exist",
      "created>2023-02-29",
      8,
      "unix seconds or an ISO date (2024-01-31 or 2024-01-31T12:00:00Z)",
    ],
    [
      "a time without a zone",
      "created>2024-01-31T12:00:00",
      8,
      "unix seconds or an ISO date (2024-01-31 or 2024-01-31T12:00:00Z)",
    ],
    ["a buyer that is not an address", "buyer:'0x12'", 6, "a 0x address of 40 hex digits"],
    ["a token that is not an address", "token:'usd'", 6, '"native" or a 0x address of 40 hex digits'],
    ["a short transaction hash", "tx:'0xabc'", 3, "a transaction hash: 0x and 64 hex digits"],
    [
      "a reference with a space",
      "reference:'a b'",
      10,
      "a reference of 1 to 128 letters, digits or ._:/#- (a trailing * for a prefix)",
    ],
    [
      "a bare star as a reference",
      "reference:*",
      10,
      "a reference of 1 to 128 letters, digits or ._:/#- (a trailing * for a prefix)",
    ],
    ["metadata without a key", "metadata:'x'", 8, "[ after metadata"],
    ["an unquoted metadata key", "metadata[k]:'x'", 9, "a quoted metadata key, e.g. metadata['email']"],
    ["an unclosed metadata key", "metadata['k':'x'", 12, "] after the metadata key"],
    ["an empty metadata key", "metadata['']:'x'", 9, "a metadata key of 1 to 40 characters"],
    ["a metadata key of 41 characters", `metadata['${"k".repeat(41)}']:'x'`, 9, "a metadata key of 1 to 40 characters"],
    ["an empty metadata value", "metadata['k']:''", 14, "a metadata value of 1 to 500 characters"],
    [
      "a metadata value of 501 characters",
      `metadata['k']:'${"v".repeat(501)}'`,
      14,
      "a metadata value of 1 to 500 characters",
    ],
    [
      "OR across two fields",
      "status:'paid' OR amount>5",
      17,
      "a clause on status (OR joins clauses of the same field; use AND across fields)",
    ],
    [
      "OR across two metadata keys",
      "metadata['a']:'1' OR metadata['b']:'1'",
      21,
      "a clause on metadata['a'] (OR joins clauses of the same field; use AND across fields)",
    ],
    [
      "AND and OR mixed across fields",
      "amount>1 AND status:'paid' OR amount>2",
      30,
      "a clause on status (OR joins clauses of the same field; use AND across fields)",
    ],
    ["two clauses without AND", "status:'paid' amount>5", 14, "AND, OR or the end of the query"],
    ["a lower-case and", "status:'paid' and amount>5", 14, "AND, OR or the end of the query"],
    ["a dangling AND", "status:'paid' AND", 17, "a space and a clause after AND"],
    ["AND glued to a clause", "status:'paid' ANDamount>5", 17, "a space and a clause after AND"],
    ["a clause glued to a string", "status:'paid'AND amount>5", 13, "a space, then AND, OR or the end of the query"],
    [
      "parentheses",
      "(status:'paid')",
      0,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    [
      "a double negation",
      "--status:'paid'",
      1,
      "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
    ],
    [
      "one clause too many",
      Array.from({ length: MAX_CLAUSES + 1 }, (_, i) => `amount>${i}`).join(" AND "),
      130,
      `at most ${MAX_CLAUSES} clauses`,
    ],
    [
      "a query too long",
      `metadata['k']:'${"x".repeat(MAX_QUERY_LENGTH)}'`,
      MAX_QUERY_LENGTH,
      `a query of at most ${MAX_QUERY_LENGTH} characters`,
    ],
  ];
  for (const [what, query, position, expected] of cases) {
    it(`refuses ${what} at position ${position}`, function () {
      expect(failure(query)).to.deep.equal({ position, expected });
    });
  }

  it("says where the error is and what it found in its message", function () {
    try {
      parseSearchQuery("status:'lost'");
      expect.fail("parsed");
    } catch (err) {
      expect((err as Error).message).to.equal(
        `invalid query at position 7: expected a status: pending, created, paid, shipped, completed, cancelled, refunded, disputed, resolved, failed, found "'lost'"`,
      );
    }
  });
});

describe("order search language (unit): an attacker's query never reaches the SQL text", function () {
  it("refuses the SQL-style doubled quote reference:'x'' OR 1=1 --' at the second string", function () {
    expect(failure("reference:'x'' OR 1=1 --'")).to.deep.equal({
      position: 13,
      expected: "a space, then AND, OR or the end of the query",
    });
  });

  it("keeps an attacker's metadata key and value as parameters: the SQL text holds neither", function () {
    const key = "k'); drop table orders; --";
    const value = "x' or '1'='1";
    const q = parseSearchQuery(`metadata['k\\'); drop table orders; --']:"${value}"`);
    const { text, values } = sql(q);
    expect(text).to.not.include("drop table");
    expect(text).to.not.include(value);
    // Metadata is matched on its own rows (order_metadata): the key and the value are each a parameter.
    expect(values).to.include(key);
    expect(values).to.include(value);
  });

  it("escapes LIKE wildcards of a reference prefix, so % and _ match only themselves", function () {
    expect(likePrefix("a%b_c\\")).to.equal("a\\%b\\_c\\\\%");
  });

  it("compiles every field to a fixed column and every value to a parameter", function () {
    const q = parseSearchQuery(
      `status:'paid' OR status:'shipped' AND -reference:'INV-*' AND buyer:'${ADDR}' AND token:native AND sku:s1 AND tx:'${TX}' AND amount>=5 AND created:2024-01-01 AND metadata['e']:'v'`,
    );
    const { text, values } = sql(q);
    expect(values).to.deep.equal([
      "mer_1",
      "paid",
      "shipped",
      "INV-%",
      ADDR.toLowerCase(),
      "0x0000000000000000000000000000000000000000",
      TX.toLowerCase(),
      "5",
      "2024-01-01T00:00:00.000Z",
      "2024-01-02T00:00:00.000Z",
      "e",
      "v",
      "s1",
      10,
    ]);
    expect(text).to.match(/^select o\.\*, i\.created_at::text as sort_key from order_items i join orders o/);
    expect(text).to.include("(o.status = $2 or o.status = $3)");
    expect(text).to.include("not coalesce(o.reference like $4, false)");
    expect(text.match(/\$\d+/g)!.length).to.be.greaterThanOrEqual(values.length);
  });

  it("throws nothing but a SearchQueryError, with a position inside the query, for any input (property)", function () {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc
            .array(
              fc.constantFrom(
                "status",
                ":",
                "'paid'",
                " AND ",
                " OR ",
                "-",
                "amount",
                ">",
                "1",
                "metadata",
                "['k']",
                "\\",
                '"',
                "*",
              ),
              { maxLength: 12 },
            )
            .map((parts) => parts.join("")),
        ),
        (input) => {
          try {
            parseSearchQuery(input);
          } catch (err) {
            if (!(err instanceof SearchQueryError)) throw err;
            expect(err.position).to.be.within(0, input.length);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
