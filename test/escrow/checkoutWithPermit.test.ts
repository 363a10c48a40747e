import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, HOUR, OrderState, USD, domainOf, idOf, signOffer, signPermit, terms } from "../helpers/fixtures";
import { offerDigest } from "../../sdk/orderRecord";
import { deployCreationFixture, itemTuples, termsTuple, type CreationFixture } from "../helpers/creation";

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
    const offer = await terms(f, { buyer: f.stranger.address }, items);
    const id = await idOf(f.escrow, offer, items);
    const sig = await signOffer(f.escrow, f.merchant, offer, items);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    expect(await f.escrow.connect(f.stranger).checkoutWithPermit.staticCall(offer, items, sig, permit)).to.equal(id);
    const payAt = BigInt(await time.latest()) + 5n;
    await time.setNextBlockTimestamp(payAt);
    const tx = f.escrow.connect(f.stranger).checkoutWithPermit(offer, items, sig, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await expect(tx)
      .to.emit(f.escrow, "OrderCreated")
      .withArgs(id, f.merchant.address, f.stranger.address, termsTuple(offer), FEE_BPS, itemTuples(items));
    await expect(tx)
      .to.emit(f.escrow, "OrderPaid")
      .withArgs(id, f.merchant.address, f.stranger.address, USD(100), payAt + offer.shipWithin);
    await f.book.send(tx);
    const s = await f.escrow.statusOf(id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(await f.escrow.payerOf(id)).to.equal(ethers.ZeroAddress);
    expect(f.book.get(id).buyer).to.equal(f.stranger.address);
    expect(s.feeBps).to.equal(FEE_BPS);
    expect(s.deadline).to.equal(payAt + offer.shipWithin);
    expect(f.book.get(id).items).to.deep.equal(items);
    expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(2n);
    expect(await f.usd.allowance(f.stranger.address, escrowAddr)).to.equal(0n);
    expect(await f.usd.nonces(f.stranger.address)).to.equal(1n);
  });

  it("creates and pays an open offer signed by an operator, making the payer the buyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: ethers.ZeroAddress });
    const id = await idOf(f.escrow, offer);
    const sig = await signOffer(f.escrow, f.operator, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.book.send(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit));
    const s = await f.escrow.statusOf(id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(await f.escrow.payerOf(id)).to.equal(f.stranger.address);
    expect(f.book.get(id).buyer).to.equal(f.stranger.address);
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
    const tx = f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow], [-USD(100), USD(100)]);
    await f.book.send(tx);
    expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);
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

  it("an offer naming an address without code as the token reverts with TokenNotAllowed, not an empty revert", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f, { token: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, t, []);
    const permit = { deadline: 0n, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
    await expect(f.escrow.connect(f.buyer).checkoutWithPermit(t, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
      .withArgs(f.stranger.address);
  });

  it("reverts with PermitForNativeOrder for a native offer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address, token: ethers.ZeroAddress });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(await idOf(f.escrow, offer));
  });

  it("reverts with InvalidOfferSignature for an unapproved signer even with a valid permit", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(await idOf(f.escrow, offer), f.otherMerchant.address);
    // The whole call reverted, the permit included.
    expect(await f.usd.nonces(f.stranger.address)).to.equal(0n);
  });

  it("reverts with InvalidOfferSignature for a tampered amount", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const signed = await terms(f, { buyer: f.stranger.address });
    const sig = await signOffer(f.escrow, f.merchant, signed, []);
    const tampered = { ...signed, amount: USD(1) };
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(1), deadline);
    const id = await idOf(f.escrow, tampered);
    const digest = offerDigest(await domainOf(f.escrow), tampered, []);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(tampered, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(id, ethers.recoverAddress(digest, sig));
  });

  it("reverts with NotBuyer when an offer naming a buyer is taken by someone else", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f);
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(await idOf(f.escrow, offer), f.stranger.address);
  });

  it("reverts with FeeAboveSignedMax when the fee is above the offer's maximum", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address, maxFeeBps: FEE_BPS - 1n });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
      .withArgs(FEE_BPS, FEE_BPS - 1n);
  });

  it("reverts with OrderAlreadyExists when the offer was already taken", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: ethers.ZeroAddress });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(await idOf(f.escrow, offer));
  });

  it("reverts with PayeeNotAuthorized for an operator-signed offer naming another payee; the merchant's own such offer goes through", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address, payee: f.operator.address });
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(
      f.escrow
        .connect(f.stranger)
        .checkoutWithPermit(offer, [], await signOffer(f.escrow, f.operator, offer, []), permit),
    )
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.None);

    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const fresh = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await f.book.send(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, fresh));
    expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);
  });

  it("reverts with InvalidPayee for an offer paying the escrow", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { escrowAddr, deadline } = await permitPayer(f);
    const offer = await terms(f, { buyer: f.stranger.address, payee: escrowAddr });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const permit = await signPermit(f.usd, f.stranger, escrowAddr, USD(100), deadline);
    await expect(f.escrow.connect(f.stranger).checkoutWithPermit(offer, [], sig, permit))
      .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
      .withArgs(escrowAddr);
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
