import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  TRACKING,
  createdOrderFixture,
  load,
  paidNativeOrderFixture,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
  type LoadedOrder,
  statusOf,
  stock,
} from "../helpers/settlement";

/** Moves the clock so the next transaction lands one second after the order's ship-by time. */
async function pastShipBy(f: LoadedOrder, orderId: string = f.orderId): Promise<bigint> {
  const shipBy = (await f.escrow.statusOf(orderId)).deadline;
  await time.setNextBlockTimestamp(shipBy + 1n);
  return shipBy;
}

describe("PaymentEscrow.cancelUnshipped", function () {
  describe("after the ship-by time", function () {
    it("refunds the buyer in full and emits OrderRefunded with nothing remaining", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await pastShipBy(f);

      const tx = escrow.connect(buyer).cancelUnshipped(t, items);
      await expect(tx).to.emit(escrow, "OrderRefunded").withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant, feeRecipient], [-AMOUNT, AMOUNT, 0n, 0n]);
    });

    it("refunds a native order in full", async function () {
      const f = await load(paidNativeOrderFixture);
      const { escrow, buyer, merchant, feeRecipient, terms: t, items } = f;
      await pastShipBy(f);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items)).to.changeEtherBalances(
        [escrow, buyer, merchant, feeRecipient],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT, 0n, 0n],
        { includeFee: false },
      );
    });

    it("sets the status to Refunded (deadline unchanged) and returns the stock to the merchant", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      const before = await statusOf(escrow, orderId);
      await pastShipBy(f);
      await escrow.connect(buyer).cancelUnshipped(t, items);

      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Refunded });
      expect((await statusOf(escrow, orderId)).refunded).to.equal(0n);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("refunds what remains after any number of partial refunds, with the terms the buyer had from the start", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
      const buyersTerms = { ...t };
      const parts = [3_456_789n, 1n, 9_999_999n, 10_000_000n];
      for (const part of parts) await escrow.connect(merchant).refund(t, part, []);
      const partial = parts.reduce((a, b) => a + b, 0n);
      const escrowed = AMOUNT - partial;
      expect(escrowed).to.equal(100_000_000n);
      const before = await statusOf(escrow, orderId);
      expect(before.refunded).to.equal(partial);
      expect(before.state).to.equal(OrderState.Paid);
      await pastShipBy(f);

      const tx = escrow.connect(buyer).cancelUnshipped(buyersTerms, items);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, escrowed, 0n);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [-escrowed, escrowed, 0n]);
      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Refunded });
      expect((await statusOf(escrow, orderId)).refunded).to.equal(partial);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
    });

    it("lets the payer of an order open to any payer cancel, and nobody else", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, otherBuyer, book } = f;
      const o = await placeOrder(f, book, "Paid", { terms: { buyer: ethers.ZeroAddress }, payer: otherBuyer });
      await pastShipBy(f, o.orderId);
      await expect(escrow.connect(buyer).cancelUnshipped(o.terms, []))
        .to.be.revertedWithCustomError(escrow, "NotBuyer")
        .withArgs(o.orderId, buyer.address);

      const tx = escrow.connect(otherBuyer).cancelUnshipped(o.terms, []);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(o.orderId, merchant.address, otherBuyer.address, o.terms.amount, 0n);
      await expect(tx).to.changeTokenBalance(usd, otherBuyer, o.terms.amount);
    });

    it("a merchant shipping after the ship-by time cannot take the cancellation away", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
      const shipBy = await pastShipBy(f);
      await expect(escrow.connect(merchant).ship(t, TRACKING))
        .to.be.revertedWithCustomError(escrow, "ShipByPassed")
        .withArgs(orderId, shipBy, shipBy + 1n);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items)).to.changeTokenBalance(usd, buyer, AMOUNT);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, pauser, buyer, orderId, terms: t, items } = f;
      await escrow.connect(pauser).pause();
      await pastShipBy(f);

      await escrow.connect(buyer).cancelUnshipped(t, items);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with ShipByNotPassed before the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      const ts = shipBy - 3600n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "ShipByNotPassed")
        .withArgs(orderId, shipBy, ts);
    });

    it("reverts with ShipByNotPassed at exactly the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      const shipBy = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(shipBy);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "ShipByNotPassed")
        .withArgs(orderId, shipBy, shipBy);
    });

    it("reverts with NotBuyer for the merchant, the operator, another buyer and a stranger", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, otherBuyer, stranger, orderId, terms: t, items } = f;
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);

      for (const caller of [merchant, operator, otherBuyer, stranger]) {
        await expect(escrow.connect(caller).cancelUnshipped(t, items))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(orderId, caller.address);
      }
    });

    it("reverts with InvalidState for a shipped order, even after the ship-by time", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Shipped);
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for a disputed order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      await escrow.connect(buyer).dispute(t, ethers.ZeroHash);
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("reverts with InvalidState when cancelled a second time and for an order refunded in full", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items, book } = f;
      const refunded = await placeOrder(f, book, "Paid");
      await escrow.connect(merchant).refund(refunded.terms, refunded.terms.amount, []);
      await pastShipBy(f);
      await escrow.connect(buyer).cancelUnshipped(t, items);

      await expect(escrow.connect(buyer).cancelUnshipped(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Refunded);
      await expect(escrow.connect(buyer).cancelUnshipped(refunded.terms, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(refunded.orderId, OrderState.Refunded);
    });

    it("reverts with LineItemsMismatch when the items are missing or wrong", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, terms: t, items, skuB } = f;
      await pastShipBy(f);
      const wrong = [items[0], { skuId: skuB, quantity: 2n }];

      for (const given of [[], wrong]) {
        await expect(escrow.connect(buyer).cancelUnshipped(t, given))
          .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Paid);
    });

    it("reverts with OrderNotFound for terms with a shorter ship-within time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, terms: t, items } = f;
      const forged = { ...t, shipWithin: 1n };

      await expect(escrow.connect(buyer).cancelUnshipped(forged, items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(buyer).cancelUnshipped(unknown, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
