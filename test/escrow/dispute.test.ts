import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState } from "../helpers/fixtures";
import {
  EVIDENCE,
  createdOrderFixture,
  disputedOrderFixture,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
} from "../helpers/settlement";

describe("PaymentEscrow.dispute", function () {
  describe("success", function () {
    it("lets the buyer dispute a paid order: OrderDisputed with the evidence hash", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId } = f;

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE);
    });

    it("stores the record in state Disputed, amount and deadline unchanged", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer, orderId, book } = f;
      const before = f.record();
      await book.send(escrow.connect(buyer).dispute(orderId, before, EVIDENCE));

      expect(f.record()).to.deep.equal({ ...before, state: OrderState.Disputed });
      expect(await escrow.isCurrent(orderId, f.record())).to.equal(true);
    });

    it("lets the buyer dispute a shipped order within the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId } = f;

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE);
    });

    it("lets the buyer dispute a shipped order at exactly the end of the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, book } = f;
      await time.setNextBlockTimestamp(f.record().deadline);

      await book.send(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE));
      expect(f.record().state).to.equal(OrderState.Disputed);
    });

    it("moves neither money nor stock", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, inventory, merchant, buyer, orderId, skuA } = f;

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE)).to.changeTokenBalances(
        usd,
        [escrow, merchant, buyer],
        [0n, 0n, 0n],
      );
      expect(await inventory.balanceOf(await escrow.getAddress(), skuA)).to.equal(2n);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, pauser, buyer, orderId, book } = f;
      await escrow.connect(pauser).pause();

      await book.send(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE));
      expect(f.record().state).to.equal(OrderState.Disputed);
    });
  });

  describe("checks", function () {
    it("reverts with ProtectionPeriodOver one second after the protection period", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId } = f;
      const releaseAfter = f.record().deadline;
      await time.setNextBlockTimestamp(releaseAfter + 1n);

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodOver")
        .withArgs(orderId, releaseAfter, releaseAfter + 1n);
    });

    it("reverts with NotBuyer for the merchant, the operator, another buyer and a stranger", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, operator, otherBuyer, stranger, orderId } = f;

      for (const caller of [merchant, operator, otherBuyer, stranger]) {
        await expect(escrow.connect(caller).dispute(orderId, f.record(), EVIDENCE))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(orderId, caller.address);
      }
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, buyer, orderId } = f;

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for an order disputed already", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, orderId } = f;

      await expect(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("reverts with InvalidState for a completed, a refunded and a resolved order", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items));
      const completed = await placeOrder(f, book, "Shipped");
      await book.send(escrow.connect(buyer).confirmReceipt(completed.orderId, book.get(completed.orderId), []));
      const refunded = await placeOrder(f, book, "Paid");
      const r = book.get(refunded.orderId);
      await book.send(escrow.connect(merchant).refund(refunded.orderId, r, r.amount, []));

      for (const [id, state] of [
        [orderId, OrderState.Resolved],
        [completed.orderId, OrderState.Completed],
        [refunded.orderId, OrderState.Refunded],
      ] as const) {
        await expect(escrow.connect(buyer).dispute(id, book.get(id), EVIDENCE))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with StaleOrderRecord for a record with a later release time", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId } = f;
      const forged = { ...f.record(), deadline: f.record().deadline + 1_000_000n };

      await expect(escrow.connect(buyer).dispute(orderId, forged, EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, buyer } = f;
      const unknown = ethers.id("no such order");

      await expect(escrow.connect(buyer).dispute(unknown, f.record(), EVIDENCE))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
});
