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
  USD,
  type LineItem,
} from "../helpers/fixtures";
import { errorName, mineInOneBlock } from "../helpers/attacks";

const PRICE = USD(40);

/**
 * A merchant (or its operator) withdraws a signed checkout offer before anyone takes it: its id is marked
 * Revoked and can never be created. Nobody else can withdraw a merchant's offer, so revocation is no tool for
 * keeping a buyer from an offer it was given.
 */
describe("security: revoking a signed offer", function () {
  async function offerFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 3n }];
    // An open offer: whoever submits it first with the payment becomes the buyer.
    const offer = await terms(f, { buyer: ethers.ZeroAddress, amount: PRICE }, items);
    const offerId = await idOf(f.escrow, offer, items);
    const signature = await signOffer(f.escrow, f.merchant, offer, items);
    return { ...f, book, items, offer, offerId, signature, escrowAddress: await f.escrow.getAddress() };
  }

  it("reverts a front-runner's checkout of an offer the merchant revoked with OrderAlreadyExists, and charges nothing", async function () {
    const f = await offerFixture();
    await expect(f.escrow.connect(f.merchant).revokeOffer(f.offer))
      .to.emit(f.escrow, "OfferRevoked")
      .withArgs(f.offerId, f.merchant.address, f.merchant.address);
    expect((await f.escrow.statusOf(f.offerId)).state).to.equal(OrderState.Revoked);

    const before = await f.usd.balanceOf(f.otherBuyer.address);
    await expect(f.escrow.connect(f.otherBuyer).checkout(f.offer, f.items, f.signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offerId);
    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offerId);
    // Nor can the merchant itself bring the id back by creating the same terms.
    await expect(f.escrow.connect(f.merchant).createOrder(f.offer, f.items))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offerId);
    expect(await f.usd.balanceOf(f.otherBuyer.address)).to.equal(before);
    expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });

  it("places the merchant's revocation ahead of a front-runner's pending checkout in the same block: the checkout reverts OrderAlreadyExists", async function () {
    const f = await offerFixture();
    const before = await f.usd.balanceOf(f.otherBuyer.address);
    const [checkout, revoke] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.otherBuyer).checkout(f.offer, f.items, f.signature, o), tipGwei: 5n },
      { send: (o) => f.escrow.connect(f.merchant).revokeOffer(f.offer, o), tipGwei: 80n },
    ]);
    expect(revoke.receipt.index).to.be.lessThan(checkout.receipt.index);
    expect(revoke.ok).to.equal(true);
    expect(checkout.ok).to.equal(false);
    expect(errorName(f.escrow.interface, checkout.revertData)).to.equal("OrderAlreadyExists");
    expect(await f.usd.balanceOf(f.otherBuyer.address)).to.equal(before);
    expect((await f.escrow.statusOf(f.offerId)).state).to.equal(OrderState.Revoked);
  });

  it("lets the merchant's operator revoke the offer, also in a batch", async function () {
    const f = await offerFixture();
    await expect(f.escrow.connect(f.operator).revokeOffer(f.offer))
      .to.emit(f.escrow, "OfferRevoked")
      .withArgs(f.offerId, f.merchant.address, f.operator.address);
    const second = await terms(f, { buyer: ethers.ZeroAddress, amount: PRICE }, f.items);
    const secondId = await idOf(f.escrow, second, f.items);
    await expect(
      f.escrow.connect(f.operator).batch([f.escrow.interface.encodeFunctionData("revokeOffer", [second])], true),
    )
      .to.emit(f.escrow, "OfferRevoked")
      .withArgs(secondId, f.merchant.address, f.operator.address);
    expect((await f.escrow.statusOf(secondId)).state).to.equal(OrderState.Revoked);
  });

  it("reverts a stranger's, the buyer's, a second merchant's and a de-authorised operator's revocation with NotMerchantOrOperator; the buyer still checks out", async function () {
    const f = await offerFixture();
    await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
    for (const caller of [f.stranger, f.buyer, f.otherMerchant, f.operator]) {
      await expect(f.escrow.connect(caller).revokeOffer(f.offer))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, caller.address);
    }
    // A second merchant's revocation of the same terms in its own name is a different id: the offer is untouched.
    const own = { ...f.offer, merchant: f.otherMerchant.address, payee: f.otherMerchant.address };
    await f.escrow.connect(f.otherMerchant).revokeOffer(own);
    expect(await f.escrow.orderIdOf(own)).to.not.equal(f.offerId);
    expect((await f.escrow.statusOf(f.offerId)).state).to.equal(OrderState.None);

    await f.book.send(f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.signature));
    expect(f.book.get(f.offerId).state).to.equal(OrderState.Paid);
    expect(f.book.get(f.offerId).buyer).to.equal(f.buyer.address);
  });

  it("places a stranger's revocation ahead of the buyer's pending checkout: the revocation reverts NotMerchantOrOperator, the checkout succeeds", async function () {
    const f = await offerFixture();
    const [checkout, revoke] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.signature, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.stranger).revokeOffer(f.offer, o), tipGwei: 90n },
    ]);
    expect(revoke.receipt.index).to.be.lessThan(checkout.receipt.index);
    expect(revoke.ok).to.equal(false);
    expect(errorName(f.escrow.interface, revoke.revertData)).to.equal("NotMerchantOrOperator");
    expect(checkout.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.offerId)).state).to.equal(OrderState.Paid);
  });

  it("reverts the merchant's revocation of an offer a buyer already took, or one already revoked, with OrderAlreadyExists", async function () {
    const f = await offerFixture();
    await f.book.send(f.escrow.connect(f.buyer).checkout(f.offer, f.items, f.signature));
    await expect(f.escrow.connect(f.merchant).revokeOffer(f.offer))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offerId);
    expect((await f.escrow.statusOf(f.offerId)).state).to.equal(OrderState.Paid);

    const other = await terms(f, { amount: PRICE });
    const otherId = await idOf(f.escrow, other);
    await f.escrow.connect(f.merchant).revokeOffer(other);
    await expect(f.escrow.connect(f.merchant).revokeOffer(other))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(otherId);
  });

  it("lets the merchant revoke an offer while the escrow is paused, so a pending offer cannot be taken after the pause", async function () {
    const f = await offerFixture();
    await f.escrow.connect(f.pauser).pause();
    await f.escrow.connect(f.merchant).revokeOffer(f.offer);
    await f.escrow.connect(f.pauser).unpause();
    await expect(f.escrow.connect(f.otherBuyer).checkout(f.offer, f.items, f.signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offerId);
  });
});
