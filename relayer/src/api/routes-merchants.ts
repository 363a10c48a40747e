/**
 * A merchant's identity: the admin creates merchants (with a custodial identity, or the merchant's own address),
 * issues their first keys and sets their gas budgets; an external merchant's wallet signs its operator approvals.
 * Staff keys are in routes-keys.ts.
 */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServiceDeps } from "../services/context";
import { mutate } from "./idempotency";
import { requireAdmin, requireMerchant } from "./auth";
import * as S from "./schemas";
import {
  createMerchant,
  getMerchantOr404,
  issueKey,
  listAllMerchants,
  merchantView,
  revokeKey,
} from "../services/merchants";
import {
  APPROVAL_REQUEST_TTL_S,
  MAX_APPROVAL_GAS,
  operatorApprovals,
  submitOperatorApprovals,
} from "../services/operatorApprovals";
import type { SignedApproval } from "../domain/typedData";
import { gasBudgetView, setGasBudget, withinGasBudget } from "../services/gasBudget";
import { SCOPES } from "../domain/model";
import { merchantOf, sec } from "./common";

const ForwardRequestMessage = Type.Object({
  from: Type.String(),
  to: Type.String(),
  value: S.UintString,
  gas: S.UintString,
  nonce: S.UintString,
  deadline: S.UintString,
  data: Type.String(),
});

const OperatorApprovals = Type.Object(
  {
    merchantId: Type.String(),
    address: S.Address,
    status: Type.String({ description: "pending until the chain shows every approval, then active" }),
    domain: Type.Object(
      {
        name: Type.String(),
        version: Type.String(),
        chainId: Type.String(),
        verifyingContract: Type.String({ description: "The forwarder" }),
      },
      { description: "The forwarder's EIP-712 domain, as the chain reports it (eip712Domain)" },
    ),
    types: Type.Object({
      ForwardRequest: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
    }),
    primaryType: Type.Literal("ForwardRequest"),
    requests: Type.Array(
      Type.Object({
        message: ForwardRequestMessage,
        contract: Type.Union([Type.Literal("escrow"), Type.Literal("inventory")]),
        operator: Type.String({ description: "The relayer signer this request approves" }),
      }),
      {
        description: `One per approval missing on chain, with consecutive forwarder nonces and a deadline ${APPROVAL_REQUEST_TTL_S} s ahead; empty once every approval is on chain`,
      },
    ),
  },
  {
    description:
      "EIP-712 typed data for the merchant's own wallet: each message is signed with eth_signTypedData_v4 (domain, types, message) by the merchant's address. The forwarder verifies ECDSA signatures only: an ERC-1271 contract wallet approves the operators with its own transactions instead, then posts an empty list",
  },
);

const SignedApprovals = Type.Object(
  {
    requests: Type.Array(
      Type.Object(
        {
          from: S.Address,
          to: S.Address,
          value: S.UintIn("uint256"),
          gas: S.UintIn("uint256"),
          nonce: S.UintIn("uint256"),
          deadline: S.UintIn("uint48"),
          data: Type.String({ pattern: "^0x([0-9a-fA-F]{2}){0,4096}$" }),
          signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$", description: "65-byte ECDSA signature" }),
        },
        { additionalProperties: false },
      ),
      {
        maxItems: 64,
        description: `The messages GET operator-approvals returned, each with its signature, in the same order. Gas ${"between"} what was asked and ${MAX_APPROVAL_GAS}; no value`,
      },
    ),
  },
  { additionalProperties: false },
);

const ApprovalsAccepted = Type.Object({ merchant: S.Merchant, command: S.CommandRef });

export function registerMerchantsRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  const admin = requireAdmin(deps);
  const approve = (merchantId: string, req: FastifyRequest, reply: FastifyReply, requests: SignedApproval[]) =>
    mutate(
      db,
      req,
      reply,
      202,
      withinGasBudget(deps, merchantId, (q) => submitOperatorApprovals(deps, q, req.principal!, merchantId, requests)),
    );

  // ------------------------------------------------------------------ admin
  app.post(
    "/v1/admin/merchants",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Create a merchant with a new on-chain identity that authorises the relayer's operators",
        description:
          "Without `address`, the relayer generates a custodial identity and signs its operator approvals itself. With `address`, the merchant's own wallet is its identity (signer external): it signs the approvals (GET then POST /v1/merchant/operator-approvals) and the merchant stays pending until the chain shows them. The address cannot be the zero address, the escrow, the inventory, the forwarder or a relayer signer (400 merchant_address_forbidden), nor another merchant's (409 merchant_address_taken)",
        operationId: "createMerchant",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            address: Type.Optional(
              Type.String({
                pattern: "^0x[0-9a-fA-F]{40}$",
                description:
                  "The merchant's own signing address (checksummed or lower-case): an externally owned account, since the forwarder verifies ECDSA signatures only",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: S.Merchant, ...S.errors(400, 401, 403, 409, 413, 415, 500, 503) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 201, (q) => createMerchant(deps, q, req.principal!, req.body.name, req.body.address)),
  );

  app.get(
    "/v1/admin/merchants",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "List merchants (in creation order, cursor pagination)",
        operationId: "listMerchants",
        security: sec,
        querystring: Type.Object(S.ListPaging, { additionalProperties: false }),
        response: { 200: S.Page(S.Merchant), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => listAllMerchants(db, req.query),
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
    "/v1/admin/merchants/:id/operator-approvals",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "The typed data an external merchant's wallet signs to approve the relayer's operators",
        operationId: "getMerchantOperatorApprovals",
        security: sec,
        params: S.IdParam,
        response: { 200: OperatorApprovals, ...S.errors(400, 401, 403, 404, 409, 500, 503) },
      },
    },
    async (req) => operatorApprovals(deps, db, req.principal!, req.params.id),
  );

  app.post(
    "/v1/admin/merchants/:id/operator-approvals",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Relay an external merchant's signed operator approvals (checked before any gas is spent)",
        operationId: "submitMerchantOperatorApprovals",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.IdParam,
        body: SignedApprovals,
        response: { 202: ApprovalsAccepted, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500, 503) },
      },
    },
    async (req, reply) => approve(req.params.id, req, reply, req.body.requests),
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
          // The admin is not held to the cap: a merchant whose staff filled it still gets a rescue key.
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

  app.get(
    "/v1/merchant/operator-approvals",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["merchants"],
        summary:
          "The typed data this merchant's own wallet signs to approve the relayer's operators (owner keys, external merchants)",
        operationId: "getOperatorApprovals",
        security: sec,
        response: { 200: OperatorApprovals, ...S.errors(400, 401, 403, 404, 409, 500, 503) },
      },
    },
    async (req) => operatorApprovals(deps, db, req.principal!, merchantOf(req)),
  );

  app.post(
    "/v1/merchant/operator-approvals",
    {
      onRequest: requireMerchant(deps, "keys"),
      schema: {
        tags: ["merchants"],
        summary: "Relay the operator approvals this merchant's wallet signed (owner keys, external merchants)",
        description:
          "Each request must be what GET /v1/merchant/operator-approvals returns now, signed by the merchant's address: refused before any gas is spent otherwise (400 wrong_signer, signature_invalid, signature_mismatch, signature_expired; 409 signature_replayed for a spent nonce; 422 unprocessable when the forwarder would refuse the batch). Accepted, the batch is relayed (merchant_setup) and the merchant turns active once the chain shows every approval",
        operationId: "submitOperatorApprovals",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: SignedApprovals,
        response: { 202: ApprovalsAccepted, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500, 503) },
      },
    },
    async (req, reply) => approve(merchantOf(req), req, reply, req.body.requests),
  );
}
