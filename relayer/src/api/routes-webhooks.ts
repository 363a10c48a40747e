/** A merchant's webhook endpoints and their deliveries. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import {
  createEndpoint,
  disableEndpoint,
  listDeliveries,
  listEndpoints,
  MAX_ACTIVE_ENDPOINTS,
  redeliver,
} from "../services/webhooks";
import { DELIVERY_STATUSES } from "../store/webhooks";
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
  consecutiveFailures: Type.Integer({ description: "Failed attempts in a row; a delivered one resets it" }),
  pausedUntil: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "While the circuit breaker pauses the endpoint (after failures in a row): no attempt before then",
  }),
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
  status: Type.Union(
    DELIVERY_STATUSES.map((s) => Type.Literal(s)),
    { description: "cancelled: the endpoint was disabled before the delivery succeeded" },
  ),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "While pending: when the next attempt is due",
  }),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastResponseBody: Type.Union([Type.String(), Type.Null()], {
    description: "The first 4 KiB of the endpoint's last answer (no more is read)",
  }),
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
        description: `The URL must be https to a public address: loopback, private, link-local (metadata), unique-local, IPv4-mapped, unspecified, multicast and reserved addresses, and names resolving to them, are refused with 400 webhook_url_forbidden (plain http and private addresses are accepted only when the relayer runs against a local chain). A merchant has at most ${MAX_ACTIVE_ENDPOINTS} active endpoints: 409 webhook_endpoint_limit_reached beyond.`,
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
        description: "Its retries stop and its pending deliveries are cancelled (status cancelled in the log).",
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
        description: "Refused with 409 webhook_endpoint_disabled when the delivery's endpoint is disabled.",
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
