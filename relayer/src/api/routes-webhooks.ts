/** A merchant's webhook endpoints and their deliveries. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { createEndpoint, disableEndpoint, listDeliveries, listEndpoints, redeliver } from "../services/webhooks";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import * as S from "./schemas";

export const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String(), { description: 'The event types sent, or ["*"] for all' }),
  createdAt: Type.String({ format: "date-time" }),
  disabledAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

export const EndpointWithSecret = Type.Composite([
  Endpoint,
  Type.Object({ secret: Type.String({ description: "Signs every delivery (orderchain-signature); shown once" }) }),
]);

export const Delivery = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  type: Type.String({ description: "The event type, e.g. order.paid" }),
  sequence: Type.Integer({ description: "The event's number within its order" }),
  orderId: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "While pending: when the next attempt is due",
  }),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  deliveredAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }),
});

export const Redelivery = Type.Object({
  id: Type.String({ description: "The new delivery" }),
  eventId: Type.String(),
  status: Type.String(),
});

export function registerWebhookRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  const keysScope = requireMerchant(deps, "keys");
  app.post(
    "/v1/webhooks",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Register an endpoint; the signing secret is shown once",
        operationId: "createWebhookEndpoint",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: Type.Object(
          {
            url: Type.String({ minLength: 8, maxLength: 2048 }),
            events: Type.Optional(
              Type.Array(Type.String({ maxLength: 64 }), { maxItems: WEBHOOK_EVENT_TYPES.length + 1 }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: EndpointWithSecret, ...S.errors(400, 401, 403, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 201, (q) => createEndpoint(deps, q, req.principal!, merchantOf(req), req.body)),
  );
  app.get(
    "/v1/webhooks",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["webhooks"],
        summary: "List endpoints",
        operationId: "listWebhookEndpoints",
        security: sec,
        response: { 200: S.List(Endpoint), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => ({
      data: await listEndpoints(db, merchantOf(req)),
    }),
  );
  app.post(
    "/v1/webhooks/:id/disable",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Stop sending to an endpoint",
        operationId: "disableWebhookEndpoint",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.IdParam,
        response: { 200: Endpoint, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 200, (q) => disableEndpoint(q, req.principal!, merchantOf(req), req.params.id)),
  );
  app.get(
    "/v1/webhooks/:id/deliveries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["webhooks"],
        summary: "The endpoint's delivery log (newest first)",
        operationId: "listWebhookDeliveries",
        security: sec,
        params: S.IdParam,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(Delivery), ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => {
      const { limit = 50, cursor } = req.query;
      return listDeliveries(db, merchantOf(req), req.params.id, limit, cursor);
    },
  );
  app.post(
    "/v1/webhooks/deliveries/:id/redeliver",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Send an event again",
        operationId: "redeliverWebhook",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: Type.Object({ id: Type.String({ pattern: "^[0-9]{1,19}$" }) }),
        response: { 202: Redelivery, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, (q) => redeliver(q, req.principal!, merchantOf(req), req.params.id)),
  );
}
