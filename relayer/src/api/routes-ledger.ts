/** The double-entry ledger: lines, balances, CSV export and reconciliation against the chain. */
import { Readable } from "node:stream";
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import type { ServiceDeps } from "../services/context";
import { ledgerBalances, ledgerEntries, toCsv, type LedgerFilter } from "../ledger/ledger";
import { reconcile } from "../ledger/reconcile";
import { requireAdmin, requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import { charge } from "./rateLimit";
import * as S from "./schemas";

/** The longest range one CSV export covers: a month of lines, read and sent page by page. */
export const EXPORT_MAX_DAYS = 31;
const DAY_MS = 24 * 3600_000;
/** Ledger lines read per query while an export streams. */
const EXPORT_PAGE = 1000;

export const LedgerQuery = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 42, description: '"native" or the ERC-20 address' })),
    order: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{64}$", description: "A chain order id" })),
    from: Type.Optional(Type.String({ format: "date-time" })),
    to: Type.Optional(Type.String({ format: "date-time" })),
    cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
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

/** The CSV of the ledger lines `filter` selects, in chunks of `pageSize` lines read one query at a time. */
export async function* ledgerCsvChunks(
  q: Queryable,
  filter: Omit<LedgerFilter, "afterId" | "limit">,
  pageSize = EXPORT_PAGE,
): AsyncGenerator<string> {
  let afterId: string | undefined;
  for (let first = true; ; first = false) {
    const rows = await ledgerEntries(q, { ...filter, afterId, limit: pageSize });
    const csv = toCsv(rows);
    // toCsv starts with the header line: sent once.
    if (first) yield csv;
    else if (rows.length > 0) yield csv.slice(csv.indexOf("\n") + 1);
    if (rows.length < pageSize) return;
    afterId = rows[rows.length - 1].id;
  }
}

const yyyymmdd = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, "");

export function registerLedgerRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  app.get(
    "/v1/ledger/entries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Double-entry ledger lines by time range, order and token",
        operationId: "listLedgerEntries",
        security: sec,
        querystring: LedgerQuery,
        response: { 200: S.Page(LedgerEntry), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => {
      const f = req.query;
      const limit = f.limit ?? 200;
      const rows = await ledgerEntries(db, { ...entriesFilter(req, f), afterId: f.cursor, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { data: page, nextCursor: rows.length > limit ? page[page.length - 1].id : null };
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
  app.get(
    "/v1/ledger/export.csv",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "The ledger lines of at most 31 days as CSV (by default the last 31 days), streamed",
        description: `Lines by block time in [from, to). Without from: the ${EXPORT_MAX_DAYS} days up to to (or now); without to: up to the newest line. A range of more than ${EXPORT_MAX_DAYS} days is refused with 400 range_too_large. cursor and limit are not used.`,
        operationId: "exportLedgerCsv",
        security: sec,
        querystring: LedgerQuery,
        response: {
          200: {
            description:
              "id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit; one line per entry. The file name says the range: ledger-<from>-<to>.csv (UTC days)",
            // Sent as a stream of the text, page by page.
            content: { "text/csv": { schema: Type.Unsafe<string | Readable>({ type: "string" }) } },
          },
          ...S.errors(400, 401, 403, 500),
        },
      },
    },
    async (req, reply) => {
      const range = exportRange(req.query);
      const filter = { ...entriesFilter(req, req.query), from: range.from, to: range.to };
      const name = `ledger-${yyyymmdd(range.from)}-${yyyymmdd(range.to ?? new Date())}.csv`;
      reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${name}"`);
      return reply.send(Readable.from(ledgerCsvChunks(db, filter)));
    },
  );
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
