/**
 * Request and response schemas (JSON Schema via TypeBox): validation, the handlers' types (the TypeBox type
 * provider), the OpenAPI document, and the serialisation of replies. A response schema also decides what is
 * sent: a property an object schema does not list is dropped from the reply, so every field a route returns is
 * listed, and stored JSON whose shape the relayer does not fix (event arguments, audit details) is an open map.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ORDER_ACTIONS, type OrderParty } from "../../../sdk/orderActions";
import { ErrorCodes, type ErrorCode } from "../domain/errors";
import { UINT_MAX, type UintType } from "../domain/uints";

/** Every error's body. Registered once with `app.addSchema` (app.ts); routes refer to it by its $id. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ErrorCode>({
        type: "string",
        enum: Object.keys(ErrorCodes),
        description: "Stable machine-readable code (relayer/src/domain/errors.ts)",
      }),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: "Error" },
);

const sharedSchemas: TSchema[] = [ErrorBody];

/**
 * A schema registered once (app.ts adds SHARED_SCHEMAS) and referred to by name: it appears once under
 * components/schemas in the OpenAPI document, and the generated client names its type after it.
 */
export function shared<T extends TSchema>(id: string, schema: T) {
  sharedSchemas.push({ ...schema, $id: id });
  return Type.Unsafe<Static<T>>({ $ref: id });
}

/** The schemas routes refer to by name: registered with `app.addSchema` before any route. */
export const SHARED_SCHEMAS: readonly TSchema[] = sharedSchemas;

type ErrorStatus = (typeof ErrorCodes)[ErrorCode];

/** A reference to the shared error body, described by the codes answered with `status`. */
function errorResponse(status: ErrorStatus) {
  const codes = Object.entries(ErrorCodes)
    .filter(([, s]) => s === status)
    .map(([code]) => code);
  return Type.Unsafe<Static<typeof ErrorBody>>({ $ref: "Error", description: `Error: ${codes.join(", ")}` });
}

/**
 * The error responses of a route: the statuses it can answer besides its success. Every route can answer 400
 * (a request part holding U+0000 is refused before any handler) and 500; a route behind a key 401 and 403; a
 * POST 413 and 415; a POST honouring Idempotency-Key 409 (the key reused with another request, or in flight).
 */
export function errors<S extends ErrorStatus>(...statuses: S[]): { [K in S]: ReturnType<typeof errorResponse> } {
  return Object.fromEntries(statuses.map((s) => [s, errorResponse(s)])) as {
    [K in S]: ReturnType<typeof errorResponse>;
  };
}

/** The header of the POST routes that store their first response (idempotency.ts). */
export const IdempotencyHeaders = Type.Object({
  "Idempotency-Key": Type.Optional(
    Type.String({
      description:
        "1 to 255 visible ASCII characters, one namespace per merchant (the admin and the arbiter have one each), kept 24 hours from the first request (IDEMPOTENCY_TTL_HOURS). A retry with the same key and request by the same API key gets the first response (with Idempotent-Replayed: true); the same key with another request, or from another API key of the merchant, is refused (409 idempotency_key_reused)",
    }),
  ),
});

export const UintString = Type.String({
  pattern: "^[0-9]{1,78}$",
  description: "Unsigned integer in base units, as a decimal string",
});
/**
 * An on-chain integer a caller sends, as a decimal string: `pattern` bounds its digits, `format` (its Solidity
 * type, domain/uints.ts) its value. A value its type cannot hold is refused with 400 value_out_of_range.
 */
export const UintIn = (type: UintType, opts: { pattern?: string; description?: string } = {}) =>
  Type.String({
    pattern: opts.pattern ?? "^(0|[1-9][0-9]{0,77})$",
    format: type,
    description: `${opts.description ? `${opts.description}. ` : ""}A ${type}: at most ${UINT_MAX[type]}`,
  });
export const Address = Type.String({ pattern: "^0x[0-9a-fA-F]{40}$" });
export const Reference = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:/#-]+$" });
/** An order's reference: besides `Reference`, it may take neither the form of an order id nor of a chain order id. */
export const OrderReference = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: "^[A-Za-z0-9._:/#-]+$",
  description:
    'The merchant\'s own name of the order, unique per merchant. It may not start with "ord_" nor be 0x and 64 hex digits: those forms name orders by id and chain order id (400 validation_failed)',
});
export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
/** An order named by its id (`ord_…`), its chain order id (0x and 64 hex digits) or its reference. */
export const OrderNameParam = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 128,
    description:
      "The order's id (ord_…), its chain order id (0x and 64 hex digits) or its reference; the form says which",
  }),
});
export const Scope = Type.Union([
  Type.Literal("read"),
  Type.Literal("orders"),
  Type.Literal("refunds"),
  Type.Literal("stock"),
  Type.Literal("keys"),
]);

export const Merchant = shared(
  "Merchant",
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    address: Address,
    status: Type.String({ description: "pending until its operators are authorised on chain, then active" }),
    createdAt: Type.String({ format: "date-time" }),
  }),
);

export const GasBudget = shared(
  "GasBudget",
  Type.Object({
    merchantId: Type.String(),
    budgetWei: Type.String({
      pattern: "^[0-9]{1,78}$",
      description: "Gas (wei) the relayer may spend for the merchant over the period: its own, or the default",
    }),
    isDefault: Type.Boolean({
      description: "The merchant has no budget of its own: the default (GAS_BUDGET_DEFAULT_ETH)",
    }),
    periodDays: Type.Integer({ description: "The period: the last N UTC days, today included" }),
    spentWei: Type.String({
      pattern: "^[0-9]{1,78}$",
      description: "Gas the merchant's commands cost over the period (wei; a batch's gas shared equally by its calls)",
    }),
    gasUsed: Type.String({ pattern: "^[0-9]{1,78}$", description: "The gas of that spend" }),
    remainingWei: Type.String({ pattern: "^[0-9]{1,78}$" }),
    exhausted: Type.Boolean({ description: "New commands are refused with 402 gas_budget_exhausted" }),
  }),
);

export const GasBudgetChange = Type.Object(
  {
    budgetWei: Type.Union([UintIn("uint256", { description: "Gas (wei) over the last 30 days" }), Type.Null()], {
      description: "The merchant's own budget, or null to go back to the default",
    }),
  },
  { additionalProperties: false },
);

const ApiKeyFields = Type.Object({
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

export const ApiKey = shared("ApiKey", ApiKeyFields);

export const ApiKeyWithSecret = Type.Composite([
  ApiKeyFields,
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

export const Sku = shared(
  "Sku",
  Type.Object({
    id: Type.String(),
    reference: Type.String(),
    name: Type.String(),
    metadataUri: Type.String(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    chainSkuId: UintString,
    status: Type.String({ description: "pending until created on chain, then created (or failed)" }),
    createdAt: Type.String(),
    stock: Type.Optional(
      Type.Union([Stock, Type.Null()], {
        description: "As the chain has it now: null until the SKU is created on chain; absent where not read",
      }),
    ),
  }),
);

export const StockChangeAccepted = Type.Object({
  sku: Sku,
  change: Type.Object({
    kind: Type.Union([Type.Literal("add"), Type.Literal("write_off")]),
    quantity: Type.String(),
    commandId: Type.String({ description: "The chain command that mints or burns the stock" }),
    status: Type.String(),
  }),
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

/** `OrderTerms` with its numbers as decimal strings. */
export const Terms = Type.Object(
  {
    merchant: Type.String(),
    payee: Type.String(),
    buyer: Type.String({ description: "The zero address for an order open to any payer" }),
    token: Type.String({ description: "The zero address for the chain currency" }),
    amount: Type.String({ description: "In the token's base units" }),
    maxFeeBps: Type.String(),
    paymentDeadline: Type.String({ description: "Unix seconds" }),
    shipWithin: Type.String({ description: "Seconds" }),
    protectionPeriod: Type.String({ description: "Seconds" }),
    refundWindow: Type.String({ description: "Seconds" }),
    itemsHash: Type.String(),
    salt: Type.String(),
  },
  {
    description:
      "The order's fixed terms (OrderTerms, numbers as decimal strings); chainOrderId is their EIP-712 struct hash",
  },
);

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
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** `OrderView` as the indexer stores it: numbers as decimal strings. */
export const OrderRecord = Type.Object(
  {
    terms: Terms,
    items: Type.Array(Type.Object({ skuId: Type.String(), quantity: Type.String() })),
    feeBps: Type.String(),
    state: Type.String({ description: "The escrow's OrderState" }),
    deadline: Type.String({ description: "Unix seconds; its meaning follows the state" }),
    buyer: Type.String({ description: "The terms' buyer, or the payer of an order open to any payer" }),
    escrowed: Type.String(),
    refunded: Type.String(),
    proposal: Type.Optional(
      Type.Object({
        by: Type.String({ description: "The escrow's Party: 1 buyer, 2 merchant" }),
        buyerTotal: Type.String(),
      }),
    ),
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

/** A list that is not paged. */
export const List = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item) });
