import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { HOUR, OrderState, USD, signPermit } from "../helpers/fixtures";
import { createOrder, deployCreationFixture, type CreationFixture } from "../helpers/creation";

/** An order bound to `stranger`, who holds stablecoins but never approved the escrow. */
async function orderForPermitPayer(f: CreationFixture) {
  await f.usd.mint(f.stranger.address, USD(1_000));
  const o = await createOrder(f, { buyer: f.stranger.address });
  const deadline = BigInt(await time.latest()) + HOUR;
  return { o, deadline, escrowAddr: await f.escrow.getAddress() };
}

describe("PaymentEscrow.payWithPermit", function () {
  it("pays with a fresh EIP-2612 permit and no prior allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    const tx = f.escrow.connect(f.stranger).payWithPermit(o.id, o.record, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await expect(tx).to.emit(f.escrow, "OrderPaid");
    await f.book.send(tx);
    expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
    expect(await f.usd.nonces(f.stranger.address)).to.equal(1n);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
  });

  it("still pays when a front-runner already submitted the same permit", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.usd
      .connect(f.otherBuyer)
      .permit(f.stranger.address, escrowAddr, USD(100), permit.deadline, permit.v, permit.r, permit.s);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(USD(100));
    const tx = f.escrow.connect(f.stranger).payWithPermit(o.id, o.record, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await f.book.send(tx);
    expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
  });

  it("reverts with ERC20InsufficientAllowance from the token for an invalid permit and no allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    // Signed by someone other than the payer: the permit fails and the transfer finds no allowance.
    const permit = await signPermit(f.usd, f.otherBuyer, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.id, o.record, permit))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
  });

  it("reverts with ERC20InsufficientAllowance from the token for an expired permit and no allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, escrowAddr } = await orderForPermitPayer(f);
    const expired = BigInt(await time.latest()) - 1n;
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), expired);
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.id, o.record, permit))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
  });

  it("reverts with PermitForNativeOrder for a native order", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1") });
    const permit = await signPermit(f.usd, f.buyer, await f.escrow.getAddress(), USD(100), 2n ** 64n);
    await expect(f.escrow.connect(f.buyer).payWithPermit(o.id, o.record, permit))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(o.id);
  });

  it("reverts with NotBuyer when the permit signer is not the order's buyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.otherBuyer, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.otherBuyer).payWithPermit(o.id, o.record, permit))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(o.id, f.otherBuyer.address);
  });

  it("reverts with EnforcedPause while paused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { o, deadline, escrowAddr } = await orderForPermitPayer(f);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.escrow.connect(f.pauser).pause();
    await expect(f.escrow.connect(f.stranger).payWithPermit(o.id, o.record, permit)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
  });
});
