import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { HOUR, OrderState, USD, authorizationNonce, signAuthorization } from "../helpers/fixtures";
import { createOrder, deployCreationFixture, type CreatedOrder, type CreationFixture } from "../helpers/creation";

/**
 * `stranger` holds stablecoins, never approved the escrow and holds no ETH worth mentioning: it pays by signing an
 * ERC-3009 authorization whose nonce is the order id, and the relayer (the merchant's operator) submits it.
 */
async function authorizationPayer(f: CreationFixture, o: CreatedOrder, payer = f.stranger, value = o.terms.amount) {
  await f.usd.mint(payer.address, USD(1_000));
  const validBefore = BigInt(await time.latest()) + HOUR;
  const nonce = await authorizationNonce(f.escrow, o.terms, o.items);
  return signAuthorization(f.usd, payer, await f.escrow.getAddress(), value, nonce, validBefore);
}

describe("PaymentEscrow.payWithAuthorization", function () {
  it("pays with the buyer's ERC-3009 authorization sent by the relayer: no allowance, no gas from the buyer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o);
    const ethBefore = await ethers.provider.getBalance(f.stranger.address);
    const payAt = BigInt(await time.latest()) + 3n;
    await time.setNextBlockTimestamp(payAt);
    const tx = f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth);
    await expect(tx).to.changeTokenBalances(f.usd, [f.stranger, f.escrow, f.operator], [-USD(100), USD(100), 0n]);
    await expect(tx)
      .to.emit(f.escrow, "OrderPaid")
      .withArgs(o.id, f.merchant.address, f.stranger.address, USD(100), payAt + o.terms.shipWithin);
    await f.book.send(tx);
    const s = await f.escrow.statusOf(o.id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(s.deadline).to.equal(payAt + o.terms.shipWithin);
    expect(f.book.get(o.id).buyer).to.equal(f.stranger.address);
    expect(await f.usd.authorizationState(f.stranger.address, await authorizationNonce(f.escrow, o.terms))).to.equal(
      true,
    );
    // The nonce is the order's digest in this escrow's domain, not the bare id: the id stays unused.
    expect(await f.usd.authorizationState(f.stranger.address, o.id)).to.equal(false);
    expect(await f.usd.allowance(f.stranger.address, await f.escrow.getAddress())).to.equal(0n);
    expect(await ethers.provider.getBalance(f.stranger.address)).to.equal(ethBefore);
  });

  it("makes the signer of the authorization the buyer of an order open to any payer (payerOf)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: ethers.ZeroAddress });
    const auth = await authorizationPayer(f, o);
    await f.book.send(f.escrow.connect(f.otherBuyer).payWithAuthorization(o.terms, auth));
    expect(await f.escrow.payerOf(o.id)).to.equal(f.stranger.address);
    expect(f.book.get(o.id).buyer).to.equal(f.stranger.address);
  });

  it("a third party's authorization cannot pay an order that names its buyer: NotBuyer, nothing moves", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.buyer.address });
    const auth = await authorizationPayer(f, o, f.stranger);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(o.id, f.stranger.address);
    expect(await f.usd.authorizationState(f.stranger.address, await authorizationNonce(f.escrow, o.terms))).to.equal(
      false,
    );
  });

  it("a stranger cannot spend a buyer's authorization on another order: the nonce is the order id", async function () {
    const f = await loadFixture(deployCreationFixture);
    const meant = await createOrder(f, { buyer: ethers.ZeroAddress });
    const other = await createOrder(f, { buyer: ethers.ZeroAddress });
    const auth = await authorizationPayer(f, meant);
    await expect(f.escrow.connect(f.stranger).payWithAuthorization(other.terms, auth)).to.be.revertedWithCustomError(
      f.usd,
      "InvalidAuthorizationSignature",
    );
    expect((await f.escrow.statusOf(other.id)).state).to.equal(OrderState.Created);
    // The authorization still pays the order it was signed for.
    await f.book.send(f.escrow.connect(f.operator).payWithAuthorization(meant.terms, auth));
    expect((await f.escrow.statusOf(meant.id)).state).to.equal(OrderState.Paid);
  });

  it("an authorization for less than the price is refused by the token (the escrow asks for the amount)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o, f.stranger, USD(99));
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth)).to.be.revertedWithCustomError(
      f.usd,
      "InvalidAuthorizationSignature",
    );
  });

  it("replaying a used authorization reverts with InvalidState: an order is paid once", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o);
    await f.book.send(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth));
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "InvalidState")
      .withArgs(o.id, OrderState.Paid);
  });

  it("passes on the token's own error for an expired authorization and changes nothing", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    await f.usd.mint(f.stranger.address, USD(1_000));
    const validBefore = BigInt(await time.latest()) + 10n;
    const nonce = await authorizationNonce(f.escrow, o.terms);
    const auth = await signAuthorization(f.usd, f.stranger, await f.escrow.getAddress(), USD(100), nonce, validBefore);
    await time.setNextBlockTimestamp(validBefore);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.usd, "AuthorizationNotInTime")
      .withArgs(0n, validBefore, validBefore);
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
  });

  it("a buyer who cancelled the authorization first makes the payment fail with the token's error", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o);
    const { chainId } = await ethers.provider.getNetwork();
    const sig = ethers.Signature.from(
      await f.stranger.signTypedData(
        { name: await f.usd.name(), version: "1", chainId, verifyingContract: await f.usd.getAddress() },
        {
          CancelAuthorization: [
            { name: "authorizer", type: "address" },
            { name: "nonce", type: "bytes32" },
          ],
        },
        { authorizer: f.stranger.address, nonce: await authorizationNonce(f.escrow, o.terms) },
      ),
    );
    const nonce = await authorizationNonce(f.escrow, o.terms);
    await f.usd.cancelAuthorization(f.stranger.address, nonce, sig.v, sig.r, sig.s);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.usd, "AuthorizationUsedOrCanceled")
      .withArgs(f.stranger.address, nonce);
  });

  it("reverts with PaymentDeadlinePassed after the payment deadline", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o);
    await time.setNextBlockTimestamp(o.terms.paymentDeadline + 1n);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlinePassed")
      .withArgs(o.id, o.terms.paymentDeadline, o.terms.paymentDeadline + 1n);
  });

  it("reverts with OrderNotFound for terms nobody created", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const unknown = { ...o.terms, salt: ethers.id("never created") };
    const auth = await authorizationPayer(f, o);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(unknown, auth)).to.be.revertedWithCustomError(
      f.escrow,
      "OrderNotFound",
    );
  });

  it("reverts with PermitForNativeOrder for a native-currency order", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address, token: ethers.ZeroAddress });
    const auth = await authorizationPayer(f, o);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
      .withArgs(o.id);
  });

  it("reverts with AuthorizationNotSupported for an allowed token without ERC-3009", async function () {
    const f = await loadFixture(deployCreationFixture);
    const plain = await ethers.deployContract("ReturnsFalseToken");
    await f.escrow.connect(f.admin).setTokenAllowed(await plain.getAddress(), true);
    const o = await createOrder(f, { buyer: f.stranger.address, token: await plain.getAddress() });
    const auth = await authorizationPayer(f, o);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "AuthorizationNotSupported")
      .withArgs(await plain.getAddress());
  });

  it("reverts with TransferAmountMismatch when the token delivers less than authorized (fee on transfer)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const fot = await ethers.deployContract("FeeOnTransferToken");
    await f.escrow.connect(f.admin).setTokenAllowed(await fot.getAddress(), true);
    const o = await createOrder(f, { buyer: f.stranger.address, token: await fot.getAddress() });
    await fot.mint(f.stranger.address, USD(1_000));
    const validBefore = BigInt(await time.latest()) + HOUR;
    const nonce = await authorizationNonce(f.escrow, o.terms);
    const auth = await signAuthorization(fot, f.stranger, await f.escrow.getAddress(), USD(100), nonce, validBefore);
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
      .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
      .withArgs(await fot.getAddress(), USD(100), USD(99));
  });

  it("reverts with EnforcedPause while paused; the authorization stays usable after unpausing", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createOrder(f, { buyer: f.stranger.address });
    const auth = await authorizationPayer(f, o);
    await f.escrow.connect(f.pauser).pause();
    await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth)).to.be.revertedWithCustomError(
      f.escrow,
      "EnforcedPause",
    );
    await f.escrow.connect(f.pauser).unpause();
    await f.book.send(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth));
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
  });
});
