/**
 * The buyer's routes: the public checkout view and the signed, gasless actions (signatures authorise them), and
 * the same payment relayed for a merchant's backend.
 */
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { checkoutView, orderByChainId } from "../services/checkout";
import { getOrderOr404 } from "../services/orders";
import { buildIntent, submitBuyerAction, type RelayPolicy } from "../relay/buyerActions";
import type { BuyerAction, SignedBuyerAction } from "../domain/typedData";
import { AppError } from "../domain/errors";
import { mutate } from "./idempotency";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import { ChainIdParam, IntentBody, SignedAction } from "./buyerSchemas";
import * as S from "./schemas";
import { Type } from "@sinclair/typebox";

export function registerCheckoutRoutes(app: FastifyInstance, deps: ServiceDeps, policy?: RelayPolicy): void {
  const { db } = deps;
  app.get(
    "/v1/checkout/:chainOrderId",
    {
      schema: {
        tags: ["checkout"],
        summary: "What the buyer pays, to whom, the fee and the order's status",
        params: ChainIdParam,
      },
    },
    async (req) =>
      checkoutView(deps, await orderByChainId(deps, (req.params as { chainOrderId: string }).chainOrderId)),
  );

  app.post(
    "/v1/checkout/:chainOrderId/intents",
    {
      schema: {
        tags: ["checkout"],
        summary:
          "EIP-712 data the buyer signs to pay, confirm receipt, dispute, or propose or accept a settlement without gas",
        params: ChainIdParam,
        body: IntentBody,
      },
    },
    async (req) => {
      const body = req.body as { action: BuyerAction; buyer: string; evidence?: string; buyerTotal?: string };
      return buildIntent(
        deps,
        await orderByChainId(deps, (req.params as { chainOrderId: string }).chainOrderId),
        body.action,
        body.buyer,
        body.evidence,
        body.buyerTotal,
      );
    },
  );

  app.post(
    "/v1/checkout/:chainOrderId/actions",
    {
      schema: {
        tags: ["checkout"],
        summary: "Relay a signed buyer action (checked before any gas is spent)",
        params: ChainIdParam,
        body: SignedAction,
      },
    },
    async (req, reply) => {
      const o = await orderByChainId(deps, (req.params as { chainOrderId: string }).chainOrderId);
      return mutate(db, req, reply, 202, (q) => submitBuyerAction(deps, q, o, req.body as SignedBuyerAction, policy));
    },
  );

  // The same, for a merchant's backend acting for its buyer's wallet.
  app.post(
    "/v1/orders/:id/payment-intent",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "EIP-712 permit and forward request for the buyer to pay without gas",
        security: sec,
        params: S.IdParam,
        body: Type.Object({ buyer: S.Address }, { additionalProperties: false }),
      },
    },
    async (req) =>
      buildIntent(
        deps,
        await getOrderOr404(db, merchantOf(req), (req.params as { id: string }).id),
        "pay",
        (req.body as { buyer: string }).buyer,
      ),
  );
  app.post(
    "/v1/orders/:id/pay",
    {
      onRequest: requireMerchant(deps, "orders"),
      schema: {
        tags: ["orders"],
        summary: "Relay the buyer's signed payment",
        security: sec,
        params: S.IdParam,
        body: SignedAction,
      },
    },
    async (req, reply) => {
      const o = await getOrderOr404(db, merchantOf(req), (req.params as { id: string }).id);
      const body = req.body as SignedBuyerAction;
      if (body.action !== "pay")
        throw new AppError("validation_failed", 'action must be "pay" on this route', { field: "action" });
      return mutate(db, req, reply, 202, (q) => submitBuyerAction(deps, q, o, body, policy));
    },
  );
}
