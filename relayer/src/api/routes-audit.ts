/** The audit trail of a merchant's changes. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import { listAudit } from "../store/audit";
import { merchantOf, sec } from "./common";

export function registerAuditRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;

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
