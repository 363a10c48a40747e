/** The double-entry ledger: lines, balances, CSV and JSON-lines exports and reconciliation against the chain. */
import { Readable } from "node:stream";
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";
import type { Db, Queryable } from "../store/db";
import { findLedgerEntries, ledgerEntriesQuery, ledgerLineTime, type LedgerEntryRow } from "../store/ledger";
import type { ServiceDeps } from "../services/context";
import {
  CSV_HEADER,
  csvLines,
  ledgerBalances,
  ledgerEntries,
  ledgerEntryJson,
  type LedgerFilter,
} from "../ledger/ledger";
import { reconcile } from "../ledger/reconcile";
import { requireAdmin, requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import { charge } from "./rateLimit";
import * as S from "./schemas";

/**
 * The longest range one export covers. Memory no longer grows with the range (the lines stream from a
 * server-side cursor), but an export holds a database connection while it streams: a month at a time keeps
 * that bounded.
 */
export const EXPORT_MAX_DAYS = 31;
const DAY_MS = 24 * 3600_000;
/** Ledger lines read per batch from the export's cursor. */
const EXPORT_PAGE = 1000;

export const LedgerQuery = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 42, description: '"native" or the ERC-20 address' })),
    order: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{64}$", description: "A chain order id" })),
    from: Type.Optional(Type.String({ format: "date-time" })),
    to: Type.Optional(Type.String({ format: "date-time" })),
    cursor: Type.Optional(
      Type.String({
        pattern: "^([0-9]{1,19}\\.)?[0-9]{1,19}$",
        description: "The nextCursor of the previous page (a line id alone is also accepted)",
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const LedgerEntry = Type.Object({
  id: Type.String(),
  chainOrderId: Type.String(),
  token: Type.String({ description: "The token's address (the zero address for the chain currency)" }),
  account: Type.String({ description: "escrow, buyers, merchant_payouts or platform_fees" }),
  debit: S.UintString,
  credit: S.UintString,
  blockNumber: Type.Integer(),
  at: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "The block's time" }),
  txHash: Type.String(),
});

export const Balances = Type.Object({
  balances: Type.Record(Type.String(), Type.Record(Type.String(), Type.String()), {
    description: "Per token address, each account's debits minus credits (a decimal string, may be negative)",
  }),
});

const TokenCheck = Type.Object({
  contractBalance: S.UintString,
  openPositions: Type.String(),
  creditedOutstanding: Type.String(),
});
const MerchantCheck = Type.Object({
  ledgerEscrow: Type.String(),
  chainEscrow: Type.String(),
  ledgerPayouts: Type.String(),
  chainPayouts: Type.String(),
  ledgerCredits: Type.String({ description: "The ledger's escrow_credits: payouts the token refused, not withdrawn" }),
  chainCredits: Type.String({ description: "The escrow's credited() of the merchant's address in the token" }),
});
const Difference = Type.Object({
  check: Type.String({ description: "Which equality does not hold" }),
  merchantId: Type.Optional(Type.String()),
  token: Type.String(),
  expected: Type.String(),
  actual: Type.String(),
});
const reconciliationFields = {
  ok: Type.Boolean({ description: "No difference" }),
  checkedAt: Type.String({ format: "date-time" }),
  headBlock: Type.Integer({ description: "Compared at this block: the indexer's checkpoint" }),
  tokens: Type.Record(Type.String(), TokenCheck, { description: "Per token address (lower case)" }),
  differences: Type.Array(Difference),
};
export const MerchantReconciliation = Type.Object({
  ...reconciliationFields,
  ledger: Type.Record(Type.String(), MerchantCheck, { description: "This merchant's, per token address" }),
});
export const Reconciliation = Type.Object({
  ...reconciliationFields,
  merchants: Type.Record(Type.String(), Type.Record(Type.String(), MerchantCheck), {
    description: "Per merchant id, per token address",
  }),
});

/** The ledger's token: "native" is the zero address. */
const tokenParam = (t?: string) => (t === "native" ? "0x0000000000000000000000000000000000000000" : t);

/** The ledger lines a merchant asked for: its own, by token ("native" or an address), order and time range. */
function entriesFilter(req: FastifyRequest, f: Static<typeof LedgerQuery>) {
  return {
    merchantId: merchantOf(req),
    token: tokenParam(f.token),
    orderChainId: f.order,
    from: f.from ? new Date(f.from) : undefined,
    to: f.to ? new Date(f.to) : undefined,
  };
}

/**
 * The range of an export: `from` and `to` as given; without `from`, the 31 days up to `to` (or now); without
 * `to`, no upper bound (lines of the newest blocks are never cut off by the relayer's clock). Refused when it
 * spans more than 31 days up to `to` (or now).
 */
export function exportRange(q: { from?: string; to?: string }, now = Date.now()): { from: Date; to?: Date } {
  const to = q.to ? new Date(q.to) : undefined;
  const end = to?.getTime() ?? now;
  const from = q.from ? new Date(q.from) : new Date(end - EXPORT_MAX_DAYS * DAY_MS);
  if (to && from.getTime() > to.getTime())
    throw new AppError("validation_failed", "from must not be after to", { field: "from" });
  if (end - from.getTime() > EXPORT_MAX_DAYS * DAY_MS)
    throw new AppError(
      "range_too_large",
      `an export covers at most ${EXPORT_MAX_DAYS} days; export longer periods month by month`,
      { maxDays: EXPORT_MAX_DAYS, from: from.toISOString(), to: new Date(end).toISOString() },
    );
  return { from, to };
}

/**
 * The ledger lines `filter` selects, in batches of at most `batchSize`: from a server-side cursor when `q` is the
 * database (one connection, closed and given back when the iteration ends, early or not), else page by page on
 * the (block time, id) keyset.
 */
async function* ledgerLineBatches(
  q: Queryable | Db,
  filter: Omit<LedgerFilter, "after" | "limit">,
  batchSize: number,
): AsyncGenerator<LedgerEntryRow[]> {
  if ("cursor" in q && q.cursor) {
    const { sql, params } = ledgerEntriesQuery(filter);
    yield* q.cursor<LedgerEntryRow>(sql, params, batchSize);
    return;
  }
  for (let after: LedgerFilter["after"]; ;) {
    const rows = await findLedgerEntries(q, { ...filter, after, limit: batchSize });
    if (rows.length > 0) yield rows;
    if (rows.length < batchSize) return;
    const last = rows[rows.length - 1];
    after = { time: Number(last.block_time ?? 0), id: String(last.id) };
  }
}

/** The CSV of the ledger lines `filter` selects, header first, one chunk per batch of `pageSize` lines. */
export async function* ledgerCsvChunks(
  q: Queryable | Db,
  filter: Omit<LedgerFilter, "after" | "limit">,
  pageSize = EXPORT_PAGE,
): AsyncGenerator<string> {
  let head = CSV_HEADER;
  for await (const rows of ledgerLineBatches(q, filter, pageSize)) {
    yield head + csvLines(rows.map(ledgerEntryJson));
    head = "";
  }
  if (head) yield head;
}

/** The JSON lines (one ledger entry object a line) of the ledger lines `filter` selects, one chunk per batch. */
export async function* ledgerJsonLinesChunks(
  q: Queryable | Db,
  filter: Omit<LedgerFilter, "after" | "limit">,
  pageSize = EXPORT_PAGE,
): AsyncGenerator<string> {
  for await (const rows of ledgerLineBatches(q, filter, pageSize)) {
    let out = "";
    for (const r of rows) out += JSON.stringify(ledgerEntryJson(r)) + "\n";
    yield out;
  }
}

/** A page's cursor: the block time and id of its last line. */
const cursorOf = (e: { id: string; at: string | null }) => `${e.at ? Math.floor(Date.parse(e.at) / 1000) : 0}.${e.id}`;

/** Where the page after `cursor` starts; a cursor that is a bare line id is looked up. */
async function afterCursor(q: Queryable, merchantId: string, cursor: string | undefined) {
  if (!cursor) return undefined;
  const [time, id] = cursor.includes(".") ? cursor.split(".") : [undefined, cursor];
  if (time !== undefined) return { time: Number(time), id };
  const t = await ledgerLineTime(q, merchantId, id);
  if (t === undefined)
    throw new AppError("validation_failed", "the cursor names no ledger line of this merchant", { field: "cursor" });
  return { time: t, id };
}

const yyyymmdd = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, "");

/** Streaming exports running at once: per merchant and in this process. */
export const EXPORTS_PER_MERCHANT = 2;
export const EXPORTS_PER_PROCESS = 4;

/** Counts the exports streaming now; `take` throws 429 rate_limited beyond the limits. */
class RunningExports {
  private readonly byMerchant = new Map<string, number>();
  private total = 0;

  take(merchantId: string): () => void {
    const mine = this.byMerchant.get(merchantId) ?? 0;
    if (mine >= EXPORTS_PER_MERCHANT || this.total >= EXPORTS_PER_PROCESS) {
      throw new AppError(
        "rate_limited",
        mine >= EXPORTS_PER_MERCHANT
          ? `${mine} exports of this merchant are streaming; retry once one has finished`
          : "the relayer is streaming as many exports as it serves at once; retry shortly",
        { limitPerMerchant: EXPORTS_PER_MERCHANT, retryAfterSeconds: 5 },
      );
    }
    this.byMerchant.set(merchantId, mine + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byMerchant.get(merchantId) ?? 1) - 1;
      if (left > 0) this.byMerchant.set(merchantId, left);
      else this.byMerchant.delete(merchantId);
    };
  }
}

export function registerLedgerRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  const runningExports = new RunningExports();
  app.get(
    "/v1/ledger/entries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Double-entry ledger lines by time range, order and token",
        description: "In block time order; nextCursor continues after the page's last line.",
        operationId: "listLedgerEntries",
        security: sec,
        querystring: LedgerQuery,
        response: { 200: S.Page(LedgerEntry), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => {
      const f = req.query;
      const limit = f.limit ?? 200;
      const after = await afterCursor(db, merchantOf(req), f.cursor);
      const rows = await ledgerEntries(db, { ...entriesFilter(req, f), after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { data: page, nextCursor: rows.length > limit ? cursorOf(page[page.length - 1]) : null };
    },
  );
  app.get(
    "/v1/ledger/balances",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Balances of the ledger accounts per token",
        operationId: "getLedgerBalances",
        security: sec,
        querystring: Type.Object(
          { token: Type.Optional(Type.String({ maxLength: 42 })) },
          { additionalProperties: false },
        ),
        response: { 200: Balances, ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => ({
      balances: await ledgerBalances(db, merchantOf(req), tokenParam(req.query.token)),
    }),
  );
  const ledgerExports = [
    {
      path: "/v1/ledger/export.csv",
      operationId: "exportLedgerCsv",
      format: "CSV",
      contentType: "text/csv",
      ext: "csv",
      body: "id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit; one line per entry.",
      chunks: ledgerCsvChunks,
    },
    {
      path: "/v1/ledger/export.jsonl",
      operationId: "exportLedgerJsonLines",
      format: "JSON lines",
      contentType: "application/jsonl",
      ext: "jsonl",
      body: "One ledger entry object (as in listLedgerEntries) a line.",
      chunks: ledgerJsonLinesChunks,
    },
  ] as const;
  for (const x of ledgerExports) {
    app.get(
      x.path,
      {
        onRequest: requireMerchant(deps, "read"),
        schema: {
          tags: ["ledger"],
          summary: `The ledger lines of at most ${EXPORT_MAX_DAYS} days as ${x.format} (by default the last ${EXPORT_MAX_DAYS} days), streamed`,
          description: `Lines by block time in [from, to), in block time order. Without from: the ${EXPORT_MAX_DAYS} days up to to (or now); without to: up to the newest line. A range of more than ${EXPORT_MAX_DAYS} days is refused with 400 range_too_large. cursor and limit are not used. The lines stream from a database cursor as the client reads them.`,
          operationId: x.operationId,
          security: sec,
          querystring: LedgerQuery,
          response: {
            200: {
              description: `${x.body} The file name says the range: ledger-<from>-<to>.${x.ext} (UTC days)`,
              // Sent as a stream of the text, a batch of lines at a time.
              content: { [x.contentType]: { schema: Type.Unsafe<string | Readable>({ type: "string" }) } },
            },
            ...S.errors(400, 401, 403, 429, 500),
          },
        },
      },
      async (req, reply) => {
        const range = exportRange(req.query);
        const filter = { ...entriesFilter(req, req.query), from: range.from, to: range.to };
        const name = `ledger-${yyyymmdd(range.from)}-${yyyymmdd(range.to ?? new Date())}.${x.ext}`;
        // Each streaming export holds a database connection while its client reads: a few at a time per merchant
        // and per process, so slow readers cannot take the pool from everyone else.
        const release = runningExports.take(merchantOf(req));
        reply
          .header("content-type", `${x.contentType}; charset=utf-8`)
          .header("content-disposition", `attachment; filename="${name}"`);
        // Backpressure: the next batch is read from the cursor only when the client has taken the previous ones.
        const stream = Readable.from(x.chunks(db, filter), { highWaterMark: 2 });
        stream.once("close", release);
        return reply.send(stream);
      },
    );
  }
  app.get(
    "/v1/ledger/reconciliation",
    {
      // Reconciling reads the chain: a key that moves the merchant's money (refunds, settlements) may ask, not
      // any read key, and a merchant gets a few reports a minute whichever of its keys asks.
      onRequest: [
        requireMerchant(deps, "refunds"),
        async (req) =>
          charge(req.server.rateLimits.reconciliation, merchantOf(req), "for reconciliation reports by this merchant"),
      ],
      schema: {
        tags: ["ledger"],
        summary: "Prove the ledger equals the chain for this merchant (refunds scope; a few reports a minute)",
        operationId: "getReconciliation",
        security: sec,
        response: { 200: MerchantReconciliation, ...S.errors(400, 401, 403, 429, 500, 503) },
      },
    },
    async (req) => {
      const report = await reconcile(deps.chain, db);
      const mine = report.merchants[merchantOf(req)] ?? {};
      const differences = report.differences.filter((d) => !d.merchantId || d.merchantId === merchantOf(req));
      return {
        ok: differences.length === 0,
        checkedAt: report.checkedAt,
        headBlock: report.headBlock,
        tokens: report.tokens,
        ledger: mine,
        differences,
      };
    },
  );
  app.get(
    "/v1/admin/reconciliation",
    {
      onRequest: requireAdmin(deps),
      schema: {
        tags: ["admin"],
        summary: "Prove the ledger equals the chain for every merchant",
        operationId: "getAdminReconciliation",
        security: sec,
        response: { 200: Reconciliation, ...S.errors(400, 401, 403, 500, 503) },
      },
    },
    async () => reconcile(deps.chain, db),
  );
}
