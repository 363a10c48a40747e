/** SKUs and their stock, on chain. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import { adjustStock, createSku, getSkuOr404, listSkusWithStock, skuView, stockOnChain } from "../services/skus";
import { getMerchant } from "../store/merchants";
import { merchantOf, sec } from "./common";

export function registerSkusRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;

  // ------------------------------------------------------------------ SKUs and stock
  app.post(
    "/v1/skus",
    {
      onRequest: requireMerchant(deps, "stock"),
      schema: {
        tags: ["stock"],
        summary: "Create a SKU (created on chain asynchronously)",
        security: sec,
        body: S.NewSku,
        response: { 202: S.Sku, ...S.errorResponses },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, (q) => createSku(q, req.principal!, merchantOf(req), req.body as never)),
  );

  app.get(
    "/v1/skus",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["stock"],
        summary: "List SKUs with their stock as the chain has it",
        security: sec,
        response: { 200: Type.Object({ data: Type.Array(S.Sku) }), ...S.errorResponses },
      },
    },
    async (req) => ({ data: await listSkusWithStock(deps, db, merchantOf(req)) }),
  );

  app.get(
    "/v1/skus/:id",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["stock"],
        summary: "Get a SKU with its stock on chain",
        security: sec,
        params: S.IdParam,
        response: { 200: S.Sku, ...S.errorResponses },
      },
    },
    async (req) => {
      const s = await getSkuOr404(db, merchantOf(req), (req.params as { id: string }).id);
      const m = (await getMerchant(db, merchantOf(req)))!;
      return { ...skuView(s), stock: s.status === "created" ? await stockOnChain(deps, m.address, s) : null };
    },
  );

  for (const [path, kind, summary] of [
    ["/v1/skus/:id/stock", "add", "Add stock (minted to the merchant on chain)"],
    ["/v1/skus/:id/write-offs", "write_off", "Write off stock (burned from the merchant on chain)"],
  ] as const) {
    app.post(
      path,
      {
        onRequest: requireMerchant(deps, "stock"),
        schema: {
          tags: ["stock"],
          summary,
          security: sec,
          params: S.IdParam,
          body: S.StockChange,
          response: {
            202: Type.Object({ sku: S.Sku, change: Type.Record(Type.String(), Type.Unknown()) }),
            ...S.errorResponses,
          },
        },
      },
      async (req, reply) =>
        mutate(db, req, reply, 202, (q) =>
          adjustStock(q, req.principal!, merchantOf(req), (req.params as { id: string }).id, {
            kind,
            quantity: (req.body as { quantity: string }).quantity,
          }),
        ),
    );
  }
}
