/** The double-entry ledger: lines, balances, CSV export and reconciliation against the chain. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ServiceDeps } from "../services/context";
import { ledgerBalances, ledgerEntries, toCsv } from "../ledger/ledger";
import { reconcile } from "../ledger/reconcile";
import { requireAdmin, requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";

/** The ledger query's filter fields. */
interface LedgerFilter {
  token?: string;
  order?: string;
  from?: string;
  to?: string;
}

export function registerLedgerRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;
  const LedgerQuery = Type.Object(
    {
      token: Type.Optional(Type.String({ maxLength: 42 })),
      order: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" })),
      from: Type.Optional(Type.String({ format: "date-time" })),
      to: Type.Optional(Type.String({ format: "date-time" })),
      cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    { additionalProperties: false },
  );
  const tokenParam = (t?: string) => (t === "native" ? "0x0000000000000000000000000000000000000000" : t);
  /** The ledger lines a merchant asked for: its own, by token ("native" or an address), order and time range. */
  const entriesFilter = (req: FastifyRequest, f: LedgerFilter) => ({
    merchantId: merchantOf(req),
    token: tokenParam(f.token),
    orderChainId: f.order,
    from: f.from ? new Date(f.from) : undefined,
    to: f.to ? new Date(f.to) : undefined,
  });
  app.get(
    "/v1/ledger/entries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Double-entry ledger lines by time range, order and token",
        security: sec,
        querystring: LedgerQuery,
      },
    },
    async (req) => {
      const f = req.query as LedgerFilter & { cursor?: string; limit?: number };
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
        security: sec,
        querystring: Type.Object(
          { token: Type.Optional(Type.String({ maxLength: 42 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      balances: await ledgerBalances(db, merchantOf(req), tokenParam((req.query as { token?: string }).token)),
    }),
  );
  app.get(
    "/v1/ledger/export.csv",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: { tags: ["ledger"], summary: "The ledger lines as CSV", security: sec, querystring: LedgerQuery },
    },
    async (req, reply) => {
      const rows = await ledgerEntries(db, entriesFilter(req, req.query as LedgerFilter));
      reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="ledger.csv"');
      return toCsv(rows);
    },
  );
  app.get(
    "/v1/ledger/reconciliation",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: { tags: ["ledger"], summary: "Prove the ledger equals the chain for this merchant", security: sec },
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
      schema: { tags: ["admin"], summary: "Prove the ledger equals the chain for every merchant", security: sec },
    },
    async () => reconcile(deps.chain, db),
  );
}
