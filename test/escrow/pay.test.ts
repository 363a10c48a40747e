import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, USD } from "../helpers/fixtures";
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
      const tx = f.escrow.connect(f.buyer).pay(o.id, o.record);
      await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(100), USD(100)]);
      await f.book.send(tx);
      const rec = f.book.get(o.id);
      expect(rec.state).to.equal(OrderState.Paid);
      expect(rec.buyer).to.equal(f.buyer.address);
      expect(await f.escrow.isCurrent(o.id, rec)).to.equal(true);
    });

    it("emits OrderPaid with shipBy = block timestamp + shipWithin", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const payAt = BigInt(await time.latest()) + 100n;
      await time.setNextBlockTimestamp(payAt);
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record))
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(o.id, f.merchant.address, f.buyer.address, USD(100), payAt + o.record.shipWithin);
    });

    it("stores the Paid record with deadline = ship-by time", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const payAt = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(payAt);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      const expected = { ...o.record, state: OrderState.Paid, deadline: payAt + o.record.shipWithin };
      expect(f.book.get(o.id)).to.deep.equal(expected);
      expect(await f.escrow.orderHash(o.id)).to.equal(await f.escrow.hashOrder(expected));
    });

    it("pays a native order with exactly its amount: buyer -amount, escrow +amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      const tx = f.escrow.connect(f.buyer).pay(o.id, o.record, { value: ONE_ETH });
      await expect(tx).to.changeEtherBalances([f.buyer, f.escrow], [-ONE_ETH, ONE_ETH]);
      await expect(tx).to.emit(f.escrow, "OrderPaid");
      await f.book.send(tx);
      expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
    });

    it("makes the payer the buyer of an open order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: ethers.ZeroAddress });
      const payAt = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.otherBuyer).pay(o.id, o.record);
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(o.id, f.merchant.address, f.otherBuyer.address, USD(100), payAt + o.record.shipWithin);
      await f.book.send(tx);
      const rec = f.book.get(o.id);
      expect(rec.buyer).to.equal(f.otherBuyer.address);
      expect(await f.escrow.isCurrent(o.id, rec)).to.equal(true);
    });

    it("accepts payment exactly at the payment deadline", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await time.setNextBlockTimestamp(o.record.deadline);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
    });
  });

  describe("reverts", function () {
    it("reverts with NotBuyer when someone else pays a buyer-bound order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.otherBuyer).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(o.id, f.otherBuyer.address);
    });

    it("reverts with PaymentDeadlinePassed after the payment deadline", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await time.setNextBlockTimestamp(o.record.deadline + 1n);
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlinePassed")
        .withArgs(o.id, o.record.deadline, o.record.deadline + 1n);
    });

    it("reverts with InvalidState when paying twice with the current record", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      await expect(f.escrow.connect(f.buyer).pay(o.id, f.book.get(o.id)))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(o.id, OrderState.Paid);
    });

    it("reverts with StaleOrderRecord when paying twice with the old record", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.escrow, "StaleOrderRecord")
        .withArgs(o.id, await f.escrow.hashOrder(f.book.get(o.id)), await f.escrow.hashOrder(o.record));
    });

    it("reverts with StaleOrderRecord for a tampered record (amount lowered)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const tampered = { ...o.record, amount: USD(1) };
      await expect(f.escrow.connect(f.buyer).pay(o.id, tampered))
        .to.be.revertedWithCustomError(f.escrow, "StaleOrderRecord")
        .withArgs(o.id, await f.escrow.orderHash(o.id), await f.escrow.hashOrder(tampered));
    });

    it("reverts with OrderNotFound for an unknown order id", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const unknown = ethers.id("no such order");
      await expect(f.escrow.connect(f.buyer).pay(unknown, o.record))
        .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
        .withArgs(unknown);
    });

    it("reverts with WrongNativeAmount when too little is sent", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record, { value: ONE_ETH - 1n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, ONE_ETH - 1n);
    });

    it("reverts with WrongNativeAmount when too much is sent", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record, { value: ONE_ETH + 1n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, ONE_ETH + 1n);
    });

    it("reverts with UnexpectedNativeValue when ETH is sent to an ERC-20 order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record, { value: 1n }))
        .to.be.revertedWithCustomError(f.escrow, "UnexpectedNativeValue")
        .withArgs(1n);
    });

    it("reverts with TransferAmountMismatch for a fee-on-transfer token", async function () {
      const f = await loadFixture(deployCreationFixture);
      const fot = await allowMockToken(f, await ethers.deployContract("FeeOnTransferToken"));
      const o = await createOrder(f, { token: await fot.getAddress() });
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
        .withArgs(await fot.getAddress(), USD(100), USD(99));
    });

    it("reverts with SafeERC20FailedOperation for a token whose transferFrom returns false", async function () {
      const f = await loadFixture(deployCreationFixture);
      const rft = await allowMockToken(f, await ethers.deployContract("ReturnsFalseToken"));
      const o = await createOrder(f, { token: await rft.getAddress() });
      await rft.setFailing(true);
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.escrow, "SafeERC20FailedOperation")
        .withArgs(await rft.getAddress());
    });

    it("reverts with ERC20InsufficientAllowance from the token without an allowance", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: f.stranger.address });
      await f.usd.mint(f.stranger.address, USD(100));
      await expect(f.escrow.connect(f.stranger).pay(o.id, o.record))
        .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
        .withArgs(await f.escrow.getAddress(), 0n, USD(100));
    });

    it("reverts with EnforcedPause while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.buyer).pay(o.id, o.record)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
    });
  });
});
