/** Request schemas of the buyer's checkout routes: signed actions and the typed data they carry. */
import { Type } from "@sinclair/typebox";
import { Address } from "./schemas";

export const Action = Type.Union([
  Type.Literal("pay"),
  Type.Literal("confirm"),
  Type.Literal("dispute"),
  Type.Literal("propose_settlement"),
  Type.Literal("accept_settlement"),
]);
export const Hex = Type.String({ pattern: "^0x[0-9a-fA-F]*$", maxLength: 20_000 });
export const Domain = Type.Object({
  name: Type.String({ maxLength: 100 }),
  version: Type.String({ maxLength: 20 }),
  chainId: Type.Union([Type.String({ pattern: "^[0-9]{1,20}$" }), Type.Integer({ minimum: 0 })]),
  verifyingContract: Address,
});
export const NumStr = Type.String({ pattern: "^[0-9]{1,78}$" });
export const BuyerTotal = Type.Optional(
  Type.String({
    pattern: "^(0|[1-9][0-9]{0,77})$",
    description:
      "propose_settlement / accept_settlement: the buyer's share of the whole order, partial refunds included",
  }),
);
export const SignedAction = Type.Object(
  {
    action: Action,
    buyer: Address,
    evidence: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    buyerTotal: BuyerTotal,
    permit: Type.Optional(
      Type.Object({
        domain: Domain,
        message: Type.Object(
          { owner: Address, spender: Address, value: NumStr, nonce: NumStr, deadline: NumStr },
          { additionalProperties: false },
        ),
        signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
      }),
    ),
    forwardRequest: Type.Object({
      domain: Domain,
      message: Type.Object(
        { from: Address, to: Address, value: NumStr, gas: NumStr, nonce: NumStr, deadline: NumStr, data: Hex },
        { additionalProperties: false },
      ),
      signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
    }),
  },
  { additionalProperties: false },
);
export const IntentBody = Type.Object(
  {
    action: Action,
    buyer: Address,
    evidence: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    buyerTotal: BuyerTotal,
  },
  { additionalProperties: false },
);
export const ChainIdParam = Type.Object({ chainOrderId: Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" }) });
