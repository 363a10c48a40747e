import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  OrderBook,
  OrderState,
  signOffer,
  signPermit,
  terms,
  USD,
  type OrderTerms,
} from "../helpers/fixtures";

/** Pausing stops new money coming in, never money going out. */
describe("security: pausing with funds in escrow", function () {
  async function pausedWithOrdersFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const items = [{ skuId: f.skuA, quantity: 1n }];
    const ids: Record<string, string> = {};
    const ts: Record<string, OrderTerms> = {};
    for (const name of [
      "unpaid",
      "toRefund",
      "toShip",
      "toConfirm",
      "toAutoRelease",
      "toDispute",
      "toResolve",
      "toCancelUnshipped",
    ]) {
      const t = await terms(f, {}, items);
      ts[name] = t;
      ids[name] = await idOf(f.escrow, t, items);
      await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
      if (name !== "unpaid") await book.send(f.escrow.connect(f.buyer).pay(t));
    }
    for (const name of ["toConfirm", "toAutoRelease", "toDispute"]) {
      await book.send(f.escrow.connect(f.merchant).ship(ts[name], ethers.ZeroHash));
    }
    await book.send(f.escrow.connect(f.buyer).dispute(ts.toResolve, ethers.ZeroHash));
    await f.escrow.connect(f.pauser).pause();
    return { ...f, book, items, ids, ts };
  }

  it("still settles every escrowed order: refund, cancel, ship, confirm, release, dispute, resolve, settlement", async function () {
    const f = await pausedWithOrdersFixture();
    const { book, ids, ts, items } = f;
    expect(await f.escrow.paused()).to.equal(true);
    const fee = (USD(100) * FEE_BPS) / 10_000n;

    await book.send(f.escrow.connect(f.merchant).cancel(ts.unpaid, items));
    await book.send(f.escrow.connect(f.merchant).refund(ts.toRefund, USD(100), items));
    await book.send(f.escrow.connect(f.merchant).ship(ts.toShip, ethers.ZeroHash));
    await book.send(f.escrow.connect(f.buyer).confirmReceipt(ts.toConfirm, items));
    await book.send(f.escrow.connect(f.buyer).dispute(ts.toDispute, ethers.ZeroHash));
    await book.send(f.escrow.connect(f.arbiter).resolveDispute(ts.toResolve, USD(100), items));
    await time.increase(73n * 3600n);
    await book.send(f.escrow.connect(f.stranger).autoRelease(ts.toAutoRelease, items));
    await book.send(f.escrow.connect(f.buyer).cancelUnshipped(ts.toCancelUnshipped, items));

    const expected: Record<string, bigint> = {
      unpaid: OrderState.Cancelled,
      toRefund: OrderState.Refunded,
      toShip: OrderState.Shipped,
      toConfirm: OrderState.Completed,
      toAutoRelease: OrderState.Completed,
      toDispute: OrderState.Disputed,
      toResolve: OrderState.Resolved,
      toCancelUnshipped: OrderState.Refunded,
    };
    for (const [name, state] of Object.entries(expected)) expect(book.get(ids[name]).state, name).to.equal(state);
    // Still escrowed: the shipped order and the disputed one.
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(200));
    expect(await f.usd.balanceOf(f.feeRecipient.address)).to.equal(2n * fee);

    // The last two settle while paused as well: a negotiated settlement and a release.
    await book.send(f.escrow.connect(f.merchant).proposeSettlement(ts.toDispute, USD(40)));
    await book.send(f.escrow.connect(f.buyer).acceptSettlement(ts.toDispute, USD(40), items));
    await book.send(f.escrow.connect(f.stranger).autoRelease(ts.toShip, items));
    expect(book.get(ids.toDispute).state).to.equal(OrderState.Resolved);
    expect(book.get(ids.toShip).state).to.equal(OrderState.Completed);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    expect(await f.escrow.paused()).to.equal(true);
  });

  it("still lets a hostile buyer contract whose refund was credited withdraw", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
    const hostileAddress = await hostile.getAddress();
    const t = await terms(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1"), buyer: hostileAddress });
    await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
    await book.send(
      hostile.execute(
        await f.escrow.getAddress(),
        ethers.parseEther("1"),
        f.escrow.interface.encodeFunctionData("pay", [t]),
        { value: ethers.parseEther("1") },
      ),
    );
    await hostile.setMode(1, ethers.ZeroAddress, "0x");
    await book.send(f.escrow.connect(f.merchant).refund(t, ethers.parseEther("1"), []));
    await f.escrow.connect(f.pauser).pause();

    const withdraw = f.escrow.interface.encodeFunctionData("withdraw", [ethers.ZeroAddress, f.stranger.address]);
    await expect(hostile.execute(await f.escrow.getAddress(), 0n, withdraw)).to.changeEtherBalances(
      [f.stranger, f.escrow],
      [ethers.parseEther("1"), -ethers.parseEther("1")],
    );
  });

  it("reverts createOrder, pay, payWithPermit, checkout and checkoutWithPermit with EnforcedPause", async function () {
    const f = await pausedWithOrdersFixture();
    const items = [{ skuId: f.skuB, quantity: 1n }];
    const unpaid = f.ts.unpaid;
    const offer = await terms(f, {}, items);
    const signature = await signOffer(f.escrow, f.merchant, offer, items);
    const latest = await ethers.provider.getBlock("latest");
    const permit = await signPermit(
      f.usd,
      f.buyer,
      await f.escrow.getAddress(),
      USD(100),
      BigInt(latest!.timestamp) + 600n,
    );

    await expect(
      f.escrow.connect(f.merchant).createOrder(await terms(f, {}, items), items),
    ).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
    await expect(f.escrow.connect(f.buyer).pay(unpaid)).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
    await expect(f.escrow.connect(f.buyer).payWithPermit(unpaid, permit)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
    await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
    await expect(
      f.escrow.connect(f.buyer).checkoutWithPermit(offer, items, signature, permit),
    ).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
    // Batched creation is stopped too.
    const call = f.escrow.interface.encodeFunctionData("createOrder", [await terms(f), []]);
    await expect(f.escrow.connect(f.operator).batch([call], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, f.escrow.interface.encodeErrorResult("EnforcedPause", []));

    await f.escrow.connect(f.pauser).unpause();
    await f.book.send(f.escrow.connect(f.buyer).pay(unpaid));
    expect(f.book.get(f.ids.unpaid).state).to.equal(OrderState.Paid);
  });

  it("reverts pause by an operator and unpause by a stranger (no pauser role)", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const role = await f.escrow.PAUSER_ROLE();
    await expect(f.escrow.connect(f.operator).pause())
      .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
      .withArgs(f.operator.address, role);
    await f.escrow.connect(f.pauser).pause();
    await expect(f.escrow.connect(f.stranger).unpause())
      .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
      .withArgs(f.stranger.address, role);
  });
});
