import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { anyUint as anyTimestamp } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { OrderState } from "../helpers/fixtures";
import { NATIVE_AMOUNT, createdOrderFixture, load, paidOrderFixture, placeOrder } from "../helpers/settlement";

describe("PaymentEscrow.cancel", function () {
  describe("by the merchant or its operator", function () {
    it("lets the merchant cancel before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, buyer, orderId, items } = f;

      await expect(escrow.connect(merchant).cancel(orderId, f.record(), items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, merchant.address);
    });

    it("lets an approved operator cancel before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, operator, merchant, buyer, orderId, items } = f;

      await expect(escrow.connect(operator).cancel(orderId, f.record(), items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, operator.address);
    });

    it("lets the merchant cancel after the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, items, book } = f;
      await time.increaseTo(f.record().deadline + 3600n);

      await book.send(escrow.connect(merchant).cancel(orderId, f.record(), items));
      expect(f.record().state).to.equal(OrderState.Cancelled);
    });
  });

  describe("by anyone", function () {
    it("lets a stranger cancel once the payment deadline has passed", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, merchant, buyer, orderId, items } = f;
      await time.setNextBlockTimestamp(f.record().deadline + 1n);

      await expect(escrow.connect(stranger).cancel(orderId, f.record(), items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, stranger.address);
    });

    it("reverts with PaymentDeadlineNotPassed for a stranger before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, orderId, items } = f;
      const deadline = f.record().deadline;
      const ts = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(stranger).cancel(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
        .withArgs(orderId, deadline, ts);
    });

    it("reverts with PaymentDeadlineNotPassed for a stranger at exactly the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, orderId, items } = f;
      const deadline = f.record().deadline;
      await time.setNextBlockTimestamp(deadline);

      await expect(escrow.connect(stranger).cancel(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
        .withArgs(orderId, deadline, deadline);
    });

    it("reverts with PaymentDeadlineNotPassed for the buyer and another merchant's operator before the deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, otherMerchant, stranger, orderId, items } = f;
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);
      const deadline = f.record().deadline;

      for (const caller of [buyer, otherMerchant, stranger]) {
        await expect(escrow.connect(caller).cancel(orderId, f.record(), items))
          .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
          .withArgs(orderId, deadline, anyTimestamp);
      }
    });
  });

  describe("effects", function () {
    it("stores the record in state Cancelled, everything else unchanged", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, items, book } = f;
      const before = f.record();
      await book.send(escrow.connect(merchant).cancel(orderId, before, items));

      expect(f.record()).to.deep.equal({ ...before, state: OrderState.Cancelled });
      expect(await escrow.isCurrent(orderId, f.record())).to.equal(true);
    });

    it("returns the reserved stock to the merchant", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, inventory, merchant, orderId, items, skuA, skuB } = f;
      const escrowAddress = await escrow.getAddress();
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        98n,
        99n,
      ]);

      await escrow.connect(merchant).cancel(orderId, f.record(), items);
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        100n,
        100n,
      ]);
      expect(await inventory.balanceOfBatch([escrowAddress, escrowAddress], [skuA, skuB])).to.deep.equal([0n, 0n]);
    });

    it("moves no money", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, orderId, items } = f;

      await expect(escrow.connect(merchant).cancel(orderId, f.record(), items)).to.changeTokenBalances(
        usd,
        [escrow, merchant, buyer, feeRecipient],
        [0n, 0n, 0n, 0n],
      );
    });

    it("cancels a native order and an order open to any payer", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, book } = f;
      const native = await placeOrder(f, book, "Created", {
        terms: { token: ethers.ZeroAddress, amount: NATIVE_AMOUNT },
      });
      const open = await placeOrder(f, book, "Created", { terms: { buyer: ethers.ZeroAddress } });

      await expect(escrow.connect(merchant).cancel(native.orderId, book.get(native.orderId), []))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(native.orderId, merchant.address, f.buyer.address, merchant.address);
      await expect(escrow.connect(merchant).cancel(open.orderId, book.get(open.orderId), []))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(open.orderId, merchant.address, ethers.ZeroAddress, merchant.address);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, pauser, merchant, orderId, items, book } = f;
      await escrow.connect(pauser).pause();

      await book.send(escrow.connect(merchant).cancel(orderId, f.record(), items));
      expect(f.record().state).to.equal(OrderState.Cancelled);
    });
  });

  describe("checks", function () {
    it("reverts with InvalidState for a paid order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, items } = f;

      await expect(escrow.connect(merchant).cancel(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Paid);
    });

    it("reverts with InvalidState for an order cancelled already", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).cancel(orderId, f.record(), items));

      await expect(escrow.connect(merchant).cancel(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Cancelled);
    });

    it("reverts with LineItemsMismatch when the items are missing", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId } = f;

      await expect(escrow.connect(merchant).cancel(orderId, f.record(), []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems([]));
    });

    it("reverts with StaleOrderRecord for a forged record", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, items } = f;
      const forged = { ...f.record(), deadline: 1n };

      await expect(escrow.connect(merchant).cancel(orderId, forged, items))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, items } = f;
      const unknown = ethers.id("no such order");

      await expect(escrow.connect(merchant).cancel(unknown, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
});
