import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  MAX_FEE_BPS,
  OrderBook,
  OrderState,
  signOffer,
  terms,
  USD,
  type LineItem,
} from "../helpers/fixtures";
import { errorName, mineInOneBlock } from "../helpers/attacks";

const AMOUNT = USD(100);
const feeAt = (amount: bigint, bps: bigint): bigint => (amount * bps) / 10_000n;

/**
 * The merchant signs the highest fee it accepts (`maxFeeBps`); the fee is fixed in the order when it is created.
 * An admin raising the fee cannot charge an order more than its merchant signed, neither by racing the creation
 * nor afterwards.
 */
describe("security: the platform fee is bounded by what the merchant signed", function () {
  async function feeFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    return { ...f, book, items, escrowAddress: await f.escrow.getAddress() };
  }

  it("reverts the buyer's checkout with FeeAboveSignedMax when the admin raised the fee after the merchant signed the offer", async function () {
    const f = await feeFixture();
    const offer = await terms(f, { amount: AMOUNT, maxFeeBps: FEE_BPS }, f.items);
    const offerId = await idOf(f.escrow, offer, f.items);
    const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
    await f.escrow.connect(f.admin).setFeeBps(FEE_BPS + 1n);

    const buyerBefore = await f.usd.balanceOf(f.buyer.address);
    await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
      .withArgs(FEE_BPS + 1n, FEE_BPS);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(buyerBefore);
    expect(await f.inventory.balanceOf(f.escrowAddress, f.skuA)).to.equal(0n);
    expect((await f.escrow.statusOf(offerId)).state).to.equal(OrderState.None);

    // Back at the signed fee, the same offer works, at that fee.
    await f.escrow.connect(f.admin).setFeeBps(FEE_BPS);
    await f.book.send(f.escrow.connect(f.buyer).checkout(offer, f.items, signature));
    expect((await f.escrow.statusOf(offerId)).feeBps).to.equal(FEE_BPS);
  });

  it("reverts the operator's pending createOrder with FeeAboveSignedMax when the admin's fee raise is mined ahead of it", async function () {
    const f = await feeFixture();
    const t = await terms(f, { amount: AMOUNT, maxFeeBps: FEE_BPS }, f.items);
    const orderId = await idOf(f.escrow, t, f.items);
    const [create, raise] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.operator).createOrder(t, f.items, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS, o), tipGwei: 50n },
    ]);
    expect(raise.receipt.index).to.be.lessThan(create.receipt.index);
    expect(raise.ok).to.equal(true);
    expect(create.ok).to.equal(false);
    expect(errorName(f.escrow.interface, create.revertData)).to.equal("FeeAboveSignedMax");
    expect(f.escrow.interface.parseError(create.revertData)!.args).to.deep.equal([MAX_FEE_BPS, FEE_BPS]);
    expect((await f.escrow.statusOf(orderId)).state).to.equal(OrderState.None);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });

  it("reverts the buyer's pending checkout with FeeAboveSignedMax when the admin's fee raise is mined ahead of it, and charges nothing", async function () {
    const f = await feeFixture();
    const offer = await terms(f, { amount: AMOUNT, maxFeeBps: FEE_BPS }, f.items);
    const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
    const buyerBefore = await f.usd.balanceOf(f.buyer.address);
    const [checkout, raise] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).checkout(offer, f.items, signature, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.admin).setFeeBps(FEE_BPS * 2n, o), tipGwei: 50n },
    ]);
    expect(raise.receipt.index).to.be.lessThan(checkout.receipt.index);
    expect(checkout.ok).to.equal(false);
    expect(errorName(f.escrow.interface, checkout.revertData)).to.equal("FeeAboveSignedMax");
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(buyerBefore);
    expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
  });

  it("creates the operator's pending order at the lower fee when the admin's fee cut is mined ahead of it, and keeps that fee", async function () {
    const f = await feeFixture();
    const t = await terms(f, { amount: AMOUNT, maxFeeBps: FEE_BPS }, f.items);
    const orderId = await idOf(f.escrow, t, f.items);
    const [create, cut] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.operator).createOrder(t, f.items, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.admin).setFeeBps(40n, o), tipGwei: 50n },
    ]);
    expect(cut.receipt.index).to.be.lessThan(create.receipt.index);
    expect(create.ok).to.equal(true);
    const created = f.escrow.interface.parseLog(
      create.receipt.logs.find(
        (l) => l.address === f.escrowAddress && l.topics[0] === f.escrow.interface.getEvent("OrderCreated").topicHash,
      )!,
    )!;
    expect(created.args.feeBps).to.equal(40n);
    expect((await f.escrow.statusOf(orderId)).feeBps).to.equal(40n);

    // Raised again before settlement: the order keeps the 0.4% it was created with.
    await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
    await f.escrow.connect(f.buyer).pay(t);
    await f.escrow.connect(f.operator).ship(t, ethers.ZeroHash);
    await expect(f.escrow.connect(f.buyer).confirmReceipt(t, f.items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.feeRecipient],
      [AMOUNT - feeAt(AMOUNT, 40n), feeAt(AMOUNT, 40n)],
    );
  });

  it("keeps the lower fee of a checkout taken after the admin cut the fee below the signed maximum", async function () {
    const f = await feeFixture();
    const offer = await terms(f, { amount: AMOUNT, maxFeeBps: FEE_BPS }, f.items);
    const offerId = await idOf(f.escrow, offer, f.items);
    const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
    await f.escrow.connect(f.admin).setFeeBps(0n);
    await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
      .to.emit(f.escrow, "OrderCreated")
      .withArgs(
        offerId,
        f.merchant.address,
        f.buyer.address,
        () => true,
        0n,
        () => true,
      );
    await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
    await f.escrow.connect(f.merchant).ship(offer, ethers.ZeroHash);
    await time.increase(offer.protectionPeriod + 1n);
    await expect(f.escrow.connect(f.stranger).autoRelease(offer, f.items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.feeRecipient],
      [AMOUNT, 0n],
    );
  });

  it("never changes an open order's fee when the admin raises the fee to the cap after creation (release, split, default)", async function () {
    const f = await feeFixture();
    // Merchants that accept up to the cap: a raise would be allowed for new orders, not for these.
    const released = await terms(f, { amount: AMOUNT }, f.items);
    const split = await terms(f, { amount: AMOUNT }, f.items);
    const defaulted = await terms(f, { amount: AMOUNT }, f.items);
    for (const t of [released, split, defaulted]) {
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, f.items));
      await f.book.send(f.escrow.connect(f.buyer).pay(t));
    }
    await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
    for (const t of [released, split, defaulted]) {
      expect((await f.escrow.statusOf(await idOf(f.escrow, t, f.items))).feeBps).to.equal(FEE_BPS);
    }

    await f.escrow.connect(f.merchant).ship(released, ethers.ZeroHash);
    await expect(f.escrow.connect(f.buyer).confirmReceipt(released, f.items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.feeRecipient],
      [AMOUNT - feeAt(AMOUNT, FEE_BPS), feeAt(AMOUNT, FEE_BPS)],
    );

    await f.escrow.connect(f.buyer).dispute(split, ethers.ZeroHash);
    const payeeShare = AMOUNT - USD(25);
    await expect(f.escrow.connect(f.arbiter).resolveDispute(split, USD(25), f.items)).to.changeTokenBalances(
      f.usd,
      [f.buyer, f.merchant, f.feeRecipient],
      [USD(25), payeeShare - feeAt(payeeShare, FEE_BPS), feeAt(payeeShare, FEE_BPS)],
    );

    await f.escrow.connect(f.buyer).dispute(defaulted, ethers.ZeroHash);
    await time.increase((await f.escrow.DISPUTE_PERIOD()) + 1n);
    await expect(f.escrow.connect(f.stranger).settleExpiredDispute(defaulted, f.items)).to.changeTokenBalances(
      f.usd,
      [f.buyer, f.feeRecipient],
      [AMOUNT, 0n],
    );
    expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
  });

  it("reverts creating terms that accept no fee (maxFeeBps 0) with FeeAboveSignedMax while the admin charges one, and creates them at a zero fee", async function () {
    const f = await feeFixture();
    const t = await terms(f, { amount: AMOUNT, maxFeeBps: 0n }, f.items);
    await expect(f.escrow.connect(f.merchant).createOrder(t, f.items))
      .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
      .withArgs(FEE_BPS, 0n);
    await f.escrow.connect(f.admin).setFeeBps(0n);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, f.items));
    expect((await f.escrow.statusOf(await idOf(f.escrow, t, f.items))).feeBps).to.equal(0n);
  });

  it("reverts a stranger's, a merchant's and the operator's fee change with AccessControlUnauthorizedAccount, and the admin's above the cap with FeeTooHigh", async function () {
    const f = await feeFixture();
    const adminRole = await f.escrow.DEFAULT_ADMIN_ROLE();
    for (const caller of [f.stranger, f.merchant, f.operator]) {
      await expect(f.escrow.connect(caller).setFeeBps(MAX_FEE_BPS))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(caller.address, adminRole);
    }
    await expect(f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS + 1n))
      .to.be.revertedWithCustomError(f.escrow, "FeeTooHigh")
      .withArgs(MAX_FEE_BPS + 1n, MAX_FEE_BPS);
    // A merchant accepting more than the cap still pays at most the cap.
    await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
    const t = await terms(f, { amount: AMOUNT, maxFeeBps: 65_535n }, f.items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, f.items));
    expect((await f.escrow.statusOf(await idOf(f.escrow, t, f.items))).feeBps).to.equal(MAX_FEE_BPS);
    expect(await f.escrow.feeBps()).to.equal(MAX_FEE_BPS);
  });
});
