import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { HOUR, OrderState, USD, idOf, signPermit, terms } from "../helpers/fixtures";
import { createOrder, deployCreationFixture, type CreationFixture } from "../helpers/creation";

/** An order bound to `stranger` (or open, with `open`), who holds stablecoins but never approved the escrow. */
async function orderForPermitPayer(f: CreationFixture, open = false) {
  await f.usd.mint(f.stranger.address, USD(1_000));
  const o = await createOrder(f, { buyer: open ? ethers.ZeroAddress : f.stranger.address });
  const deadline = BigInt(await time.latest()) + HOUR;
  return { o, deadline, escrowAddr: await f.escrow.getAddress() };
}

describe("PaymentEscrow.payWithPermit", function () {
  it("pays with a fresh EIP-2612 permit and no prior allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    const payAt = BigInt(await time.latest()) + 3n;
    await time.setNextBlockTimestamp(payAt);
    const tx = f.escrow.connect(f.stranger).payWithPermit(o.terms, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await expect(tx)
      .to.emit(f.escrow, "OrderPaid")
      .withArgs(o.id, f.merchant.address, f.stranger.address, USD(100), payAt + o.terms.shipWithin);
    await f.book.send(tx);
    const s = await f.escrow.statusOf(o.id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
    expect(s.deadline).to.equal(payAt + o.terms.shipWithin);
    expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
    expect(await f.usd.nonces(f.stranger.address)).to.equal(1n);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
  });

  it("records the permit signer who pays an open order as its buyer (payerOf)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f, true);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.book.send(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit));
    expect(await f.escrow.payerOf(o.id)).to.equal(f.stranger.address);
    expect(f.book.get(o.id).buyer).to.equal(f.stranger.address);
  });

  it("still pays when a front-runner already submitted the same permit", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.usd
      .connect(f.otherBuyer)
      .permit(f.stranger.address, escrowAddr, USD(100), permit.deadline, permit.v, permit.r, permit.s);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(USD(100));
    const tx = f.escrow.connect(f.stranger).payWithPermit(o.terms, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await f.book.send(tx);
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
  });

  it("accepts payment exactly at the payment deadline second", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), o.terms.paymentDeadline + HOUR);
    await time.setNextBlockTimestamp(o.terms.paymentDeadline);
    await f.book.send(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit));
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
  });

  it("reverts with PaymentDeadlinePassed one second after the payment deadline", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), o.terms.paymentDeadline + HOUR);
    const late = o.terms.paymentDeadline + 1n;
    await time.setNextBlockTimestamp(late);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit))
      .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlinePassed")
      .withArgs(o.id, o.terms.paymentDeadline, late);
    // The whole call reverted, the permit included.
    expect(await f.usd.nonces(f.stranger.address)).to.equal(0n);
  });

  it("reverts with ERC20InsufficientAllowance from the token for an invalid permit and no allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    // Signed by someone other than the payer: the permit fails and the transfer finds no allowance.
    const permit = await signPermit(f.usd, f.otherBuyer, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
  });

  it("reverts with ERC20InsufficientAllowance from the token for an expired permit and no allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, escrowAddr } = await orderForPermitPayer(f);
    const expired = BigInt(await time.latest()) - 1n;
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), expired);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
  });

  it("terms naming an address without code as the token revert with OrderNotFound, not an empty revert", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f, { token: f.stranger.address });
    const permit = { deadline: 0n, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
    await expect(f.escrow.connect(f.buyer).payWithPermit(t, permit))
      .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
      .withArgs(await idOf(f.escrow, t));
  });

  it("reverts with PermitForNativeOrder for a native order", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1") });
    const permit = await signPermit(f.usd, f.buyer, await f.escrow.getAddress(), USD(100), 2n ** 64n);
    await expect(f.escrow.connect(f.buyer).payWithPermit(o.terms, permit))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(o.id);
  });

  it("reverts with NotBuyer when a stranger signs a permit for an order bound to another buyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.otherBuyer, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.otherBuyer).payWithPermit(o.terms, permit))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(o.id, f.otherBuyer.address);
  });

  it("reverts with InvalidState when paying twice", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    await f.book.send(
      f.escrow
        .connect(f.stranger)
        .payWithPermit(o.terms, await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline)),
    );
    const again = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.terms, again))
      .to.be.revertedWithCustomError(f.escrow, "InvalidState")
      .withArgs(o.id, OrderState.Paid);
  });

  it("reverts with OrderNotFound for terms that were never created", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { deadline, escrowAddr } = await orderForPermitPayer(f);
    const t = await terms(f, { buyer: f.stranger.address });
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).payWithPermit(t, permit))
      .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
      .withArgs(await idOf(f.escrow, t));
  });

  it("reverts with EnforcedPause while paused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.escrow.connect(f.pauser).pause();
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.terms, permit)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
  });

  it("passes the permit words on as they are: a token that refuses a dirty v word leaves no allowance, and the payment fails with the token's error", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    const data = ethers.getBytes(f.escrow.interface.encodeFunctionData("payWithPermit", [o.terms, permit]));
    // selector, 12 words of terms, then the permit: deadline, v, r, s. Dirty the top byte of v.
    data[4 + 32 * 13] = 0x01;
    await expect(f.stranger.sendTransaction({ to: escrowAddr, data: ethers.hexlify(data) }))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
    expect(await f.usd.nonces(f.stranger.address)).to.equal(0n);
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
  });
});
