/** A merchant's identity and API keys: the admin creates merchants and their first keys; merchants manage their staff keys. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { mutate } from "./idempotency";
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
import { gasBudgetView, setGasBudget } from "../services/gasBudget";
import { SCOPES } from "../domain/model";
import { merchantOf, sec } from "./common";

export function registerMerchantsRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
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
        operationId: "createMerchant",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 201: S.Merchant, ...S.errors(400, 401, 403, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => mutate(db, req, reply, 201, (q) => createMerchant(deps, q, req.principal!, req.body.name)),
  );

  app.get(
    "/v1/admin/merchants",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "List merchants",
        operationId: "listMerchants",
        security: sec,
        response: { 200: S.List(S.Merchant), ...S.errors(400, 401, 403, 500) },
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
        operationId: "getMerchant",
        security: sec,
        params: S.IdParam,
        response: { 200: S.Merchant, ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => merchantView(await getMerchantOr404(db, req.params.id)),
  );

  app.get(
    "/v1/admin/merchants/:id/gas-budget",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "A merchant's gas budget and what its commands cost over the last 30 days",
        operationId: "getMerchantGasBudget",
        security: sec,
        params: S.IdParam,
        response: { 200: S.GasBudget, ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => gasBudgetView(deps, db, req.params.id),
  );

  app.put(
    "/v1/admin/merchants/:id/gas-budget",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Set a merchant's gas budget (null: the default); the merchant's audit trail records it",
        description:
          "Every command of the merchant is metered when its transaction is final; once what its commands cost over the last 30 days reaches the budget, its new commands (and its buyers' gasless actions) are refused with 402 gas_budget_exhausted.",
        operationId: "setMerchantGasBudget",
        security: sec,
        params: S.IdParam,
        body: S.GasBudgetChange,
        response: { 200: S.GasBudget, ...S.errors(400, 401, 403, 404, 413, 415, 500) },
      },
    },
    async (req) => db.tx((q) => setGasBudget(deps, q, req.principal!, req.params.id, req.body.budgetWei)),
  );

  app.post(
    "/v1/admin/merchants/:id/keys",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Issue an API key for a merchant (all scopes unless given); the secret is shown once",
        operationId: "issueMerchantKey",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.IdParam,
        body: S.NewKey,
        response: { 201: S.ApiKeyWithSecret, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const body = req.body;
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
        operationId: "revokeMerchantKey",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: Type.Object({ id: Type.String({ maxLength: 128 }), keyId: Type.String({ maxLength: 128 }) }),
        response: { 200: S.ApiKey, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const { id, keyId } = req.params;
      await getMerchantOr404(db, id);
      const out = await mutate(db, req, reply, 200, (q) => revokeKey(q, req.principal!, id, keyId));
      // Committed: this process forgets the key before answering; the others hear it from the database.
      deps.keyCache?.invalidate();
      return out;
    },
  );

  // ------------------------------------------------------------------ the merchant's own
  app.get(
    "/v1/gas-budget",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["gas"],
        summary: "This merchant's gas budget and what its commands cost over the last 30 days",
        operationId: "getGasBudget",
        security: sec,
        response: { 200: S.GasBudget, ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => gasBudgetView(deps, db, merchantOf(req)),
  );

  // ------------------------------------------------------------------ staff keys
  app.get(
    "/v1/keys",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["keys"],
        summary: "List the merchant's API keys",
        operationId: "listKeys",
        security: sec,
        response: { 200: S.List(S.ApiKey), ...S.errors(400, 401, 403, 500) },
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
