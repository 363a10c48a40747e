/** The arbiter's routes: open disputes with their evidence, and rulings. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { orderByChainId } from "../services/checkout";
import { checkRuling, listOpenDisputes, resolveDispute, type Ruling } from "../services/disputes";
import { mutate } from "./idempotency";
import { requireArbiter } from "./auth";
import { sec } from "./common";
import { ChainIdParam, NumStr } from "./buyerSchemas";

export function registerArbiterRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const { db } = deps;
  app.get(
    "/v1/arbiter/disputes",
    {
      onRequest: requireArbiter(deps),
      schema: { tags: ["arbiter"], summary: "Open disputes with their evidence", security: sec },
    },
    async () => ({ data: await listOpenDisputes(deps) }),
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
      const ruling = req.body as Ruling;
      const buyerTotal = checkRuling(deps, o, ruling);
      return mutate(db, req, reply, 202, (q) => resolveDispute(q, req.principal!, o, buyerTotal, ruling));
    },
  );
}
