/** What every resource's schemas use: the error body and responses, shared schemas, integers, addresses, names, pages. */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ErrorCodes, type ErrorCode } from "../../domain/errors";
import { UINT_MAX, type UintType } from "../../domain/uints";

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

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const SearchPage = <T extends TSchema>(item: T) =>
  Type.Object({
    data: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
    total: Type.Optional(Type.Integer({ description: "With total=true: the matches, counted up to 10,000" })),
    totalIsLowerBound: Type.Optional(Type.Boolean({ description: "With total=true: more than 10,000 match" })),
  });

/**
 * The page of the lists in creation (or change) order: merchants, API keys, webhook endpoints, open disputes.
 * Each page's nextCursor is the `cursor` of the next; null on the last page.
 */
export const ListPaging = {
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 512,
      description:
        "The nextCursor of the previous page; any other value is refused (400 validation_failed, details.field cursor)",
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: "Items per page (default 50)" })),
};

/** A list that is not paged. */
export const List = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item) });
