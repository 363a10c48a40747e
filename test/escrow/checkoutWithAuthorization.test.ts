import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  FEE_BPS,
  HOUR,
  OrderState,
  USD,
  authorizationNonce,
  idOf,
  signAuthorization,
  signOffer,
  terms,
} from "../helpers/fixtures";
import type { LineItem, OrderTerms } from "../helpers/fixtures";
import { deployCreationFixture, itemTuples, termsTuple, type CreationFixture } from "../helpers/creation";

/** A merchant-signed offer and `payer`'s ERC-3009 authorization for it (nonce = the order id). */
async function signedCheckout(
  f: CreationFixture,
  overrides: Partial<OrderTerms>,
  items: LineItem[] = [],
  payer: HardhatEthersSigner = f.stranger,
  signer: HardhatEthersSigner = f.merchant,
) {
  await f.usd.mint(payer.address, USD(1_000));
  const offer = await terms(f, overrides, items);
  const id = await idOf(f.escrow, offer, items);
  const sig = await signOffer(f.escrow, signer, offer, items);
  const validBefore = BigInt(await time.latest()) + HOUR;
  const nonce = await authorizationNonce(f.escrow, offer, items);
  const auth = await signAuthorization(f.usd, payer, await f.escrow.getAddress(), offer.amount, nonce, validBefore);
  return { offer, id, nonce, sig, auth, items };
}

describe("PaymentEscrow.checkoutWithAuthorization", function () {
  it("creates and pays an offer with line items from the buyer's ERC-3009 authorization, sent by the relayer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const items = [{ skuId: f.skuA, quantity: 2n }];
    const { offer, id, nonce, sig, auth } = await signedCheckout(f, { buyer: f.stranger.address }, items);
    const ethBefore = await ethers.provider.getBalance(f.stranger.address);
    expect(await f.escrow.connect(f.operator).checkoutWithAuthorization.staticCall(offer, items, sig, auth)).to.equal(
      id,
    );
    const payAt = BigInt(await time.latest()) + 5n;
    await time.setNextBlockTimestamp(payAt);
    const tx = f.escrow.connect(f.operator).checkoutWithAuthorization(offer, items, sig, auth);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow, f.operator], [-USD(100), USD(100), 0n]);
    await expect(tx)
      .to.emit(f.escrow, "OrderCreated")
      .withArgs(id, f.merchant.address, f.stranger.address, termsTuple(offer), FEE_BPS, itemTuples(items));
    await expect(tx)
      .to.emit(f.escrow, "OrderPaid")
      .withArgs(id, f.merchant.address, f.stranger.address, USD(100), payAt + offer.shipWithin);
    await f.book.send(tx);
    const s = await f.escrow.statusOf(id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(s.deadline).to.equal(payAt + offer.shipWithin);
    expect(f.book.get(id).buyer).to.equal(f.stranger.address);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(2n);
    expect(await f.usd.authorizationState(f.stranger.address, nonce)).to.equal(true);
    expect(await ethers.provider.getBalance(f.stranger.address)).to.equal(ethBefore);
  });

  it("an open offer makes the authorization's signer the buyer, whoever sends the transaction", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig, auth } = await signedCheckout(f, { buyer: ethers.ZeroAddress }, [], f.stranger, f.operator);
    await f.book.send(f.escrow.connect(f.otherBuyer).checkoutWithAuthorization(offer, [], sig, auth));
    expect(await f.escrow.payerOf(id)).to.equal(f.stranger.address);
    expect(f.book.get(id).buyer).to.equal(f.stranger.address);
  });

  it("a front-runner who copies the pending checkout only creates the same order for the same buyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig, auth } = await signedCheckout(f, { buyer: ethers.ZeroAddress });
    // The copy lands first: the order, its payer and the money are exactly what the relayer's call would do.
    await f.book.send(f.escrow.connect(f.otherBuyer).checkoutWithAuthorization(offer, [], sig, auth));
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(id);
    expect(await f.escrow.payerOf(id)).to.equal(f.stranger.address);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(100));
  });

  it("a buyer's authorization cannot pay a different offer of the same amount (its nonce is the order id)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const meant = await signedCheckout(f, { buyer: ethers.ZeroAddress });
    // Same merchant, same price, other terms (a squatter's payee would be refused anyway: PayeeNotAuthorized).
    const other = await terms(f, { buyer: ethers.ZeroAddress, salt: ethers.id("other offer") });
    const otherSig = await signOffer(f.escrow, f.merchant, other, []);
    await expect(
      f.escrow.connect(f.otherBuyer).checkoutWithAuthorization(other, [], otherSig, meant.auth),
    ).to.be.revertedWithCustomError(f.usd, "InvalidAuthorizationSignature");
    expect((await f.escrow.statusOf(await idOf(f.escrow, other))).state).to.equal(OrderState.None);
  });

  it("an offer naming a buyer cannot be paid by another payer's authorization: NotBuyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig, auth } = await signedCheckout(f, { buyer: f.buyer.address }, [], f.stranger);
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(id, f.stranger.address);
  });

  it("reverts with InvalidOfferSignature for an offer the merchant did not sign; the authorization stays unused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, nonce, sig, auth } = await signedCheckout(
      f,
      { buyer: f.stranger.address },
      [],
      f.stranger,
      f.otherMerchant,
    );
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(id, f.otherMerchant.address);
    expect(await f.usd.authorizationState(f.stranger.address, nonce)).to.equal(false);
  });

  it("reverts with PermitForNativeOrder for a native-currency offer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig, auth } = await signedCheckout(f, {
      buyer: f.stranger.address,
      token: ethers.ZeroAddress,
    });
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(id);
  });

  it("reverts with the token's AuthorizationNotInTime for an authorization not valid yet", async function () {
    const f = await loadFixture(deployCreationFixture);
    await f.usd.mint(f.stranger.address, USD(1_000));
    const offer = await terms(f, { buyer: f.stranger.address });
    const id = await idOf(f.escrow, offer);
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const later = BigInt(await time.latest()) + HOUR;
    const auth = await signAuthorization(
      f.usd,
      f.stranger,
      await f.escrow.getAddress(),
      USD(100),
      id,
      later + HOUR,
      later,
    );
    await expect(
      f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth),
    ).to.be.revertedWithCustomError(f.usd, "AuthorizationNotInTime");
    expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.None);
  });

  it("reverts with FeeAboveSignedMax when the fee rose above the signed maximum", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, sig, auth } = await signedCheckout(f, { buyer: f.stranger.address, maxFeeBps: FEE_BPS });
    await f.escrow.connect(f.admin).setFeeBps(FEE_BPS + 1n);
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
      .withArgs(FEE_BPS + 1n, FEE_BPS);
  });

  it("reverts with EnforcedPause while paused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, sig, auth } = await signedCheckout(f, { buyer: f.stranger.address });
    await f.escrow.connect(f.pauser).pause();
    await expect(
      f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth),
    ).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
  });

  it("a payer without the funds makes the checkout fail with the token's ERC20InsufficientBalance; nothing is created", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig, auth } = await signedCheckout(f, { buyer: f.stranger.address });
    await f.usd.connect(f.stranger).transfer(f.buyer.address, await f.usd.balanceOf(f.stranger.address));
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientBalance")
      .withArgs(f.stranger.address, 0n, USD(100));
    expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.None);
  });

  it("an authorization whose nonce is the bare order id (not its digest in this escrow's domain) is refused", async function () {
    const f = await loadFixture(deployCreationFixture);
    const { offer, id, sig } = await signedCheckout(f, { buyer: f.stranger.address });
    const validBefore = BigInt(await time.latest()) + HOUR;
    const bare = await signAuthorization(f.usd, f.stranger, await f.escrow.getAddress(), USD(100), id, validBefore);
    await expect(
      f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, bare),
    ).to.be.revertedWithCustomError(f.usd, "InvalidAuthorizationSignature");
  });

  it("reverts with AuthorizationNotSupported for an offer in an allowed token without ERC-3009", async function () {
    const f = await loadFixture(deployCreationFixture);
    const plain = await ethers.deployContract("ReturnsFalseToken");
    await f.escrow.connect(f.admin).setTokenAllowed(await plain.getAddress(), true);
    const { offer, sig, auth } = await signedCheckout(f, {
      buyer: f.stranger.address,
      token: await plain.getAddress(),
    });
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "AuthorizationNotSupported")
      .withArgs(await plain.getAddress());
  });

  it("reverts with TransferAmountMismatch for a token that delivers less than authorized", async function () {
    const f = await loadFixture(deployCreationFixture);
    const fot = await ethers.deployContract("FeeOnTransferToken");
    await f.escrow.connect(f.admin).setTokenAllowed(await fot.getAddress(), true);
    await fot.mint(f.stranger.address, USD(1_000));
    const offer = await terms(f, { buyer: f.stranger.address, token: await fot.getAddress() });
    const sig = await signOffer(f.escrow, f.merchant, offer, []);
    const nonce = await authorizationNonce(f.escrow, offer);
    const validBefore = BigInt(await time.latest()) + HOUR;
    const auth = await signAuthorization(fot, f.stranger, await f.escrow.getAddress(), USD(100), nonce, validBefore);
    await expect(f.escrow.connect(f.operator).checkoutWithAuthorization(offer, [], sig, auth))
      .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
      .withArgs(await fot.getAddress(), USD(100), USD(99));
  });
});
