import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { OrderBook, OrderState, FEE_BPS, USD, idOf, terms } from "../helpers/fixtures";
import { deployAttackFixture, errorName } from "../helpers/attacks";

/** A token that calls back into the escrow from inside its own transfer: every nested call must hit the guard. */
describe("security: re-entrancy through a malicious token", function () {
  async function paidEvilOrder() {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const items = [{ skuId: f.skuA, quantity: 2n }];
    const t = await terms(f, { token: await f.evilToken.getAddress(), amount: USD(100) }, items);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    const orderId = await idOf(f.escrow, t, items);
    await book.send(f.escrow.connect(f.buyer).pay(t));
    return { ...f, book, items, t, orderId };
  }

  async function expectGuardTripped(f: Awaited<ReturnType<typeof deployAttackFixture>>) {
    expect(await f.evilToken.attempted()).to.equal(true);
    expect(await f.evilToken.reentrySucceeded()).to.equal(false);
    expect(errorName(f.escrow.interface, await f.evilToken.reentryResult())).to.equal("ReentrancyGuardReentrantCall");
  }

  it("rejects a malicious token's nested pay during the payment transfer and collects exactly once", async function () {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const token = await f.evilToken.getAddress();
    const first = await terms(f, { token, amount: USD(100) });
    const second = await terms(f, { token, amount: USD(100), buyer: ethers.ZeroAddress });
    await book.send(f.escrow.connect(f.merchant).createOrder(first, []));
    await book.send(f.escrow.connect(f.merchant).createOrder(second, []));
    // The nested call tries to pay the open order with the token as payer, mid-transfer.
    await f.evilToken.arm(await f.escrow.getAddress(), f.escrow.interface.encodeFunctionData("pay", [second]));

    const tx = f.escrow.connect(f.buyer).pay(first);
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [-USD(100), USD(100)]);
    await book.send(tx);

    await expectGuardTripped(f);
    expect(book.get(await idOf(f.escrow, first)).state).to.equal(OrderState.Paid);
    expect(book.get(await idOf(f.escrow, second)).state).to.equal(OrderState.Created);
    expect((await f.escrow.statusOf(await idOf(f.escrow, second))).state).to.equal(OrderState.Created);
    expect(await f.escrow.payerOf(await idOf(f.escrow, second))).to.equal(ethers.ZeroAddress);
  });

  it("rejects a malicious token's second refund attempted from inside the refund transfer and refunds exactly once", async function () {
    const f = await paidEvilOrder();
    // Re-entering with the same terms would refund twice if the guard were missing.
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("refund", [f.t, USD(40), []]),
    );

    const tx = f.escrow.connect(f.merchant).refund(f.t, USD(40), []);
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [USD(40), -USD(40)]);
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).escrowed).to.equal(USD(60));
    expect((await f.escrow.statusOf(f.orderId)).refunded).to.equal(USD(40));
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Paid);
    expect(await f.evilToken.balanceOf(await f.escrow.getAddress())).to.equal(USD(60));
  });

  it("rejects a malicious token's nested release during the merchant payout and pays merchant and fee exactly once", async function () {
    const f = await paidEvilOrder();
    await f.book.send(f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash));
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("confirmReceipt", [f.t, f.items]),
    );
    const fee = (USD(100) * FEE_BPS) / 10_000n;

    const tx = f.escrow.connect(f.buyer).confirmReceipt(f.t, f.items);
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

  it("rejects a malicious token's nested withdraw during a dispute resolution and splits the escrow exactly", async function () {
    const f = await paidEvilOrder();
    await f.book.send(f.escrow.connect(f.buyer).dispute(f.t, ethers.ZeroHash));
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("withdraw", [await f.evilToken.getAddress(), f.buyer.address]),
    );
    const merchantShare = USD(70);
    const fee = (merchantShare * FEE_BPS) / 10_000n;

    const tx = f.escrow.connect(f.arbiter).resolveDispute(f.t, USD(30), f.items);
    await expect(tx).to.changeTokenBalances(
      f.evilToken,
      [f.buyer, f.merchant, f.feeRecipient, f.escrow],
      [USD(30), merchantShare - fee, fee, -USD(100)],
    );
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Resolved);
  });

  it("rejects a malicious token's nested cancelUnshipped during a full refund and leaves nothing escrowed", async function () {
    const f = await paidEvilOrder();
    await f.evilToken.arm(
      await f.escrow.getAddress(),
      f.escrow.interface.encodeFunctionData("cancelUnshipped", [f.t, f.items]),
    );

    const tx = f.escrow.connect(f.merchant).refund(f.t, USD(100), f.items);
    await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [USD(100), -USD(100)]);
    await f.book.send(tx);

    await expectGuardTripped(f);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Refunded);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });
});
