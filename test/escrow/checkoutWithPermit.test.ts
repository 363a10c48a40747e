import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { HOUR, OrderState, USD, itemsHash, signOffer, signPermit, terms } from "../helpers/fixtures";
import { deployCreationFixture, type CreationFixture } from "../helpers/creation";

/** `stranger` holds stablecoins but never approved the escrow; it takes offers with a permit. */
async function permitPayer(f: CreationFixture) {
  await f.usd.mint(f.stranger.address, USD(1_000));
  return { escrowAddr: await f.escrow.getAddress(), deadline: BigInt(await time.latest()) + HOUR };
}

describe("PaymentEscrow.checkoutWithPermit", function () {
  it("creates and pays an offer with line items using a fresh permit and no prior allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const items = [{ skuId: f.skuA, quantity: 2n }];
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, offer, items);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    const tx = f.escrow.connect(f.stranger).checkoutWithPermit(offer, items, sig, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await expect(tx).to.emit(f.escrow, "OrderCreated");
    await expect(tx).to.emit(f.escrow, "OrderPaid");
    await f.book.send(tx);
    const rec = f.book.get(offer.orderId as string);
    expect(rec.state).to.equal(OrderState.Paid);
    expect(rec.buyer).to.equal(f.stranger.address);
    expect(rec.itemsHash).to.equal(itemsHash(items));
    expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(2n);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
  });

  it("creates and pays an open offer without line items", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: ethers.ZeroAddress });
    const sig = await signOffer(f.escrow, f.operator, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.book.send(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit));
    const rec = f.book.get(offer.orderId as string);
    expect(rec.state).to.equal(OrderState.Paid);
    expect(rec.buyer).to.equal(f.stranger.address);
  });

  it("still succeeds when a front-runner already submitted the permit", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.usd
      .connect(f.otherBuyer)
      .permit(f.stranger.address, escrowAddr, USD(100), permit.deadline, permit.v, permit.r, permit.s);
    await f.book.send(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit));
    expect(f.book.get(offer.orderId as string).state).to.equal(OrderState.Paid);
  });

  it("reverts with ERC20InsufficientAllowance from the token for an invalid permit and no allowance", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    // Signed for less than the price: the escrow submits the permit for the price, so it fails and no allowance exists.
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(99), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
      .withArgs(escrowAddr, 0n, USD(100));
  });

  it("reverts with PermitForNativeOrder for a native offer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address, token: ethers.ZeroAddress });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(offer.orderId);
  });

  it("reverts with InvalidOfferSignature for an unapproved signer even with a valid permit", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(offer.orderId, f.otherMerchant.address);
    // The whole call reverted, the permit included.
    expect(await f.usd.nonces(f.stranger.address)).to.equal(0n);
  });

  it("reverts with NotBuyer when an offer naming a buyer is taken by someone else", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f);
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(offer.orderId, f.stranger.address);
  });

  it("reverts with EnforcedPause while paused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.escrow.connect(f.pauser).pause();
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
  });
});
