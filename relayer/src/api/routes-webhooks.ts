/** A merchant's webhook endpoints and their deliveries. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { createEndpoint, disableEndpoint, listDeliveries, listEndpoints, redeliver } from "../services/webhooks";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import * as S from "./schemas";

export function registerWebhookRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;
  const keysScope = requireMerchant(deps, "keys");
  app.post(
    "/v1/webhooks",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Register an endpoint; the signing secret is shown once",
        security: sec,
        body: Type.Object(
          {
            url: Type.String({ minLength: 8, maxLength: 2048 }),
            events: Type.Optional(
              Type.Array(Type.String({ maxLength: 64 }), { maxItems: WEBHOOK_EVENT_TYPES.length + 1 }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 201, (q) =>
        createEndpoint(deps, q, req.principal!, merchantOf(req), req.body as { url: string; events?: string[] }),
      ),
  );
  app.get(
    "/v1/webhooks",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: { tags: ["webhooks"], summary: "List endpoints", security: sec },
    },
    async (req) => ({
      data: await listEndpoints(db, merchantOf(req)),
    }),
  );
  app.post(
    "/v1/webhooks/:id/disable",
    {
      onRequest: keysScope,
      schema: { tags: ["webhooks"], summary: "Stop sending to an endpoint", security: sec, params: S.IdParam },
    },
    async (req, reply) =>
      mutate(db, req, reply, 200, (q) =>
        disableEndpoint(q, req.principal!, merchantOf(req), (req.params as { id: string }).id),
      ),
  );
  app.get(
    "/v1/webhooks/:id/deliveries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["webhooks"],
        summary: "The endpoint's delivery log (newest first)",
        security: sec,
        params: S.IdParam,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      return listDeliveries(db, merchantOf(req), (req.params as { id: string }).id, limit, cursor);
    },
  );
  app.post(
    "/v1/webhooks/deliveries/:id/redeliver",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Send an event again",
        security: sec,
        params: Type.Object({ id: Type.String({ pattern: "^[0-9]{1,19}$" }) }),
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, (q) =>
        redeliver(q, req.principal!, merchantOf(req), (req.params as { id: string }).id),
      ),
  );
}
