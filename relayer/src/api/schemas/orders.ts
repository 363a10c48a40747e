/** Orders: new orders, their terms and on-chain record as the escrow has them, actions, lists and search. */
import { Type } from "@sinclair/typebox";
import { ORDER_ACTIONS, type OrderParty } from "../../../../sdk/orderActions";
import { Address, OrderReference, shared, UintIn, UintString } from "./common";
import { Merchant } from "./merchants";

export const MetadataIn = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "Your own string keys and values: at most 50 keys, keys of 1 to 40 characters, values of at most 500 characters, no nested objects. An empty string value deletes the key (on update; ignored at creation)",
});

export const OrderItemIn = Type.Object(
  { sku: Type.String({ minLength: 1, maxLength: 128 }), quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
  { additionalProperties: false },
);

export const NewOrder = Type.Object(
  {
    reference: OrderReference,
    amount: UintIn("uint184", {
      pattern: "^[1-9][0-9]{0,77}$",
      description: "Price in the token's base units; the escrow refuses more than a uint184 (AmountTooLarge)",
    }),
    token: Type.String({ description: '"native" or an allowlisted ERC-20 address', minLength: 1, maxLength: 42 }),
    buyer: Type.Optional(
      Type.Union([Address, Type.Null()], { description: "Only this address may pay; omit for any payer" }),
    ),
    items: Type.Optional(Type.Array(OrderItemIn, { maxItems: 64 })),
    paymentDeadline: Type.Optional(Type.String({ format: "date-time" })),
    // At most 2^31 - 1 s (68 years): what the database column holds (the contract's uint32 would take more).
    shipWithinSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_147_483_647 })),
    protectionPeriodSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_147_483_647 })),
    refundWindowSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        // 180 days: a return window is weeks or months; a longer one would leave the payee exposed for years.
        maximum: 15_552_000,
        description:
          "Seconds after completion during which the merchant may return money (default 0: no returns; at most 180 days)",
      }),
    ),
    metadata: Type.Optional(MetadataIn),
  },
  { additionalProperties: false },
);

/** Why a command or an order failed: the decoded custom error or the relayer's code. */
export const ErrorInfo = Type.Union([
  Type.Object({ code: Type.String(), message: Type.Union([Type.String(), Type.Null()]) }),
  Type.Null(),
]);

/** Where the order was created on chain; null until the indexer saw it. */
export const ChainProof = Type.Union([
  Type.Object({
    txHash: Type.String(),
    blockNumber: Type.Integer(),
    logIndex: Type.Union([Type.Integer(), Type.Null()]),
  }),
  Type.Null(),
]);

/** The actions one party may take, as listed in the shared table. */
function actionsOf(party: OrderParty) {
  return Type.Array(Type.Union(Object.keys(ORDER_ACTIONS[party]).map((a) => Type.Literal(a))));
}

export const AllowedActions = Type.Object(
  {
    merchant: actionsOf("merchant"),
    buyer: actionsOf("buyer"),
    arbiter: actionsOf("arbiter"),
  },
  {
    description:
      "What each party may do now, as far as the order's status tells (the escrow may still refuse for a reason of time); the table is ORDER_ACTIONS in sdk/orderActions.ts",
  },
);

/**
 * The Solidity types of the escrow's values the API shows (contracts/interfaces/IPaymentEscrow.sol), as JSON
 * Schema formats of strings: an unsigned integer as a decimal string, an address or a bytes32 as 0x and hex. A
 * client passes such a value to the escrow as its type. Registered with the response serializer (app.ts) and
 * with the OpenAPI contract checker of the tests.
 */
export const SOLIDITY_FORMATS: Record<string, { type: "string"; validate: (v: string) => boolean }> = {
  address: { type: "string", validate: (v) => /^0x[0-9a-fA-F]{40}$/.test(v) },
  bytes32: { type: "string", validate: (v) => /^0x[0-9a-fA-F]{64}$/.test(v) },
  ...Object.fromEntries(
    [16, 32, 40, 64, 184, 248, 256].map((bits) => [
      `uint${bits}`,
      {
        type: "string" as const,
        validate: (v: string) => !/^[0-9]+$/.test(v) || BigInt(v) < 2n ** BigInt(bits),
      },
    ]),
  ),
};

/** An unsigned integer of the escrow shown as a decimal string: `format` names its Solidity type. */
const SolUint = (bits: 16 | 32 | 40 | 64 | 184 | 248 | 256, description?: string) =>
  Type.String({
    pattern: `^(0|[1-9][0-9]{0,${(2n ** BigInt(bits) - 1n).toString().length - 1}})$`,
    format: `uint${bits}`,
    description: `${description ? `${description}. ` : ""}Solidity uint${bits}, as a decimal string`,
  });
/** An address of the escrow's: 0x and 40 hex digits (checksummed or not). */
const SolAddress = (description?: string) =>
  Type.String({
    pattern: "^0x[0-9a-fA-F]{40}$",
    format: "address",
    description: `${description ? `${description}. ` : ""}Solidity address`,
  });
const SolBytes32 = (description?: string) =>
  Type.String({
    pattern: "^0x[0-9a-fA-F]{64}$",
    format: "bytes32",
    description: `${description ? `${description}. ` : ""}Solidity bytes32, 0x and 64 hex digits`,
  });

/** `OrderTerms` with its numbers as decimal strings: each field as the escrow takes it. */
export const Terms = Type.Object(
  {
    merchant: SolAddress("The merchant's address"),
    payee: SolAddress("Receives the merchant's share at settlement"),
    buyer: SolAddress("The zero address for an order open to any payer"),
    token: SolAddress("The zero address for the chain currency"),
    amount: SolUint(256, "In the token's base units (the escrow refuses more than a uint184 holds)"),
    maxFeeBps: SolUint(16, "The highest platform fee the merchant accepts, in basis points"),
    paymentDeadline: SolUint(64, "Unix seconds"),
    shipWithin: SolUint(32, "Seconds"),
    protectionPeriod: SolUint(32, "Seconds"),
    refundWindow: SolUint(32, "Seconds"),
    itemsHash: SolBytes32("keccak256 of the ABI-encoded line items"),
    salt: SolBytes32(),
  },
  {
    description:
      "The order's fixed terms (OrderTerms, numbers as decimal strings); chainOrderId is their EIP-712 struct hash",
  },
);

/** `OrderState` of contracts/interfaces/IPaymentEscrow.sol, by its number. */
export const ORDER_STATES = [
  "None",
  "Created",
  "Paid",
  "Shipped",
  "Completed",
  "Cancelled",
  "Refunded",
  "Disputed",
  "Resolved",
  "Revoked",
] as const;

export const SettlementProposal = Type.Object({
  by: Type.Union([Type.Literal("buyer"), Type.Literal("merchant")]),
  buyerTotal: UintString,
});

export const OrderFields = Type.Object({
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
  refunded: Type.Union([UintString, Type.Null()], {
    description: "Returned to the buyer by partial refunds and, after completion, by returns",
  }),
  returnedAmount: Type.Union([UintString, Type.Null()], {
    description: "Returned to the buyer after completion (POST /v1/orders/{id}/return), funded by the payee",
  }),
  feeBps: Type.Union([Type.Integer(), Type.Null()], { description: "The fee fixed on chain at creation" }),
  maxFeeBps: Type.Union([Type.Integer(), Type.Null()], {
    description: "The highest fee accepted with the order: the escrow's fee when the relayer accepted it",
  }),
  payee: Type.Union([Type.String(), Type.Null()], { description: "Receives the merchant's share at settlement" }),
  deadline: Type.Union([Type.String(), Type.Null()]),
  disputeDefaultAfter: Type.Union([Type.String(), Type.Null()], {
    description: "While disputed: after this time anyone may refund the buyer everything escrowed",
  }),
  settlementProposal: Type.Union([SettlementProposal, Type.Null()], {
    description:
      "While disputed: the pending split the other side may accept; buyerTotal is the buyer's share of the whole order, partial refunds included",
  }),
  allowedActions: AllowedActions,
  terms: Type.Union([Terms, Type.Null()], { description: "Null only for orders accepted before escrow v2" }),
  items: Type.Array(Type.Object({ sku: Type.String(), chainSkuId: UintString, quantity: Type.Integer() })),
  paymentDeadline: Type.String(),
  shipWithinSeconds: Type.Integer(),
  protectionPeriodSeconds: Type.Integer(),
  chainProof: ChainProof,
  error: ErrorInfo,
  metadata: Type.Record(Type.String(), Type.String(), { description: "Your own string keys and values" }),
  createdAt: Type.String(),
  updatedAt: Type.String({ description: "Moves on every change of the order (status, chain view, metadata)" }),
});

/** `OrderView` as the indexer stores it: numbers as decimal strings. */
export const OrderRecord = Type.Object(
  {
    terms: Terms,
    items: Type.Array(Type.Object({ skuId: SolUint(256), quantity: SolUint(256) })),
    feeBps: SolUint(16, "The platform fee fixed at creation, in basis points"),
    state: Type.Unsafe<string>({
      type: "string",
      enum: ORDER_STATES.map((_, i) => String(i)),
      description: `The escrow's OrderState (a Solidity enum, uint8), as a decimal string: ${ORDER_STATES.map((name, i) => `${i} ${name}`).join(", ")}`,
    }),
    deadline: SolUint(
      40,
      "Unix seconds; its meaning follows the state: the payment deadline (Created), the ship-by time (Paid), the end of buyer protection (Shipped), when the default outcome applies (Disputed), the end of the refund window (Completed)",
    ),
    buyer: SolAddress("The terms' buyer, or the payer of an order open to any payer"),
    escrowed: SolUint(256, "Held by the escrow for the order now"),
    refunded: SolUint(184, "Returned to the buyer by partial refunds and, after completion, by returns"),
    proposal: Type.Optional(
      Type.Object({
        by: Type.Unsafe<string>({
          type: "string",
          enum: ["1", "2"],
          description: "The escrow's Party (a Solidity enum, uint8), as a decimal string: 1 Buyer, 2 Merchant",
        }),
        buyerTotal: SolUint(248, "The buyer's proposed share of the whole order"),
      }),
    ),
    returned: Type.Optional(SolUint(256, "Returned after completion (OrderReturned), funded by the payee")),
  },
  {
    additionalProperties: true,
    description: "The order as its escrow events describe it (OrderView, numbers as decimal strings)",
  },
);

export const Order = shared("Order", OrderFields);

export const OrderDetail = shared(
  "OrderDetail",
  Type.Composite([
    OrderFields,
    Type.Object({
      record: Type.Union([OrderRecord, Type.Null()], { description: "Null until the indexer saw the creation" }),
      events: Type.Array(
        Type.Object({
          name: Type.String({ description: "The escrow event, e.g. OrderPaid" }),
          txHash: Type.String(),
          blockNumber: Type.Integer(),
          logIndex: Type.Integer(),
          at: Type.Union([Type.String(), Type.Null()], { description: "The block's time" }),
          args: Type.Record(Type.String(), Type.Unknown(), { description: "The event's arguments as indexed" }),
        }),
      ),
      commands: Type.Array(
        Type.Object({
          id: Type.String(),
          kind: Type.String(),
          status: Type.String(),
          error: ErrorInfo,
          createdAt: Type.String(),
          updatedAt: Type.String(),
        }),
      ),
    }),
  ]),
);

export const CommandRef = Type.Object({ id: Type.String(), kind: Type.String(), status: Type.String() });
export const OrderAction = Type.Object({ order: Order, command: CommandRef });

/** The sort and page of an order list or search. */
const OrderPaging = {
  sort: Type.Optional(
    Type.Union([Type.Literal("created_at"), Type.Literal("updated_at"), Type.Literal("amount")], {
      description: "The order of the list (default created_at); ties are ordered by id",
    }),
  ),
  direction: Type.Optional(
    Type.Union([Type.Literal("desc"), Type.Literal("asc")], { description: "default desc (newest or largest first)" }),
  ),
  cursor: Type.Optional(
    Type.String({
      maxLength: 512,
      description: "The nextCursor of the previous page, with the same sort and direction",
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
};

export const ListOrdersQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Array(Type.String({ maxLength: 200 }), {
        maxItems: 10,
        description: "One or more statuses: status=paid,shipped or status=paid&status=shipped",
      }),
    ),
    reference: Type.Optional(
      Type.String({
        maxLength: 129,
        pattern: "^[A-Za-z0-9._:/#-]+\\*?$",
        description: "The exact reference, or a prefix followed by * (INV-2024-*)",
      }),
    ),
    buyer: Type.Optional(Address),
    token: Type.Optional(
      Type.String({ pattern: "^(native|0x[0-9a-fA-F]{40})$", description: '"native" or a 0x address' }),
    ),
    sku: Type.Optional(Type.String({ maxLength: 128 })),
    tx: Type.Optional(
      Type.String({
        pattern: "^0x[0-9a-fA-F]{64}$",
        description: "A transaction hash: the orders it touched (their chain events or the relayer's commands)",
      }),
    ),
    amount_gte: Type.Optional(UintIn("uint256", { description: "Amount at least this, in base units" })),
    amount_lte: Type.Optional(UintIn("uint256", { description: "Amount at most this, in base units" })),
    from: Type.Optional(Type.String({ format: "date-time", description: "Created at or after" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "Created before" })),
    updated_since: Type.Optional(
      Type.String({
        format: "date-time",
        description: "Changed at or after (for syncing: sort=updated_at&direction=asc)",
      }),
    ),
    ...OrderPaging,
  },
  {
    additionalProperties: false,
    // metadata[key]=value: orders whose metadata has that key with that value.
    patternProperties: { "^metadata\\[[^\\]]{1,40}\\]$": Type.String({ minLength: 1, maxLength: 500 }) },
  },
);

export const SearchOrdersQuery = Type.Object(
  {
    query: Type.String({
      minLength: 1,
      maxLength: 1000,
      description:
        "The search language, e.g. status:'paid' AND amount>1000 AND metadata['email']:'a@b.c' (docs/RELAYER.md); a query that does not parse answers 400 invalid_query with details.position and details.expected",
    }),
    total: Type.Optional(
      Type.Boolean({
        description: "Also count the matches (up to 10,000; totalIsLowerBound says when there are more)",
      }),
    ),
    ...OrderPaging,
  },
  { additionalProperties: false },
);

/** `PATCH /v1/orders/{id}`: keys to set; an empty string deletes its key. */
export const OrderUpdate = Type.Object({ metadata: MetadataIn }, { additionalProperties: false });
