/**
 * The buyer's routes: the public checkout view and the signed, gasless actions (signatures authorise them), and
 * the same payment relayed for a merchant's backend.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { checkoutView, orderByChainId } from "../services/checkout";
import { getOrderOr404 } from "../services/orders";
import { buildIntent, submitBuyerAction, type RelayPolicy } from "../relay/buyerActions";
import type { Domain, SignedBuyerAction } from "../domain/typedData";
import { AppError } from "../domain/errors";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import { merchantOf, noKey, sec } from "./common";
import { limitByIp } from "./rateLimit";
import {
  BuyerActionAccepted,
  BuyerIntent,
  ChainIdParam,
  CheckoutView,
  Domain as DomainSchema,
  GaslessMethod,
  IntentBody,
  SignedAction,
} from "./buyerSchemas";
import * as S from "./schemas";

/** A signed action as the relay checks it: wallets send a domain's chainId as a number or a decimal string. */
function signedAction(body: Static<typeof SignedAction>): SignedBuyerAction {
  const domain = (d: Static<typeof DomainSchema>): Domain => ({
    ...d,
    chainId: String(d.chainId),
  });
  return {
    ...body,
    forwardRequest: body.forwardRequest && { ...body.forwardRequest, domain: domain(body.forwardRequest.domain) },
    permit: body.permit && { ...body.permit, domain: domain(body.permit.domain) },
    authorization: body.authorization && { ...body.authorization, domain: domain(body.authorization.domain) },
  };
}

export function registerCheckoutRoutes(server: FastifyInstance, deps: ServiceDeps, policy?: RelayPolicy): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  app.get(
    "/v1/checkout/:chainOrderId",
    {
      onRequest: limitByIp,
      schema: {
        tags: ["checkout"],
        summary: "What the buyer pays, to whom, the fee and the order's status",
        operationId: "getCheckout",
        security: noKey,
        params: ChainIdParam,
        response: { 200: CheckoutView, ...S.errors(400, 404, 429, 500, 503) },
      },
    },
    async (req) => checkoutView(deps, await orderByChainId(deps, req.params.chainOrderId)),
  );

  app.post(
    "/v1/checkout/:chainOrderId/intents",
    {
      onRequest: limitByIp,
      schema: {
        tags: ["checkout"],
        summary:
          "EIP-712 data the buyer signs to pay (by ERC-3009 authorization or EIP-2612 permit), confirm receipt, dispute, or propose or accept a settlement without gas",
        operationId: "createBuyerIntent",
        security: noKey,
        params: ChainIdParam,
        body: IntentBody,
        response: { 200: BuyerIntent, ...S.errors(400, 404, 409, 413, 415, 422, 429, 500, 503) },
      },
    },
    async (req) => {
      const body = req.body;
      return buildIntent(
        deps,
        await orderByChainId(deps, req.params.chainOrderId),
        body.action,
        body.buyer,
        body.evidence,
        body.buyerTotal,
        body.method,
      );
    },
  );

  app.post(
    "/v1/checkout/:chainOrderId/actions",
    {
      onRequest: limitByIp,
      schema: {
        tags: ["checkout"],
        summary: "Relay a signed buyer action (checked before any gas is spent)",
        operationId: "submitBuyerAction",
        security: noKey,
        headers: S.IdempotencyHeaders,
        params: ChainIdParam,
        body: SignedAction,
        response: {
          202: BuyerActionAccepted,
          ...S.errors(400, 402, 403, 404, 409, 413, 415, 422, 429, 500, 503),
        },
      },
    },
    async (req, reply) => {
      const o = await orderByChainId(deps, req.params.chainOrderId);
      return mutate(db, req, reply, 202, (q) => submitBuyerAction(deps, q, o, signedAction(req.body), policy));
    },
  );

  // The same, for a merchant's backend acting for its buyer's wallet.
  app.post(
    "/v1/orders/:id/payment-intent",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary:
          "EIP-712 data for the buyer to pay without gas: an ERC-3009 authorization, or a permit and forward request",
        operationId: "createPaymentIntent",
        security: sec,
        params: S.OrderNameParam,
        body: Type.Object({ buyer: S.Address, method: Type.Optional(GaslessMethod) }, { additionalProperties: false }),
        response: { 200: BuyerIntent, ...S.errors(400, 401, 403, 404, 409, 413, 415, 422, 500, 503) },
      },
    },
    async (req) =>
      buildIntent(
        deps,
        await getOrderOr404(db, merchantOf(req), req.params.id),
        "pay",
        req.body.buyer,
        undefined,
        undefined,
        req.body.method,
      ),
  );
  app.post(
    "/v1/orders/:id/pay",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Relay the buyer's signed payment",
        operationId: "payOrder",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.OrderNameParam,
        body: SignedAction,
        response: {
          202: BuyerActionAccepted,
          ...S.errors(400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 500, 503),
        },
      },
    },
    async (req, reply) => {
      const o = await getOrderOr404(db, merchantOf(req), req.params.id);
      const body = signedAction(req.body);
      if (body.action !== "pay")
        throw new AppError("validation_failed", 'action must be "pay" on this route', { field: "action" });
      return mutate(db, req, reply, 202, (q) => submitBuyerAction(deps, q, o, body, policy));
    },
  );
}
