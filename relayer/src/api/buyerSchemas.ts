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

// ------------------------------------------------------------------ responses

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
  }),
);

const TypedDataDomain = Type.Object({
  name: Type.String(),
  version: Type.String(),
  chainId: Type.String(),
  verifyingContract: Type.String(),
});
const TypedDataTypes = Type.Record(
  Type.String(),
  Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
);

/** The EIP-712 data a buyer's wallet signs: a forward request, and for `pay` an ERC-20 permit. */
export const BuyerIntent = Type.Object({
  action: Action,
  chainId: Type.String(),
  chainOrderId: Type.String(),
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
  forwardRequest: Type.Object({
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
});

export const BuyerActionAccepted = Type.Object({
  action: Action,
  commandId: Type.String({ description: "The relayed transaction's command" }),
  status: Type.String(),
});
