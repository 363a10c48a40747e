/** Orders: accepted durably with their chain command, status derived from indexed chain events. */
import { getAddress, id as keccakText, isAddress, ZeroAddress } from "ethers";
import { hashItems, orderIdOf, termsToJson, type OrderTerms } from "../../../sdk/orderRecord";
import { AppError } from "../domain/errors";
import { metadataUpdate } from "../domain/metadata";
import { newId, orderSalt } from "../domain/model";
import { orderView, proposalOf } from "../domain/orderView";
import { assertAllowed, orderNameKind, referenceProblem } from "../domain/order";
import { UINT_MAX } from "../domain/uints";
import { chainNotReady } from "../domain/unavailable";
import { enqueueCommand } from "../store/commands";
import { isUniqueViolation, type Queryable } from "../store/db";
import { getMerchant } from "../store/merchants";
import { skusByIds } from "../store/skus";
import {
  findMerchantOrderByChainId,
  findOrderById,
  findOrderByReference,
  insertOrderWithCommand,
  orderCommands,
  orderEvents,
  type OrderRow,
} from "../store/orders";
import { recordAudit } from "../store/audit";
import { activePayoutAddress } from "../store/payouts";
import type { Principal, ServiceDeps } from "./context";
import { gasBudgetExhausted, gasBudgetTermsOf, refuseSpentGasBudget } from "./gasBudget";

const DEFAULT_PAYMENT_WINDOW_S = 24 * 3600;
const DEFAULT_SHIP_WITHIN_S = 48 * 3600;
const DEFAULT_PROTECTION_S = 72 * 3600;

export interface CreateOrderBody {
  reference: string;
  amount: string;
  token: string;
  buyer?: string | null;
  items?: { sku: string; quantity: number }[];
  paymentDeadline?: string;
  shipWithinSeconds?: number;
  protectionPeriodSeconds?: number;
  refundWindowSeconds?: number;
  /** Checked by metadataUpdate (each violation its own code); empty values are left out. */
  metadata?: unknown;
}

export { orderView, proposalOf };

/**
 * Accepts an order. With an idempotency claim the first response is stored in the same statement as the
 * order; `null` means the claim's key was already stored and nothing was inserted (the caller replays).
 */
export async function createOrder(
  deps: ServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  body: CreateOrderBody,
  idempotency?: {
    scope: string;
    key: string;
    hash: string;
    apiKeyId: string | null;
    ttlSeconds: number;
    status: number;
  },
): Promise<ReturnType<typeof orderView> | null> {
  const shape = referenceProblem(body.reference);
  if (shape) throw new AppError("validation_failed", shape, { field: "reference" });
  const metadata = body.metadata === undefined ? {} : metadataUpdate(body.metadata).set;
  const merchantAddress = await merchantAddressOf(q, merchantId);
  // Before any chain read: a merchant that spent its gas budget costs nothing more.
  await refuseSpentGasBudget(deps, q, merchantId);
  if (body.token !== "native" && !isAddress(body.token)) {
    throw new AppError("validation_failed", 'token must be "native" or a 0x address', { field: "token" });
  }
  // One spelling (checksummed), as the chain's events name it: the ledger keys its lines by token.
  const token = body.token === "native" ? ZeroAddress : getAddress(body.token);
  if (!(await tokenAllowed(deps, token))) {
    throw new AppError("token_not_allowed", `token ${body.token} is not accepted by the escrow`, { token: body.token });
  }
  let buyer: string | null = null;
  if (body.buyer) {
    if (!isAddress(body.buyer))
      throw new AppError("validation_failed", "buyer must be a 0x address", { field: "buyer" });
    buyer = getAddress(body.buyer);
  }
  const amount = BigInt(body.amount);
  if (amount <= 0n)
    throw new AppError("validation_failed", "amount must be a positive integer in the token's base units", {
      field: "amount",
    });
  // The schema checks it too (format uint184); an amount the escrow refuses must never become a command.
  if (amount > UINT_MAX.uint184)
    throw new AppError("value_out_of_range", "/amount is larger than the escrow accepts (a uint184)", {
      path: "/amount",
      type: "uint184",
      max: UINT_MAX.uint184.toString(),
    });
  const now = Math.floor(Date.now() / 1000);
  const paymentDeadline = body.paymentDeadline
    ? Math.floor(Date.parse(body.paymentDeadline) / 1000)
    : now + DEFAULT_PAYMENT_WINDOW_S;
  if (!Number.isFinite(paymentDeadline) || paymentDeadline <= now + 30) {
    throw new AppError("validation_failed", "paymentDeadline must be a date-time at least 30 seconds in the future", {
      field: "paymentDeadline",
    });
  }
  const shipWithin = body.shipWithinSeconds ?? DEFAULT_SHIP_WITHIN_S;
  const protection = body.protectionPeriodSeconds ?? DEFAULT_PROTECTION_S;
  const requested = body.items ?? [];
  const seen = new Set<string>();
  for (const i of requested) {
    if (seen.has(i.sku))
      throw new AppError("validation_failed", `SKU ${i.sku} appears twice; give one line per SKU`, { sku: i.sku });
    seen.add(i.sku);
  }
  const skus =
    requested.length === 0
      ? []
      : await skusByIds(
          q,
          merchantId,
          requested.map((i) => i.sku),
        );
  const byId = new Map(skus.map((s) => [s.id, s]));
  const items = requested.map((i) => {
    const s = byId.get(i.sku);
    if (!s) throw new AppError("not_found", `SKU ${i.sku} not found`, { sku: i.sku });
    if (s.status === "failed")
      throw new AppError("unprocessable", `SKU ${i.sku} could not be created on chain`, { sku: i.sku });
    return { sku: s.id, skuId: String(s.chain_sku_id), quantity: String(i.quantity) };
  });
  const maxFeeBps = await currentFeeBps(deps);
  const chainItems = items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));
  // The order's fixed terms: its chain id is their hash, and every later call is encoded from them.
  const termsWith = (payee: string): OrderTerms => ({
    merchant: merchantAddress,
    payee,
    buyer: buyer ?? ZeroAddress,
    token,
    amount,
    maxFeeBps: BigInt(maxFeeBps),
    paymentDeadline: BigInt(paymentDeadline),
    shipWithin: BigInt(shipWithin),
    protectionPeriod: BigInt(protection),
    refundWindow: BigInt(body.refundWindowSeconds ?? 0),
    itemsHash: hashItems(chainItems),
    salt: orderSalt(merchantAddress, body.reference),
  });
  const id = newId("ord");
  // The active payout address (the chain shows it), else the custodial address; the order keeps it. The accepting
  // statement reads it again, held until the order is stored (a payout change waits for the order), and stores
  // nothing when it changed meanwhile: the terms are then made again with the payee it read.
  let payee = (await activePayoutAddress(q, merchantId)) ?? merchantAddress;
  for (let attempt = 1; ; attempt++) {
    const terms = termsWith(payee);
    const chainOrderId = orderIdOf(terms, chainItems);
    const termsJson = termsToJson(terms);
    // A reused reference is caught by the unique index, also when two requests race. The gas budget is checked
    // again by the inserting statement, which holds it: orders racing each other are counted in turn.
    const accepted = await insertOrderWithCommand(
      q,
      {
        id,
        merchantId,
        reference: body.reference,
        chainOrderId,
        buyer,
        token,
        amount: amount.toString(),
        items,
        paymentDeadline,
        shipWithin,
        protectionPeriod: protection,
        terms: termsJson,
        metadata,
      },
      {
        payload: {
          orderId: chainOrderId,
          terms: termsJson,
          items: items.map((i) => ({ skuId: i.skuId, quantity: i.quantity })),
        },
        apiKeyId: who.keyId,
      },
      { action: "order.created", details: { reference: body.reference, amount: amount.toString() } },
      gasBudgetTermsOf(deps),
      idempotency && { ...idempotency, response: orderView },
    ).catch((err) => {
      if (isUniqueViolation(err, ["orders_merchant_id_reference_key", "orders_chain_order_id_key"])) {
        throw new AppError("reference_already_used", `order reference "${body.reference}" is already used`, {
          reference: body.reference,
        });
      }
      throw err;
    });
    switch (accepted.outcome) {
      case "accepted":
        return orderView(accepted.row);
      case "replay":
        return null;
      case "over_budget":
        throw gasBudgetExhausted(accepted.spend, gasBudgetTermsOf(deps).defaultWei);
      case "no_merchant":
        throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
      case "payee_changed":
        // Payout changes are hours apart: a second change within one acceptance is an anomaly, not a race to win.
        if (attempt >= 3)
          throw new AppError("payout_change_in_progress", "the merchant's payout address is changing; retry", {
            merchantId,
          });
        payee = accepted.payee;
    }
  }
}

/** A merchant's address never changes: remembered after the first read. */
const merchantAddresses = new Map<string, string>();
async function merchantAddressOf(q: Queryable, merchantId: string): Promise<string> {
  const hit = merchantAddresses.get(merchantId);
  if (hit) return hit;
  const m = await getMerchant(q, merchantId);
  if (!m) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  // A merchant signing for itself may take days to sign its operator approvals: until the chain shows them, its
  // order's creation could only revert (and cost gas). A custodial merchant's setup is relayed at once, and its
  // orders queue behind it.
  if (m.signer_kind === "external" && m.status !== "active")
    throw new AppError(
      "merchant_not_ready",
      "the merchant's wallet has not signed its operator approvals yet (GET /v1/merchant/operator-approvals)",
      { merchantId, status: m.status },
    );
  merchantAddresses.set(merchantId, m.address);
  return m.address;
}

/** The escrow's fee as last read, per chain connection. */
const feeCaches = new WeakMap<ServiceDeps["chain"], { at: number; feeBps: number }>();
const FEE_CACHE_MS = 2_000;

/**
 * The platform fee the escrow charges now (read at most every 2 s). An order is accepted with it as its
 * `maxFeeBps`: the merchant's price never silently pays a higher fee (the escrow refuses the creation with
 * FeeAboveSignedMax if the fee rose meanwhile).
 */
export async function currentFeeBps(deps: ServiceDeps): Promise<number> {
  const hit = feeCaches.get(deps.chain);
  if (hit && Date.now() - hit.at < FEE_CACHE_MS) return hit.feeBps;
  try {
    const feeBps = Number(await deps.chain.escrow.feeBps());
    feeCaches.set(deps.chain, { at: Date.now(), feeBps });
    return feeBps;
  } catch (err) {
    if (hit) return hit.feeBps;
    throw chainNotReady(err, "the chain is unreachable and the escrow's fee is not known yet; retry later");
  }
}

/** The escrow's last answers per token, kept per chain connection (one relayer's, never another's). */
const allowCaches = new WeakMap<ServiceDeps["chain"], Map<string, { at: number; allowed: boolean }>>();
async function tokenAllowed(deps: ServiceDeps, token: string): Promise<boolean> {
  let allowCache = allowCaches.get(deps.chain);
  if (!allowCache) allowCaches.set(deps.chain, (allowCache = new Map()));
  const hit = allowCache.get(token);
  if (hit && Date.now() - hit.at < 30_000) return hit.allowed;
  let allowed: boolean;
  try {
    allowed = await deps.chain.escrow.isTokenAllowed(token);
  } catch (err) {
    // The chain is unreachable: orders are still accepted on the last known answer (the escrow checks again).
    if (hit) return hit.allowed;
    throw chainNotReady(
      err,
      "the chain is unreachable and whether the escrow accepts this token is not known yet; retry later",
      { token },
    );
  }
  allowCache.set(token, { at: Date.now(), allowed });
  return allowed;
}

/** The merchant's order named by `name`: its id, its chain order id or its reference, told apart by form. */
export async function getOrderOr404(q: Queryable, merchantId: string, name: string) {
  const find = { id: findOrderById, chainOrderId: findMerchantOrderByChainId, reference: findOrderByReference }[
    orderNameKind(name)
  ];
  const o = await find(q, merchantId, name);
  if (!o) throw new AppError("not_found", `order ${name} not found`, { orderId: name });
  return o;
}

export async function orderDetail(q: Queryable, o: OrderRow) {
  const [events, commands] = await Promise.all([orderEvents(q, o.chain_order_id), orderCommands(q, o.id)]);
  return {
    ...orderView(o),
    record: o.record,
    events: events.map((e) => ({
      name: e.name,
      txHash: e.tx_hash,
      blockNumber: Number(e.block_number),
      logIndex: e.log_index,
      at: e.block_time ? new Date(Number(e.block_time) * 1000).toISOString() : null,
      args: e.args,
    })),
    commands: commands.map((c) => ({
      id: String(c.id),
      kind: c.kind,
      status: c.status,
      error: c.error_code ? { code: c.error_code, message: c.error_message } : null,
      createdAt: new Date(c.created_at).toISOString(),
      updatedAt: new Date(c.updated_at).toISOString(),
    })),
  };
}

export async function shipOrder(q: Queryable, who: Principal, o: OrderRow, trackingReference: string) {
  assertAllowed("merchant", "ship", o);
  const commandId = await enqueueCommand(q, {
    kind: "ship_order",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: { trackingHash: keccakText(trackingReference), trackingReference },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.shipped",
    resourceType: "order",
    resourceId: o.id,
    details: { trackingReference },
  });
  return { order: orderView(o), command: { id: commandId, kind: "ship_order", status: "pending" } };
}

export async function refundOrder(q: Queryable, who: Principal, o: OrderRow, amount?: string) {
  assertAllowed("merchant", "refund", o);
  const escrowed = BigInt(o.record!.escrowed);
  if (amount !== undefined) {
    const a = BigInt(amount);
    if (a <= 0n) throw new AppError("validation_failed", "amount must be positive", { field: "amount" });
    if (a > escrowed)
      throw new AppError("unprocessable", `refund of ${a} exceeds the ${escrowed} still escrowed`, {
        amount,
        escrowed: escrowed.toString(),
      });
  }
  const commandId = await enqueueCommand(q, {
    kind: "refund_order",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: { amount: amount ?? null },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.refunded",
    resourceType: "order",
    resourceId: o.id,
    details: { amount: amount ?? escrowed.toString(), full: amount === undefined || BigInt(amount) === escrowed },
  });
  return { order: orderView(o), command: { id: commandId, kind: "refund_order", status: "pending" } };
}

export async function cancelOrder(q: Queryable, who: Principal, o: OrderRow) {
  assertAllowed("merchant", "cancel", o);
  const commandId = await enqueueCommand(q, {
    kind: "cancel_order",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: {},
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.cancelled",
    resourceType: "order",
    resourceId: o.id,
  });
  return { order: orderView(o), command: { id: commandId, kind: "cancel_order", status: "pending" } };
}
