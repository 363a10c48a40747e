/** The order rules shared by the relayer, its web pages and clients (sdk/orderActions.ts), without a node. */
import { expect } from "chai";
import { ORDER_ACTIONS, ORDER_STATUSES, allowedActions, isAllowed, type OrderParty } from "../../sdk/orderActions";
import { assertAllowed } from "../../relayer/src/domain/order";
import { AppError } from "../../relayer/src/domain/errors";
import { OrderStateName } from "../../sdk/orderRecord";

describe("order rules (unit): which status allows which action", function () {
  it("every status of the table is an API status, and the API statuses are the escrow's states plus pending and failed", function () {
    const chain = Object.values(OrderStateName)
      .filter((n) => n !== "None" && n !== "Revoked")
      .map((n) => n.toLowerCase());
    expect([...ORDER_STATUSES].sort()).to.deep.equal([...chain, "pending", "failed"].sort());
    for (const party of Object.keys(ORDER_ACTIONS) as OrderParty[]) {
      for (const statuses of Object.values(ORDER_ACTIONS[party]) as readonly string[][]) {
        for (const s of statuses) expect(ORDER_STATUSES as readonly string[]).to.include(s);
      }
    }
  });

  it("lists, per status, exactly what the merchant, the buyer and the arbiter may do", function () {
    const expected: Record<string, { merchant: string[]; buyer: string[]; arbiter: string[] }> = {
      pending: { merchant: ["cancel"], buyer: [], arbiter: [] },
      created: { merchant: ["cancel"], buyer: ["pay"], arbiter: [] },
      paid: { merchant: ["ship", "refund"], buyer: ["dispute"], arbiter: [] },
      shipped: { merchant: ["refund"], buyer: ["confirm", "dispute"], arbiter: [] },
      disputed: { merchant: ["refund", "propose_settlement"], buyer: ["propose_settlement"], arbiter: ["resolve"] },
      completed: { merchant: ["return"], buyer: [], arbiter: [] },
      cancelled: { merchant: [], buyer: [], arbiter: [] },
      refunded: { merchant: [], buyer: [], arbiter: [] },
      resolved: { merchant: [], buyer: [], arbiter: [] },
      failed: { merchant: [], buyer: [], arbiter: [] },
    };
    for (const status of ORDER_STATUSES) expect(allowedActions({ status }), status).to.deep.equal(expected[status]);
  });

  it("a settlement can be accepted only by the side that did not propose it", function () {
    const byBuyer = allowedActions({ status: "disputed", settlementProposal: { by: "buyer" } });
    expect(byBuyer.merchant).to.include("accept_settlement");
    expect(byBuyer.buyer).to.not.include("accept_settlement");
    const byMerchant = allowedActions({ status: "disputed", settlementProposal: { by: "merchant" } });
    expect(byMerchant.buyer).to.include("accept_settlement");
    expect(byMerchant.merchant).to.not.include("accept_settlement");
    expect(isAllowed("merchant", "accept_settlement", { status: "disputed", settlementProposal: null })).to.equal(
      false,
    );
    // A proposal left in the view of an order no longer disputed allows nothing.
    expect(
      isAllowed("buyer", "accept_settlement", { status: "resolved", settlementProposal: { by: "merchant" } }),
    ).to.equal(false);
  });

  it("assertAllowed refuses with invalid_order_state naming the status and the allowed statuses", function () {
    expect(() => assertAllowed("merchant", "ship", { status: "paid" })).to.not.throw();
    try {
      assertAllowed("merchant", "ship", { status: "shipped" });
      expect.fail("no error");
    } catch (e) {
      expect(e).to.be.instanceOf(AppError);
      const err = e as AppError;
      expect(err.code).to.equal("invalid_order_state");
      expect(err.message).to.equal("cannot ship an order that is shipped");
      expect(err.details).to.deep.equal({ status: "shipped", allowed: ["paid"] });
    }
  });

  it("a merchant may return only a completed order: not one still paid, shipped, disputed or already refunded", function () {
    for (const status of ORDER_STATUSES)
      expect(isAllowed("merchant", "return", { status }), status).to.equal(status === "completed");
  });

  it("assertAllowed with needsRecord refuses an order the indexer has not seen on chain yet", function () {
    expect(() => assertAllowed("buyer", "pay", { status: "created", record: null }, "pay", true)).to.throw(
      AppError,
      "cannot pay an order that is created",
    );
    expect(() => assertAllowed("buyer", "pay", { status: "created", record: {} }, "pay", true)).to.not.throw();
  });
});
