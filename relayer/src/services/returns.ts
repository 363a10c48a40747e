/**
 * Returns after completion: money given back to the buyer of a completed order within its refund window, funded
 * by the order's payee (not by the escrow, which released the payment). Everything the escrow would refuse is
 * refused before acceptance with a stable code: the order is not completed, the window closed (by the chain's
 * latest block time), the amount exceeds what the buyer is still out, or the payee's wallet gave the escrow no
 * allowance and no permit comes with the request.
 */
import { isError, ZeroAddress } from "ethers";
import { AppError } from "../domain/errors";
import { isAllowed } from "../domain/order";
import { orderView } from "../domain/orderView";
import { chainNotReady } from "../domain/unavailable";
import { recordAudit } from "../store/audit";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import type { OrderRow } from "../store/orders";
import { lockOrderForReturn, restockedByReturns, returnsInFlight, type ReturnInFlight } from "../store/payouts";
import { getMerchant } from "../store/merchants";
import { tokenMethods } from "../relay/tokenMethods";
import type { Principal, ServiceDeps } from "./context";
import { IERC20__factory, IERC5267__factory } from "../../../typechain-types";

export interface ReturnBody {
  amount: string;
  /** true: every line item comes back into stock; a list: these SKUs (of the order) and quantities. */
  restock?: boolean | { sku: string; quantity: number }[];
  /** The payee wallet's EIP-2612 permit for the escrow, for at least `amount` (a payee the relayer does not hold). */
  permit?: { deadline: string; v: number; r: string; s: string };
}

export async function returnOrder(deps: ServiceDeps, q: Queryable, who: Principal, o: OrderRow, body: ReturnBody) {
  // Restocking mints stock: it needs the stock scope, as adding stock does.
  if (body.restock && who.kind === "merchant" && !who.scopes.includes("stock")) {
    throw new AppError("insufficient_scope", "restocking returned goods needs an API key with the stock scope", {
      required: "stock",
      held: who.scopes,
    });
  }
  if (!isAllowed("merchant", "return", o) || !o.terms || !o.record) {
    throw new AppError("order_not_returnable", `order ${o.id} is ${o.status}; only a completed order can be returned`, {
      status: o.status,
    });
  }
  if (o.token === ZeroAddress) {
    throw new AppError(
      "return_token_unsupported",
      "returns of orders paid in the chain's currency are not relayed: the return's value would be the relayer's own",
      { token: "native" },
    );
  }
  const amount = BigInt(body.amount);
  if (amount <= 0n) throw new AppError("validation_failed", "amount must be positive", { field: "amount" });
  // The chain's own view: the end of the refund window (the Completed status's deadline), what was given back.
  // All read at one block, so that a return mined by then is counted once: in the chain's `refunded`, not also
  // as in flight below.
  let latest: { number: number; timestamp: number } | null;
  let status: { deadline: bigint; refunded: bigint };
  try {
    latest = await deps.chain.provider.getBlock("latest");
    status = await deps.chain.escrow.statusOf(o.chain_order_id, { blockTag: latest?.number ?? "latest" });
  } catch (err) {
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
  const windowEnd = status.deadline;
  if (!latest || BigInt(latest.timestamp) >= windowEnd) {
    throw new AppError("refund_window_closed", `the order's refund window ended at ${iso(windowEnd)}`, {
      windowEnd: iso(windowEnd),
      chainTime: latest ? iso(BigInt(latest.timestamp)) : null,
    });
  }
  // Returns racing on one order are counted in turn: the second sees the first in flight.
  await lockOrderForReturn(q, o.id);
  const inFlight = await unminedReturns(deps, await returnsInFlight(q, o.id), latest.number);
  const refunded = status.refunded > BigInt(o.record.refunded) ? status.refunded : BigInt(o.record.refunded);
  const refundable = BigInt(o.terms.amount) - refunded - inFlight;
  if (amount > refundable) {
    throw new AppError(
      "return_exceeds_refundable",
      `a return of ${amount} exceeds the ${refundable < 0n ? 0n : refundable} the buyer can still get back`,
      {
        amount: amount.toString(),
        refundable: (refundable < 0n ? 0n : refundable).toString(),
        inFlight: inFlight.toString(),
      },
    );
  }
  const payee = o.terms.payee;
  // The relayer signs the custodial address's permit itself; another payee (a merchant's own wallet included)
  // needs an allowance or a permit.
  const custodial =
    payee.toLowerCase() === o.terms.merchant.toLowerCase() &&
    (await getMerchant(q, o.merchant_id))?.signer_kind !== "external";
  if (custodial && !(await custodialCanPermit(deps, o.token))) {
    throw new AppError(
      "return_token_unsupported",
      `the custodial address cannot sign a permit for token ${o.token} (no EIP-2612 permit with an EIP-5267 domain): name a payout address to fund returns from`,
      { token: o.token },
    );
  }
  if (!custodial) {
    // A payout wallet funds returns only of the merchants it agreed to (setReturnFunding), whatever its allowance.
    let consents: boolean;
    try {
      consents = await deps.chain.escrow.fundsReturnsOf(payee, o.terms.merchant);
    } catch (err) {
      throw chainNotReady(err, "the chain is unreachable; retry later");
    }
    if (!consents) {
      throw new AppError(
        "return_funding_not_allowed",
        `the payout wallet ${payee} has not agreed to fund this merchant's returns: it calls setReturnFunding(${o.terms.merchant}, true) on the escrow once`,
        { payee, merchant: o.terms.merchant, escrow: deps.chain.addresses.escrow },
      );
    }
  }
  if (!custodial && !body.permit) {
    let allowance: bigint;
    try {
      allowance = await IERC20__factory.connect(o.token, deps.chain.provider).allowance(
        payee,
        deps.chain.addresses.escrow,
      );
    } catch (err) {
      throw chainNotReady(err, "the chain is unreachable; retry later");
    }
    const needed = amount + inFlight;
    if (allowance < needed) {
      throw new AppError(
        "payout_allowance_missing",
        `the payout wallet ${payee} must approve the escrow for ${needed} (it approved ${allowance}), or send a permit`,
        {
          payee,
          spender: deps.chain.addresses.escrow,
          token: o.token,
          needed: needed.toString(),
          allowance: allowance.toString(),
        },
      );
    }
  }
  const restockItems = restockOf(o, body.restock, await restockedByReturns(q, o.id));
  const payload: Record<string, unknown> = {
    amount: amount.toString(),
    restock: restockItems.length > 0,
    restockItems,
  };
  if (body.permit) payload.permit = body.permit;
  const commandId = await enqueueCommand(q, {
    kind: "return_order",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload,
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.returned",
    resourceType: "order",
    resourceId: o.id,
    details: { amount: amount.toString(), restock: restockItems, payee, full: amount === refundable },
  });
  return { order: orderView(o), command: { id: commandId, kind: "return_order", status: "pending" } };
}

const iso = (unixSeconds: bigint) => new Date(Number(unixSeconds) * 1000).toISOString();

/**
 * What the returns not settled yet add to the chain's `refunded` as read at `block`. A return whose transaction's
 * nonce the chain had used by then ran at or before that block (then `refunded` holds it, or it reverted): it is
 * no longer in flight, even while the relayer has not yet seen its receipt.
 */
async function unminedReturns(deps: ServiceDeps, returns: ReturnInFlight[], block: number): Promise<bigint> {
  const nonces = new Map<string, Promise<number>>();
  let total = 0n;
  for (const r of returns) {
    if (r.signer !== null && r.nonce !== null) {
      const signer = r.signer;
      if (!nonces.has(signer)) nonces.set(signer, deps.chain.provider.getTransactionCount(signer, block));
      let used: number;
      try {
        used = await nonces.get(signer)!;
      } catch (err) {
        throw chainNotReady(err, "the chain is unreachable; retry later");
      }
      if (used > r.nonce) continue;
    }
    total += r.amount;
  }
  return total;
}

/**
 * The chain SKU ids and quantities a return puts back into stock: none, what is left of every line item (`true`),
 * or the listed SKUs of the order; with the order's earlier returns (`already`), never more of a SKU than ordered.
 */
export function restockOf(
  o: Pick<OrderRow, "id" | "items">,
  restock: ReturnBody["restock"],
  already: ReadonlyMap<string, number> = new Map(),
) {
  if (!restock) return [];
  const left = (skuId: string, ordered: string) => Number(ordered) - (already.get(skuId) ?? 0);
  if (restock === true)
    return o.items
      .map((i) => ({ skuId: i.skuId, quantity: left(i.skuId, i.quantity) }))
      .filter((i) => i.quantity > 0)
      .map((i) => ({ skuId: i.skuId, quantity: String(i.quantity) }));
  const wanted = new Map<string, number>();
  for (const r of restock) {
    const line = o.items.find((i) => i.sku === r.sku);
    if (!line)
      throw new AppError("validation_failed", `SKU ${r.sku} is not among order ${o.id}'s line items`, {
        field: "restock",
        sku: r.sku,
      });
    const total = (wanted.get(line.skuId) ?? 0) + r.quantity;
    if (total > left(line.skuId, line.quantity))
      throw new AppError(
        "validation_failed",
        `order ${o.id} has ${left(line.skuId, line.quantity)} of SKU ${r.sku} left to restock (${line.quantity} ordered), not ${total}`,
        { field: "restock", sku: r.sku, ordered: Number(line.quantity), restockable: left(line.skuId, line.quantity) },
      );
    wanted.set(line.skuId, total);
  }
  return [...wanted].map(([skuId, quantity]) => ({ skuId, quantity: String(quantity) }));
}

/** Whether the custodial key can sign an EIP-2612 permit for `token` in a domain the token publishes (EIP-5267). */
async function custodialCanPermit(deps: ServiceDeps, token: string): Promise<boolean> {
  try {
    const methods = await tokenMethods(deps.chain, token);
    if (!methods.paymentMethods.includes("permit")) return false;
    await IERC5267__factory.connect(token, deps.chain.provider).eip712Domain();
    return true;
  } catch (err) {
    if (isError(err, "CALL_EXCEPTION")) return false;
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
}
