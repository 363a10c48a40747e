import { expect } from "chai";
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import { OrderState, idOf, itemsHash, terms, type LineItem, type OrderTerms } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  feeOf,
  itemsOf,
  load,
  placeOrder,
  shippedNativeOrderFixture,
  shippedOrderFixture,
  type LoadedOrder,
  statusOf,
  stock,
} from "../helpers/settlement";

/**
 * Releases a shipped order's escrow the way the operation under test does (buyer confirms, or anyone after the
 * protection period); returns the transaction without waiting for it.
 */
export type Release = (f: LoadedOrder, terms: OrderTerms, items: LineItem[]) => Promise<ContractTransactionResponse>;

/** A payout wallet of the merchant that is not the merchant itself. */
const PAYEE = ethers.getAddress("0x00000000000000000000000000000000000fa1e5");

/** Behaviour shared by every way of releasing a shipped order to the order's payee. */
export function shouldReleaseEscrowToPayee(release: Release): void {
  describe("payout", function () {
    it("pays the payee amount - fee and the fee recipient the 1% fee in ERC-20", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, feeRecipient, buyer, terms: t, items } = f;
      const fee = feeOf(AMOUNT);
      expect(fee).to.equal(1_234_567n);
      expect(t.payee).to.equal(merchant.address);

      await expect(release(f, t, items)).to.changeTokenBalances(
        usd,
        [escrow, merchant, feeRecipient, buyer],
        [-AMOUNT, AMOUNT - fee, fee, 0n],
      );
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("pays the payee amount - fee and the fee recipient the fee in native currency", async function () {
      const f = await load(shippedNativeOrderFixture);
      const { escrow, merchant, feeRecipient, terms: t, items } = f;
      const fee = feeOf(NATIVE_AMOUNT);

      await expect(release(f, t, items)).to.changeEtherBalances(
        [escrow, merchant, feeRecipient],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT - fee, fee],
      );
    });

    it("emits OrderCompleted with the payee's amount and the fee", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      const fee = feeOf(AMOUNT);

      await expect(release(f, t, items))
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - fee, fee);
    });

    it("pays the terms' payee, not the merchant, when the payee is another wallet", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, book } = f;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT, payee: PAYEE }, items });
      const fee = feeOf(AMOUNT);

      const tx = release(f, o.terms, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, PAYEE, merchant, feeRecipient, buyer],
        [-AMOUNT, AMOUNT - fee, 0n, fee, 0n],
      );
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(o.orderId, merchant.address, buyer.address, AMOUNT - fee, fee);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, PAYEE)).to.deep.equal([0n, 0n]);
    });

    it("pays the payee what is escrowed after partial refunds, minus the fee on it", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, book } = f;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT, payee: PAYEE }, items });
      const parts = [3_456_789n, 10_000_000n, 10_000_000n];
      for (const part of parts) await escrow.connect(merchant).refund(o.terms, part, []);
      const escrowed = AMOUNT - parts.reduce((a, b) => a + b, 0n);
      expect(escrowed).to.equal(100_000_000n);
      const fee = feeOf(escrowed);
      expect(fee).to.equal(1_000_000n);

      const tx = release(f, o.terms, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, PAYEE, merchant, feeRecipient, buyer],
        [-escrowed, escrowed - fee, 0n, fee, 0n],
      );
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(o.orderId, merchant.address, buyer.address, escrowed - fee, fee);
      // Only the fixture's own order is still escrowed.
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(AMOUNT);
    });

    it("charges the fee fixed in statusOf.feeBps at creation, not the current fee", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, admin, merchant, buyer, feeRecipient, book } = f;
      await escrow.connect(admin).setFeeBps(250);
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT, payee: PAYEE } });
      expect((await statusOf(escrow, o.orderId)).feeBps).to.equal(250n);
      await escrow.connect(admin).setFeeBps(1_000);
      const fee = feeOf(AMOUNT, 250n);
      expect(fee).to.equal(3_086_419n);

      const tx = release(f, o.terms, []);
      await expect(tx).to.changeTokenBalances(usd, [PAYEE, feeRecipient], [AMOUNT - fee, fee]);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(o.orderId, merchant.address, buyer.address, AMOUNT - fee, fee);
    });

    it("keeps the fixture order's 1% fee after the admin raised the fee", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, admin, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(admin).setFeeBps(1_000);
      expect((await statusOf(escrow, orderId)).feeBps).to.equal(100n);

      await expect(release(f, t, items)).to.changeTokenBalances(
        usd,
        [merchant, feeRecipient],
        [AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT)],
      );
    });

    it("pays the payee everything for an order created while the fee was zero", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, admin, merchant, buyer, feeRecipient, book } = f;
      await escrow.connect(admin).setFeeBps(0);
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT } });
      await escrow.connect(admin).setFeeBps(100);
      expect((await statusOf(escrow, o.orderId)).feeBps).to.equal(0n);

      const tx = release(f, o.terms, []);
      await expect(tx).to.changeTokenBalances(usd, [merchant, feeRecipient], [AMOUNT, 0n]);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(o.orderId, merchant.address, buyer.address, AMOUNT, 0n);
    });

    it("rounds the fee down to zero for a tiny amount (99 units at 1%)", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: 99n, payee: PAYEE } });
      expect(feeOf(99n)).to.equal(0n);

      const tx = release(f, o.terms, []);
      await expect(tx).to.changeTokenBalances(usd, [escrow, PAYEE, feeRecipient], [-99n, 99n, 0n]);
      await expect(tx).to.emit(escrow, "OrderCompleted").withArgs(o.orderId, merchant.address, buyer.address, 99n, 0n);
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
    });

    it("charges a fee of 1 unit from 100 units at 1%", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, feeRecipient, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: 100n, payee: PAYEE } });

      await expect(release(f, o.terms, [])).to.changeTokenBalances(
        usd,
        [escrow, PAYEE, feeRecipient],
        [-100n, 99n, 1n],
      );
    });
  });

  describe("status and stock", function () {
    it("sets the status to Completed with deadline = completion time + refund window", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, book } = f;
      const refundWindow = 7n * 24n * 3600n;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT, refundWindow }, items });
      const before = await statusOf(escrow, o.orderId);

      const receipt = await book.send(release(f, o.terms, items));
      const completedAt = BigInt((await receipt.getBlock()).timestamp);
      expect(await statusOf(escrow, o.orderId)).to.deep.equal({
        ...before,
        state: OrderState.Completed,
        deadline: completedAt + refundWindow,
      });
      expect(book.get(o.orderId).state).to.equal(OrderState.Completed);
      expect(book.get(o.orderId).escrowed).to.equal(0n);
    });

    it("sets the deadline to the completion time when the refund window is zero", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, terms: t, items, book } = f;
      expect(t.refundWindow).to.equal(0n);

      const receipt = await book.send(release(f, t, items));
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Completed);
      expect(s.deadline).to.equal(BigInt((await receipt.getBlock()).timestamp));
    });

    it("keeps statusOf.refunded and feeBps after a release that followed partial refunds", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 456n, []);

      await (await release(f, t, items)).wait();
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Completed);
      expect(s.feeBps).to.equal(100n);
      expect(s.refunded).to.equal(456n);
    });

    it("delivers the reserved stock to the buyer", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, terms: t, items } = f;
      const escrowAddress = await escrow.getAddress();
      expect(await stock(f, escrowAddress)).to.deep.equal([2n, 1n]);

      await (await release(f, t, items)).wait();
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, escrowAddress)).to.deep.equal([0n, 0n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, pauser, merchant, orderId, terms: t, items } = f;
      await escrow.connect(pauser).pause();

      await expect(release(f, t, items)).to.changeTokenBalance(usd, merchant, AMOUNT - feeOf(AMOUNT));
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Completed);
    });
  });

  describe("line items", function () {
    it("reverts with LineItemsMismatch for other quantities", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, terms: t, items, skuA } = f;
      const wrong = [{ skuId: skuA, quantity: 3n }, items[1]];

      await expect(release(f, t, wrong))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(t.itemsHash, itemsHash(wrong));
    });

    it("reverts with LineItemsMismatch for the same items in another order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, terms: t, items } = f;
      const reordered = [items[1], items[0]];

      await expect(release(f, t, reordered))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(t.itemsHash, itemsHash(reordered));
    });

    it("reverts with LineItemsMismatch when the items are missing", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, terms: t } = f;

      await expect(release(f, t, []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(t.itemsHash, itemsHash([]));
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Shipped);
    });

    it("reverts with LineItemsMismatch when items are given for an order without items", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, book, items } = f;
      const o = await placeOrder(f, book, "Shipped");
      expect(o.terms.itemsHash).to.equal(itemsHash([]));

      await expect(release(f, o.terms, items))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(itemsHash([]), itemsHash(items));
    });
  });

  describe("state and terms checks", function () {
    it("reverts with InvalidState for a paid order not shipped yet", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, book } = f;
      const o = await placeOrder(f, book, "Paid");

      await expect(release(f, o.terms, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(o.orderId, OrderState.Paid);
    });

    it("reverts with InvalidState when released a second time", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, terms: t, items } = f;
      await (await release(f, t, items)).wait();

      await expect(release(f, t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a disputed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      await escrow.connect(buyer).dispute(t, ethers.ZeroHash);

      await expect(release(f, t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("reverts with InvalidState for an order refunded in full", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, AMOUNT, items);

      await expect(release(f, t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Refunded);
    });

    it("reverts with OrderNotFound for terms with a lowered amount or another payee", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      for (const forged of [
        { ...t, amount: 1n },
        { ...t, payee: stranger.address },
      ]) {
        await expect(release(f, forged, items))
          .to.be.revertedWithCustomError(escrow, "OrderNotFound")
          .withArgs(await escrow.orderIdOf(forged));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Shipped);
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow } = f;
      const unknown = await terms(f);

      await expect(release(f, unknown, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
}
