import { expect } from "chai";
import { ethers } from "hardhat";
import { OrderState } from "../helpers/fixtures";
import {
  AMOUNT,
  EVIDENCE,
  NATIVE_AMOUNT,
  disputedNativeOrderFixture,
  disputedOrderFixture,
  feeOf,
  load,
  paidOrderFixture,
  shippedOrderFixture,
  type LoadedOrder,
} from "../helpers/settlement";

/** ERC-1155 balances of SKU A and B held by `holder`. */
async function stock(f: LoadedOrder, holder: string): Promise<bigint[]> {
  return f.inventory.balanceOfBatch([holder, holder], [f.skuA, f.skuB]);
}

describe("PaymentEscrow.resolveDispute", function () {
  describe("split", function () {
    it("pays buyerAmount to the buyer, the rest minus the fee on it to the merchant, the fee to the fee recipient", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, items } = f;
      const buyerAmount = 23_456_789n;
      const merchantShare = AMOUNT - buyerAmount;
      const fee = feeOf(merchantShare);
      expect(fee).to.equal(1_000_000n);

      const tx = escrow.connect(arbiter).resolveDispute(orderId, f.record(), buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, buyerAmount, merchantShare - fee, fee);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, merchantShare - fee, fee],
      );
    });

    it("gives the stock to the buyer when the merchant gets a share", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, buyer, orderId, items } = f;
      await escrow.connect(arbiter).resolveDispute(orderId, f.record(), AMOUNT - 1n, items);

      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
    });

    it("gives the merchant everything minus the fee, and the stock to the buyer, when the buyer gets nothing", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, items } = f;
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 0n, AMOUNT - fee, fee);
      await expect(tx).to.changeTokenBalances(usd, [buyer, merchant, feeRecipient], [0n, AMOUNT - fee, fee]);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
    });

    it("refunds the buyer everything, charges no fee and returns the stock to the merchant when the buyer gets it all", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, items } = f;

      const tx = escrow.connect(arbiter).resolveDispute(orderId, f.record(), AMOUNT, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n, 0n);
      await expect(tx).to.changeTokenBalances(usd, [buyer, merchant, feeRecipient], [AMOUNT, 0n, 0n]);
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("splits a native order", async function () {
      const f = await load(disputedNativeOrderFixture);
      const { escrow, arbiter, merchant, buyer, feeRecipient, orderId, items } = f;
      const buyerAmount = ethers.parseEther("0.4");
      const merchantShare = NATIVE_AMOUNT - buyerAmount;
      const fee = feeOf(merchantShare);

      await expect(
        escrow.connect(arbiter).resolveDispute(orderId, f.record(), buyerAmount, items),
      ).to.changeEtherBalances(
        [escrow, buyer, merchant, feeRecipient],
        [-NATIVE_AMOUNT, buyerAmount, merchantShare - fee, fee],
      );
    });

    it("splits what remains after a partial refund during the dispute", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 23_456_789n, []));
      const escrowed = 100_000_000n;
      const buyerAmount = 50_000_000n;
      const fee = feeOf(escrowed - buyerAmount);

      await expect(
        escrow.connect(arbiter).resolveDispute(orderId, f.record(), buyerAmount, items),
      ).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-escrowed, buyerAmount, escrowed - buyerAmount - fee, fee],
      );
    });

    it("resolves a dispute opened after shipping", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, arbiter, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).dispute(orderId, f.record(), EVIDENCE));

      await book.send(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 1n, items));
      expect(f.record().state).to.equal(OrderState.Resolved);
    });

    it("stores the record in state Resolved, amount unchanged", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, items, book } = f;
      const before = f.record();
      await book.send(escrow.connect(arbiter).resolveDispute(orderId, before, 1n, items));

      expect(f.record()).to.deep.equal({ ...before, state: OrderState.Resolved });
      expect(await escrow.isCurrent(orderId, f.record())).to.equal(true);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, pauser, arbiter, buyer, orderId, items } = f;
      await escrow.connect(pauser).pause();

      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 7n, items)).to.changeTokenBalance(
        usd,
        buyer,
        7n,
      );
    });
  });

  describe("merchant refund during a dispute", function () {
    it("lets the merchant refund in full: Refunded, stock back, and nothing left to resolve", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, merchant, arbiter, buyer, orderId, items, book } = f;

      const tx = escrow.connect(merchant).refund(orderId, f.record(), AMOUNT, items);
      await expect(tx).to.changeTokenBalance(usd, buyer, AMOUNT);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Refunded);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);

      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with SplitExceedsEscrow when the buyer's share exceeds the amount", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, items } = f;

      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsEscrow")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
    });

    it("reverts with SplitExceedsEscrow when the buyer's share exceeds what remains after a partial refund", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, arbiter, orderId, items, book } = f;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), 23_456_789n, []));

      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), AMOUNT, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsEscrow")
        .withArgs(orderId, AMOUNT, 100_000_000n);
    });

    it("reverts with NotArbiter for the admin, the merchant, the buyer and a stranger", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, admin, merchant, buyer, stranger, orderId, items } = f;

      for (const caller of [admin, merchant, buyer, stranger]) {
        await expect(escrow.connect(caller).resolveDispute(orderId, f.record(), 0n, items))
          .to.be.revertedWithCustomError(escrow, "NotArbiter")
          .withArgs(caller.address);
      }
    });

    it("reverts with InvalidState for a paid, a shipped and a resolved order", async function () {
      const paid = await load(paidOrderFixture);
      await expect(paid.escrow.connect(paid.arbiter).resolveDispute(paid.orderId, paid.record(), 0n, paid.items))
        .to.be.revertedWithCustomError(paid.escrow, "InvalidState")
        .withArgs(paid.orderId, OrderState.Paid);

      const shipped = await load(shippedOrderFixture);
      await expect(
        shipped.escrow.connect(shipped.arbiter).resolveDispute(shipped.orderId, shipped.record(), 0n, shipped.items),
      )
        .to.be.revertedWithCustomError(shipped.escrow, "InvalidState")
        .withArgs(shipped.orderId, OrderState.Shipped);

      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, items, book } = f;
      await book.send(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items));
      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("reverts with LineItemsMismatch when the items are missing", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId } = f;

      await expect(escrow.connect(arbiter).resolveDispute(orderId, f.record(), 0n, []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems([]));
    });

    it("reverts with StaleOrderRecord for a record with a raised amount", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, items } = f;
      const forged = { ...f.record(), amount: AMOUNT * 2n };

      await expect(escrow.connect(arbiter).resolveDispute(orderId, forged, AMOUNT * 2n, items))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, items } = f;
      const unknown = ethers.id("no such order");

      await expect(escrow.connect(arbiter).resolveDispute(unknown, f.record(), 0n, items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
});
