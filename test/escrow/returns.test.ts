import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { BlocklistStablecoin } from "../../typechain-types";
import { HOUR, OrderBook, OrderState, USD, deployEscrowFixture, signPermit, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  feeOf,
  itemsOf,
  load,
  placeOrder,
  statusOf,
  stock,
  type OrderFixture,
} from "../helpers/settlement";

const WINDOW = 7n * 24n * HOUR;
const NATIVE = ethers.ZeroAddress;

/** A completed ERC-20 order (with items, a 7-day refund window), the merchant as payee with allowance and funds. */
async function completedOrderFixture(): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { amount: AMOUNT, refundWindow: WINDOW },
    items: itemsOf(f),
  });
  await book.send(f.escrow.connect(f.buyer).confirmReceipt(placed.terms, placed.items));
  await f.usd.mint(f.merchant.address, USD(1_000));
  await f.usd.connect(f.merchant).approve(await f.escrow.getAddress(), ethers.MaxUint256);
  return { ...f, ...placed, views: new Map(book.views) };
}

/** As {@link completedOrderFixture}, with a partial refund of a third before completion. */
async function refundedThenCompletedFixture(): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { amount: AMOUNT, refundWindow: WINDOW },
    items: itemsOf(f),
  });
  await book.send(f.escrow.connect(f.merchant).refund(placed.terms, AMOUNT / 3n, []));
  await book.send(f.escrow.connect(f.buyer).confirmReceipt(placed.terms, placed.items));
  await f.usd.mint(f.merchant.address, USD(1_000));
  await f.usd.connect(f.merchant).approve(await f.escrow.getAddress(), ethers.MaxUint256);
  return { ...f, ...placed, views: new Map(book.views) };
}

/** A completed native order with a refund window. */
async function completedNativeFixture(): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { token: NATIVE, amount: NATIVE_AMOUNT, refundWindow: WINDOW },
  });
  await book.send(f.escrow.connect(f.buyer).confirmReceipt(placed.terms, placed.items));
  return { ...f, ...placed, views: new Map(book.views) };
}

interface BlocklistFixture extends OrderFixture {
  bUsd: BlocklistStablecoin;
}

/**
 * A completed order in a token with a blocklist; the payee (a separate wallet, `otherMerchant`) approved it and
 * agreed to fund the merchant's returns.
 */
async function completedBlocklistFixture(): Promise<BlocklistFixture> {
  const f = await deployEscrowFixture();
  const bUsd = await (await ethers.getContractFactory("BlocklistStablecoin")).deploy();
  const escrowAddress = await f.escrow.getAddress();
  await f.escrow.setTokenAllowed(await bUsd.getAddress(), true);
  await bUsd.mint(f.buyer.address, USD(1_000));
  await bUsd.connect(f.buyer).approve(escrowAddress, ethers.MaxUint256);
  await bUsd.mint(f.otherMerchant.address, USD(1_000));
  await bUsd.connect(f.otherMerchant).approve(escrowAddress, ethers.MaxUint256);
  await f.escrow.connect(f.otherMerchant).setReturnFunding(f.merchant.address, true);
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { token: await bUsd.getAddress(), payee: f.otherMerchant.address, amount: AMOUNT, refundWindow: WINDOW },
  });
  await book.send(f.escrow.connect(f.buyer).confirmReceipt(placed.terms, placed.items));
  return { ...f, ...placed, bUsd, views: new Map(book.views) };
}

describe("PaymentEscrow.refundCompleted (returns after completion)", function () {
  describe("accounting and state", function () {
    it("lets the operator return part of a completed order: pulled from the payee, paid to the buyer, state stays Completed", async function () {
      const f = await load(completedOrderFixture);
      const part = AMOUNT / 4n;
      const before = await statusOf(f.escrow, f.orderId);
      const tx = f.escrow.connect(f.operator).refundCompleted(f.terms, part);
      await expect(tx)
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(f.orderId, f.merchant.address, f.buyer.address, part, part, f.operator.address);
      await expect(tx).to.changeTokenBalances(f.usd, [f.merchant, f.buyer, f.escrow], [-part, part, 0n]);
      const after = await statusOf(f.escrow, f.orderId);
      expect(after.state).to.equal(OrderState.Completed);
      expect(after.refunded).to.equal(part);
      expect(after.deadline).to.equal(before.deadline);
    });

    it("ends the order (Refunded) when the whole remainder is returned, after which no return is possible", async function () {
      const f = await load(completedOrderFixture);
      const part = AMOUNT / 4n;
      await f.escrow.connect(f.operator).refundCompleted(f.terms, part);
      const tx = f.escrow.connect(f.merchant).refundCompleted(f.terms, AMOUNT - part);
      await expect(tx)
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(f.orderId, f.merchant.address, f.buyer.address, AMOUNT - part, AMOUNT, f.merchant.address);
      await expect(tx).to.changeTokenBalances(f.usd, [f.merchant, f.buyer], [part - AMOUNT, AMOUNT - part]);
      const s = await statusOf(f.escrow, f.orderId);
      expect(s.state).to.equal(OrderState.Refunded);
      expect(s.refunded).to.equal(AMOUNT);
      await expect(f.escrow.connect(f.merchant).refundCompleted(f.terms, 1n))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(f.orderId, OrderState.Refunded);
    });

    it("returns the whole order in one call and moves no stock (the merchant re-mints returned goods itself)", async function () {
      const f = await load(completedOrderFixture);
      const buyerStock = await stock(f, f.buyer.address);
      const merchantStock = await stock(f, f.merchant.address);
      await f.escrow.connect(f.merchant).refundCompleted(f.terms, AMOUNT);
      expect((await statusOf(f.escrow, f.orderId)).state).to.equal(OrderState.Refunded);
      expect(await stock(f, f.buyer.address)).to.deep.equal(buyerStock);
      expect(await stock(f, f.merchant.address)).to.deep.equal(merchantStock);
    });

    it("folds OrderReturned into the client's order view (refunded total, Refunded at the end)", async function () {
      const f = await load(completedOrderFixture);
      await f.book.send(f.escrow.connect(f.operator).refundCompleted(f.terms, 10n));
      expect(f.view().refunded).to.equal(10n);
      expect(f.view().state).to.equal(OrderState.Completed);
      await f.book.send(f.escrow.connect(f.operator).refundCompleted(f.terms, AMOUNT - 10n));
      expect(f.view().state).to.equal(OrderState.Refunded);
    });

    it("pays the payer of an order open to any payer (payerOf), not anyone named by the caller", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const book = new OrderBook(f.escrow);
      const placed = await placeOrder(f, book, "Shipped", {
        terms: { buyer: ethers.ZeroAddress, amount: AMOUNT, refundWindow: WINDOW },
        payer: f.otherBuyer,
      });
      await f.escrow.connect(f.otherBuyer).confirmReceipt(placed.terms, []);
      await f.usd.mint(f.merchant.address, AMOUNT);
      await f.usd.connect(f.merchant).approve(await f.escrow.getAddress(), AMOUNT);
      expect(await f.escrow.payerOf(placed.orderId)).to.equal(f.otherBuyer.address);
      await expect(f.escrow.connect(f.operator).refundCompleted(placed.terms, AMOUNT))
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(placed.orderId, f.merchant.address, f.otherBuyer.address, AMOUNT, AMOUNT, f.operator.address);
      expect(await f.usd.balanceOf(f.otherBuyer.address)).to.equal(USD(1_000_000));
    });

    it("pulls the return from a separate payee's wallet that agreed to fund it, not from the merchant", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const book = new OrderBook(f.escrow);
      const placed = await placeOrder(f, book, "Shipped", {
        terms: { payee: f.otherMerchant.address, amount: AMOUNT, refundWindow: WINDOW },
      });
      await f.escrow.connect(f.buyer).confirmReceipt(placed.terms, []);
      await f.usd.connect(f.otherMerchant).approve(await f.escrow.getAddress(), AMOUNT);
      await expect(f.escrow.connect(f.operator).refundCompleted(placed.terms, 1n))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.otherMerchant.address, f.merchant.address);
      await f.escrow.connect(f.otherMerchant).setReturnFunding(f.merchant.address, true);
      const payeeShare = AMOUNT - feeOf(AMOUNT);
      await expect(f.escrow.connect(f.operator).refundCompleted(placed.terms, payeeShare)).to.changeTokenBalances(
        f.usd,
        [f.otherMerchant, f.merchant, f.buyer],
        [-payeeShare, 0n, payeeShare],
      );
    });

    it("keeps working while the escrow is paused (returns are settlement, not new business)", async function () {
      const f = await load(completedOrderFixture);
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n)).to.emit(f.escrow, "OrderReturned");
    });
  });

  describe("bounds", function () {
    it("reverts with ZeroAmount for a return of nothing", async function () {
      const f = await load(completedOrderFixture);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 0n)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAmount",
      );
    });

    it("reverts with RefundExceedsPaid when a dishonest merchant returns more than the buyer paid (money laundering through the escrow)", async function () {
      const f = await load(completedOrderFixture);
      await expect(f.escrow.connect(f.merchant).refundCompleted(f.terms, AMOUNT + 1n))
        .to.be.revertedWithCustomError(f.escrow, "RefundExceedsPaid")
        .withArgs(f.orderId, AMOUNT + 1n, AMOUNT);
      await f.escrow.connect(f.merchant).refundCompleted(f.terms, AMOUNT - 5n);
      await expect(f.escrow.connect(f.merchant).refundCompleted(f.terms, 6n))
        .to.be.revertedWithCustomError(f.escrow, "RefundExceedsPaid")
        .withArgs(f.orderId, 6n, 5n);
    });

    it("counts a partial refund before completion: only what the buyer is still out may be returned", async function () {
      const f = await load(refundedThenCompletedFixture);
      const refundable = AMOUNT - AMOUNT / 3n;
      expect((await statusOf(f.escrow, f.orderId)).refunded).to.equal(AMOUNT / 3n);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, refundable + 1n))
        .to.be.revertedWithCustomError(f.escrow, "RefundExceedsPaid")
        .withArgs(f.orderId, refundable + 1n, refundable);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, refundable))
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(f.orderId, f.merchant.address, f.buyer.address, refundable, AMOUNT, f.operator.address);
      expect((await statusOf(f.escrow, f.orderId)).state).to.equal(OrderState.Refunded);
    });

    it("accepts a return at the last second of the refund window and reverts with RefundWindowClosed one second later", async function () {
      const f = await load(completedOrderFixture);
      const end = (await statusOf(f.escrow, f.orderId)).deadline;
      await time.setNextBlockTimestamp(end);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n)).to.emit(f.escrow, "OrderReturned");
      await time.setNextBlockTimestamp(end + 1n);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n))
        .to.be.revertedWithCustomError(f.escrow, "RefundWindowClosed")
        .withArgs(f.orderId, end, end + 1n);
    });

    it("reverts with RefundWindowClosed for an order whose terms reserve no refund window", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const book = new OrderBook(f.escrow);
      const placed = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT } });
      await f.escrow.connect(f.buyer).confirmReceipt(placed.terms, []);
      const end = (await statusOf(f.escrow, placed.orderId)).deadline;
      await time.setNextBlockTimestamp(end + 1n);
      await expect(f.escrow.connect(f.merchant).refundCompleted(placed.terms, 1n))
        .to.be.revertedWithCustomError(f.escrow, "RefundWindowClosed")
        .withArgs(placed.orderId, end, end + 1n);
    });

    it("reverts with InvalidState before completion (refund is the tool there) and OrderNotFound for unknown terms", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const book = new OrderBook(f.escrow);
      const placed = await placeOrder(f, book, "Shipped", { terms: { amount: AMOUNT, refundWindow: WINDOW } });
      await expect(f.escrow.connect(f.merchant).refundCompleted(placed.terms, 1n))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(placed.orderId, OrderState.Shipped);
      const unknown = await terms(f);
      await expect(f.escrow.connect(f.merchant).refundCompleted(unknown, 1n))
        .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
        .withArgs(await f.escrow.orderIdOf(unknown));
    });
  });

  describe("adversaries", function () {
    it("reverts with NotMerchantOrOperator when a stranger or a second merchant tries to pull the payee's money", async function () {
      const f = await load(completedOrderFixture);
      for (const caller of [f.stranger, f.otherMerchant, f.buyer]) {
        await expect(f.escrow.connect(caller).refundCompleted(f.terms, 1n))
          .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
          .withArgs(f.merchant.address, caller.address);
      }
    });

    it("needs no stock authority: an operator without the inventory approval may still return money", async function () {
      const f = await load(completedOrderFixture);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n)).to.emit(f.escrow, "OrderReturned");
    });

    it("reverts (ERC20InsufficientAllowance) for a payee without allowance; nothing is booked", async function () {
      const f = await load(completedOrderFixture);
      await f.usd.connect(f.merchant).approve(await f.escrow.getAddress(), 0n);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n)).to.be.revertedWithCustomError(
        f.usd,
        "ERC20InsufficientAllowance",
      );
      expect((await statusOf(f.escrow, f.orderId)).refunded).to.equal(0n);
    });

    it("refuses a token that turned fee-on-transfer after the sale with TransferAmountMismatch: the buyer is never short-changed", async function () {
      const f = await load(completedOrderFixture);
      // A token whose issuer switched on a transfer fee (USDT has such a switch): same storage, fee-taking code.
      const fot = await (await ethers.getContractFactory("FeeOnTransferToken")).deploy();
      const code = await ethers.provider.getCode(await fot.getAddress());
      const usd = await f.usd.getAddress();
      await network.provider.send("hardhat_setCode", [usd, code]);
      const part = 1_000n;
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, part))
        .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
        .withArgs(usd, part, part - part / 100n);
    });

    it("reverts with UnexpectedNativeValue when value is sent with an ERC-20 return", async function () {
      const f = await load(completedOrderFixture);
      await expect(f.escrow.connect(f.operator).refundCompleted(f.terms, 1n, { value: 1n }))
        .to.be.revertedWithCustomError(f.escrow, "UnexpectedNativeValue")
        .withArgs(1n);
    });

    it("credits a buyer the token refuses (blocklisted) instead of blocking the return", async function () {
      const f = await loadFixture(completedBlocklistFixture);
      const token = await f.bUsd.getAddress();
      await f.bUsd.setBlocked(f.buyer.address, true);
      const tx = f.escrow.connect(f.merchant).refundCompleted(f.terms, AMOUNT);
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.buyer.address, token, AMOUNT);
      await expect(tx).to.changeTokenBalances(f.bUsd, [f.otherMerchant, f.escrow], [-AMOUNT, AMOUNT]);
      expect(await f.escrow.credited(f.buyer.address, token)).to.equal(AMOUNT);
      expect((await statusOf(f.escrow, f.orderId)).state).to.equal(OrderState.Refunded);
      await f.bUsd.setBlocked(f.buyer.address, false);
      await expect(f.escrow.connect(f.buyer).withdraw(token, f.buyer.address)).to.changeTokenBalances(
        f.bUsd,
        [f.buyer, f.escrow],
        [AMOUNT, -AMOUNT],
      );
    });
  });

  describe("with the payee's permit", function () {
    it("returns with the payee's EIP-2612 permit and no prior allowance", async function () {
      const f = await load(completedOrderFixture);
      const escrowAddress = await f.escrow.getAddress();
      await f.usd.connect(f.merchant).approve(escrowAddress, 0n);
      const deadline = BigInt(await time.latest()) + HOUR;
      const permit = await signPermit(f.usd, f.merchant, escrowAddress, AMOUNT, deadline);
      await expect(f.escrow.connect(f.operator).refundCompletedWithPermit(f.terms, AMOUNT, permit))
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(f.orderId, f.merchant.address, f.buyer.address, AMOUNT, AMOUNT, f.operator.address);
      expect(await f.usd.allowance(f.merchant.address, escrowAddress)).to.equal(0n);
    });

    it("still returns when a griefer front-ran the permit from the mempool (the allowance it set is used)", async function () {
      const f = await load(completedOrderFixture);
      const escrowAddress = await f.escrow.getAddress();
      await f.usd.connect(f.merchant).approve(escrowAddress, 0n);
      const deadline = BigInt(await time.latest()) + HOUR;
      const permit = await signPermit(f.usd, f.merchant, escrowAddress, AMOUNT, deadline);
      await f.usd
        .connect(f.stranger)
        .permit(f.merchant.address, escrowAddress, AMOUNT, deadline, permit.v, permit.r, permit.s);
      await expect(
        f.escrow.connect(f.operator).refundCompletedWithPermit(f.terms, AMOUNT / 2n, permit),
      ).to.changeTokenBalances(f.usd, [f.merchant, f.buyer], [-(AMOUNT / 2n), AMOUNT / 2n]);
    });

    it("reverts (ERC20InsufficientAllowance) when the permit is for less than the return and no allowance is left", async function () {
      const f = await load(completedOrderFixture);
      const escrowAddress = await f.escrow.getAddress();
      await f.usd.connect(f.merchant).approve(escrowAddress, 0n);
      const deadline = BigInt(await time.latest()) + HOUR;
      const permit = await signPermit(f.usd, f.merchant, escrowAddress, AMOUNT - 1n, deadline);
      await expect(
        f.escrow.connect(f.operator).refundCompletedWithPermit(f.terms, AMOUNT, permit),
      ).to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance");
    });

    it("reverts with PermitForNativeOrder for a native order, and checks the caller like refundCompleted", async function () {
      const f = await load(completedNativeFixture);
      const permit = { deadline: 0n, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
      await expect(f.escrow.connect(f.merchant).refundCompletedWithPermit(f.terms, 1n, permit))
        .to.be.revertedWithCustomError(f.escrow, "PermitForNativeOrder")
        .withArgs(f.orderId);
      const g = await load(completedOrderFixture);
      await expect(g.escrow.connect(g.stranger).refundCompletedWithPermit(g.terms, 1n, permit))
        .to.be.revertedWithCustomError(g.escrow, "NotMerchantOrOperator")
        .withArgs(g.merchant.address, g.stranger.address);
    });
  });

  describe("native currency", function () {
    it("returns the value the caller sends to the buyer", async function () {
      const f = await load(completedNativeFixture);
      const part = NATIVE_AMOUNT / 2n;
      const tx = f.escrow.connect(f.operator).refundCompleted(f.terms, part, { value: part });
      await expect(tx)
        .to.emit(f.escrow, "OrderReturned")
        .withArgs(f.orderId, f.merchant.address, f.buyer.address, part, part, f.operator.address);
      await expect(tx).to.changeEtherBalances([f.operator, f.buyer, f.escrow], [-part, part, 0n]);
    });

    it("reverts with WrongNativeAmount when the value is not the amount", async function () {
      const f = await load(completedNativeFixture);
      await expect(f.escrow.connect(f.merchant).refundCompleted(f.terms, 10n, { value: 9n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(10n, 9n);
      await expect(f.escrow.connect(f.merchant).refundCompleted(f.terms, 10n))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(10n, 0n);
    });
  });

  describe("in a batch", function () {
    it("runs returns in the operator's batch; a failing one is reported and the others stand", async function () {
      const f = await load(completedOrderFixture);
      const calls = [
        f.escrow.interface.encodeFunctionData("refundCompleted", [f.terms, 5n]),
        f.escrow.interface.encodeFunctionData("refundCompleted", [f.terms, AMOUNT]),
        f.escrow.interface.encodeFunctionData("refundCompleted", [f.terms, 7n]),
      ];
      const reason = f.escrow.interface.encodeErrorResult("RefundExceedsPaid", [f.orderId, AMOUNT, AMOUNT - 5n]);
      await expect(f.escrow.connect(f.operator).batch(calls, false))
        .to.emit(f.escrow, "BatchItemFailed")
        .withArgs(1n, reason);
      expect((await statusOf(f.escrow, f.orderId)).refunded).to.equal(12n);
    });
  });
});
