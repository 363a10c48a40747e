import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, type OrderRecord } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  createdOrderFixture,
  load,
  paidNativeOrderFixture,
  paidOrderFixture,
  shippedOrderFixture,
} from "../helpers/settlement";

/** Moves the clock so the next transaction lands one second after the ship-by time. */
async function pastShipBy(record: OrderRecord): Promise<void> {
  await time.setNextBlockTimestamp(record.deadline + 1n);
}

describe("PaymentEscrow.cancelUnshipped", function () {
  describe("after the ship-by time", function () {
    it("refunds the buyer in full and emits OrderRefunded with nothing remaining", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, orderId, items } = f;
      await pastShipBy(f.record());

      const tx = escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items);
      await expect(tx).to.emit(escrow, "OrderRefunded").withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant, feeRecipient], [-AMOUNT, AMOUNT, 0n, 0n]);
    });

    it("refunds a native order in full", async function () {
      const f = await load(paidNativeOrderFixture);
      const { escrow, buyer, merchant, orderId, items } = f;
      await pastShipBy(f.record());

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items)).to.changeEtherBalances(
        [escrow, buyer, merchant],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT, 0n],
      );
    });

    it("stores the record in state Refunded and returns the stock to the merchant", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, inventory, merchant, buyer, orderId, items, book, skuA, skuB } = f;
      const before = f.record();
      await pastShipBy(before);
      await book.send(escrow.connect(buyer).cancelUnshipped(orderId, before, items));

      expect(f.record()).to.deep.equal({ ...before, state: OrderState.Refunded });
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        100n,
        100n,
      ]);
      expect(await inventory.balanceOf(buyer.address, skuA)).to.equal(0n);
    });

    it("refunds what remains after a partial refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 3_456_789n, []));
      await pastShipBy(f.record());

      const tx = escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, 120_000_000n, 0n);
      await expect(tx).to.changeTokenBalance(usd, buyer, 120_000_000n);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, pauser, buyer, orderId, items, book } = f;
      await escrow.connect(pauser).pause();
      await pastShipBy(f.record());

      await book.send(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items));
      expect(f.record().state).to.equal(OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with ShipByNotPassed before the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, items } = f;
      const shipBy = f.record().deadline;
      const ts = shipBy - 3600n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "ShipByNotPassed")
        .withArgs(orderId, shipBy, ts);
    });

    it("reverts with ShipByNotPassed at exactly the ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, items } = f;
      const shipBy = f.record().deadline;
      await time.setNextBlockTimestamp(shipBy);

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "ShipByNotPassed")
        .withArgs(orderId, shipBy, shipBy);
    });

    it("reverts with NotBuyer for the merchant, the operator and a stranger", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, stranger, orderId, items } = f;
      await time.increaseTo(f.record().deadline + 1n);

      for (const caller of [merchant, operator, stranger]) {
        await expect(escrow.connect(caller).cancelUnshipped(orderId, f.record(), items))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(orderId, caller.address);
      }
    });

    it("reverts with InvalidState for a shipped order, even after the ship-by time", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, items } = f;
      await time.increaseTo(f.record().deadline + 1n);

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Shipped);
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, orderId, items } = f;

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for a disputed order", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).dispute(orderId, f.record(), ethers.ZeroHash));
      await time.increaseTo(f.record().deadline + 1n);

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("reverts with LineItemsMismatch when the items are missing", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId } = f;
      await pastShipBy(f.record());

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, f.record(), []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems([]));
    });

    it("reverts with StaleOrderRecord for a record with an earlier ship-by time", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, items } = f;
      const forged = { ...f.record(), deadline: 1n };

      await expect(escrow.connect(buyer).cancelUnshipped(orderId, forged, items))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });
  });
});
