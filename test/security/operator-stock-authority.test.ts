import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  idOf,
  OrderBook,
  OrderState,
  signOffer,
  terms,
  type EscrowFixture,
} from "../helpers/fixtures";

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

  it("reverts an escrow-only operator's createOrder with items with NotStockOperator (the one-wei sale of all stock to itself)", async function () {
    const f = await escrowOnlyOperatorFixture();
    const stock = await f.inventory.balanceOf(f.merchant.address, f.skuA);
    const items = [{ skuId: f.skuA, quantity: stock }];
    const t = await terms(f, { buyer: f.escrowOnly.address, token: ethers.ZeroAddress, amount: 1n }, items);
    await expect(f.escrow.connect(f.escrowOnly).createOrder(t, items))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(stock);
  });

  it("still lets the escrow-only operator create orders without items, and with items once approved on the inventory", async function () {
    const f = await escrowOnlyOperatorFixture();
    const plain = await terms(f);
    await f.book.send(f.escrow.connect(f.escrowOnly).createOrder(plain, []));
    expect(f.book.get(await idOf(f.escrow, plain)).state).to.equal(OrderState.Created);

    await f.inventory.connect(f.merchant).setApprovalForAll(f.escrowOnly.address, true);
    const two = [{ skuId: f.skuA, quantity: 2n }];
    const withItems = await terms(f, {}, two);
    await f.book.send(f.escrow.connect(f.escrowOnly).createOrder(withItems, two));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(2n);

    // Withdrawn again: the next order with items is refused.
    await f.inventory.connect(f.merchant).setApprovalForAll(f.escrowOnly.address, false);
    const one = [{ skuId: f.skuA, quantity: 1n }];
    await expect(f.escrow.connect(f.escrowOnly).createOrder(await terms(f, {}, one), one))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);
  });

  it("refuses a checkout offer with items signed by an escrow-only operator with NotStockOperator; without items the offer works", async function () {
    const f = await escrowOnlyOperatorFixture();
    const items = [{ skuId: f.skuA, quantity: 1n }];
    const offer = await terms(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount: 1n }, items);
    const signature = await signOffer(f.escrow, f.escrowOnly, offer, items);
    await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature, { value: 1n }))
      .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
      .withArgs(f.merchant.address, f.escrowOnly.address);

    const plain = await terms(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount: 1n });
    const plainSignature = await signOffer(f.escrow, f.escrowOnly, plain, []);
    await f.book.send(f.escrow.connect(f.buyer).checkout(plain, [], plainSignature, { value: 1n }));
    expect(f.book.get(await idOf(f.escrow, plain)).state).to.equal(OrderState.Paid);
  });

  it("lets the merchant itself create orders with items without any approval", async function () {
    const f = await escrowOnlyOperatorFixture();
    const items = [{ skuId: f.skuB, quantity: 3n }];
    const t = await terms(f, {}, items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuB)).to.equal(3n);
  });
});

/**
 * An operator acts for the merchant: it creates, ships and settles the merchant's orders, and with the merchant's
 * inventory approval sells its stock. The proceeds of the merchant's sales are the merchant's: terms an operator
 * creates or signs must name the merchant as payee (PayeeNotAuthorized otherwise), so an operator cannot name
 * itself (or any wallet of its own) and take them.
 */
describe("security: an operator the merchant approved redirecting the merchant's proceeds", function () {
  const AMOUNT = 100_000_000n;
  const FEE = (AMOUNT * 100n) / 10_000n;

  /** Everything the redirection could move: stock, stablecoin balances, and the order's status. */
  async function snapshot(f: EscrowFixture, skuId: bigint, orderId: string) {
    const escrow = await f.escrow.getAddress();
    return {
      merchantStock: await f.inventory.balanceOf(f.merchant.address, skuId),
      escrowStock: await f.inventory.balanceOf(escrow, skuId),
      buyerStock: await f.inventory.balanceOf(f.buyer.address, skuId),
      buyerUsd: await f.usd.balanceOf(f.buyer.address),
      escrowUsd: await f.usd.balanceOf(escrow),
      operatorUsd: await f.usd.balanceOf(f.operator.address),
      state: (await f.escrow.statusOf(orderId)).state,
    };
  }

  it("reverts an operator's createOrder with the merchant's stock naming itself payee with PayeeNotAuthorized; nothing moves", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const items = [{ skuId: f.skuA, quantity: 5n }];
    const t = await terms(f, { amount: AMOUNT, payee: f.operator.address }, items);
    const id = await idOf(f.escrow, t, items);
    const before = await snapshot(f, f.skuA, id);
    await expect(f.escrow.connect(f.operator).createOrder(t, items))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect(await snapshot(f, f.skuA, id)).to.deep.equal(before);
    expect(before.state).to.equal(OrderState.None);
    // The buyer has nothing to pay.
    await expect(f.escrow.connect(f.buyer).pay(t))
      .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
      .withArgs(id);
  });

  it("reverts an operator's createOrder naming anyone but the merchant payee with PayeeNotAuthorized, also without items; the merchant's own choice of payee stands", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const t = await terms(f, { amount: AMOUNT, payee: f.otherBuyer.address });
    await expect(f.escrow.connect(f.operator).createOrder(t, []))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.otherBuyer.address, f.operator.address);
    expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
    // The merchant itself decides where its money goes.
    const book = new OrderBook(f.escrow);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
    expect(book.get(await idOf(f.escrow, t)).terms.payee).to.equal(f.otherBuyer.address);
  });

  it("reverts a buyer's checkout of an offer an operator signed naming itself payee with PayeeNotAuthorized; nothing moves", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const items = [{ skuId: f.skuB, quantity: 1n }];
    const offer = await terms(f, { amount: AMOUNT, payee: f.operator.address }, items);
    const id = await idOf(f.escrow, offer, items);
    const signature = await signOffer(f.escrow, f.operator, offer, items);
    const before = await snapshot(f, f.skuB, id);
    await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect(await snapshot(f, f.skuB, id)).to.deep.equal(before);
    expect(before.state).to.equal(OrderState.None);
    // The same offer signed by the merchant is the merchant's decision: it goes through.
    const merchantSignature = await signOffer(f.escrow, f.merchant, offer, items);
    await f.escrow.connect(f.buyer).checkout(offer, items, merchantSignature);
    expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
  });

  it("still lets an operator create and sign orders paying the merchant, and the merchant is paid", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const items = [{ skuId: f.skuA, quantity: 5n }];
    const t = await terms(f, { amount: AMOUNT }, items);
    await f.escrow.connect(f.operator).createOrder(t, items);
    await f.escrow.connect(f.buyer).pay(t);
    await f.escrow.connect(f.operator).ship(t, ethers.ZeroHash);
    await expect(f.escrow.connect(f.buyer).confirmReceipt(t, items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.operator],
      [AMOUNT - FEE, 0n],
    );
    const offer = await terms(f, { amount: AMOUNT }, items);
    await f.escrow.connect(f.buyer).checkout(offer, items, await signOffer(f.escrow, f.operator, offer, items));
    await f.escrow.connect(f.operator).ship(offer, ethers.ZeroHash);
    await expect(f.escrow.connect(f.buyer).confirmReceipt(offer, items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.operator],
      [AMOUNT - FEE, 0n],
    );
  });
});
