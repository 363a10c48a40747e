import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { OrderBook, OrderState, FEE_BPS, USD, terms } from "../helpers/fixtures";
import { deployAttackFixture, errorName } from "../helpers/attacks";

/** A token that calls back into the escrow from inside its own transfer: every nested call must hit the guard. */
describe("security: re-entrancy through a malicious token", function () {
  async function paidEvilOrder() {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const items = [{ skuId: f.skuA, quantity: 2n }];
    const t = await terms(f, { token: await f.evilToken.getAddress(), amount: USD(100) });
    await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    const orderId = t.orderId as string;
    await book.send(f.escrow.connect(f.buyer).pay(orderId, book.get(orderId)));
    return { ...f, book, items, orderId };
  }

  async function expectGuardTripped(f: Awaited<ReturnType<typeof deployAttackFixture>>) {
    expect(await f.evilToken.attempted()).to.equal(true);
    expect(await f.evilToken.reentrySucceeded()).to.equal(false);
    expect(errorName(f.escrow.interface, await f.evilToken.reentryResult())).to.equal("ReentrancyGuardReentrantCall");
  }

  it("rejects a nested pay during the payment transfer and collects exactly once", async function () {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const token = await f.evilToken.getAddress();
    const first = await terms(f, { token, amount: USD(100) });
    const second = await terms(f, { token, amount: USD(100), buyer: ethers.ZeroAddress });
    await book.send(f.escrow.connect(f.merchant).createOrder(first, []));
    await book.send(f.escrow.connect(f.merchant).createOrder(second, []));
    // The nested call tries to pay the open order with the token as payer, mid-transfer.
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("pay", [second.orderId, book.get(second.orderId as string)]),
    );

    const tx = f.escrow.connect(f.buyer).pay(first.orderId, book.get(first.orderId as string));
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [-USD(100), USD(100)]);
    await book.send(tx);

    await expectGuardTripped(f);
    expect(book.get(first.orderId as string).state).to.equal(OrderState.Paid);
    expect(book.get(second.orderId as string).state).to.equal(OrderState.Created);
    expect(await f.escrow.isCurrent(second.orderId, book.get(second.orderId as string))).to.equal(true);
  });

  it("rejects a second refund attempted from inside the refund transfer and refunds exactly once", async function () {
    const f = await paidEvilOrder();
    const before = f.book.get(f.orderId);
    // Re-entering with the same (still current) record would refund twice if the guard were missing.
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("refund", [f.orderId, before, USD(40), []]),
    );

    const tx = f.escrow.connect(f.merchant).refund(f.orderId, before, USD(40), []);
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [USD(40), -USD(40)]);
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).amount).to.equal(USD(60));
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Paid);
    expect(await f.evilToken.balanceOf(await f.escrow.getAddress())).to.equal(USD(60));
  });

  it("rejects a nested release during the merchant payout and pays merchant and fee exactly once", async function () {
    const f = await paidEvilOrder();
    await f.book.send(f.escrow.connect(f.merchant).ship(f.orderId, f.book.get(f.orderId), ethers.ZeroHash));
    const shipped = f.book.get(f.orderId);
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("confirmReceipt", [f.orderId, shipped, f.items]),
    );
    const fee = (USD(100) * FEE_BPS) / 10_000n;

    const tx = f.escrow.connect(f.buyer).confirmReceipt(f.orderId, shipped, f.items);
    await expect(tx).to.changeTokenBalances(
      f.evilToken,
      [f.merchant, f.feeRecipient, f.escrow],
      [USD(100) - fee, fee, -USD(100)],
    );
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);
    expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(2n);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(0n);
  });

  it("rejects a nested withdraw during a dispute resolution and splits the escrow exactly", async function () {
    const f = await paidEvilOrder();
    await f.book.send(f.escrow.connect(f.buyer).dispute(f.orderId, f.book.get(f.orderId), ethers.ZeroHash));
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("withdraw", [await f.evilToken.getAddress(), f.buyer.address]),
    );
    const merchantShare = USD(70);
    const fee = (merchantShare * FEE_BPS) / 10_000n;

    const tx = f.escrow.connect(f.arbiter).resolveDispute(f.orderId, f.book.get(f.orderId), USD(30), f.items);
    await expect(tx).to.changeTokenBalances(
      f.evilToken,
      [f.buyer, f.merchant, f.feeRecipient, f.escrow],
      [USD(30), merchantShare - fee, fee, -USD(100)],
    );
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Resolved);
  });

  it("rejects a nested cancelUnshipped during a full refund and leaves nothing escrowed", async function () {
    const f = await paidEvilOrder();
    const paid = f.book.get(f.orderId);
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("cancelUnshipped", [f.orderId, paid, f.items]),
    );

    const tx = f.escrow.connect(f.merchant).refund(f.orderId, paid, USD(100), f.items);
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [USD(100), -USD(100)]);
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Refunded);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });
});
