/** Schemas of the buyer's checkout routes: signed actions, the typed data they carry, and what they answer. */
import { Type } from "@sinclair/typebox";
import { Address, AllowedActions, ChainProof, SettlementProposal, Terms, UintIn, UintString, shared } from "./schemas";

export const Action = Type.Union([
  Type.Literal("pay"),
  Type.Literal("confirm"),
  Type.Literal("dispute"),
  Type.Literal("propose_settlement"),
  Type.Literal("accept_settlement"),
]);
export const GaslessMethod = Type.Union([Type.Literal("authorization"), Type.Literal("permit")], {
  description:
    "pay only: `authorization` (ERC-3009, one signature) or `permit` (EIP-2612 permit and forward request, the default)",
});
/** How a buyer can pay with a token, best first. */
export const PaymentMethods = Type.Array(
  Type.Union([Type.Literal("authorization"), Type.Literal("permit"), Type.Literal("approval"), Type.Literal("native")]),
  {
    description:
      "Best first. authorization: ERC-3009, gasless; permit: EIP-2612, gasless; approval: the buyer approves the " +
      "escrow and pays from its wallet, with its own gas; native: the chain currency, paid from the wallet",
  },
);
export const Hex = Type.String({ pattern: "^0x[0-9a-fA-F]*$", maxLength: 20_000 });
export const Domain = Type.Object({
  name: Type.String({ maxLength: 100 }),
  version: Type.String({ maxLength: 20 }),
  chainId: Type.Union([Type.String({ pattern: "^[0-9]{1,20}$" }), Type.Integer({ minimum: 0 })]),
  verifyingContract: Address,
});
/** A uint256 as the typed data carries it (decimal digits). */
export const NumStr = UintIn("uint256", { pattern: "^[0-9]{1,78}$" });
export const BuyerTotal = Type.Optional(
  UintIn("uint256", {
    description:
      "propose_settlement / accept_settlement: the buyer's share of the whole order, partial refunds included",
  }),
);
const Signature65 = Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" });
const Bytes32 = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" });
export const SignedAction = Type.Object(
  {
    action: Action,
    buyer: Address,
    authorization: Type.Optional(
      Type.Object(
        {
          domain: Domain,
          message: Type.Object(
            { from: Address, to: Address, value: NumStr, validAfter: NumStr, validBefore: NumStr, nonce: Bytes32 },
            { additionalProperties: false },
          ),
          signature: Signature65,
        },
        { description: "pay by ERC-3009 authorization: sent instead of forwardRequest and permit" },
      ),
    ),
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
    forwardRequest: Type.Optional(
      Type.Object(
        {
          domain: Domain,
          message: Type.Object(
            {
              from: Address,
              to: Address,
              value: NumStr,
              gas: NumStr,
              nonce: NumStr,
              deadline: UintIn("uint48", { pattern: "^[0-9]{1,78}$" }),
              data: Hex,
            },
            { additionalProperties: false },
          ),
          signature: Signature65,
        },
        { description: "Every action except a payment by authorization" },
      ),
    ),
  },
  { additionalProperties: false },
);
export const IntentBody = Type.Object(
  {
    action: Action,
    buyer: Address,
    evidence: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    buyerTotal: BuyerTotal,
    method: Type.Optional(GaslessMethod),
  },
  { additionalProperties: false },
);
export const ChainIdParam = Type.Object({ chainOrderId: Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" }) });

// ------------------------------------------------------------------ responses

function TypedDataDomainOf() {
  return Type.Object({
    name: Type.String(),
    version: Type.String(),
    chainId: Type.String(),
    verifyingContract: Type.String(),
  });
}

/** What the checkout page shows: the order, what is due now, the fee and who receives what. */
export const CheckoutView = shared(
  "CheckoutView",
  Type.Object({
    chainOrderId: Type.String(),
    reference: Type.String(),
    status: Type.String(),
    merchant: Type.Object({ name: Type.String(), address: Type.String() }),
    buyer: Type.Union([Type.String(), Type.Null()]),
    token: Type.String({ description: '"native" or the ERC-20 address' }),
    amount: UintString,
    escrowed: Type.Union([UintString, Type.Null()]),
    due: Type.String({ description: "What the buyer pays (before payment) or what is still escrowed (after)" }),
    feeBps: Type.Integer({ description: "Fixed at creation; before that, the escrow's fee now" }),
    fee: UintString,
    feeRecipient: Type.String(),
    merchantReceives: UintString,
    payee: Type.Union([Type.String(), Type.Null()]),
    maxFeeBps: Type.Union([Type.Integer(), Type.Null()]),
    terms: Type.Union([Terms, Type.Null()]),
    disputeDefaultAfter: Type.Union([Type.String(), Type.Null()]),
    settlementProposal: Type.Union([SettlementProposal, Type.Null()]),
    allowedActions: AllowedActions,
    items: Type.Array(
      Type.Object({ sku: Type.String(), chainSkuId: UintString, quantity: Type.Integer(), name: Type.String() }),
    ),
    paymentDeadline: Type.String(),
    deadline: Type.Union([Type.String(), Type.Null()]),
    chainId: Type.String(),
    escrow: Type.String({ description: "The escrow contract's address" }),
    chainProof: ChainProof,
    paymentMethods: PaymentMethods,
    tokenDomain: Type.Union([TypedDataDomainOf(), Type.Null()], {
      description: "The token's EIP-712 domain, which permits and authorizations are signed in; null without either",
    }),
  }),
);

const TypedDataDomain = TypedDataDomainOf();
const TypedDataTypes = Type.Record(
  Type.String(),
  Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
);

/**
 * The EIP-712 data a buyer's wallet signs: a forward request, and for `pay` an ERC-20 permit; or, to pay by ERC-3009,
 * one authorization instead.
 */
export const BuyerIntent = Type.Object({
  action: Action,
  method: Type.Optional(
    Type.Union([Type.Literal("authorization"), Type.Literal("permit"), Type.Literal("approval")], {
      description:
        "pay only. authorization: sign `authorization`; permit: sign `permit` and `forwardRequest`; approval: the " +
        "token has no permit, sign `forwardRequest` after approving the escrow from the wallet",
    }),
  ),
  chainId: Type.String(),
  chainOrderId: Type.String(),
  authorization: Type.Optional(
    Type.Object({
      domain: TypedDataDomain,
      types: TypedDataTypes,
      primaryType: Type.String(),
      message: Type.Object({
        from: Type.String(),
        to: Type.String({ description: "The escrow" }),
        value: Type.String({ description: "Exactly the order's amount" }),
        validAfter: Type.String(),
        validBefore: Type.String(),
        nonce: Type.String({ description: "The order's EIP-712 digest in the escrow's domain" }),
      }),
    }),
  ),
  permit: Type.Optional(
    Type.Object({
      domain: TypedDataDomain,
      types: TypedDataTypes,
      primaryType: Type.String(),
      message: Type.Object({
        owner: Type.String(),
        spender: Type.String(),
        value: Type.String(),
        nonce: Type.String(),
        deadline: Type.String(),
      }),
    }),
  ),
  forwardRequest: Type.Optional(
    Type.Object({
      domain: TypedDataDomain,
      types: TypedDataTypes,
      primaryType: Type.String(),
      message: Type.Object({
        from: Type.String(),
        to: Type.String(),
        value: Type.String(),
        gas: Type.String(),
        nonce: Type.String(),
        deadline: Type.String(),
        data: Type.String(),
      }),
    }),
  ),
});

export const BuyerActionAccepted = Type.Object({
  action: Action,
  commandId: Type.String({ description: "The relayed transaction's command" }),
  status: Type.String(),
});
