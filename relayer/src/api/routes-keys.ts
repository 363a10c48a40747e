/** A merchant's staff keys: listed, issued (with some of the issuing key's scopes) and revoked by the merchant. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { DEFAULT_MAX_API_KEYS, issueKey, listKeys, revokeKey } from "../services/merchants";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import * as S from "./schemas";
import { merchantOf, sec } from "./common";

export function registerKeysRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  app.get(
    "/v1/keys",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "List the merchant's API keys (in creation order, cursor pagination); revoked keys only if asked",
        operationId: "listKeys",
        security: sec,
        querystring: Type.Object(
          {
            ...S.ListPaging,
            include_revoked: Type.Optional(
              Type.Boolean({ description: "Also list the revoked keys (default false: the usable keys only)" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(S.ApiKey), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => {
      const { include_revoked: includeRevoked, ...page } = req.query;
      return listKeys(db, merchantOf(req), { ...page, includeRevoked });
    },
  );

  app.post(
    "/v1/keys",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "Issue a staff key with some of this key's scopes; the secret is shown once",
        operationId: "issueKey",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: S.NewKey,
        response: { 201: S.ApiKeyWithSecret, ...S.errors(400, 401, 403, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      return mutate(db, req, reply, 201, (q) =>
        issueKey(q, req.principal!, {
          merchantId: merchantOf(req),
          role: "merchant",
          name: body.name,
          scopes: body.scopes ?? ["read"],
          maxActiveKeys: deps.config.maxApiKeysPerMerchant ?? DEFAULT_MAX_API_KEYS,
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
        operationId: "revokeKey",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.IdParam,
        response: { 200: S.ApiKey, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const out = await mutate(db, req, reply, 200, (q) =>
        revokeKey(q, req.principal!, merchantOf(req), req.params.id),
      );
      deps.keyCache?.invalidate();
      return out;
    },
  );
}
