/** Request and response schemas (JSON Schema via TypeBox): validation and the OpenAPI document. */
import { Type, type TSchema } from "@sinclair/typebox";
import { ORDER_ACTIONS, type OrderParty } from "../../../sdk/orderActions";

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "Stable machine-readable code" }),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: "Error" },
);

export const UintString = Type.String({
  pattern: "^[0-9]{1,78}$",
  description: "Unsigned integer in base units, as a decimal string",
});
export const Address = Type.String({ pattern: "^0x[0-9a-fA-F]{40}$" });
export const Reference = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:/#-]+$" });
export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const Scope = Type.Union([
  Type.Literal("read"),
  Type.Literal("orders"),
  Type.Literal("refunds"),
  Type.Literal("stock"),
  Type.Literal("keys"),
]);

export const Merchant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  address: Address,
  status: Type.String({ description: "pending until its operators are authorised on chain, then active" }),
  createdAt: Type.String({ format: "date-time" }),
});

export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  merchantId: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  prefix: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export const ApiKeyWithSecret = Type.Intersect([
  ApiKey,
  Type.Object({ secret: Type.String({ description: "Shown once" }) }),
]);

export const NewKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: 5 })),
  },
  { additionalProperties: false },
);

export const Stock = Type.Object({
  available: UintString,
  reserved: UintString,
  delivered: UintString,
  totalSupply: UintString,
});

export const Sku = Type.Object({
  id: Type.String(),
  reference: Type.String(),
  name: Type.String(),
  metadataUri: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  chainSkuId: UintString,
  status: Type.String({ description: "pending until created on chain, then created (or failed)" }),
  createdAt: Type.String(),
  stock: Type.Optional(Type.Union([Stock, Type.Null()])),
});

export const NewSku = Type.Object(
  {
    reference: Reference,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    metadataUri: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { maxProperties: 50 })),
  },
  { additionalProperties: false },
);

export const StockChange = Type.Object(
  {
    quantity: Type.String({ pattern: "^[1-9][0-9]{0,17}$", description: "Positive whole number of units" }),
  },
  { additionalProperties: false },
);

export const OrderItemIn = Type.Object(
  { sku: Type.String({ minLength: 1, maxLength: 128 }), quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
  { additionalProperties: false },
);

export const NewOrder = Type.Object(
  {
    reference: Reference,
    amount: Type.String({ pattern: "^[1-9][0-9]{0,77}$", description: "Price in the token's base units" }),
    token: Type.String({ description: '"native" or an allowlisted ERC-20 address', minLength: 1, maxLength: 42 }),
    buyer: Type.Optional(
      Type.Union([Address, Type.Null()], { description: "Only this address may pay; omit for any payer" }),
    ),
    items: Type.Optional(Type.Array(OrderItemIn, { maxItems: 64 })),
    paymentDeadline: Type.Optional(Type.String({ format: "date-time" })),
    // At most 2^31 - 1 s (68 years): what the database column holds (the contract's uint32 would take more).
    shipWithinSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_147_483_647 })),
    protectionPeriodSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_147_483_647 })),
  },
  { additionalProperties: false },
);

export const ChainProof = Type.Union([
  Type.Object({ txHash: Type.String(), blockNumber: Type.Integer(), logIndex: Type.Integer() }),
  Type.Null(),
]);

/** The actions one party may take, as listed in the shared table. */
function actionsOf(party: OrderParty) {
  return Type.Array(Type.Union(Object.keys(ORDER_ACTIONS[party]).map((a) => Type.Literal(a))));
}

export const Order = Type.Object({
  id: Type.String(),
  reference: Type.String(),
  chainOrderId: Type.String(),
  status: Type.String(),
  buyer: Type.Union([Type.String(), Type.Null()]),
  token: Type.String(),
  amount: UintString,
  escrowed: Type.Union([UintString, Type.Null()], {
    description: "Held by the escrow now: 0 before payment and once refunded, released or resolved",
  }),
  refunded: Type.Union([UintString, Type.Null()], { description: "Returned to the buyer by partial refunds" }),
  feeBps: Type.Union([Type.Integer(), Type.Null()], { description: "The fee fixed on chain at creation" }),
  maxFeeBps: Type.Union([Type.Integer(), Type.Null()], {
    description: "The highest fee accepted with the order: the escrow's fee when the relayer accepted it",
  }),
  payee: Type.Union([Type.String(), Type.Null()], { description: "Receives the merchant's share at settlement" }),
  deadline: Type.Union([Type.String(), Type.Null()]),
  disputeDefaultAfter: Type.Union([Type.String(), Type.Null()], {
    description: "While disputed: after this time anyone may refund the buyer everything escrowed",
  }),
  settlementProposal: Type.Union(
    [
      Type.Object({ by: Type.Union([Type.Literal("buyer"), Type.Literal("merchant")]), buyerTotal: UintString }),
      Type.Null(),
    ],
    {
      description:
        "While disputed: the pending split the other side may accept; buyerTotal is the buyer's share of the whole order, partial refunds included",
    },
  ),
  allowedActions: Type.Object(
    {
      merchant: actionsOf("merchant"),
      buyer: actionsOf("buyer"),
      arbiter: actionsOf("arbiter"),
    },
    {
      description:
        "What each party may do now, as far as the order's status tells (the escrow may still refuse for a reason of time); the table is ORDER_ACTIONS in sdk/orderActions.ts",
    },
  ),
  terms: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
    description:
      "The order's fixed terms (OrderTerms, numbers as decimal strings); chainOrderId is their EIP-712 struct hash",
  }),
  items: Type.Array(Type.Object({ sku: Type.String(), chainSkuId: UintString, quantity: Type.Integer() })),
  paymentDeadline: Type.String(),
  shipWithinSeconds: Type.Integer(),
  protectionPeriodSeconds: Type.Integer(),
  chainProof: ChainProof,
  error: Type.Union([
    Type.Object({ code: Type.String(), message: Type.Union([Type.String(), Type.Null()]) }),
    Type.Null(),
  ]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const OrderDetail = Type.Intersect([
  Order,
  Type.Object({
    record: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: "The order as its escrow events describe it (OrderView, numbers as decimal strings)",
    }),
    events: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    commands: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  }),
]);

export const CommandRef = Type.Object({ id: Type.String(), kind: Type.String(), status: Type.String() });
export const OrderAction = Type.Object({ order: Order, command: CommandRef });

export const ListOrdersQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ maxLength: 20 })),
    buyer: Type.Optional(Address),
    sku: Type.Optional(Type.String({ maxLength: 128 })),
    from: Type.Optional(Type.String({ format: "date-time" })),
    to: Type.Optional(Type.String({ format: "date-time" })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  { additionalProperties: false },
);

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
};
