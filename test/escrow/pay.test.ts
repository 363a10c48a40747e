import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OrderState, USD, idOf, terms } from "../helpers/fixtures";
import type { FeeOnTransferToken, ReturnsFalseToken } from "../../typechain-types";
import { createOrder, deployCreationFixture, type CreationFixture } from "../helpers/creation";

const ONE_ETH = ethers.parseEther("1");

/** Allows a misbehaving token and funds the buyer with it, approved for the escrow. */
async function allowMockToken<T extends FeeOnTransferToken | ReturnsFalseToken>(
  f: CreationFixture,
  token: T,
): Promise<T> {
  await f.escrow.connect(f.admin).setTokenAllowed(await token.getAddress(), true);
  await token.mint(f.buyer.address, USD(1_000));
  await token.connect(f.buyer).approve(await f.escrow.getAddress(), ethers.MaxUint256);
  return token;
}

describe("PaymentEscrow.pay", function () {
  describe("success", function () {
    it("pays an ERC-20 order: buyer -amount, escrow +amount, state Paid", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const tx = f.escrow.connect(f.buyer).pay(o.terms);
      await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(100), USD(100)]);
      await f.book.send(tx);
      const view = f.book.get(o.id);
      expect(view.state).to.equal(OrderState.Paid);
      expect(view.buyer).to.equal(f.buyer.address);
      expect(view.escrowed).to.equal(USD(100));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });

    it("emits OrderPaid with shipBy = block timestamp + shipWithin", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const payAt = BigInt(await time.latest()) + 100n;
      await time.setNextBlockTimestamp(payAt);
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(o.id, f.merchant.address, f.buyer.address, USD(100), payAt + o.terms.shipWithin);
    });

    it("stores the Paid status: deadline = ship-by time, the fee fixed at creation, nothing refunded", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      // A fee change between creation and payment does not touch the order.
      await f.escrow.connect(f.admin).setFeeBps(900);
      const payAt = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(payAt);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.terms));
      const s = await f.escrow.statusOf(o.id);
      expect(s.state).to.equal(OrderState.Paid);
      expect(s.feeBps).to.equal(FEE_BPS);
      expect(s.deadline).to.equal(payAt + o.terms.shipWithin);
      expect(s.refunded).to.equal(0n);
      // The terms name the buyer: paying writes no payer.
      expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
      const view = f.book.get(o.id);
      expect(view.deadline).to.equal(s.deadline);
      expect(view.terms).to.deep.equal(o.terms);
    });

    it("pays a native order with exactly its amount: buyer -amount, escrow +amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      const payAt = BigInt(await time.latest()) + 7n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.buyer).pay(o.terms, { value: ONE_ETH });
      await expect(tx).to.changeEtherBalances([f.buyer, f.escrow], [-ONE_ETH, ONE_ETH]);
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(o.id, f.merchant.address, f.buyer.address, ONE_ETH, payAt + o.terms.shipWithin);
      await f.book.send(tx);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });

    it("records the payer of an open order as its buyer (payerOf)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: ethers.ZeroAddress });
      expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
      const payAt = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.otherBuyer).pay(o.terms);
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(o.id, f.merchant.address, f.otherBuyer.address, USD(100), payAt + o.terms.shipWithin);
      await f.book.send(tx);
      expect(await f.escrow.payerOf(o.id)).to.equal(f.otherBuyer.address);
      expect(f.book.get(o.id).buyer).to.equal(f.otherBuyer.address);
      // The recorded payer is the buyer from now on: only it may confirm receipt.
      await f.book.send(f.escrow.connect(f.merchant).ship(o.terms, ethers.id("tracking")));
      await expect(f.escrow.connect(f.buyer).confirmReceipt(o.terms, []))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(o.id, f.buyer.address);
      await f.book.send(f.escrow.connect(f.otherBuyer).confirmReceipt(o.terms, []));
    });

    it("accepts payment exactly at the payment deadline second", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await time.setNextBlockTimestamp(o.terms.paymentDeadline);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.terms));
      const s = await f.escrow.statusOf(o.id);
      expect(s.state).to.equal(OrderState.Paid);
      expect(s.deadline).to.equal(o.terms.paymentDeadline + o.terms.shipWithin);
    });

    it("works for an order whose token was disallowed after creation", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.escrow.connect(f.admin).setTokenAllowed(await f.usd.getAddress(), false);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.terms));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });
  });

  describe("reverts", function () {
    it("reverts with NotBuyer when a stranger pays an order bound to a buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.otherBuyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(o.id, f.otherBuyer.address);
    });

    it("reverts with PaymentDeadlinePassed one second after the payment deadline", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const late = o.terms.paymentDeadline + 1n;
      await time.setNextBlockTimestamp(late);
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlinePassed")
        .withArgs(o.id, o.terms.paymentDeadline, late);
    });

    it("reverts with InvalidState when paying twice", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.terms));
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(o.id, OrderState.Paid);
    });

    it("reverts with InvalidState for a cancelled order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.book.send(f.escrow.connect(f.merchant).cancel(o.terms, []));
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(o.id, OrderState.Cancelled);
    });

    it("reverts with InvalidState when a front-runner already paid an open order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: ethers.ZeroAddress });
      await f.book.send(f.escrow.connect(f.otherBuyer).pay(o.terms));
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(o.id, OrderState.Paid);
    });

    it("reverts with OrderNotFound for tampered terms (amount lowered): they name another id", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const tampered = { ...o.terms, amount: USD(1) };
      await expect(f.escrow.connect(f.buyer).pay(tampered))
        .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
        .withArgs(await idOf(f.escrow, tampered));
    });

    it("reverts with OrderNotFound for terms that were never created", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.buyer).pay(t))
        .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
        .withArgs(await idOf(f.escrow, t));
    });

    it("reverts with WrongNativeAmount when too little is sent", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      await expect(f.escrow.connect(f.buyer).pay(o.terms, { value: ONE_ETH - 1n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, ONE_ETH - 1n);
    });

    it("reverts with WrongNativeAmount when too much is sent", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      await expect(f.escrow.connect(f.buyer).pay(o.terms, { value: ONE_ETH + 1n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, ONE_ETH + 1n);
    });

    it("reverts with WrongNativeAmount when nothing is sent for a native order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, 0n);
    });

    it("reverts with UnexpectedNativeValue when ETH is sent to an ERC-20 order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.buyer).pay(o.terms, { value: 1n }))
        .to.be.revertedWithCustomError(f.escrow, "UnexpectedNativeValue")
        .withArgs(1n);
    });

    it("reverts with TransferAmountMismatch for a fee-on-transfer token", async function () {
      const f = await loadFixture(deployCreationFixture);
      const fot = await allowMockToken(f, await ethers.deployContract("FeeOnTransferToken"));
      const o = await createOrder(f, { token: await fot.getAddress() });
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
        .withArgs(await fot.getAddress(), USD(100), USD(99));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
      expect(await fot.balanceOf(f.buyer.address)).to.equal(USD(1_000));
    });

    it("reverts with SafeERC20FailedOperation for a token whose transferFrom returns false", async function () {
      const f = await loadFixture(deployCreationFixture);
      const rft = await allowMockToken(f, await ethers.deployContract("ReturnsFalseToken"));
      const o = await createOrder(f, { token: await rft.getAddress() });
      await rft.setFailing(true);
      await expect(f.escrow.connect(f.buyer).pay(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "SafeERC20FailedOperation")
        .withArgs(await rft.getAddress());
    });

    it("reverts with ERC20InsufficientAllowance from the token without an allowance", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: f.stranger.address });
      await f.usd.mint(f.stranger.address, USD(100));
      await expect(f.escrow.connect(f.stranger).pay(o.terms))
        .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
        .withArgs(await f.escrow.getAddress(), 0n, USD(100));
    });

    it("reverts with EnforcedPause while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.buyer).pay(o.terms)).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
    });
  });
});
