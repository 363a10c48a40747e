/**
 * The merchant's money outside the escrow: its payout address (read, change with a delay, cancel) and sweeps of
 * what sits at its custodial address. Returns after completion are an order action (routes-orders.ts).
 */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { withinGasBudget } from "../services/gasBudget";
import { cancelPayoutAddress, getPayoutAddress, requestPayoutAddress, sweepPayouts } from "../services/payouts";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import { mutate } from "./idempotency";
import * as S from "./schemas";

export const PayoutAddress = Type.Object(
  {
    state: Type.Union(
      [Type.Literal("none"), Type.Literal("pending"), Type.Literal("applying"), Type.Literal("active")],
      {
        description:
          "none: revenue stays at the custodial address; pending: a change waits for its delay (cancellable); applying: the change is due and being relayed; active: new orders pay `address`",
      },
    ),
    address: Type.Union([Type.String(), Type.Null()], {
      description: "The payout address the escrow's registry shows (new orders' payee); null: none",
    }),
    activatedAt: Type.Union([Type.String(), Type.Null()]),
    pending: Type.Union([
      Type.Object({
        address: Type.String(),
        dueAt: Type.String({ description: "When the change is applied on chain unless cancelled before" }),
        requestedAt: Type.String(),
        requestedBy: Type.Union([Type.String(), Type.Null()], { description: "The API key that asked for it" }),
      }),
      Type.Null(),
    ]),
    custodialAddress: Type.String({ description: "The merchant's address, whose key the relayer holds" }),
  },
  { description: "The merchant's payout address and its pending change" },
);

export function registerPayoutsRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  app.get(
    "/v1/merchant/payout-address",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["payouts"],
        summary: "The payout address (state none, pending, applying or active) and its pending change",
        operationId: "getPayoutAddress",
        security: sec,
        response: { 200: PayoutAddress, ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => getPayoutAddress(db, merchantOf(req)),
  );

  app.put(
    "/v1/merchant/payout-address",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["payouts"],
        summary:
          "Change the payout address (owner keys only): pending for PAYOUT_CHANGE_DELAY_SECONDS, announced by merchant.payout_address_pending, then applied on chain",
        operationId: "setPayoutAddress",
        security: sec,
        body: Type.Object({ address: S.Address }, { additionalProperties: false }),
        response: { 202: PayoutAddress, ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const out = await db.tx(
        withinGasBudget(deps, merchantOf(req), (q) =>
          requestPayoutAddress(deps, q, req.principal!, merchantOf(req), req.body.address),
        ),
      );
      reply.code(202);
      return out;
    },
  );

  app.delete(
    "/v1/merchant/payout-address/pending",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["payouts"],
        summary: "Cancel the pending payout address change before it is due (owner keys only)",
        operationId: "cancelPayoutAddressChange",
        security: sec,
        response: { 200: PayoutAddress, ...S.errors(400, 401, 403, 404, 409, 500) },
      },
    },
    async (req) => db.tx((q) => cancelPayoutAddress(q, req.principal!, merchantOf(req))),
  );

  app.post(
    "/v1/merchant/sweep",
    {
      onRequest: requireMerchant(deps, "refunds"),
      schema: {
        tags: ["payouts"],
        summary:
          "Move what sits at the custodial address in a token (escrow credits, the token balance) to the payout address",
        operationId: "sweepPayouts",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 42, description: '"native" or an ERC-20 address' }),
          },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({
            token: Type.String(),
            from: Type.String({ description: "The custodial address" }),
            to: Type.String({ description: "The payout address" }),
            credited: S.UintString,
            command: S.CommandRef,
          }),
          ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 500, 503),
        },
      },
    },
    async (req, reply) =>
      mutate(
        db,
        req,
        reply,
        202,
        withinGasBudget(deps, merchantOf(req), (q) =>
          sweepPayouts(deps, q, req.principal!, merchantOf(req), req.body.token),
        ),
      ),
  );
}
