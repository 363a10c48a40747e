/** SKUs and their stock, on chain. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import { adjustStock, createSku, getSkuOr404, listSkusWithStock, skuView, stockOnChain } from "../services/skus";
import { withinGasBudget } from "../services/gasBudget";
import { getMerchant } from "../store/merchants";
import { merchantOf, sec } from "./common";

export function registerSkusRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  // ------------------------------------------------------------------ SKUs and stock
  app.post(
    "/v1/skus",
    {
      onRequest: requireMerchant(deps, "stock"),
      schema: {
        tags: ["stock"],
        summary: "Create a SKU (created on chain asynchronously)",
        operationId: "createSku",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: S.NewSku,
        response: { 202: S.Sku, ...S.errors(400, 401, 402, 403, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(
        db,
        req,
        reply,
        202,
        withinGasBudget(deps, merchantOf(req), (q) => createSku(q, req.principal!, merchantOf(req), req.body)),
      ),
  );

  app.get(
    "/v1/skus",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["stock"],
        summary: "List SKUs (in creation order, cursor pagination) with their stock as the chain has it",
        operationId: "listSkus",
        security: sec,
        querystring: Type.Object(
          {
            cursor: Type.Optional(
              Type.String({ pattern: "^[0-9]{1,10}$", description: "The nextCursor of the previous page" }),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "SKUs per page (default 50)" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(S.Sku), ...S.errors(400, 401, 403, 500, 503) },
      },
    },
    async (req) => listSkusWithStock(deps, db, merchantOf(req), req.query),
  );

  app.get(
    "/v1/skus/:id",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["stock"],
        summary: "Get a SKU with its stock on chain",
        operationId: "getSku",
        security: sec,
        params: S.IdParam,
        response: { 200: S.Sku, ...S.errors(400, 401, 403, 404, 500, 503) },
      },
    },
    async (req) => {
      const s = await getSkuOr404(db, merchantOf(req), req.params.id);
      const m = (await getMerchant(db, merchantOf(req)))!;
      return { ...skuView(s), stock: s.status === "created" ? await stockOnChain(deps, m.address, s) : null };
    },
  );

  for (const [path, kind, operationId, summary] of [
    ["/v1/skus/:id/stock", "add", "addStock", "Add stock (minted to the merchant on chain)"],
    ["/v1/skus/:id/write-offs", "write_off", "writeOffStock", "Write off stock (burned from the merchant on chain)"],
  ] as const) {
    app.post(
      path,
      {
        onRequest: requireMerchant(deps, "stock"),
        schema: {
          tags: ["stock"],
          summary,
          operationId,
          security: sec,
          headers: S.IdempotencyHeaders,
          params: S.IdParam,
          body: S.StockChange,
          response: { 202: S.StockChangeAccepted, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 500) },
        },
      },
      async (req, reply) =>
        mutate(
          db,
          req,
          reply,
          202,
          withinGasBudget(deps, merchantOf(req), (q) =>
            adjustStock(q, req.principal!, merchantOf(req), req.params.id, { kind, quantity: req.body.quantity }),
          ),
        ),
    );
  }
}
