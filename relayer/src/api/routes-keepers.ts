/**
 * The merchant's keeper switches: whether the relayer releases its shipped orders' payments after the protection
 * period, cancels its unpaid orders after the payment deadline and applies its disputes' default outcome after
 * their deadline (relayer/src/keepers/). All are on by default.
 */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import { keepersView, setKeepers } from "../services/keepers";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import * as S from "./schemas";

const KeeperSwitches = {
  release: Type.Boolean({
    description: "Release a shipped order's payment to the payee once its protection period ended (autoRelease)",
  }),
  expire: Type.Boolean({
    description: "Cancel an unpaid order once its payment deadline passed; its stock returns (cancel)",
  }),
  disputeDefault: Type.Boolean({
    description:
      "Apply a dispute's default outcome once its deadline passed: the buyer gets back what is escrowed (settleExpiredDispute)",
  }),
};

const Keepers = Type.Object({
  ...KeeperSwitches,
  gas: Type.Object(
    {
      periodDays: Type.Integer(),
      gasUsed: Type.String({ description: "Gas of the keepers' transactions for this merchant's orders" }),
      costWei: Type.String({ description: "What that gas cost (wei); it counts towards the gas budget's spend" }),
    },
    { description: "What the keepers' commands for this merchant cost over the last 30 UTC days" },
  ),
});

const KeepersChange = Type.Object(
  {
    release: Type.Optional(KeeperSwitches.release),
    expire: Type.Optional(KeeperSwitches.expire),
    disputeDefault: Type.Optional(KeeperSwitches.disputeDefault),
  },
  { additionalProperties: false, minProperties: 1, description: "The switches to change; the others keep their value" },
);

export function registerKeeperRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  app.get(
    "/v1/merchant/keepers",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["keepers"],
        summary: "Which keepers act on this merchant's orders, and what their gas cost",
        operationId: "getKeepers",
        security: sec,
        response: { 200: Keepers, ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => keepersView(db, merchantOf(req)),
  );

  app.patch(
    "/v1/merchant/keepers",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["keepers"],
        summary: "Turn keepers on or off for this merchant's orders (owner keys only); the audit trail records it",
        description:
          "A keeper turned off queues no new command for the merchant's orders from the next pass on; a command " +
          "already queued still runs. The order's parties (or anyone, for these escrow calls) can still act. Only an " +
          "owner key (issued by the admin) may change them: a staff key is refused 403 owner_key_required.",
        operationId: "setKeepers",
        security: sec,
        body: KeepersChange,
        response: { 200: Keepers, ...S.errors(400, 401, 403, 404, 413, 415, 500) },
      },
    },
    async (req) => db.tx((q) => setKeepers(q, req.principal!, merchantOf(req), req.body)),
  );
}
