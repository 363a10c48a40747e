import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, idOf, OrderBook, OrderState, signOffer, terms, USD } from "../helpers/fixtures";

/**
 * Money authority (escrow operator approval) is not stock authority (inventory approval). An operator that lets
 * a buyer keep an order's goods for less than its price — a partial refund, or a settlement on the merchant's
 * side — needs the merchant's inventory approval, as it does to create an order with items. Otherwise an operator
 * approved on the escrow alone takes a merchant-signed open offer as a buyer (or colludes with one) and refunds
 * itself down to one unit of money while the goods are delivered.
 */
describe("PaymentEscrow operator stock authority after creation", function () {
  async function fixture() {
    const f = await deployEscrowFixture();
    const escrowOnly = f.stranger; // approved on the escrow, not on the inventory
    await f.escrow.connect(f.merchant).setOperatorApproval(escrowOnly.address, true);
    await f.usd.mint(escrowOnly.address, USD(1_000));
    await f.usd.connect(escrowOnly).approve(await f.escrow.getAddress(), ethers.MaxUint256);
    const items = [{ skuId: f.skuA, quantity: 50n }];
    const offer = await terms(f, { buyer: ethers.ZeroAddress }, items);
    const sig = await signOffer(f.escrow, f.merchant, offer, items);
    const book = new OrderBook(f.escrow);
    return { ...f, escrowOnly, items, offer, sig, book, id: await idOf(f.escrow, offer, items) };
  }

  it("an escrow-only operator that took a merchant's open offer as buyer cannot refund itself down to one unit: NotStockOperator", async function () {
    const f = await loadFixture(fixture);
    await f.book.send(f.escrow.connect(f.escrowOnly).checkout(f.offer, f.items, f.sig));
    await expect(f.escrow.connect(f.escrowOnly).refund(f.offer, f.offer.amount - 1n, []))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
    const s = await f.escrow.statusOf(f.id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(s.refunded).to.equal(0n);
  });

  it("the same operator may still refund the order in full (the stock returns to the merchant)", async function () {
    const f = await loadFixture(fixture);
    await f.book.send(f.escrow.connect(f.escrowOnly).checkout(f.offer, f.items, f.sig));
    const before = await f.inventory.balanceOf(f.merchant.address, f.skuA);
    await f.book.send(f.escrow.connect(f.escrowOnly).refund(f.offer, f.offer.amount, f.items));
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Refunded);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(before + 50n);
  });

  it("an escrow-only operator cannot propose or accept a split on the merchant's side of an order with items: NotStockOperator", async function () {
    const f = await loadFixture(fixture);
    await f.book.send(f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.sig));
    await f.book.send(f.escrow.connect(f.buyer).dispute(f.offer, ethers.ZeroHash));
    await expect(f.escrow.connect(f.escrowOnly).proposeSettlement(f.offer, f.offer.amount - 1n))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
    await f.book.send(f.escrow.connect(f.buyer).proposeSettlement(f.offer, f.offer.amount - 1n));
    await expect(f.escrow.connect(f.escrowOnly).acceptSettlement(f.offer, f.offer.amount - 1n, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Disputed);
  });

  it("with the merchant's inventory approval the operator refunds partially and settles; the merchant itself needs none", async function () {
    const f = await loadFixture(fixture);
    await f.book.send(f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.sig));
    await expect(f.escrow.connect(f.merchant).refund(f.offer, 1n, [])).to.emit(f.escrow, "OrderRefunded");
    await f.inventory.connect(f.merchant).setApprovalForAll(f.escrowOnly.address, true);
    await f.book.send(f.escrow.connect(f.escrowOnly).refund(f.offer, 2n, []));
    expect((await f.escrow.statusOf(f.id)).refunded).to.equal(3n);
    await f.book.send(f.escrow.connect(f.buyer).dispute(f.offer, ethers.ZeroHash));
    await f.book.send(f.escrow.connect(f.escrowOnly).proposeSettlement(f.offer, USD(40)));
    await f.book.send(f.escrow.connect(f.buyer).acceptSettlement(f.offer, USD(40), f.items));
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Resolved);
  });

  it("orders without items need no stock authority for partial refunds and settlements", async function () {
    const f = await loadFixture(fixture);
    const t = await terms(f);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
    await f.book.send(f.escrow.connect(f.buyer).pay(t));
    await f.book.send(f.escrow.connect(f.escrowOnly).refund(t, 5n, []));
    await f.book.send(f.escrow.connect(f.buyer).dispute(t, ethers.ZeroHash));
    await f.book.send(f.escrow.connect(f.escrowOnly).proposeSettlement(t, USD(10)));
    expect((await f.escrow.proposalOf(await idOf(f.escrow, t))).buyerTotal).to.equal(USD(10));
  });
});
