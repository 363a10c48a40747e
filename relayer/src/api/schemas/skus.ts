/** SKUs and their stock. */
import { Type } from "@sinclair/typebox";
import { Reference, shared, UintString } from "./common";

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

/**
 * Metadata as sent: checked by the service (domain/metadata.ts) so each violation answers its own code
 * (metadata_too_many_keys, metadata_key_invalid, metadata_value_invalid, metadata_value_too_long).
 */
