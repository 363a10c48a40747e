/** The audit trail of a merchant's changes. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import { listAudit } from "../store/audit";
import { merchantOf, sec } from "./common";

export const AuditEntry = Type.Object({
  id: Type.String(),
  apiKeyId: Type.Union([Type.String(), Type.Null()], { description: "The key that made the change" }),
  action: Type.String({ description: "e.g. order.created, api_key.revoked" }),
  resourceType: Type.String(),
  resourceId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  at: Type.String({ format: "date-time" }),
});

export function registerAuditRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  // ------------------------------------------------------------------ audit
  app.get(
    "/v1/audit",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["audit"],
        summary: "Who changed what: every change with the key that made it (newest first)",
        operationId: "listAudit",
        security: sec,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(AuditEntry), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => {
      const { limit = 50, cursor } = req.query;
      const rows = await listAudit(db, merchantOf(req), limit + 1, cursor);
      const page = rows.slice(0, limit);
      return {
        data: page.map((r) => ({
          id: String(r.id),
          apiKeyId: r.api_key_id,
          action: r.action,
          resourceType: r.resource_type,
          resourceId: r.resource_id,
          // jsonb not null, only ever written from AuditEntry.details (an object); the store types it unknown.
          details: r.details as Record<string, unknown>,
          at: new Date(r.created_at).toISOString(),
        })),
        nextCursor: rows.length > limit ? String(page[page.length - 1].id) : null,
      };
    },
  );
}
