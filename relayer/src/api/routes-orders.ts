/** A merchant's orders: acceptance, reads, search and the merchant's actions on them. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { idempotencyOf, mutate, replayIfStored } from "./idempotency";
import { AppError } from "../domain/errors";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
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
import { merchantOf, sec } from "./common";

export function registerOrdersRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;

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
}
