import { expect } from "chai";
import { ethers } from "hardhat";
import { OrderState } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  createdOrderFixture,
  disputedOrderFixture,
  feeOf,
  load,
  paidNativeOrderFixture,
  paidOrderFixture,
  placeOrder,
  shippedNativeOrderFixture,
  shippedOrderFixture,
  type OrderFixture,
} from "../helpers/settlement";

const ESCROWED_STATES: ReadonlyArray<[string, () => Promise<OrderFixture>, bigint]> = [
  ["Paid", paidOrderFixture, OrderState.Paid],
  ["Shipped", shippedOrderFixture, OrderState.Shipped],
  ["Disputed", disputedOrderFixture, OrderState.Disputed],
];

describe("PaymentEscrow.refund", function () {
  for (const [name, fixture, state] of ESCROWED_STATES) {
    describe(`in state ${name}`, function () {
      it("refunds part of the escrow: lowers the record's amount and keeps its state", async function () {
        const f = await load(fixture);
        const { escrow, usd, merchant, buyer, orderId, book } = f;
        const before = f.record();
        const part = 23_456_789n;

        const tx = escrow.connect(merchant).refund(orderId, before, part, []);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, part, AMOUNT - part);
        await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [-part, part, 0n]);
        await book.send(tx);

        expect(f.record()).to.deep.equal({ ...before, amount: AMOUNT - part, state });
        expect(await escrow.isCurrent(orderId, f.record())).to.equal(true);
      });

      it("refunds everything: state Refunded and the stock back to the merchant", async function () {
        const f = await load(fixture);
        const { escrow, usd, inventory, merchant, buyer, orderId, items, book, skuA, skuB } = f;
        const before = f.record();

        const tx = escrow.connect(merchant).refund(orderId, before, AMOUNT, items);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n);
        await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [-AMOUNT, AMOUNT, 0n]);
        await book.send(tx);

        expect(f.record()).to.deep.equal({ ...before, state: OrderState.Refunded });
        expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
          100n,
          100n,
        ]);
        const escrowAddress = await escrow.getAddress();
        expect(await inventory.balanceOfBatch([escrowAddress, escrowAddress], [skuA, skuB])).to.deep.equal([0n, 0n]);
      });
    });
  }

  describe("several refunds", function () {
    it("after several partial refunds, release pays the merchant the rest minus the fee on it", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, orderId, items, book } = f;
      const parts = [3_456_789n, 10_000_000n, 50_000_000n];
      for (const part of parts) {
        await book.send(escrow.connect(merchant).refund(orderId, f.record(), part, []));
      }
      const rest = AMOUNT - parts.reduce((a, b) => a + b, 0n);
      expect(rest).to.equal(60_000_000n);
      expect(f.record().amount).to.equal(rest);

      const fee = feeOf(rest);
      await expect(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items)).to.changeTokenBalances(
        usd,
        [escrow, merchant, feeRecipient, buyer],
        [-rest, rest - fee, fee, 0n],
      );
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("emits the remaining amount after each partial refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, book } = f;
      let remaining = AMOUNT;
      for (const part of [1n, 456_788n, 3_000_000n]) {
        remaining -= part;
        const tx = escrow.connect(merchant).refund(orderId, f.record(), part, []);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, part, remaining);
        await book.send(tx);
      }
      expect(f.record().amount).to.equal(120_000_000n);
    });

    it("refunding the remaining amount after partial refunds ends the order as Refunded", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 23_456_789n, []));

      const tx = escrow.connect(merchant).refund(orderId, f.record(), 100_000_000n, items);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, 100_000_000n, 0n);
      await expect(tx).to.changeTokenBalance(usd, buyer, 100_000_000n);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Refunded);
      expect(f.record().amount).to.equal(100_000_000n);
    });
  });

  describe("caller and pause", function () {
    it("lets an approved operator refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, operator, merchant, buyer, orderId } = f;

      await expect(escrow.connect(operator).refund(orderId, f.record(), 5n, []))
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, 5n, AMOUNT - 5n);
    });

    it("reverts with NotMerchantOrOperator for the buyer, a stranger and the arbiter", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, stranger, arbiter, orderId } = f;

      for (const caller of [buyer, stranger, arbiter]) {
        await expect(escrow.connect(caller).refund(orderId, f.record(), 5n, []))
          .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
          .withArgs(merchant.address, caller.address);
      }
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, pauser, merchant, buyer, orderId, items, book } = f;
      await escrow.connect(pauser).pause();

      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 5n, []));
      await expect(escrow.connect(merchant).refund(orderId, f.record(), AMOUNT - 5n, items)).to.changeTokenBalance(
        usd,
        buyer,
        AMOUNT - 5n,
      );
    });
  });

  describe("native currency", function () {
    it("refunds part of a native order", async function () {
      const f = await load(shippedNativeOrderFixture);
      const { escrow, merchant, buyer, orderId } = f;
      const part = ethers.parseEther("0.25");

      const tx = escrow.connect(merchant).refund(orderId, f.record(), part, []);
      await expect(tx).to.changeEtherBalances([escrow, buyer], [-part, part]);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, part, NATIVE_AMOUNT - part);
    });

    it("refunds a native order in full", async function () {
      const f = await load(paidNativeOrderFixture);
      const { escrow, merchant, buyer, orderId, items, book } = f;

      const tx = escrow.connect(merchant).refund(orderId, f.record(), NATIVE_AMOUNT, items);
      await expect(tx).to.changeEtherBalances([escrow, buyer], [-NATIVE_AMOUNT, NATIVE_AMOUNT]);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with ZeroAmount for a refund of zero", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId } = f;

      await expect(escrow.connect(merchant).refund(orderId, f.record(), 0n, []))
        .to.be.revertedWithCustomError(escrow, "ZeroAmount")
        .withArgs();
    });

    it("reverts with RefundExceedsEscrow for more than the amount", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, items } = f;

      await expect(escrow.connect(merchant).refund(orderId, f.record(), AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "RefundExceedsEscrow")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
    });

    it("reverts with RefundExceedsEscrow for more than what remains after a partial refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 23_456_789n, []));

      await expect(escrow.connect(merchant).refund(orderId, f.record(), AMOUNT, items))
        .to.be.revertedWithCustomError(escrow, "RefundExceedsEscrow")
        .withArgs(orderId, AMOUNT, 100_000_000n);
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId } = f;

      await expect(escrow.connect(merchant).refund(orderId, f.record(), 5n, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for a completed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items));

      await expect(escrow.connect(merchant).refund(orderId, f.record(), 5n, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a refunded, a cancelled and a resolved order", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, arbiter, orderId, items, book } = f;
      await book.send(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items));
      const refunded = await placeOrder(f, book, "Paid");
      const r = book.get(refunded.orderId);
      await book.send(escrow.connect(merchant).refund(refunded.orderId, r, r.amount, []));
      const cancelled = await placeOrder(f, book, "Created");
      await book.send(escrow.connect(merchant).cancel(cancelled.orderId, book.get(cancelled.orderId), []));

      for (const [id, state] of [
        [orderId, OrderState.Resolved],
        [refunded.orderId, OrderState.Refunded],
        [cancelled.orderId, OrderState.Cancelled],
      ] as const) {
        await expect(escrow.connect(merchant).refund(id, book.get(id), 5n, []))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with LineItemsMismatch for a full refund without the items", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId } = f;

      await expect(escrow.connect(merchant).refund(orderId, f.record(), AMOUNT, []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems([]));
    });

    it("reverts with StaleOrderRecord for a record with a raised amount", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId } = f;
      const forged = { ...f.record(), amount: AMOUNT * 2n };

      await expect(escrow.connect(merchant).refund(orderId, forged, AMOUNT + 1n, []))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant } = f;
      const unknown = ethers.id("no such order");

      await expect(escrow.connect(merchant).refund(unknown, f.record(), 5n, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
});
