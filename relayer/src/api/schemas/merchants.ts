/** Merchants, their gas budgets and their API keys. */
import { Type } from "@sinclair/typebox";
import { Address, shared, UintIn } from "./common";

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
    signer: Type.Union([Type.Literal("custodial"), Type.Literal("external")], {
      description:
        "custodial: the relayer holds the address's key and signs for it; external: the merchant's own wallet signs (operator approvals, payout address, sweeps)",
    }),
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
    reservedWei: Type.String({
      pattern: "^[0-9]{1,78}$",
      description: "What the merchant's accepted commands not yet on chain are expected to cost (wei)",
    }),
    queuedCommands: Type.Integer({ description: "The merchant's accepted commands not yet final on chain" }),
    remainingWei: Type.String({ pattern: "^[0-9]{1,78}$", description: "Budget minus spent minus reserved" }),
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
