/**
 * Settlements of a dispute between merchant and buyer: the merchant proposes a split or accepts the buyer's; the
 * arbiter's rulings are in disputes.ts.
 */
import { AppError } from "../domain/errors";
import { assertAllowed } from "../domain/order";
import { orderView, proposalOf } from "../domain/orderView";
import { recordAudit } from "../store/audit";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import type { OrderRow } from "../store/orders";
import type { Principal } from "./context";

/** A split of a disputed order: the buyer's share of the whole order (partial refunds included). */
function checkBuyerTotal(o: OrderRow, buyerTotal: string): bigint {
  const total = BigInt(buyerTotal);
  const amount = BigInt(o.amount);
  if (total > amount) {
    throw new AppError("unprocessable", `buyerTotal ${total} exceeds the order's amount ${amount}`, {
      buyerTotal,
      amount: amount.toString(),
    });
  }
  return total;
}

/**
 * Proposes to end the order's dispute with `buyerTotal` as the buyer's share of the whole order (what partial
 * refunds returned counts towards it) and the rest to the payee minus the fee; the buyer ends the dispute by
 * accepting the same split. Replaces the merchant's earlier proposal.
 */
export async function proposeSettlement(q: Queryable, who: Principal, o: OrderRow, buyerTotal: string) {
  assertAllowed("merchant", "propose_settlement", o, "propose a settlement for");
  const total = checkBuyerTotal(o, buyerTotal).toString();
  const commandId = await enqueueCommand(q, {
    kind: "propose_settlement",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: { buyerTotal: total },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.settlement_proposed",
    resourceType: "order",
    resourceId: o.id,
    details: { buyerTotal: total },
  });
  return { order: orderView(o), command: { id: commandId, kind: "propose_settlement", status: "pending" } };
}

/**
 * Accepts the buyer's pending settlement proposal, which ends the dispute. `buyerTotal` must be the split the
 * buyer proposed (the escrow refuses any other), so a proposal the buyer changed meanwhile is never accepted
 * by mistake.
 */
export async function acceptSettlement(q: Queryable, who: Principal, o: OrderRow, buyerTotal: string) {
  assertAllowed("merchant", "accept_settlement", o, "accept a settlement for");
  const p = proposalOf(o);
  if (!p || p.by !== "buyer") {
    throw new AppError("no_settlement_proposal", "the buyer has not proposed a settlement for this order", {
      proposal: p,
    });
  }
  if (BigInt(p.buyerTotal) !== BigInt(buyerTotal)) {
    throw new AppError(
      "settlement_proposal_mismatch",
      `the buyer proposed a buyerTotal of ${p.buyerTotal}, not ${buyerTotal}`,
      { proposed: p.buyerTotal, buyerTotal },
    );
  }
  const commandId = await enqueueCommand(q, {
    kind: "accept_settlement",
    merchantId: o.merchant_id,
    orderId: o.id,
    payload: { buyerTotal: p.buyerTotal },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: o.merchant_id,
    apiKeyId: who.keyId,
    action: "order.settlement_accepted",
    resourceType: "order",
    resourceId: o.id,
    details: { buyerTotal: p.buyerTotal },
  });
  return { order: orderView(o), command: { id: commandId, kind: "accept_settlement", status: "pending" } };
}
