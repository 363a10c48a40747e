/** The arbiter's side of disputes: the open disputes with their evidence, and rulings relayed as commands. */
import { AppError } from "../domain/errors";
import { assertAllowed } from "../domain/order";
import { recordAudit } from "../store/audit";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import { openDisputes, type OrderRow } from "../store/orders";
import type { Principal, ServiceDeps } from "./context";
import { orderView } from "./orders";
import { listPage } from "./listPage";

/**
 * A page of the open disputes, oldest change first. An order that changes while it is paged moves to the end:
 * it may be listed again on a later page, never skipped.
 */
export async function listOpenDisputes(deps: ServiceDeps, page: { cursor?: string; limit?: number } = {}) {
  return listPage(
    page,
    (after, limit) => openDisputes(deps.db, { after, limit }),
    (o) => ({
      ...orderView(o),
      merchant: { id: o.merchant_id, name: o.merchant_name },
      evidence: o.evidence ? { text: o.evidence, hash: o.evidence_hash } : null,
    }),
  );
}

export interface Ruling {
  /** The buyer's share of the whole order, partial refunds included. */
  buyerTotal?: string;
  /** Or: what the buyer gets back from what is escrowed now (converted with the partial refunds known now). */
  buyerAmount?: string;
  note?: string;
}

/**
 * Checks a ruling on `o` before anything is stored and returns its buyerTotal: exactly one of buyerTotal and
 * buyerAmount, the order disputed and on chain, the split within the order, an arbiter signer configured.
 */
export function checkRuling(deps: ServiceDeps, o: OrderRow, ruling: Ruling): bigint {
  if ((ruling.buyerTotal === undefined) === (ruling.buyerAmount === undefined))
    throw new AppError("validation_failed", "give buyerTotal (or buyerAmount), not both", { field: "buyerTotal" });
  assertAllowed("arbiter", "resolve", o, "resolve", true);
  const record = o.record!; // present: assertAllowed checked it
  if (ruling.buyerAmount !== undefined && BigInt(ruling.buyerAmount) > BigInt(record.escrowed)) {
    throw new AppError("unprocessable", `buyerAmount exceeds the ${record.escrowed} escrowed`, {
      escrowed: record.escrowed,
    });
  }
  const buyerTotal =
    ruling.buyerTotal !== undefined ? BigInt(ruling.buyerTotal) : BigInt(ruling.buyerAmount!) + BigInt(record.refunded);
  if (buyerTotal > BigInt(o.amount)) {
    throw new AppError("unprocessable", `buyerTotal exceeds the order's amount ${o.amount}`, {
      amount: String(o.amount),
    });
  }
  if (!deps.config.arbiterSignerConfigured)
    throw new AppError("arbiter_not_configured", "the relayer has no arbiter signer (ARBITER_SIGNER_KEY)");
  return buyerTotal;
}

/** Queues the checked ruling (the relayer signs it with the arbiter key and relays it) and audits it. */
export async function resolveDispute(q: Queryable, who: Principal, o: OrderRow, buyerTotal: bigint, ruling: Ruling) {
  const commandId = await enqueueCommand(q, {
    kind: "resolve_dispute",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: { buyerTotal: buyerTotal.toString(), note: ruling.note ?? null },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "dispute.resolved",
    resourceType: "order",
    resourceId: o.id,
    details: { buyerTotal: buyerTotal.toString(), buyerAmount: ruling.buyerAmount, note: ruling.note },
  });
  return { order: orderView(o), command: { id: commandId, kind: "resolve_dispute", status: "pending" } };
}
