/** Routes for gasless buyer actions, disputes, webhooks and the ledger. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ServiceDeps } from "../services/context";
import { AppError } from "../domain/errors";
import { assertAllowed } from "../domain/order";
import { mutate } from "./idempotency";
import { requireAdmin, requireArbiter, requireMerchant } from "./auth";
import * as S from "./schemas";
import { getOrderOr404, orderView } from "../services/orders";
import { buildIntent, submitBuyerAction, type RelayPolicy } from "../relay/buyerActions";
import type { BuyerAction, SignedBuyerAction } from "../domain/typedData";
import { createEndpoint, disableEndpoint, listDeliveries, listEndpoints, redeliver } from "../services/webhooks";
import { ledgerBalances, ledgerEntries, toCsv } from "../ledger/ledger";
import { reconcile } from "../ledger/reconcile";
import { enqueueCommand } from "../store/commands";
import { recordAudit } from "../store/audit";
import type { OrderRow } from "../store/orders";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";

const sec = [{ bearer: [] }];
const merchantOf = (req: FastifyRequest) => req.principal!.merchantId!;
const Action = Type.Union([
  Type.Literal("pay"),
  Type.Literal("confirm"),
  Type.Literal("dispute"),
  Type.Literal("propose_settlement"),
  Type.Literal("accept_settlement"),
]);
const Hex = Type.String({ pattern: "^0x[0-9a-fA-F]*$", maxLength: 20_000 });
const Domain = Type.Object({
  name: Type.String({ maxLength: 100 }),
  version: Type.String({ maxLength: 20 }),
  chainId: Type.Union([Type.String({ pattern: "^[0-9]{1,20}$" }), Type.Integer({ minimum: 0 })]),
  verifyingContract: S.Address,
});
const NumStr = Type.String({ pattern: "^[0-9]{1,78}$" });
const BuyerTotal = Type.Optional(
  Type.String({
    pattern: "^(0|[1-9][0-9]{0,77})$",
    description:
      "propose_settlement / accept_settlement: the buyer's share of the whole order, partial refunds included",
  }),
);
const SignedAction = Type.Object(
  {
    action: Action,
    buyer: S.Address,
    evidence: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    buyerTotal: BuyerTotal,
    permit: Type.Optional(
      Type.Object({
        domain: Domain,
        message: Type.Object(
          { owner: S.Address, spender: S.Address, value: NumStr, nonce: NumStr, deadline: NumStr },
          { additionalProperties: false },
        ),
        signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
      }),
    ),
    forwardRequest: Type.Object({
      domain: Domain,
      message: Type.Object(
        { from: S.Address, to: S.Address, value: NumStr, gas: NumStr, nonce: NumStr, deadline: NumStr, data: Hex },
        { additionalProperties: false },
      ),
      signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
    }),
  },
  { additionalProperties: false },
);
const IntentBody = Type.Object(
  {
    action: Action,
    buyer: S.Address,
    evidence: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    buyerTotal: BuyerTotal,
  },
  { additionalProperties: false },
);
const ChainIdParam = Type.Object({ chainOrderId: Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" }) });

async function orderByChainId(deps: ServiceDeps, chainOrderId: string): Promise<OrderRow> {
  const r = await deps.db.query<OrderRow>(`select * from orders where chain_order_id = lower($1)`, [chainOrderId]);
  if (!r.rows[0]) throw new AppError("not_found", `order ${chainOrderId} not found`, { chainOrderId });
  return r.rows[0];
}

export function registerCommerceRoutes(app: FastifyInstance, deps: ServiceDeps, policy?: RelayPolicy): void {
  const { db } = deps;

  // ------------------------------------------------------------------ buyer checkout (public: signatures authorise)
  app.get(
    "/v1/checkout/:chainOrderId",
    {
      schema: {
        tags: ["checkout"],
        summary: "What the buyer pays, to whom, the fee and the order's status",
        params: ChainIdParam,
      },
    },
    async (req) => {
      const o = await orderByChainId(deps, (req.params as { chainOrderId: string }).chainOrderId);
      const m = (
        await db.query<{ name: string; address: string }>(`select name, address from merchants where id = $1`, [
          o.merchant_id,
        ])
      ).rows[0];
      const skus = (
        await db.query<{ id: string; name: string }>(`select id, name from skus where id = any($1::text[])`, [
          o.items.map((i) => i.sku),
        ])
      ).rows;
      const names = new Map(skus.map((s) => [s.id, s.name]));
      const v = orderView(o);
      // The fee fixed at creation; before that, the escrow's fee now (creation refuses a fee above maxFeeBps).
      const feeBps = v.feeBps ?? Number(await deps.chain.escrow.feeBps());
      // What the buyer pays (before payment: the price) or what is still escrowed (after partial refunds).
      const escrowed = o.record ? BigInt(o.record.escrowed) : 0n;
      const amount = escrowed > 0n ? escrowed : BigInt(o.amount);
      return {
        chainOrderId: o.chain_order_id,
        reference: o.reference,
        status: v.status,
        merchant: { name: m.name, address: m.address },
        buyer: v.buyer,
        token: v.token,
        amount: v.amount,
        escrowed: v.escrowed,
        due: amount.toString(),
        feeBps,
        fee: ((amount * BigInt(feeBps)) / 10_000n).toString(),
        feeRecipient: await deps.chain.escrow.feeRecipient(),
        merchantReceives: (amount - (amount * BigInt(feeBps)) / 10_000n).toString(),
        payee: v.payee,
        maxFeeBps: v.maxFeeBps,
        terms: v.terms,
        disputeDefaultAfter: v.disputeDefaultAfter,
        settlementProposal: v.settlementProposal,
        allowedActions: v.allowedActions,
        items: v.items.map((i) => ({ ...i, name: names.get(i.sku) ?? i.sku })),
        paymentDeadline: v.paymentDeadline,
        deadline: v.deadline,
        chainId: deps.chain.chainId.toString(),
        escrow: deps.chain.addresses.escrow,
        chainProof: v.chainProof,
      };
    },
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

  // ------------------------------------------------------------------ arbiter
  app.get(
    "/v1/arbiter/disputes",
    {
      onRequest: requireArbiter(deps),
      schema: { tags: ["arbiter"], summary: "Open disputes with their evidence", security: sec },
    },
    async () => {
      const r = await db.query<
        OrderRow & { evidence: string | null; evidence_hash: string | null; merchant_name: string }
      >(
        `select o.*, d.evidence, d.evidence_hash, m.name as merchant_name from orders o
         join merchants m on m.id = o.merchant_id left join dispute_evidence d on d.order_id = o.id
         where o.status = 'disputed' order by o.updated_at`,
      );
      return {
        data: r.rows.map((o) => ({
          ...orderView(o),
          merchant: { id: o.merchant_id, name: o.merchant_name },
          evidence: o.evidence ? { text: o.evidence, hash: o.evidence_hash } : null,
        })),
      };
    },
  );

  app.post(
    "/v1/arbiter/disputes/:chainOrderId/resolve",
    {
      onRequest: requireArbiter(deps),
      schema: {
        tags: ["arbiter"],
        summary:
          "Resolve a dispute: buyerTotal is the buyer's share of the whole order (partial refunds included), the rest goes to the payee minus the fee",
        description:
          "Give buyerTotal, or buyerAmount (what the buyer gets back from what is escrowed now; converted to buyerTotal with the partial refunds known when the request is accepted).",
        security: sec,
        params: ChainIdParam,
        body: Type.Object(
          {
            buyerTotal: Type.Optional(NumStr),
            buyerAmount: Type.Optional(NumStr),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const o = await orderByChainId(deps, (req.params as { chainOrderId: string }).chainOrderId);
      const body = req.body as { buyerTotal?: string; buyerAmount?: string; note?: string };
      if ((body.buyerTotal === undefined) === (body.buyerAmount === undefined))
        throw new AppError("validation_failed", "give buyerTotal (or buyerAmount), not both", {
          field: "buyerTotal",
        });
      assertAllowed("arbiter", "resolve", o, "resolve", true);
      const record = o.record!; // present: assertAllowed checked it
      if (body.buyerAmount !== undefined && BigInt(body.buyerAmount) > BigInt(record.escrowed)) {
        throw new AppError("unprocessable", `buyerAmount exceeds the ${record.escrowed} escrowed`, {
          escrowed: record.escrowed,
        });
      }
      const buyerTotal =
        body.buyerTotal !== undefined ? BigInt(body.buyerTotal) : BigInt(body.buyerAmount!) + BigInt(record.refunded);
      if (buyerTotal > BigInt(o.amount)) {
        throw new AppError("unprocessable", `buyerTotal exceeds the order's amount ${o.amount}`, {
          amount: String(o.amount),
        });
      }
      if (!deps.config.arbiterSignerConfigured)
        throw new AppError("arbiter_not_configured", "the relayer has no arbiter signer (ARBITER_SIGNER_KEY)");
      return mutate(db, req, reply, 202, async (q) => {
        const commandId = await enqueueCommand(q, {
          kind: "resolve_dispute",
          merchantId: o.merchant_id,
          orderId: o.id,
          payload: { buyerTotal: buyerTotal.toString(), note: body.note ?? null },
          apiKeyId: req.principal!.keyId,
        });
        await recordAudit(q, {
          merchantId: o.merchant_id,
          apiKeyId: req.principal!.keyId,
          action: "dispute.resolved",
          resourceType: "order",
          resourceId: o.id,
          details: { buyerTotal: buyerTotal.toString(), buyerAmount: body.buyerAmount, note: body.note },
        });
        return { order: orderView(o), command: { id: commandId, kind: "resolve_dispute", status: "pending" } };
      });
    },
  );

  // ------------------------------------------------------------------ webhooks
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

  // ------------------------------------------------------------------ ledger
  const LedgerQuery = Type.Object(
    {
      token: Type.Optional(Type.String({ maxLength: 42 })),
      order: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" })),
      from: Type.Optional(Type.String({ format: "date-time" })),
      to: Type.Optional(Type.String({ format: "date-time" })),
      cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    { additionalProperties: false },
  );
  const tokenParam = (t?: string) => (t === "native" ? "0x0000000000000000000000000000000000000000" : t);
  app.get(
    "/v1/ledger/entries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Double-entry ledger lines by time range, order and token",
        security: sec,
        querystring: LedgerQuery,
      },
    },
    async (req) => {
      const f = req.query as {
        token?: string;
        order?: string;
        from?: string;
        to?: string;
        cursor?: string;
        limit?: number;
      };
      const limit = f.limit ?? 200;
      const rows = await ledgerEntries(db, {
        merchantId: merchantOf(req),
        token: tokenParam(f.token),
        orderChainId: f.order,
        from: f.from ? new Date(f.from) : undefined,
        to: f.to ? new Date(f.to) : undefined,
        afterId: f.cursor,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { data: page, nextCursor: rows.length > limit ? page[page.length - 1].id : null };
    },
  );
  app.get(
    "/v1/ledger/balances",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["ledger"],
        summary: "Balances of the ledger accounts per token",
        security: sec,
        querystring: Type.Object(
          { token: Type.Optional(Type.String({ maxLength: 42 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      balances: await ledgerBalances(db, merchantOf(req), tokenParam((req.query as { token?: string }).token)),
    }),
  );
  app.get(
    "/v1/ledger/export.csv",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: { tags: ["ledger"], summary: "The ledger lines as CSV", security: sec, querystring: LedgerQuery },
    },
    async (req, reply) => {
      const f = req.query as { token?: string; order?: string; from?: string; to?: string };
      const rows = await ledgerEntries(db, {
        merchantId: merchantOf(req),
        token: tokenParam(f.token),
        orderChainId: f.order,
        from: f.from ? new Date(f.from) : undefined,
        to: f.to ? new Date(f.to) : undefined,
      });
      reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="ledger.csv"');
      return toCsv(rows);
    },
  );
  app.get(
    "/v1/ledger/reconciliation",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: { tags: ["ledger"], summary: "Prove the ledger equals the chain for this merchant", security: sec },
    },
    async (req) => {
      const report = await reconcile(deps.chain, db);
      const mine = report.merchants[merchantOf(req)] ?? {};
      const differences = report.differences.filter((d) => !d.merchantId || d.merchantId === merchantOf(req));
      return {
        ok: differences.length === 0,
        checkedAt: report.checkedAt,
        headBlock: report.headBlock,
        tokens: report.tokens,
        ledger: mine,
        differences,
      };
    },
  );
  app.get(
    "/v1/admin/reconciliation",
    {
      onRequest: requireAdmin(deps),
      schema: { tags: ["admin"], summary: "Prove the ledger equals the chain for every merchant", security: sec },
    },
    async () => reconcile(deps.chain, db),
  );
}
