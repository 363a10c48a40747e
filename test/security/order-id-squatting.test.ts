import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  idOf,
  itemsHash,
  OrderBook,
  OrderState,
  signOffer,
  terms,
  USD,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";
import { errorName, mineInOneBlock, signForwardRequest } from "../helpers/attacks";

/**
 * An order id is the EIP-712 digest of the merchant's terms, and only the merchant (or an operator it approved)
 * may create those terms. Whoever learns a merchant's terms or salt (from the relayer, a leaked offer, or the
 * merchant's own pending transaction) can neither take the id first nor make the merchant's order fail.
 */
describe("security: order id squatting", function () {
  async function squattingFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 2n }];
    const victim = await terms(f, { amount: USD(70) }, items);
    const victimId = await idOf(f.escrow, victim, items);
    // The second merchant has its own SKU, so it can create orders with items.
    await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://squatter");
    const squatterSku = await f.inventory.skuId(f.otherMerchant.address, 1);
    await f.inventory.connect(f.otherMerchant).mintStock([squatterSku], [10n]);
    return { ...f, book, items, victim, victimId, squatterSku };
  }

  type Fixture = Awaited<ReturnType<typeof squattingFixture>>;

  /** The victim's terms taken over by the second merchant: same salt, same everything, its own merchant. */
  function squatterCopy(f: EscrowFixture, victim: OrderTerms, overrides: Partial<OrderTerms> = {}): OrderTerms {
    return {
      ...victim,
      merchant: f.otherMerchant.address,
      payee: f.otherMerchant.address,
      ...overrides,
    };
  }

  async function expectMerchantOrderWorks(f: Fixture) {
    await f.book.send(f.escrow.connect(f.merchant).createOrder(f.victim, f.items));
    expect(f.book.get(f.victimId).state).to.equal(OrderState.Created);
    expect(f.book.get(f.victimId).terms.merchant).to.equal(f.merchant.address);
    await f.book.send(f.escrow.connect(f.buyer).pay(f.victim));
    expect((await f.escrow.statusOf(f.victimId)).state).to.equal(OrderState.Paid);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(70));
  }

  it("reverts a stranger creating the merchant's exact terms with NotMerchantOrOperator; the merchant still creates them", async function () {
    const f = await squattingFixture();
    await expect(f.escrow.connect(f.stranger).createOrder(f.victim, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.stranger.address);
    expect((await f.escrow.statusOf(f.victimId)).state).to.equal(OrderState.None);
    await expectMerchantOrderWorks(f);
  });

  it("reverts a second merchant creating the merchant's exact terms with NotMerchantOrOperator, even naming itself payee", async function () {
    const f = await squattingFixture();
    await expect(f.escrow.connect(f.otherMerchant).createOrder(f.victim, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.otherMerchant.address);
    // Redirecting the payout to itself while keeping the victim as merchant: refused just the same.
    const redirected = { ...f.victim, payee: f.otherMerchant.address };
    await expect(f.escrow.connect(f.otherMerchant).createOrder(redirected, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.otherMerchant.address);
    // Nor can the merchant's buyer create it, nor an operator of the second merchant only.
    await f.escrow.connect(f.otherMerchant).setOperatorApproval(f.stranger.address, true);
    for (const caller of [f.buyer, f.stranger]) {
      await expect(f.escrow.connect(caller).createOrder(f.victim, f.items))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, caller.address);
    }
    await expectMerchantOrderWorks(f);
  });

  it("gives a second merchant that reuses the merchant's salt a different id; the merchant's createOrder still succeeds", async function () {
    const f = await squattingFixture();
    const squatItems = [{ skuId: f.squatterSku, quantity: 2n }];
    const squatTerms = squatterCopy(f, f.victim, { itemsHash: itemsHash(squatItems) });
    const plainSquat = squatterCopy(f, f.victim, { itemsHash: itemsHash([]) });
    await f.book.send(f.escrow.connect(f.otherMerchant).createOrder(squatTerms, squatItems));
    await f.book.send(f.escrow.connect(f.otherMerchant).createOrder(plainSquat, []));
    const squatId = await idOf(f.escrow, squatTerms, squatItems);
    const plainSquatId = await idOf(f.escrow, plainSquat, []);

    expect(squatTerms.salt).to.equal(f.victim.salt);
    expect(squatId).to.not.equal(f.victimId);
    expect(plainSquatId).to.not.equal(f.victimId);
    expect((await f.escrow.statusOf(f.victimId)).state).to.equal(OrderState.None);
    await expectMerchantOrderWorks(f);
    expect(f.book.get(squatId).state).to.equal(OrderState.Created);
  });

  it("lets the buyer check out the merchant's signed offer after a second merchant created an order with the offer's salt", async function () {
    const f = await squattingFixture();
    const offer = await terms(f, { buyer: ethers.ZeroAddress, amount: USD(30) }, f.items);
    const offerId = await idOf(f.escrow, offer, f.items);
    const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
    // The squatter saw the offer (terms and salt) and creates "it" under its own name first.
    const squat = squatterCopy(f, offer, { itemsHash: itemsHash([]) });
    await f.book.send(f.escrow.connect(f.otherMerchant).createOrder(squat, []));
    // It cannot create the offer's own terms, nor take them with its own signature.
    await expect(f.escrow.connect(f.otherMerchant).createOrder(offer, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.otherMerchant.address);
    const forged = await signOffer(f.escrow, f.otherMerchant, offer, f.items);
    await expect(f.escrow.connect(f.otherBuyer).checkout(offer, f.items, forged))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(offerId, f.otherMerchant.address);

    await f.book.send(f.escrow.connect(f.buyer).checkout(offer, f.items, signature));
    const view = f.book.get(offerId);
    expect(view.state).to.equal(OrderState.Paid);
    expect(view.buyer).to.equal(f.buyer.address);
    expect(view.terms.merchant).to.equal(f.merchant.address);
    expect(f.book.get(await idOf(f.escrow, squat, [])).state).to.equal(OrderState.Created);
  });

  it("places a stranger's copy of the merchant's pending createOrder ahead of it in one block: the copy reverts NotMerchantOrOperator, the merchant's order is created", async function () {
    const f = await squattingFixture();
    // The merchant's transaction is pending; the stranger copies its calldata and pays a higher tip.
    const [merchantTx, strangerTx] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.merchant).createOrder(f.victim, f.items, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.stranger).createOrder(f.victim, f.items, o), tipGwei: 50n },
    ]);
    expect(strangerTx.receipt.index).to.be.lessThan(merchantTx.receipt.index);
    expect(strangerTx.ok).to.equal(false);
    expect(errorName(f.escrow.interface, strangerTx.revertData)).to.equal("NotMerchantOrOperator");
    expect(f.escrow.interface.parseError(strangerTx.revertData)!.args).to.deep.equal([
      f.merchant.address,
      f.stranger.address,
    ]);
    expect(merchantTx.ok).to.equal(true);
    const status = await f.escrow.statusOf(f.victimId);
    expect(status.state).to.equal(OrderState.Created);
    await (await f.escrow.connect(f.buyer).pay(f.victim)).wait();
    expect((await f.escrow.statusOf(f.victimId)).state).to.equal(OrderState.Paid);
  });

  it("places a second merchant's same-salt order ahead of the buyer's pending checkout: the checkout still succeeds", async function () {
    const f = await squattingFixture();
    const offer = await terms(f, { amount: USD(30) }, f.items);
    const offerId = await idOf(f.escrow, offer, f.items);
    const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
    const squat = squatterCopy(f, offer, { itemsHash: itemsHash([]) });
    const [buyerTx, squatTx, copyTx] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).checkout(offer, f.items, signature, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.otherMerchant).createOrder(squat, [], o), tipGwei: 50n },
      { send: (o) => f.escrow.connect(f.otherMerchant).createOrder(offer, f.items, o), tipGwei: 40n },
    ]);
    expect(squatTx.ok).to.equal(true);
    expect(copyTx.ok).to.equal(false);
    expect(errorName(f.escrow.interface, copyTx.revertData)).to.equal("NotMerchantOrOperator");
    expect(buyerTx.receipt.index).to.be.greaterThan(copyTx.receipt.index);
    expect(buyerTx.ok).to.equal(true);
    const status = await f.escrow.statusOf(offerId);
    expect(status.state).to.equal(OrderState.Paid);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(30));
  });

  it("reverts a stranger that lifts the terms out of the merchant's signed forward request, or appends the merchant's address itself, with NotMerchantOrOperator; the request still executes", async function () {
    const f = await squattingFixture();
    const escrowAddress = await f.escrow.getAddress();
    const data = f.escrow.interface.encodeFunctionData("createOrder", [f.victim, f.items]);
    const request = await signForwardRequest(f.forwarder, f.merchant, { to: escrowAddress, data });
    // Direct call with the lifted calldata, and with the merchant's address appended as if by the forwarder.
    await expect(f.stranger.sendTransaction({ to: escrowAddress, data }))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.stranger.address);
    await expect(f.stranger.sendTransaction({ to: escrowAddress, data: ethers.concat([data, f.merchant.address]) }))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.stranger.address);
    // The stranger relays the request unchanged: that creates exactly the merchant's order, as the merchant.
    await f.book.send(f.forwarder.connect(f.stranger).execute(request));
    expect(f.book.get(f.victimId).terms.merchant).to.equal(f.merchant.address);
    expect((await f.escrow.statusOf(f.victimId)).state).to.equal(OrderState.Created);
  });

  it("never lets a buyer's payment reach a second merchant's same-salt order through the merchant's id", async function () {
    const f = await squattingFixture();
    // The victim's order is open to any payer; the squatter's copy differs only in merchant and payee.
    const open = await terms(f, { buyer: ethers.ZeroAddress, amount: USD(55) });
    const openId = await idOf(f.escrow, open);
    const squat = squatterCopy(f, open);
    const squatId = await idOf(f.escrow, squat);
    await f.book.send(f.escrow.connect(f.otherMerchant).createOrder(squat, []));
    expect(squatId).to.not.equal(openId);

    // Before the merchant created it, paying the merchant's terms finds no order: nothing goes to the squatter.
    await expect(f.escrow.connect(f.buyer).pay(open))
      .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
      .withArgs(openId);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(open, []));
    await f.book.send(f.escrow.connect(f.buyer).pay(open));
    await f.book.send(f.escrow.connect(f.merchant).ship(open, ethers.ZeroHash));
    // Only the merchant (or its operator) ships the merchant's order; the squatter cannot touch it.
    await expect(f.escrow.connect(f.otherMerchant).refund(open, 1n, []))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.otherMerchant.address);
    const fee = (USD(55) * 100n) / 10_000n;
    await expect(f.escrow.connect(f.buyer).confirmReceipt(open, [])).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.otherMerchant, f.feeRecipient],
      [USD(55) - fee, 0n, fee],
    );
    // The squatter's own order stays unpaid; it is a different order, not the merchant's.
    expect((await f.escrow.statusOf(squatId)).state).to.equal(OrderState.Created);
    expect(await f.escrow.payerOf(squatId)).to.equal(ethers.ZeroAddress);
    expect(await f.escrow.payerOf(openId)).to.equal(f.buyer.address);
  });
});
