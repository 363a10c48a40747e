/** The arbiter's routes: open disputes with their evidence, and rulings. */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { orderByChainId } from "../services/checkout";
import { checkRuling, listOpenDisputes, resolveDispute } from "../services/disputes";
import { mutate } from "./idempotency";
import { requireArbiter } from "./auth";
import { sec } from "./common";
import { ChainIdParam, NumStr } from "./buyerSchemas";
import * as S from "./schemas";

/** A disputed order with its merchant and the buyer's evidence. */
export const Dispute = Type.Composite([
  S.OrderFields,
  Type.Object({
    merchant: Type.Object({ id: Type.String(), name: Type.String() }),
    evidence: Type.Union([
      Type.Object({
        text: Type.String({ description: "What the buyer gave when disputing" }),
        hash: Type.Union([Type.String(), Type.Null()], { description: "Its keccak256, as signed on chain" }),
      }),
      Type.Null(),
    ]),
  }),
]);

export function registerArbiterRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  app.get(
    "/v1/arbiter/disputes",
    {
      onRequest: requireArbiter(deps),
      schema: {
        tags: ["arbiter"],
        summary: "Open disputes with their evidence (oldest change first, cursor pagination)",
        description:
          "A dispute that changes while the list is paged (a settlement proposal) moves to the end: it may be listed again on a later page, never skipped.",
        operationId: "listOpenDisputes",
        security: sec,
        querystring: Type.Object(S.ListPaging, { additionalProperties: false }),
        response: { 200: S.Page(Dispute), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => listOpenDisputes(deps, req.query),
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
        operationId: "resolveDispute",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: ChainIdParam,
        body: Type.Object(
          {
            buyerTotal: Type.Optional(NumStr),
            buyerAmount: Type.Optional(NumStr),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 202: S.OrderAction, ...S.errors(400, 401, 403, 404, 409, 413, 415, 422, 500, 503) },
      },
    },
    async (req, reply) => {
      const o = await orderByChainId(deps, req.params.chainOrderId);
      const ruling = req.body;
      const buyerTotal = checkRuling(deps, o, ruling);
      return mutate(db, req, reply, 202, (q) => resolveDispute(q, req.principal!, o, buyerTotal, ruling));
    },
  );
}
