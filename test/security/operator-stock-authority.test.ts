import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, OrderBook, OrderState, signOffer, terms } from "../helpers/fixtures";

/**
 * An escrow operator is not a stock operator: orders with line items move the merchant's stock (reserved at
 * creation, delivered to the buyer on completion), so creating one, or signing its checkout offer, takes the
 * merchant's ERC-1155 approval on the inventory as well. Otherwise an operator approved for orders alone could
 * sell all of the merchant's stock to itself for one wei.
 */
describe("security: operator approved on the escrow only cannot move the merchant's stock", function () {
  async function escrowOnlyOperatorFixture() {
    const f = await loadFixture(deployEscrowFixture);
    // The fixture's operator holds both approvals; this one is approved on the escrow only.
    const escrowOnly = f.stranger;
    await f.escrow.connect(f.merchant).setOperatorApproval(escrowOnly.address, true);
    const book = new OrderBook(f.escrow);
    return { ...f, escrowOnly, book };
  }

  it("reverts createOrder with items with NotStockOperator (the one-wei sale of all stock to itself)", async function () {
    const f = await escrowOnlyOperatorFixture();
    const stock = await f.inventory.balanceOf(f.merchant.address, f.skuA);
    const t = await terms(f, { buyer: f.escrowOnly.address, token: ethers.ZeroAddress, amount: 1n });
    await expect(f.escrow.connect(f.escrowOnly).createOrder(t, [{ skuId: f.skuA, quantity: stock }]))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(stock);
  });

  it("still lets it create orders without items, and lets it create with items once approved on the inventory", async function () {
    const f = await escrowOnlyOperatorFixture();
    const plain = await terms(f);
    await f.book.send(f.escrow.connect(f.escrowOnly).createOrder(plain, []));
    expect(f.book.get(plain.orderId as string).state).to.equal(OrderState.Created);

    await f.inventory.connect(f.merchant).setApprovalForAll(f.escrowOnly.address, true);
    const withItems = await terms(f);
    await f.book.send(f.escrow.connect(f.escrowOnly).createOrder(withItems, [{ skuId: f.skuA, quantity: 2n }]));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(2n);

    // Withdrawn again: the next order with items is refused.
    await f.inventory.connect(f.merchant).setApprovalForAll(f.escrowOnly.address, false);
    await expect(f.escrow.connect(f.escrowOnly).createOrder(await terms(f), [{ skuId: f.skuA, quantity: 1n }]))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
  });

  it("refuses a checkout offer with items signed by it with NotStockOperator; without items the offer works", async function () {
    const f = await escrowOnlyOperatorFixture();
    const items = [{ skuId: f.skuA, quantity: 1n }];
    const offer = await terms(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount: 1n });
    const signature = await signOffer(f.escrow, f.escrowOnly, offer, items);
    await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature, { value: 1n }))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);

    const plain = await terms(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount: 1n });
    const plainSignature = await signOffer(f.escrow, f.escrowOnly, plain, []);
    await f.book.send(f.escrow.connect(f.buyer).checkout(plain, [], plainSignature, { value: 1n }));
    expect(f.book.get(plain.orderId as string).state).to.equal(OrderState.Paid);
  });

  it("lets the merchant itself create orders with items without any approval", async function () {
    const f = await escrowOnlyOperatorFixture();
    const t = await terms(f);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, [{ skuId: f.skuB, quantity: 3n }]));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuB)).to.equal(3n);
  });
});
