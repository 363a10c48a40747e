/** The /v1 routes: thin handlers that parse, call a service and map the result. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ServiceDeps } from "../services/context";
import { idempotencyOf, mutate, replayIfStored } from "./idempotency";
import { AppError } from "../domain/errors";
import { requireAdmin, requireMerchant } from "./auth";
import * as S from "./schemas";
import {
  createMerchant,
  getMerchantOr404,
  issueKey,
  listAllMerchants,
  listKeys,
  merchantView,
  revokeKey,
} from "../services/merchants";
import { adjustStock, createSku, getSkuOr404, listSkusWithStock, skuView, stockOnChain } from "../services/skus";
import {
  acceptSettlement,
  cancelOrder,
  proposeSettlement,
  createOrder,
  getOrderOr404,
  orderDetail,
  refundOrder,
  searchOrders,
  shipOrder,
  type CreateOrderBody,
} from "../services/orders";
import { listAudit } from "../store/audit";
import { getMerchant } from "../store/merchants";
import { SCOPES } from "../domain/model";

const merchantOf = (req: FastifyRequest) => req.principal!.merchantId!;
const sec = [{ bearer: [] }];

/**
 * Authentication and authorisation run as `onRequest` hooks, before the body is read or validated: a caller
 * without a valid key learns nothing about the request schemas (401/403 win over 400/413/415).
 */
export function registerRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;
  const admin = requireAdmin(deps);

  // ------------------------------------------------------------------ admin
  app.post(
    "/v1/admin/merchants",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Create a merchant with a new on-chain identity that authorises the relayer's operators",
        security: sec,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 201: S.Merchant, ...S.errorResponses },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 201, (q) => createMerchant(deps, q, req.principal!, (req.body as { name: string }).name)),
  );

  app.get(
    "/v1/admin/merchants",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "List merchants",
        security: sec,
        response: { 200: Type.Object({ data: Type.Array(S.Merchant) }), ...S.errorResponses },
      },
    },
    async () => ({ data: await listAllMerchants(db) }),
  );

  app.get(
    "/v1/admin/merchants/:id",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Get a merchant",
        security: sec,
        params: S.IdParam,
        response: { 200: S.Merchant, ...S.errorResponses },
      },
    },
    async (req) => merchantView(await getMerchantOr404(db, (req.params as { id: string }).id)),
  );

  app.post(
    "/v1/admin/merchants/:id/keys",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Issue an API key for a merchant (all scopes unless given); the secret is shown once",
        security: sec,
        params: S.IdParam,
        body: S.NewKey,
        response: { 201: S.ApiKeyWithSecret, ...S.errorResponses },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = req.body as { name: string; scopes?: string[] };
      await getMerchantOr404(db, id);
      return mutate(db, req, reply, 201, (q) =>
        issueKey(q, req.principal!, {
          merchantId: id,
          role: "merchant",
          name: body.name,
          scopes: body.scopes ?? [...SCOPES],
        }),
      );
    },
  );

  app.post(
    "/v1/admin/merchants/:id/keys/:keyId/revoke",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Revoke a merchant's API key",
        security: sec,
        params: Type.Object({ id: Type.String({ maxLength: 128 }), keyId: Type.String({ maxLength: 128 }) }),
        response: { 200: S.ApiKey, ...S.errorResponses },
      },
    },
    async (req, reply) => {
      const { id, keyId } = req.params as { id: string; keyId: string };
      await getMerchantOr404(db, id);
      const out = await mutate(db, req, reply, 200, (q) => revokeKey(q, req.principal!, id, keyId));
      // Committed: this process forgets the key before answering; the others hear it from the database.
      deps.keyCache?.invalidate();
      return out;
    },
  );

  // ------------------------------------------------------------------ staff keys
  app.get(
    "/v1/keys",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "List the merchant's API keys",
        security: sec,
        response: { 200: Type.Object({ data: Type.Array(S.ApiKey) }), ...S.errorResponses },
      },
    },
    async (req) => ({ data: await listKeys(db, merchantOf(req)) }),
  );

  app.post(
    "/v1/keys",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "Issue a staff key with some of this key's scopes; the secret is shown once",
        security: sec,
        body: S.NewKey,
        response: { 201: S.ApiKeyWithSecret, ...S.errorResponses },
      },
    },
    async (req, reply) => {
      const body = req.body as { name: string; scopes?: string[] };
      return mutate(db, req, reply, 201, (q) =>
        issueKey(q, req.principal!, {
          merchantId: merchantOf(req),
          role: "merchant",
          name: body.name,
          scopes: body.scopes ?? ["read"],
        }),
      );
    },
  );

  app.post(
    "/v1/keys/:id/revoke",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "Revoke one of the merchant's keys",
        security: sec,
        params: S.IdParam,
        response: { 200: S.ApiKey, ...S.errorResponses },
      },
    },
    async (req, reply) => {
      const out = await mutate(db, req, reply, 200, (q) =>
        revokeKey(q, req.principal!, merchantOf(req), (req.params as { id: string }).id),
      );
      deps.keyCache?.invalidate();
      return out;
    },
  );

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

  // ------------------------------------------------------------------ orders
  app.post(
    "/v1/orders",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Accept an order: stored durably with its chain command before the response",
        security: sec,
        body: S.NewOrder,
        response: { 202: S.Order, ...S.errorResponses },
      },
    },
    async (req, reply) => {
      // One statement stores the order, its command, its audit line and the idempotent response.
      const claim = idempotencyOf(req);
      let order: Awaited<ReturnType<typeof createOrder>>;
      try {
        order = await createOrder(
          deps,
          db,
          req.principal!,
          merchantOf(req),
          req.body as CreateOrderBody,
          claim ? { ...claim, status: 202 } : undefined,
        );
      } catch (err) {
        // A replay answers with the first response even where the request would no longer be accepted.
        // (Also when the check itself failed, e.g. the chain is unreachable: the replay needs no chain.)
        const stored = claim
          ? await replayIfStored(db, req, reply, claim).catch((e: unknown) => {
              if (e instanceof AppError) throw e; // a conflicting replay is answered as such
              return null;
            })
          : null;
        if (stored) return stored.body;
        throw err;
      }
      if (order) {
        reply.code(202);
        return order;
      }
      const stored = await replayIfStored(db, req, reply, claim!);
      if (!stored)
        throw new AppError(
          "idempotency_request_in_progress",
          "the Idempotency-Key was claimed but its response is not stored yet",
          { idempotencyKey: claim!.key },
        );
      return stored.body;
    },
  );

  app.get(
    "/v1/orders",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["orders"],
        summary: "List and search orders (newest first, cursor pagination)",
        security: sec,
        querystring: S.ListOrdersQuery,
        response: { 200: S.Page(S.Order), ...S.errorResponses },
      },
    },
    async (req) => searchOrders(db, merchantOf(req), req.query as never),
  );

  app.get(
    "/v1/orders/:id",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["orders"],
        summary: "Get an order (by id, chain order id or reference) with its chain proof and timeline",
        security: sec,
        params: S.IdParam,
        response: { 200: S.OrderDetail, ...S.errorResponses },
      },
    },
    async (req) => orderDetail(db, await getOrderOr404(db, merchantOf(req), (req.params as { id: string }).id)),
  );

  app.post(
    "/v1/orders/:id/ship",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Mark a paid order shipped",
        security: sec,
        params: S.IdParam,
        body: Type.Object(
          { trackingReference: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errorResponses },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, async (q) =>
        shipOrder(
          q,
          req.principal!,
          await getOrderOr404(q, merchantOf(req), (req.params as { id: string }).id),
          (req.body as { trackingReference: string }).trackingReference,
        ),
      ),
  );

  app.post(
    "/v1/orders/:id/refund",
    {
      onRequest: requireMerchant(deps, "refunds"),
      schema: {
        tags: ["orders"],
        summary: "Refund all (no amount) or part of what is escrowed",
        security: sec,
        params: S.IdParam,
        body: Type.Object(
          { amount: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,77}$" })) },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errorResponses },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, async (q) =>
        refundOrder(
          q,
          req.principal!,
          await getOrderOr404(q, merchantOf(req), (req.params as { id: string }).id),
          (req.body as { amount?: string } | undefined)?.amount,
        ),
      ),
  );

  app.post(
    "/v1/orders/:id/cancel",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Cancel an unpaid order",
        security: sec,
        params: S.IdParam,
        response: { 202: S.OrderAction, ...S.errorResponses },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, async (q) =>
        cancelOrder(q, req.principal!, await getOrderOr404(q, merchantOf(req), (req.params as { id: string }).id)),
      ),
  );

  const SettlementBody = Type.Object(
    {
      buyerTotal: Type.String({
        pattern: "^(0|[1-9][0-9]{0,77})$",
        description:
          "The buyer's share of the whole order, what partial refunds returned included; the rest goes to the payee minus the fee",
      }),
    },
    { additionalProperties: false },
  );
  const settlementRoutes = [
    {
      path: "/v1/orders/:id/settlement/propose",
      summary: "Propose to end the dispute with buyerTotal as the buyer's share; the buyer may accept it",
      act: proposeSettlement,
    },
    {
      path: "/v1/orders/:id/settlement/accept",
      summary: "Accept the buyer's settlement proposal (the same buyerTotal), which ends the dispute",
      act: acceptSettlement,
    },
  ];
  for (const { path, summary, act } of settlementRoutes) {
    app.post(
      path,
      {
        onRequest: requireMerchant(deps, "refunds"),
        schema: {
          tags: ["orders"],
          summary,
          security: sec,
          params: S.IdParam,
          body: SettlementBody,
          response: { 202: S.OrderAction, ...S.errorResponses },
        },
      },
      async (req, reply) =>
        mutate(db, req, reply, 202, async (q) =>
          act(
            q,
            req.principal!,
            await getOrderOr404(q, merchantOf(req), (req.params as { id: string }).id),
            (req.body as { buyerTotal: string }).buyerTotal,
          ),
        ),
    );
  }

  // ------------------------------------------------------------------ audit
  app.get(
    "/v1/audit",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["audit"],
        summary: "Who changed what: every change with the key that made it (newest first)",
        security: sec,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(Type.Record(Type.String(), Type.Unknown())), ...S.errorResponses },
      },
    },
    async (req) => {
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      const rows = await listAudit(db, merchantOf(req), limit + 1, cursor);
      const page = rows.slice(0, limit);
      return {
        data: page.map((r) => ({
          id: String(r.id),
          apiKeyId: r.api_key_id,
          action: r.action,
          resourceType: r.resource_type,
          resourceId: r.resource_id,
          details: r.details,
          at: new Date(r.created_at).toISOString(),
        })),
        nextCursor: rows.length > limit ? String(page[page.length - 1].id) : null,
      };
    },
  );
}
