/**
 * What the public checkout page shows: what the buyer pays, to whom, the fee and the order's status, looked up by
 * the chain order id (the page is public; signatures authorise the buyer's actions).
 */
import { AppError } from "../domain/errors";
import { getMerchant } from "../store/merchants";
import { findOrderByChainId, type OrderRow } from "../store/orders";
import { skuNames } from "../store/skus";
import { tokenMethods } from "../relay/tokenMethods";
import type { ServiceDeps } from "./context";
import { currentFeeBps, orderView } from "./orders";

/** The order with `chainOrderId`, or 404. */
export async function orderByChainId(deps: ServiceDeps, chainOrderId: string): Promise<OrderRow> {
  const o = await findOrderByChainId(deps.db, chainOrderId);
  if (!o) throw new AppError("not_found", `order ${chainOrderId} not found`, { chainOrderId });
  return o;
}

/** The escrow's fee recipient as last read, per chain connection. */
const recipientCaches = new WeakMap<ServiceDeps["chain"], { at: number; address: Promise<string> }>();
const RECIPIENT_CACHE_MS = 2_000;

/**
 * Who receives the platform fee (read at most every 2 s per chain connection, concurrent views sharing one
 * read): the checkout page is public and polled, and the admin changes the recipient rarely.
 */
async function currentFeeRecipient(deps: ServiceDeps): Promise<string> {
  const hit = recipientCaches.get(deps.chain);
  if (hit && Date.now() - hit.at < RECIPIENT_CACHE_MS) return hit.address;
  const address = deps.chain.escrow.feeRecipient();
  recipientCaches.set(deps.chain, { at: Date.now(), address });
  // A failed read is not kept: the next view asks again.
  address.catch(() => recipientCaches.get(deps.chain)?.address === address && recipientCaches.delete(deps.chain));
  return address;
}

export async function checkoutView(deps: ServiceDeps, o: OrderRow) {
  const m = (await getMerchant(deps.db, o.merchant_id))!;
  const names = await skuNames(
    deps.db,
    o.items.map((i) => i.sku),
  );
  const v = orderView(o);
  // The fee fixed at creation; before that, the escrow's fee now (creation refuses a fee above maxFeeBps).
  const feeBps = v.feeBps ?? (await currentFeeBps(deps));
  // What the buyer pays (before payment: the price) or what is still escrowed (after partial refunds).
  const escrowed = o.record ? BigInt(o.record.escrowed) : 0n;
  const amount = escrowed > 0n ? escrowed : BigInt(o.amount);
  // How the buyer can pay, best first, and the domain its wallet signs in (detected once per token).
  const methods = await tokenMethods(deps.chain, o.token);
  return {
    chainOrderId: o.chain_order_id,
    reference: o.reference,
    status: v.status,
    merchant: { name: m.name, address: m.address },
    buyer: v.buyer,
    token: v.token,
    amount: v.amount,
    escrowed: v.escrowed,
    due: amount.toString(),
    feeBps,
    fee: ((amount * BigInt(feeBps)) / 10_000n).toString(),
    feeRecipient: await currentFeeRecipient(deps),
    merchantReceives: (amount - (amount * BigInt(feeBps)) / 10_000n).toString(),
    payee: v.payee,
    maxFeeBps: v.maxFeeBps,
    terms: v.terms,
    disputeDefaultAfter: v.disputeDefaultAfter,
    settlementProposal: v.settlementProposal,
    allowedActions: v.allowedActions,
    items: v.items.map((i) => ({ ...i, name: names.get(i.sku) ?? i.sku })),
    paymentDeadline: v.paymentDeadline,
    deadline: v.deadline,
    chainId: deps.chain.chainId.toString(),
    escrow: deps.chain.addresses.escrow,
    chainProof: v.chainProof,
    paymentMethods: methods.paymentMethods,
    tokenDomain: methods.eip712,
  };
}
