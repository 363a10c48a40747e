import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, idOf, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  TRACKING,
  createdOrderFixture,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
  type LoadedOrder,
  statusOf,
  stock,
} from "../helpers/settlement";

describe("PaymentEscrow.ship", function () {
  describe("success", function () {
    it("emits OrderShipped with the tracking hash and releaseAfter = ship time + protection period", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const ts = BigInt(await time.latest()) + 100n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.emit(escrow, "OrderShipped")
        .withArgs(orderId, merchant.address, buyer.address, TRACKING, ts + t.protectionPeriod);
    });

    it("sets the status to Shipped with deadline = now + protection period, everything else unchanged", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t, book } = f;
      const before = await statusOf(escrow, orderId);
      expect(before.state).to.equal(OrderState.Paid);
      const receipt = await book.send(escrow.connect(merchant).ship(t, TRACKING));
      const shippedAt = BigInt((await receipt.getBlock()).timestamp);

      const after = await statusOf(escrow, orderId);
      expect(after).to.deep.equal({ ...before, state: OrderState.Shipped, deadline: shippedAt + t.protectionPeriod });
      expect((await statusOf(escrow, orderId)).refunded).to.equal(0n);
      expect(f.view().state).to.equal(OrderState.Shipped);
      expect(f.view().deadline).to.equal(after.deadline);
      expect(f.view().escrowed).to.equal(AMOUNT);
    });

    it("lets an operator approved by the merchant ship", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, operator, merchant, buyer, orderId, terms: t } = f;
      const ts = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(operator).ship(t, TRACKING))
        .to.emit(escrow, "OrderShipped")
        .withArgs(orderId, merchant.address, buyer.address, TRACKING, ts + t.protectionPeriod);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Shipped);
    });

    it("ships at exactly the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(shipBy);

      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.emit(escrow, "OrderShipped")
        .withArgs(orderId, merchant.address, buyer.address, TRACKING, shipBy + t.protectionPeriod);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Shipped);
      expect(s.deadline).to.equal(shipBy + t.protectionPeriod);
    });

    it("moves neither money nor stock", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, terms: t } = f;
      const tx = escrow.connect(merchant).ship(t, TRACKING);

      await expect(tx).to.changeTokenBalances(usd, [escrow, merchant, buyer, feeRecipient], [0n, 0n, 0n, 0n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([2n, 1n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, pauser, merchant, orderId, terms: t } = f;
      await escrow.connect(pauser).pause();

      await escrow.connect(merchant).ship(t, TRACKING);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Shipped);
    });

    it("ships after a partial refund with the same terms; the refund stays recorded", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      await escrow.connect(merchant).refund(t, 1_000n, []);

      await escrow.connect(merchant).ship(t, TRACKING);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Shipped);
      expect((await statusOf(escrow, orderId)).refunded).to.equal(1_000n);
    });

    it("names the payer as the buyer when shipping an order that was open to any payer", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, otherBuyer, book } = f;
      const open = await placeOrder(f, book, "Paid", { terms: { buyer: ethers.ZeroAddress }, payer: otherBuyer });

      const ts = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(merchant).ship(open.terms, TRACKING))
        .to.emit(escrow, "OrderShipped")
        .withArgs(open.orderId, merchant.address, otherBuyer.address, TRACKING, ts + open.terms.protectionPeriod);
      expect(await escrow.payerOf(open.orderId)).to.equal(otherBuyer.address);
    });
  });

  describe("ship-by time", function () {
    it("reverts with ShipByPassed one second after the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(shipBy + 1n);

      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "ShipByPassed")
        .withArgs(orderId, shipBy, shipBy + 1n);
    });

    it("reverts with ShipByPassed for an operator long after the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, operator, orderId, terms: t } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      const ts = shipBy + 30n * 24n * 3600n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(operator).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "ShipByPassed")
        .withArgs(orderId, shipBy, ts);
    });

    it("a late merchant cannot ship ahead of the buyer's cancellation: the order stays Paid and the buyer cancels", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(shipBy + 1n);
      await expect(escrow.connect(merchant).ship(t, TRACKING)).to.be.revertedWithCustomError(escrow, "ShipByPassed");
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Paid);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items)).to.changeTokenBalance(usd, buyer, AMOUNT);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
    });
  });

  describe("authorisation", function () {
    it("reverts with NotMerchantOrOperator for a stranger", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, stranger, terms: t } = f;
      await expect(escrow.connect(stranger).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, stranger.address);
    });

    it("reverts with NotMerchantOrOperator for the buyer and the arbiter", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, arbiter, terms: t } = f;
      for (const caller of [buyer, arbiter]) {
        await expect(escrow.connect(caller).ship(t, TRACKING))
          .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
          .withArgs(merchant.address, caller.address);
      }
    });

    it("reverts with NotMerchantOrOperator for a second merchant and for that merchant's operator", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, otherMerchant, stranger, terms: t } = f;
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);

      await expect(escrow.connect(otherMerchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, otherMerchant.address);
      await expect(escrow.connect(stranger).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, stranger.address);
    });

    it("a second merchant that puts itself in the terms names no order: OrderNotFound", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, otherMerchant, orderId, terms: t } = f;
      const squatted = { ...t, merchant: otherMerchant.address };
      const squattedId = await escrow.orderIdOf(squatted);
      expect(squattedId).to.not.equal(orderId);

      await expect(escrow.connect(otherMerchant).ship(squatted, TRACKING))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(squattedId);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Paid);
    });

    it("reverts with NotMerchantOrOperator for an operator whose approval was withdrawn", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, terms: t } = f;
      await escrow.connect(merchant).setOperatorApproval(operator.address, false);

      await expect(escrow.connect(operator).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, operator.address);
    });
  });

  describe("state and terms checks", function () {
    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState when shipped twice", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Shipped);
    });

    it("reverts with InvalidState for a completed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      await escrow.connect(buyer).confirmReceipt(t, items);

      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a cancelled, a refunded, a disputed and a revoked order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, book } = f;
      const cancelled = await placeOrder(f, book, "Created");
      await escrow.connect(merchant).cancel(cancelled.terms, []);
      const refunded = await placeOrder(f, book, "Paid");
      await escrow.connect(merchant).refund(refunded.terms, refunded.terms.amount, []);
      const disputed = await placeOrder(f, book, "Paid");
      await escrow.connect(buyer).dispute(disputed.terms, ethers.ZeroHash);
      const revokedTerms = await terms(f);
      await escrow.connect(merchant).revokeOffer(revokedTerms);
      const revokedId = await idOf(escrow, revokedTerms);

      for (const [t, id, state] of [
        [cancelled.terms, cancelled.orderId, OrderState.Cancelled],
        [refunded.terms, refunded.orderId, OrderState.Refunded],
        [disputed.terms, disputed.orderId, OrderState.Disputed],
        [revokedTerms, revokedId, OrderState.Revoked],
      ] as const) {
        await expect(escrow.connect(merchant).ship(t, TRACKING))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with OrderNotFound for terms with a longer protection period than the order's", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      const forged = { ...t, protectionPeriod: t.protectionPeriod * 2n };
      const forgedId = await escrow.orderIdOf(forged);

      await expect(escrow.connect(merchant).ship(forged, TRACKING))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(forgedId);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Paid);
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(merchant).ship(unknown, TRACKING))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
