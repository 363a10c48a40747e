import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import {
  NATIVE_AMOUNT,
  createdOrderFixture,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
  type LoadedOrder,
  statusOf,
  stock,
} from "../helpers/settlement";

describe("PaymentEscrow.cancel", function () {
  describe("by the merchant or its operator", function () {
    it("lets the merchant cancel before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;

      await expect(escrow.connect(merchant).cancel(t, items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, merchant.address);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Cancelled);
    });

    it("lets an approved operator cancel before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, operator, merchant, buyer, orderId, terms: t, items } = f;

      await expect(escrow.connect(operator).cancel(t, items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, operator.address);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Cancelled);
    });

    it("lets the merchant cancel after the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;
      await time.increaseTo(t.paymentDeadline + 3600n);

      await escrow.connect(merchant).cancel(t, items);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Cancelled);
    });
  });

  describe("by anyone", function () {
    it("lets a stranger cancel one second after the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, merchant, buyer, orderId, terms: t, items } = f;
      expect((await statusOf(escrow, orderId)).deadline).to.equal(t.paymentDeadline);
      await time.setNextBlockTimestamp(t.paymentDeadline + 1n);

      await expect(escrow.connect(stranger).cancel(t, items))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, merchant.address, buyer.address, stranger.address);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
    });

    it("reverts with PaymentDeadlineNotPassed for a stranger before the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      const ts = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(stranger).cancel(t, items))
        .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
        .withArgs(orderId, t.paymentDeadline, ts);
    });

    it("reverts with PaymentDeadlineNotPassed for a stranger at exactly the payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      await time.setNextBlockTimestamp(t.paymentDeadline);

      await expect(escrow.connect(stranger).cancel(t, items))
        .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
        .withArgs(orderId, t.paymentDeadline, t.paymentDeadline);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Created);
    });

    it("reverts with PaymentDeadlineNotPassed for the buyer, a second merchant and its operator before the deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, otherMerchant, stranger, orderId, terms: t, items } = f;
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);

      for (const caller of [buyer, otherMerchant, stranger]) {
        const ts = BigInt(await time.latest()) + 1n;
        await time.setNextBlockTimestamp(ts);
        await expect(escrow.connect(caller).cancel(t, items))
          .to.be.revertedWithCustomError(escrow, "PaymentDeadlineNotPassed")
          .withArgs(orderId, t.paymentDeadline, ts);
      }
    });
  });

  describe("effects", function () {
    it("sets the status to Cancelled, everything else unchanged", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      const before = await statusOf(escrow, orderId);
      expect(before).to.deep.equal({
        state: OrderState.Created,
        feeBps: 100n,
        deadline: t.paymentDeadline,
        refunded: 0n,
      });
      await escrow.connect(merchant).cancel(t, items);

      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Cancelled });
      expect((await statusOf(escrow, orderId)).refunded).to.equal(0n);
    });

    it("returns the reserved stock to the merchant", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, terms: t, items } = f;
      const escrowAddress = await escrow.getAddress();
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
      expect(await stock(f, escrowAddress)).to.deep.equal([2n, 1n]);

      await escrow.connect(merchant).cancel(t, items);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, escrowAddress)).to.deep.equal([0n, 0n]);
    });

    it("moves no money", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, terms: t, items } = f;

      await expect(escrow.connect(merchant).cancel(t, items)).to.changeTokenBalances(
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

      await expect(escrow.connect(merchant).cancel(native.terms, []))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(native.orderId, merchant.address, f.buyer.address, merchant.address);
      await expect(escrow.connect(merchant).cancel(open.terms, []))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(open.orderId, merchant.address, ethers.ZeroAddress, merchant.address);
      expect((await statusOf(escrow, native.orderId)).state).to.equal(OrderState.Cancelled);
      expect((await statusOf(escrow, open.orderId)).state).to.equal(OrderState.Cancelled);
    });

    it("makes the terms unpayable: pay reverts with InvalidState", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      await escrow.connect(merchant).cancel(t, items);

      await expect(escrow.connect(buyer).pay(t))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Cancelled);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, pauser, merchant, orderId, terms: t, items } = f;
      await escrow.connect(pauser).pause();

      await escrow.connect(merchant).cancel(t, items);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Cancelled);
    });
  });

  describe("checks", function () {
    it("reverts with InvalidState for a paid order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;

      await expect(escrow.connect(merchant).cancel(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Paid);
    });

    it("reverts with InvalidState for a shipped order, also for a stranger after the payment deadline", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, stranger, orderId, terms: t, items } = f;
      await time.increaseTo(t.paymentDeadline + 1n);

      for (const caller of [merchant, stranger]) {
        await expect(escrow.connect(caller).cancel(t, items))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(orderId, OrderState.Shipped);
      }
    });

    it("reverts with InvalidState for an order cancelled already", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;
      await escrow.connect(merchant).cancel(t, items);

      await expect(escrow.connect(merchant).cancel(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Cancelled);
    });

    it("reverts with InvalidState for revoked terms", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant } = f;
      const revoked = await terms(f);
      await escrow.connect(merchant).revokeOffer(revoked);

      await expect(escrow.connect(merchant).cancel(revoked, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(await idOf(escrow, revoked), OrderState.Revoked);
    });

    it("reverts with LineItemsMismatch when the items are missing or wrong", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, terms: t, items, skuA } = f;
      const wrong = [{ skuId: skuA, quantity: 1n }, items[1]];

      for (const given of [[], wrong]) {
        await expect(escrow.connect(merchant).cancel(t, given))
          .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Created);
    });

    it("reverts with OrderNotFound for terms with a changed payment deadline", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, stranger, terms: t, items } = f;
      const forged = { ...t, paymentDeadline: 1n };

      await expect(escrow.connect(stranger).cancel(forged, items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(merchant).cancel(unknown, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
