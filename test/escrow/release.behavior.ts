import { expect } from "chai";
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { OrderState, type LineItem, type OrderRecord } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  feeOf,
  load,
  placeOrder,
  shippedNativeOrderFixture,
  shippedOrderFixture,
  type LoadedOrder,
} from "../helpers/settlement";

/**
 * Releases a shipped order's escrow the way the operation under test does (buyer confirms, or anyone after the
 * protection period); returns the transaction without waiting for it.
 */
export type Release = (
  f: LoadedOrder,
  orderId: string,
  record: OrderRecord,
  items: LineItem[],
) => Promise<ContractTransactionResponse>;

/** Behaviour shared by every way of releasing a shipped order to the merchant. */
export function shouldReleaseEscrowToMerchant(release: Release, autoReleased: boolean): void {
  describe("payout", function () {
    it("pays the merchant amount - fee and the fee recipient the 1% fee in ERC-20", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, feeRecipient, buyer, orderId, items } = f;
      const fee = feeOf(AMOUNT);
      expect(fee).to.equal(1_234_567n);

      await expect(release(f, orderId, f.record(), items)).to.changeTokenBalances(
        usd,
        [escrow, merchant, feeRecipient, buyer],
        [-AMOUNT, AMOUNT - fee, fee, 0n],
      );
    });

    it("pays the merchant amount - fee and the fee recipient the fee in native currency", async function () {
      const f = await load(shippedNativeOrderFixture);
      const { escrow, merchant, feeRecipient, orderId, items } = f;
      const fee = feeOf(NATIVE_AMOUNT);

      await expect(release(f, orderId, f.record(), items)).to.changeEtherBalances(
        [escrow, merchant, feeRecipient],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT - fee, fee],
      );
    });

    it(`emits OrderCompleted with the split and autoReleased = ${autoReleased}`, async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, items } = f;
      const fee = feeOf(AMOUNT);

      await expect(release(f, orderId, f.record(), items))
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - fee, fee, autoReleased);
    });

    it("charges the fee on what remains after partial refunds", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, feeRecipient, orderId, items, book } = f;
      const refunded = 23_456_789n;
      await book.send(escrow.connect(merchant).refund(orderId, f.record(), refunded, []));
      const remaining = AMOUNT - refunded;
      const fee = feeOf(remaining);
      expect(fee).to.equal(1_000_000n);

      const tx = release(f, orderId, f.record(), items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, merchant, feeRecipient],
        [-remaining, remaining - fee, fee],
      );
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, anyValue, anyValue, remaining - fee, fee, autoReleased);
    });

    it("keeps the fee rate fixed when the order was created", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, admin, feeRecipient, orderId, items } = f;
      await escrow.connect(admin).setFeeBps(1_000);

      await expect(release(f, orderId, f.record(), items)).to.changeTokenBalance(usd, feeRecipient, feeOf(AMOUNT));
    });

    it("pays the merchant everything for an order created while the fee was zero", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, admin, merchant, feeRecipient, book } = f;
      await escrow.connect(admin).setFeeBps(0);
      const { orderId } = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT } });

      const tx = release(f, orderId, book.get(orderId), []);
      await expect(tx).to.changeTokenBalances(usd, [merchant, feeRecipient], [AMOUNT, 0n]);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, anyValue, anyValue, AMOUNT, 0n, autoReleased);
    });
  });

  describe("record and stock", function () {
    it("stores the record in state Completed, amount unchanged", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, items, book } = f;
      const before = f.record();
      await book.send(release(f, orderId, before, items));

      expect(f.record()).to.deep.equal({ ...before, state: OrderState.Completed });
      expect(await escrow.isCurrent(orderId, f.record())).to.equal(true);
    });

    it("delivers the reserved stock to the buyer", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, inventory, merchant, buyer, orderId, items, skuA, skuB } = f;
      const escrowAddress = await escrow.getAddress();
      expect(await inventory.balanceOfBatch([escrowAddress, escrowAddress], [skuA, skuB])).to.deep.equal([2n, 1n]);

      await (await release(f, orderId, f.record(), items)).wait();
      expect(await inventory.balanceOfBatch([buyer.address, buyer.address], [skuA, skuB])).to.deep.equal([2n, 1n]);
      expect(await inventory.balanceOfBatch([escrowAddress, escrowAddress], [skuA, skuB])).to.deep.equal([0n, 0n]);
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        98n,
        99n,
      ]);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, pauser, merchant, orderId, items } = f;
      await escrow.connect(pauser).pause();

      await expect(release(f, orderId, f.record(), items)).to.changeTokenBalance(usd, merchant, AMOUNT - feeOf(AMOUNT));
    });
  });

  describe("line items", function () {
    it("reverts with LineItemsMismatch for other quantities", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, items, skuA } = f;
      const wrong = [{ skuId: skuA, quantity: 3n }, items[1]];

      await expect(release(f, orderId, f.record(), wrong))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems(wrong));
    });

    it("reverts with LineItemsMismatch for the same items in another order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, items } = f;
      const reordered = [items[1], items[0]];

      await expect(release(f, orderId, f.record(), reordered))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems(reordered));
    });

    it("reverts with LineItemsMismatch when the items are missing", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId } = f;

      await expect(release(f, orderId, f.record(), []))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, f.record().itemsHash, await escrow.hashItems([]));
    });

    it("reverts with LineItemsMismatch when items are given for an order without items", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, book, items } = f;
      const { orderId } = await placeOrder(f, book, "Shipped");
      expect(book.get(orderId).itemsHash).to.equal(ethers.ZeroHash);

      await expect(release(f, orderId, book.get(orderId), items))
        .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
        .withArgs(orderId, await escrow.hashItems([]), await escrow.hashItems(items));
    });
  });

  describe("state and record checks", function () {
    it("reverts with InvalidState for a paid order not shipped yet", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, book } = f;
      const { orderId } = await placeOrder(f, book, "Paid");

      await expect(release(f, orderId, book.get(orderId), []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Paid);
    });

    it("reverts with InvalidState when released a second time", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, items, book } = f;
      await book.send(release(f, orderId, f.record(), items));

      await expect(release(f, orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a disputed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).dispute(orderId, f.record(), ethers.ZeroHash));

      await expect(release(f, orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });

    it("reverts with StaleOrderRecord for a record with a lowered amount", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, orderId, items } = f;
      const forged = { ...f.record(), amount: 1n };

      await expect(release(f, orderId, forged, items))
        .to.be.revertedWithCustomError(escrow, "StaleOrderRecord")
        .withArgs(orderId, await escrow.orderHash(orderId), await escrow.hashOrder(forged));
    });

    it("reverts with OrderNotFound for an id that was never used", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, items } = f;
      const unknown = ethers.id("no such order");

      await expect(release(f, unknown, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(unknown);
    });
  });
}
