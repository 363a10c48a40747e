import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { anyUint } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { OrderState } from "../helpers/fixtures";
import {
  TRACKING,
  createdOrderFixture,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
} from "../helpers/settlement";

describe("PaymentEscrow.ship", function () {
  describe("success", function () {
    it("emits OrderShipped with the tracking hash and releaseAfter = ship time + protection period", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId } = f;
      const rec = f.record();
      const ts = BigInt(await time.latest()) + 100n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(merchant).ship(orderId, rec, TRACKING))
        .to.emit(escrow, "OrderShipped")
        .withArgs(orderId, merchant.address, buyer.address, TRACKING, ts + rec.protectionPeriod);
    });

    it("stores the record in state Shipped with the release-after time as its deadline", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, book } = f;
      const before = f.record();
      const receipt = await book.send(escrow.connect(merchant).ship(orderId, before, TRACKING));
      const block = await receipt.getBlock();

      const after = f.record();
      expect(after.state).to.equal(OrderState.Shipped);
      expect(after.deadline).to.equal(BigInt(block.timestamp) + before.protectionPeriod);
      expect({ ...after, state: before.state, deadline: before.deadline }).to.deep.equal(before);
      expect(await escrow.orderHash(orderId)).to.equal(await escrow.hashOrder(after));
      expect(await escrow.isCurrent(orderId, before)).to.equal(false);
    });

    it("lets an operator approved by the merchant ship", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, operator, merchant, buyer, orderId, book } = f;
      const tx = escrow.connect(operator).ship(orderId, f.record(), TRACKING);

      await expect(tx)
        .to.emit(escrow, "OrderShipped")
        .withArgs(orderId, merchant.address, buyer.address, TRACKING, anyUint);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Shipped);
    });

    it("still ships after the ship-by time when the buyer has not cancelled", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, book } = f;
      await time.increaseTo(f.record().deadline + 3600n);

      await book.send(escrow.connect(merchant).ship(orderId, f.record(), TRACKING));
      expect(f.record().state).to.equal(OrderState.Shipped);
    });

    it("moves neither money nor stock", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, inventory, merchant, buyer, orderId, skuA } = f;
      const tx = escrow.connect(merchant).ship(orderId, f.record(), TRACKING);

      await expect(tx).to.changeTokenBalances(usd, [escrow, merchant, buyer], [0n, 0n, 0n]);
      expect(await inventory.balanceOf(await escrow.getAddress(), skuA)).to.equal(2n);
    });
  });

  describe("authorisation", function () {
    it("reverts with NotMerchantOrOperator for a stranger", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, stranger, orderId } = f;
      await expect(escrow.connect(stranger).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, stranger.address);
    });

    it("reverts with NotMerchantOrOperator for the buyer", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId } = f;
      await expect(escrow.connect(buyer).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, buyer.address);
    });

    it("reverts with NotMerchantOrOperator for another merchant and for that merchant's operator", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, otherMerchant, stranger, orderId } = f;
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);

      await expect(escrow.connect(otherMerchant).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, otherMerchant.address);
      await expect(escrow.connect(stranger).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, stranger.address);
    });

    it("reverts with NotMerchantOrOperator for an operator whose approval was withdrawn", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, orderId } = f;
      await escrow.connect(merchant).setOperatorApproval(operator.address, false);

      await expect(escrow.connect(operator).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
        .withArgs(merchant.address, operator.address);
    });
  });

  describe("state and record checks", function () {
    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId } = f;
      await expect(escrow.connect(merchant).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState when shipped twice", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, orderId } = f;
      await expect(escrow.connect(merchant).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Shipped);
    });

    it("reverts with InvalidState for a completed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items));

      await expect(escrow.connect(merchant).ship(orderId, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a cancelled, a refunded and a disputed order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, book } = f;
      const cancelled = await placeOrder(f, book, "Created");
      await book.send(escrow.connect(merchant).cancel(cancelled.orderId, book.get(cancelled.orderId), []));
      const refunded = await placeOrder(f, book, "Paid");
      const r = book.get(refunded.orderId);
      await book.send(escrow.connect(merchant).refund(refunded.orderId, r, r.amount, []));
      const disputed = await placeOrder(f, book, "Paid");
      await book.send(escrow.connect(buyer).dispute(disputed.orderId, book.get(disputed.orderId), ethers.ZeroHash));

      for (const [id, state] of [
        [cancelled.orderId, OrderState.Cancelled],
        [refunded.orderId, OrderState.Refunded],
        [disputed.orderId, OrderState.Disputed],
      ] as const) {
        await expect(escrow.connect(merchant).ship(id, book.get(id), TRACKING))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with StaleOrderRecord for a superseded record", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, book } = f;
      const paidRecord = f.record();
      await book.send(escrow.connect(merchant).ship(orderId, paidRecord, TRACKING));

      await expect(escrow.connect(merchant).ship(orderId, paidRecord, TRACKING))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(paidRecord));
    });

    it("reverts with StaleOrderRecord for a forged record (longer protection period)", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId } = f;
      const forged = { ...f.record(), protectionPeriod: f.record().protectionPeriod * 2n };

      await expect(escrow.connect(merchant).ship(orderId, forged, TRACKING))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant } = f;
      const unknown = ethers.id("no such order");

      await expect(escrow.connect(merchant).ship(unknown, f.record(), TRACKING))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
});
