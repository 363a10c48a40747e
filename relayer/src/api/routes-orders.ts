/** A merchant's orders: acceptance, reads, search and the merchant's actions on them (returns after completion too). */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Queryable } from "../store/db";
import type { ServiceDeps } from "../services/context";
import { idempotencyOf, mutate, replayIfStored } from "./idempotency";
import { AppError } from "../domain/errors";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import {
  cancelOrder,
  createOrder,
  getOrderOr404,
  orderDetail,
  orderView,
  refundOrder,
  shipOrder,
} from "../services/orders";
import { acceptSettlement, proposeSettlement } from "../services/settlements";
import { returnOrder } from "../services/returns";
import { listOrdersPage, searchOrdersPage, updateOrderMetadata } from "../services/orderSearch";
import { withinGasBudget } from "../services/gasBudget";
import { merchantOf, sec } from "./common";

const PermitIn = Type.Object(
  {
    deadline: S.UintIn("uint256"),
    v: Type.Integer({ minimum: 27, maximum: 28 }),
    r: Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" }),
    s: Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" }),
  },
  {
    additionalProperties: false,
    description: "The payout wallet's EIP-2612 permit for the escrow as spender, for at least the amount",
  },
);

export function registerOrdersRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  /**
   * A merchant's action on one of its orders (ship, refund, cancel, settlement, return): idempotent, refused once the
   * merchant's gas budget is spent, on the order the path names.
   */
  const orderAction = <T>(
    req: FastifyRequest & { params: { id: string } },
    reply: FastifyReply,
    act: (q: Queryable, order: Awaited<ReturnType<typeof getOrderOr404>>) => Promise<T>,
  ) =>
    mutate(
      deps.db,
      req,
      reply,
      202,
      withinGasBudget(deps, merchantOf(req), async (q) =>
        act(q, await getOrderOr404(q, merchantOf(req), req.params.id)),
      ),
    );
  const { db } = deps;

  // ------------------------------------------------------------------ orders
  app.post(
    "/v1/orders",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Accept an order: stored durably with its chain command before the response",
        operationId: "createOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: S.NewOrder,
        response: { 202: S.Order, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500, 503) },
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
          req.body,
          claim ? { ...claim, status: 202 } : undefined,
        );
      } catch (err) {
        // A replay answers with the first response even where the request would no longer be accepted.
        // (Also when the check itself failed, e.g. the chain is unreachable: the replay needs no chain.)
        const stored = claim
          ? await replayIfStored<ReturnType<typeof orderView>>(db, req, reply, claim).catch((e: unknown) => {
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
      const stored = await replayIfStored<ReturnType<typeof orderView>>(db, req, reply, claim!);
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
        summary:
          "List orders by filters (reference, statuses, buyer, token, SKU, amount range, transaction, times, metadata[key]=value), sorted, cursor pagination",
        operationId: "listOrders",
        security: sec,
        querystring: S.ListOrdersQuery,
        response: { 200: S.Page(S.Order), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => listOrdersPage(db, merchantOf(req), req.query),
  );

  app.get(
    "/v1/orders/search",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["orders"],
        summary: "Search orders with the query language (status:'paid' AND amount>1000 AND metadata['email']:'a@b.c')",
        operationId: "searchOrders",
        security: sec,
        querystring: S.SearchOrdersQuery,
        response: { 200: S.SearchPage(S.Order), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => searchOrdersPage(db, merchantOf(req), req.query),
  );

  app.patch(
    "/v1/orders/:id",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Update an order's metadata: keys given are set, a key set to an empty string is deleted",
        operationId: "updateOrder",
        security: sec,
        params: S.OrderNameParam,
        body: S.OrderUpdate,
        response: { 200: S.Order, ...S.errors(400, 401, 403, 404, 413, 415, 500) },
      },
    },
    async (req) =>
      db.tx(async (q) =>
        updateOrderMetadata(
          q,
          req.principal!,
          await getOrderOr404(q, merchantOf(req), req.params.id),
          req.body.metadata,
        ),
      ),
  );

  app.get(
    "/v1/orders/:id",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["orders"],
        summary:
          "Get an order (by id, chain order id or reference: the form says which) with its chain proof and timeline",
        operationId: "getOrder",
        security: sec,
        params: S.OrderNameParam,
        response: { 200: S.OrderDetail, ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => orderDetail(db, await getOrderOr404(db, merchantOf(req), req.params.id)),
  );

  app.post(
    "/v1/orders/:id/ship",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Mark a paid order shipped",
        operationId: "shipOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.OrderNameParam,
        body: Type.Object(
          { trackingReference: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      orderAction(req, reply, (q, order) => shipOrder(q, req.principal!, order, req.body.trackingReference)),
  );

  app.post(
    "/v1/orders/:id/refund",
    {
      onRequest: requireMerchant(deps, "refunds"),
      schema: {
        tags: ["orders"],
        summary: "Refund all (no amount) or part of what is escrowed",
        operationId: "refundOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.OrderNameParam,
        body: Type.Object(
          { amount: Type.Optional(S.UintIn("uint256", { pattern: "^[1-9][0-9]{0,77}$" })) },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500) },
      },
    },
    async (req, reply) => orderAction(req, reply, (q, order) => refundOrder(q, req.principal!, order, req.body.amount)),
  );

  app.post(
    "/v1/orders/:id/cancel",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Cancel an unpaid order",
        operationId: "cancelOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.OrderNameParam,
        response: { 202: S.OrderAction, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => orderAction(req, reply, (q, order) => cancelOrder(q, req.principal!, order)),
  );

  const SettlementBody = Type.Object(
    {
      buyerTotal: S.UintIn("uint256", {
        description:
          "The buyer's share of the whole order, what partial refunds returned included; the rest goes to the payee minus the fee",
      }),
    },
    { additionalProperties: false },
  );
  const settlementRoutes = [
    {
      path: "/v1/orders/:id/settlement/propose",
      operationId: "proposeSettlement",
      summary: "Propose to end the dispute with buyerTotal as the buyer's share; the buyer may accept it",
      act: proposeSettlement,
    },
    {
      path: "/v1/orders/:id/settlement/accept",
      operationId: "acceptSettlement",
      summary: "Accept the buyer's settlement proposal (the same buyerTotal), which ends the dispute",
      act: acceptSettlement,
    },
  ];
  for (const { path, operationId, summary, act } of settlementRoutes) {
    app.post(
      path,
      {
        onRequest: requireMerchant(deps, "refunds"),
        schema: {
          tags: ["orders"],
          summary,
          operationId,
          security: sec,
          headers: S.IdempotencyHeaders,
          params: S.OrderNameParam,
          body: SettlementBody,
          response: { 202: S.OrderAction, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500) },
        },
      },
      async (req, reply) => orderAction(req, reply, (q, order) => act(q, req.principal!, order, req.body.buyerTotal)),
    );
  }

  app.post(
    "/v1/orders/:id/return",
    {
      onRequest: requireMerchant(deps, "refunds"),
      schema: {
        tags: ["orders"],
        summary: "Return money to the buyer of a completed order within its refund window, funded by the order's payee",
        operationId: "returnOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.OrderNameParam,
        body: Type.Object(
          {
            amount: S.UintIn("uint256", { pattern: "^[1-9][0-9]{0,77}$" }),
            restock: Type.Optional(
              Type.Union(
                [
                  Type.Boolean({ description: "true: every line item of the order" }),
                  Type.Array(
                    Type.Object(
                      {
                        sku: Type.String({ minLength: 1, maxLength: 64 }),
                        quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
                      },
                      { additionalProperties: false },
                    ),
                    {
                      minItems: 1,
                      maxItems: 100,
                      description: "These SKUs of the order, at most the quantity ordered",
                    },
                  ),
                ],
                { description: "Mint returned goods back into the merchant's stock once the return is on chain" },
              ),
            ),
            permit: Type.Optional(PermitIn),
          },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500, 503) },
      },
    },
    async (req, reply) => orderAction(req, reply, (q, order) => returnOrder(deps, q, req.principal!, order, req.body)),
  );
}
