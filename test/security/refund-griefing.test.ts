import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  OrderBook,
  OrderState,
  terms,
  USD,
  type LineItem,
} from "../helpers/fixtures";
import { errorName, mineInOneBlock, type MinedTx, type Queued } from "../helpers/attacks";

const AMOUNT = USD(100);
const EVIDENCE = ethers.id("evidence: parcel empty");
const feeOf = (amount: bigint): bigint => (amount * FEE_BPS) / 10_000n;

/**
 * A merchant that sees the buyer's (or the arbiter's) transaction pending and places a tiny partial refund ahead
 * of it in the same block. Partial refunds only raise the refunded total: they never change the state or the
 * deadline, so the pending call must still go through; and the merchant cannot ship after the ship-by time.
 * A split names the buyer's share of the whole order (`buyerTotal`), which refunds already returned count
 * towards, so a refund placed ahead of an acceptance or a ruling changes no party's total.
 */
describe("security: a griefing merchant racing partial refunds", function () {
  async function paidOrderFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 2n }];
    const t = await terms(f, { amount: AMOUNT }, items);
    const orderId = await idOf(f.escrow, t, items);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    await book.send(f.escrow.connect(f.buyer).pay(t));
    return { ...f, book, items, t, orderId };
  }

  async function disputedOrderFixture() {
    const f = await paidOrderFixture();
    await f.book.send(f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE));
    return f;
  }

  type F = Awaited<ReturnType<typeof paidOrderFixture>>;

  /** The merchant's 1-wei refund, sent after the victim's transaction with a higher tip. */
  const oneWeiRefund = (f: F, tipGwei = 50n): Queued => ({
    send: (o) => f.escrow.connect(f.merchant).refund(f.t, 1n, [], o),
    tipGwei,
  });

  function expectAhead(attacker: MinedTx, victim: MinedTx) {
    expect(attacker.receipt.index).to.be.lessThan(victim.receipt.index);
  }

  async function expectNothingEscrowed(f: F) {
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(0n);
  }

  /** Stablecoin balances of the order's three parties. */
  async function balances(f: F) {
    return {
      buyer: await f.usd.balanceOf(f.buyer.address),
      payee: await f.usd.balanceOf(f.t.payee),
      feeRecipient: await f.usd.balanceOf(f.feeRecipient.address),
    };
  }

  /**
   * Asserts what each party got from the whole order since `before` (every partial refund plus the dispute's
   * ending) is exactly what a split of `buyerTotal` gives an order nobody partially refunded, and that the stock
   * followed the money.
   */
  async function expectWholeOrderTotals(f: F, before: Awaited<ReturnType<typeof balances>>, buyerTotal: bigint) {
    const after = await balances(f);
    const payeeShare = AMOUNT - buyerTotal;
    expect(after.buyer - before.buyer, "buyer's total").to.equal(buyerTotal);
    expect(after.payee - before.payee, "payee's total").to.equal(payeeShare - feeOf(payeeShare));
    expect(after.feeRecipient - before.feeRecipient, "fee").to.equal(feeOf(payeeShare));
    const stockTo = payeeShare === 0n ? f.merchant.address : f.buyer.address;
    expect(await f.inventory.balanceOf(stockTo, f.skuA), "stock").to.equal(stockTo === f.merchant.address ? 100n : 2n);
    await expectNothingEscrowed(f);
  }

  /** The DisputeResolved event of a mined transaction: what this resolution itself paid. */
  function resolvedEvent(f: F, mined: MinedTx) {
    for (const log of mined.receipt.logs) {
      const ev = f.escrow.interface.parseLog(log);
      if (ev?.name === "DisputeResolved") return ev.args;
    }
    throw new Error("no DisputeResolved event");
  }

  it("still lets the buyer's dispute through after a griefing merchant's 1-wei refunds placed ahead of it", async function () {
    const f = await paidOrderFixture();
    const before = await f.usd.balanceOf(f.buyer.address);
    const [dispute, r1, r2] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE, o), tipGwei: 1n },
      oneWeiRefund(f, 50n),
      oneWeiRefund(f, 40n),
    ]);
    expectAhead(r1, dispute);
    expectAhead(r2, dispute);
    expect([r1.ok, r2.ok, dispute.ok]).to.deep.equal([true, true, true]);
    const s = await f.escrow.statusOf(f.orderId);
    expect(s.state).to.equal(OrderState.Disputed);
    expect(s.refunded).to.equal(2n);
    const disputedAt = BigInt((await dispute.receipt.getBlock()).timestamp);
    expect(s.deadline).to.equal(disputedAt + (await f.escrow.DISPUTE_PERIOD()));

    // Nobody ends it in time: the default returns everything still escrowed to the buyer.
    await time.increaseTo(s.deadline + 1n);
    await f.escrow.connect(f.stranger).settleExpiredDispute(f.t, f.items);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before + AMOUNT);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    await expectNothingEscrowed(f);
  });

  it("still lets the buyer's dispute of a shipped order through after a griefing merchant's 1-wei refund ahead of it", async function () {
    const f = await paidOrderFixture();
    await f.book.send(f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash));
    const releaseAfter = (await f.escrow.statusOf(f.orderId)).deadline;
    // The buyer disputes in the last second of the protection period.
    const [dispute, refund] = await mineInOneBlock(
      [{ send: (o) => f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE, o), tipGwei: 1n }, oneWeiRefund(f)],
      releaseAfter,
    );
    expectAhead(refund, dispute);
    expect(refund.ok).to.equal(true);
    expect(dispute.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Disputed);
  });

  it("still lets the buyer's dispute of a paid order through after a griefing merchant's ship placed ahead of it", async function () {
    const f = await paidOrderFixture();
    const [dispute, ship] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.merchant).ship(f.t, ethers.id("tracking"), o), tipGwei: 50n },
    ]);
    expectAhead(ship, dispute);
    expect(ship.ok).to.equal(true);
    expect(dispute.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Disputed);
  });

  it("still lets the buyer's confirmation through after a griefing merchant's 1-wei refund placed ahead of it; the payee gets the rest", async function () {
    const f = await paidOrderFixture();
    await f.book.send(f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash));
    const payeeBefore = await f.usd.balanceOf(f.merchant.address);
    const [confirm, refund] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).confirmReceipt(f.t, f.items, o), tipGwei: 1n },
      oneWeiRefund(f),
    ]);
    expectAhead(refund, confirm);
    expect(confirm.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Completed);
    expect(await f.usd.balanceOf(f.merchant.address)).to.equal(payeeBefore + (AMOUNT - 1n) - feeOf(AMOUNT - 1n));
    expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(2n);
    await expectNothingEscrowed(f);
  });

  it("still lets the buyer's cancelUnshipped through after a griefing merchant's 1-wei refund placed ahead of it", async function () {
    const f = await paidOrderFixture();
    const shipBy = (await f.escrow.statusOf(f.orderId)).deadline;
    const before = await f.usd.balanceOf(f.buyer.address);
    const [cancel, refund] = await mineInOneBlock(
      [{ send: (o) => f.escrow.connect(f.buyer).cancelUnshipped(f.t, f.items, o), tipGwei: 1n }, oneWeiRefund(f)],
      shipBy + 1n,
    );
    expectAhead(refund, cancel);
    expect(refund.ok).to.equal(true);
    expect(cancel.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Refunded);
    // 1 wei by the refund, the rest by the cancellation.
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before + AMOUNT);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    await expectNothingEscrowed(f);
  });

  it("reverts a griefing merchant's ship placed ahead of the buyer's cancelUnshipped after the ship-by time (ShipByPassed); the cancel succeeds", async function () {
    const f = await paidOrderFixture();
    const shipBy = (await f.escrow.statusOf(f.orderId)).deadline;
    const before = await f.usd.balanceOf(f.buyer.address);
    const [cancel, ship, refund] = await mineInOneBlock(
      [
        { send: (o) => f.escrow.connect(f.buyer).cancelUnshipped(f.t, f.items, o), tipGwei: 1n },
        { send: (o) => f.escrow.connect(f.merchant).ship(f.t, ethers.id("tracking"), o), tipGwei: 60n },
        oneWeiRefund(f, 50n),
      ],
      shipBy + 1n,
    );
    expectAhead(ship, cancel);
    expectAhead(refund, cancel);
    expect(ship.ok).to.equal(false);
    expect(errorName(f.escrow.interface, ship.revertData)).to.equal("ShipByPassed");
    expect(f.escrow.interface.parseError(ship.revertData)!.args).to.deep.equal([f.orderId, shipBy, shipBy + 1n]);
    expect(cancel.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Refunded);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before + AMOUNT);
    await expectNothingEscrowed(f);
  });

  it("still lets the buyer accept the merchant's proposal after a griefing merchant's 1-wei refund placed ahead of the acceptance; every party's total over the whole order is the accepted split's", async function () {
    const f = await disputedOrderFixture();
    await f.escrow.connect(f.merchant).proposeSettlement(f.t, USD(50));
    const before = await balances(f);
    const [accept, refund] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).acceptSettlement(f.t, USD(50), f.items, o), tipGwei: 1n },
      oneWeiRefund(f),
    ]);
    expectAhead(refund, accept);
    expect(refund.ok).to.equal(true);
    expect(accept.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Resolved);
    // The refunded wei counts towards the buyer's 50: the acceptance paid the rest of it.
    const payeeShare = AMOUNT - USD(50);
    expect([...resolvedEvent(f, accept)]).to.deep.equal([
      f.orderId,
      f.merchant.address,
      f.buyer.address,
      USD(50) - 1n,
      payeeShare - feeOf(payeeShare),
      feeOf(payeeShare),
      1n, // Settlement
    ]);
    await expectWholeOrderTotals(f, before, USD(50));
  });

  it("still lets the buyer accept the merchant's proposal of the whole order after a griefing merchant's 1-wei refunds placed ahead of the acceptance; the buyer gets the whole order back", async function () {
    const f = await disputedOrderFixture();
    await f.escrow.connect(f.merchant).proposeSettlement(f.t, AMOUNT);
    const before = await balances(f);
    const [accept, r1, r2] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).acceptSettlement(f.t, AMOUNT, f.items, o), tipGwei: 1n },
      oneWeiRefund(f, 50n),
      oneWeiRefund(f, 40n),
    ]);
    expectAhead(r1, accept);
    expectAhead(r2, accept);
    expect([r1.ok, r2.ok]).to.deep.equal([true, true]);
    expect(
      accept.ok,
      `the buyer's acceptance reverted with ${errorName(f.escrow.interface, accept.revertData)}`,
    ).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Resolved);
    expect(resolvedEvent(f, accept).buyerAmount).to.equal(AMOUNT - 2n);
    await expectWholeOrderTotals(f, before, AMOUNT);
  });
  it("reverts the buyer's acceptance with ProposalMismatch when a griefing merchant swaps its proposal ahead of it: the buyer never accepts a split it did not see", async function () {
    const f = await disputedOrderFixture();
    await f.escrow.connect(f.merchant).proposeSettlement(f.t, USD(50));
    const before = await f.usd.balanceOf(f.buyer.address);
    const [accept, swap] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).acceptSettlement(f.t, USD(50), f.items, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.merchant).proposeSettlement(f.t, USD(10), o), tipGwei: 50n },
    ]);
    expectAhead(swap, accept);
    expect(swap.ok).to.equal(true);
    expect(accept.ok).to.equal(false);
    expect(errorName(f.escrow.interface, accept.revertData)).to.equal("ProposalMismatch");
    expect(f.escrow.interface.parseError(accept.revertData)!.args).to.deep.equal([f.orderId, USD(10), USD(50)]);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before);
    const s = await f.escrow.statusOf(f.orderId);
    expect(s.state).to.equal(OrderState.Disputed);
    // The dispute still ends by the default if nobody agrees: the swap gained the merchant nothing.
    await time.increaseTo(s.deadline + 1n);
    await f.escrow.connect(f.stranger).settleExpiredDispute(f.t, f.items);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before + AMOUNT);
    await expectNothingEscrowed(f);
  });

  it("reverts the merchant's acceptance with ProposalMismatch when a griefing buyer replaces its proposal ahead of it; a stranger's and the proposer's own with NotCounterparty", async function () {
    const f = await disputedOrderFixture();
    await f.escrow.connect(f.buyer).proposeSettlement(f.t, USD(30));
    await expect(f.escrow.connect(f.stranger).acceptSettlement(f.t, USD(30), f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotCounterparty")
      .withArgs(f.orderId, f.stranger.address);
    // The proposer cannot accept its own proposal either.
    await expect(f.escrow.connect(f.buyer).acceptSettlement(f.t, USD(30), f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotCounterparty")
      .withArgs(f.orderId, f.buyer.address);
    const [accept, swap] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.merchant).acceptSettlement(f.t, USD(30), f.items, o), tipGwei: 1n },
      { send: (o) => f.escrow.connect(f.buyer).proposeSettlement(f.t, USD(90), o), tipGwei: 50n },
    ]);
    expectAhead(swap, accept);
    expect(accept.ok).to.equal(false);
    expect(errorName(f.escrow.interface, accept.revertData)).to.equal("ProposalMismatch");
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Disputed);
  });

  it("still lets the arbiter's partial resolution through after a griefing merchant's 1-wei refund placed ahead of it; every party's total over the whole order is the ruling's", async function () {
    const f = await disputedOrderFixture();
    const before = await balances(f);
    const [resolve, refund] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.arbiter).resolveDispute(f.t, USD(30), f.items, o), tipGwei: 1n },
      oneWeiRefund(f),
    ]);
    expectAhead(refund, resolve);
    expect(refund.ok).to.equal(true);
    expect(resolve.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Resolved);
    const payeeShare = AMOUNT - USD(30);
    expect([...resolvedEvent(f, resolve)]).to.deep.equal([
      f.orderId,
      f.merchant.address,
      f.buyer.address,
      USD(30) - 1n,
      payeeShare - feeOf(payeeShare),
      feeOf(payeeShare),
      0n, // Arbiter
    ]);
    await expectWholeOrderTotals(f, before, USD(30));
  });
  it("still lets the arbiter's award of the whole order to the buyer through after a griefing merchant's 1-wei refunds placed ahead of it; the buyer gets the whole order back", async function () {
    const f = await disputedOrderFixture();
    const before = await balances(f);
    // The arbiter decides the buyer gets everything back: the whole order.
    const [resolve, r1, r2] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.arbiter).resolveDispute(f.t, AMOUNT, f.items, o), tipGwei: 1n },
      oneWeiRefund(f, 50n),
      oneWeiRefund(f, 40n),
    ]);
    expectAhead(r1, resolve);
    expectAhead(r2, resolve);
    expect([r1.ok, r2.ok]).to.deep.equal([true, true]);
    expect(
      resolve.ok,
      `the arbiter's resolution reverted with ${errorName(f.escrow.interface, resolve.revertData)}`,
    ).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Resolved);
    expect([...resolvedEvent(f, resolve)].slice(3)).to.deep.equal([AMOUNT - 2n, 0n, 0n, 0n]);
    await expectWholeOrderTotals(f, before, AMOUNT);
  });
  it("still lets the buyer's proposal of a full refund through after a griefing merchant's 1-wei refund placed ahead of it; accepted, the buyer gets the whole order back", async function () {
    const f = await disputedOrderFixture();
    const before = await balances(f);
    const [propose, refund] = await mineInOneBlock([
      { send: (o) => f.escrow.connect(f.buyer).proposeSettlement(f.t, AMOUNT, o), tipGwei: 1n },
      oneWeiRefund(f),
    ]);
    expectAhead(refund, propose);
    expect(refund.ok).to.equal(true);
    expect(
      propose.ok,
      `the buyer's proposal reverted with ${errorName(f.escrow.interface, propose.revertData)}`,
    ).to.equal(true);
    const p = await f.escrow.proposalOf(f.orderId);
    expect([p.by, p.buyerTotal]).to.deep.equal([1n, AMOUNT]); // Party.Buyer
    // Above the whole order is still refused.
    await expect(f.escrow.connect(f.buyer).proposeSettlement(f.t, AMOUNT + 1n))
      .to.be.revertedWithCustomError(f.escrow, "SplitExceedsAmount")
      .withArgs(f.orderId, AMOUNT + 1n, AMOUNT);
    await f.escrow.connect(f.merchant).acceptSettlement(f.t, AMOUNT, f.items);
    await expectWholeOrderTotals(f, before, AMOUNT);
  });
  it("still lets a stranger apply the dispute default after a griefing merchant's 1-wei refund placed ahead of it", async function () {
    const f = await disputedOrderFixture();
    const defaultAfter = (await f.escrow.statusOf(f.orderId)).deadline;
    const before = await f.usd.balanceOf(f.buyer.address);
    const [settle, refund] = await mineInOneBlock(
      [
        { send: (o) => f.escrow.connect(f.stranger).settleExpiredDispute(f.t, f.items, o), tipGwei: 1n },
        oneWeiRefund(f),
      ],
      defaultAfter + 1n,
    );
    expectAhead(refund, settle);
    expect(settle.ok).to.equal(true);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Resolved);
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before + AMOUNT);
    await expectNothingEscrowed(f);
  });

  it("keeps state and deadline unchanged by a griefing merchant's repeated 1-wei refunds", async function () {
    const f = await paidOrderFixture();
    const s0 = await f.escrow.statusOf(f.orderId);
    for (let i = 0; i < 5; i++) await f.escrow.connect(f.merchant).refund(f.t, 1n, []);
    const s1 = await f.escrow.statusOf(f.orderId);
    expect(s1.state).to.equal(s0.state);
    expect(s1.deadline).to.equal(s0.deadline);
    expect(s1.feeBps).to.equal(s0.feeBps);
    expect(s1.refunded).to.equal(5n);
    // Refunding more than what is left is refused with the remaining escrow named.
    await expect(f.escrow.connect(f.merchant).refund(f.t, AMOUNT, f.items))
      .to.be.revertedWithCustomError(f.escrow, "RefundExceedsEscrow")
      .withArgs(f.orderId, AMOUNT, AMOUNT - 5n);
  });
});
