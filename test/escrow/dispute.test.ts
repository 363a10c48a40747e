import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, idOf, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  EVIDENCE,
  createdOrderFixture,
  disputedOrderFixture,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
  type LoadedOrder,
  statusOf,
  stock,
} from "../helpers/settlement";

const DISPUTE_PERIOD = 14n * 24n * 3600n;

/** Sets the next block's timestamp a few seconds ahead and returns it. */
async function nextTimestamp(ahead = 7n): Promise<bigint> {
  const ts = BigInt(await time.latest()) + ahead;
  await time.setNextBlockTimestamp(ts);
  return ts;
}

describe("PaymentEscrow.dispute", function () {
  it("has a dispute period of 14 days", async function () {
    const f = await load(paidOrderFixture);
    expect(await f.escrow.DISPUTE_PERIOD()).to.equal(DISPUTE_PERIOD);
  });

  describe("success", function () {
    it("lets the buyer dispute a paid order: OrderDisputed with the evidence hash and defaultAfter = now + DISPUTE_PERIOD", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const ts = await nextTimestamp();

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE, ts + DISPUTE_PERIOD);
    });

    it("sets the status to Disputed with deadline = defaultAfter, fee and refunded unchanged", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t, book } = f;
      const before = await statusOf(escrow, orderId);
      const ts = await nextTimestamp();
      await book.send(escrow.connect(buyer).dispute(t, EVIDENCE));

      expect(await statusOf(escrow, orderId)).to.deep.equal({
        ...before,
        state: OrderState.Disputed,
        deadline: ts + DISPUTE_PERIOD,
      });
      expect(f.view().state).to.equal(OrderState.Disputed);
      expect(f.view().deadline).to.equal(ts + DISPUTE_PERIOD);
    });

    it("lets the buyer dispute a shipped order within the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const ts = await nextTimestamp(3600n);

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE, ts + DISPUTE_PERIOD);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });

    it("lets the buyer dispute a shipped order at exactly the end of the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const releaseAfter = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter);

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE, releaseAfter + DISPUTE_PERIOD);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Disputed);
      expect(s.deadline).to.equal(releaseAfter + DISPUTE_PERIOD);
    });

    it("lets the buyer dispute a paid order after its ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(shipBy + 1000n);

      await escrow.connect(buyer).dispute(t, EVIDENCE);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Disputed);
      expect(s.deadline).to.equal(shipBy + 1000n + DISPUTE_PERIOD);
    });

    it("lets the buyer dispute with the same terms after partial refunds; the refunded total stays", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      await escrow.connect(merchant).refund(t, 3_456_789n, []);
      await escrow.connect(merchant).refund(t, 20_000_000n, []);
      const ts = await nextTimestamp();

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE, ts + DISPUTE_PERIOD);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Disputed);
      expect(s.refunded).to.equal(23_456_789n);
    });

    it("lets the payer of an order open to any payer dispute, and nobody else", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, otherBuyer, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { buyer: ethers.ZeroAddress }, payer: otherBuyer });
      await expect(escrow.connect(buyer).dispute(o.terms, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "NotBuyer")
        .withArgs(o.orderId, buyer.address);

      const ts = await nextTimestamp();
      await expect(escrow.connect(otherBuyer).dispute(o.terms, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(o.orderId, merchant.address, otherBuyer.address, EVIDENCE, ts + DISPUTE_PERIOD);
    });

    it("moves neither money nor stock", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, terms: t } = f;

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE)).to.changeTokenBalances(
        usd,
        [escrow, merchant, buyer, feeRecipient],
        [0n, 0n, 0n, 0n],
      );
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([2n, 1n]);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(AMOUNT);
    });

    it("stops the merchant from shipping and anyone from releasing", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, stranger, orderId, terms: t, items } = f;
      await escrow.connect(buyer).dispute(t, EVIDENCE);

      await expect(escrow.connect(merchant).ship(t, ethers.ZeroHash))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, pauser, buyer, orderId, terms: t } = f;
      await escrow.connect(pauser).pause();

      await escrow.connect(buyer).dispute(t, EVIDENCE);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });
  });

  describe("checks", function () {
    it("reverts with ProtectionPeriodOver one second after the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, terms: t } = f;
      const releaseAfter = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter + 1n);

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodOver")
        .withArgs(orderId, releaseAfter, releaseAfter + 1n);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Shipped);
    });

    it("reverts with NotBuyer for a stranger, the merchant, the operator, another buyer and the payee", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, otherBuyer, otherMerchant, stranger, book } = f;
      const o = await placeOrder(f, book, "Paid", { terms: { payee: otherMerchant.address } });

      for (const caller of [stranger, merchant, operator, otherBuyer, otherMerchant]) {
        await expect(escrow.connect(caller).dispute(o.terms, EVIDENCE))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(o.orderId, caller.address);
      }
    });

    it("reverts with NotBuyer for a stranger on an unpaid order, ahead of the state check", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, orderId, terms: t } = f;

      await expect(escrow.connect(stranger).dispute(t, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "NotBuyer")
        .withArgs(orderId, stranger.address);
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, orderId, terms: t } = f;

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for an order disputed already (the deadline does not move)", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, orderId, terms: t } = f;
      const before = await statusOf(escrow, orderId);

      await expect(escrow.connect(buyer).dispute(t, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
      expect(await statusOf(escrow, orderId)).to.deep.equal(before);
    });

    it("reverts with InvalidState for a completed, a refunded, a resolved and a cancelled order", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, buyer, orderId, terms: t, items, book } = f;
      await escrow.connect(arbiter).resolveDispute(t, 0n, items);
      const completed = await placeOrder(f, book, "Shipped");
      await escrow.connect(buyer).confirmReceipt(completed.terms, []);
      const refunded = await placeOrder(f, book, "Paid");
      await escrow.connect(merchant).refund(refunded.terms, refunded.terms.amount, []);
      const cancelled = await placeOrder(f, book, "Created");
      await escrow.connect(merchant).cancel(cancelled.terms, []);

      for (const [tt, id, state] of [
        [t, orderId, OrderState.Resolved],
        [completed.terms, completed.orderId, OrderState.Completed],
        [refunded.terms, refunded.orderId, OrderState.Refunded],
        [cancelled.terms, cancelled.orderId, OrderState.Cancelled],
      ] as const) {
        await expect(escrow.connect(buyer).dispute(tt, EVIDENCE))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with OrderNotFound for terms with a longer protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, terms: t } = f;
      const forged = { ...t, protectionPeriod: t.protectionPeriod + 1_000_000n };

      await expect(escrow.connect(buyer).dispute(forged, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(buyer).dispute(unknown, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
