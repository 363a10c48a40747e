import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, takeSnapshot, time, type SnapshotRestorer } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  idOf,
  OrderState,
  signOffer,
  terms,
  type EscrowFixture,
  type OrderTerms,
} from "../helpers/fixtures";

const UINT40_MAX = 2n ** 40n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;
/** A block time close enough to the end of the 40-bit range that any long period would pass it. */
const NEAR_END = UINT40_MAX - 1_000_000n;
const EVIDENCE = ethers.id("evidence");

/**
 * Deadlines live in the status slot as uint40 seconds. `now + period` past the end of that range is capped at
 * type(uint40).max instead of wrapping to a time in the past, which would otherwise let the buyer cancel an
 * order the merchant had every right to ship, let a stranger release a payment the buyer may still dispute, or
 * let anyone apply a dispute's default at once. (These block times lie around the year 36,800; each test
 * reverts the chain to where it started.)
 */
describe("security: a stranger or a buyer exploiting a deadline that wraps past the end of uint40", function () {
  let base: EscrowFixture;
  let snapshot: SnapshotRestorer;
  beforeEach(async function () {
    base = await loadFixture(deployEscrowFixture);
    snapshot = await takeSnapshot();
  });
  afterEach(async function () {
    // Back to the fixture's clock, so no later test runs in the year 36,800.
    await snapshot.restore();
  });

  /** The escrow fixture with the chain moved to NEAR_END, and an order of `overrides` created there. */
  async function nearEnd(overrides: Partial<OrderTerms>) {
    const f = base;
    await time.increaseTo(NEAR_END);
    const t = await terms(f, overrides);
    await f.escrow.connect(f.merchant).createOrder(t, []);
    return { ...f, t, id: await idOf(f.escrow, t), escrowAddress: await f.escrow.getAddress() };
  }

  type F = Awaited<ReturnType<typeof nearEnd>>;

  async function observe(f: F) {
    const s = await f.escrow.statusOf(f.id);
    return {
      status: [s.state, s.feeBps, s.deadline, s.refunded],
      buyer: await f.usd.balanceOf(f.buyer.address),
      escrow: await f.usd.balanceOf(f.escrowAddress),
      merchant: await f.usd.balanceOf(f.merchant.address),
    };
  }

  it("caps the ship-by time of a payment at type(uint40).max: a buyer's cancelUnshipped at once reverts ShipByNotPassed, and the merchant still ships", async function () {
    const f = await nearEnd({ shipWithin: UINT32_MAX });
    await f.escrow.connect(f.buyer).pay(f.t);
    const s = await f.escrow.statusOf(f.id);
    expect([s.state, s.deadline]).to.deep.equal([OrderState.Paid, UINT40_MAX]);
    const before = await observe(f);
    const next = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(next);
    await expect(f.escrow.connect(f.buyer).cancelUnshipped(f.t, []))
      .to.be.revertedWithCustomError(f.escrow, "ShipByNotPassed")
      .withArgs(f.id, UINT40_MAX, next);
    expect(await observe(f)).to.deep.equal(before);
    await f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash);
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Shipped);
  });

  it("caps the ship-by time of a checkout at type(uint40).max: a buyer's cancelUnshipped at once reverts ShipByNotPassed", async function () {
    const f = base;
    await time.increaseTo(NEAR_END);
    const offer = await terms(f, { shipWithin: UINT32_MAX });
    const id = await idOf(f.escrow, offer);
    await f.escrow.connect(f.buyer).checkout(offer, [], await signOffer(f.escrow, f.merchant, offer, []));
    expect((await f.escrow.statusOf(id)).deadline).to.equal(UINT40_MAX);
    const next = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(next);
    await expect(f.escrow.connect(f.buyer).cancelUnshipped(offer, []))
      .to.be.revertedWithCustomError(f.escrow, "ShipByNotPassed")
      .withArgs(id, UINT40_MAX, next);
    expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
  });

  it("caps the end of the protection period at type(uint40).max: a stranger's autoRelease at once reverts ProtectionPeriodActive, and the buyer can still dispute", async function () {
    const f = await nearEnd({ protectionPeriod: UINT32_MAX });
    await f.escrow.connect(f.buyer).pay(f.t);
    await expect(f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash))
      .to.emit(f.escrow, "OrderShipped")
      .withArgs(f.id, f.merchant.address, f.buyer.address, ethers.ZeroHash, UINT40_MAX);
    const before = await observe(f);
    expect([before.status[0], before.status[2]]).to.deep.equal([OrderState.Shipped, UINT40_MAX]);
    const next = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(next);
    await expect(f.escrow.connect(f.stranger).autoRelease(f.t, []))
      .to.be.revertedWithCustomError(f.escrow, "ProtectionPeriodActive")
      .withArgs(f.id, UINT40_MAX, next);
    expect(await observe(f)).to.deep.equal(before);
    await f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE);
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Disputed);
  });

  it("caps the dispute deadline at type(uint40).max: a stranger's settleExpiredDispute at once reverts DisputePeriodActive, and the arbiter still rules", async function () {
    // 14 days from here lie past the end of the range.
    const f = await nearEnd({});
    await f.escrow.connect(f.buyer).pay(f.t);
    await expect(f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE))
      .to.emit(f.escrow, "OrderDisputed")
      .withArgs(f.id, f.merchant.address, f.buyer.address, EVIDENCE, UINT40_MAX);
    const before = await observe(f);
    const next = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(next);
    await expect(f.escrow.connect(f.stranger).settleExpiredDispute(f.t, []))
      .to.be.revertedWithCustomError(f.escrow, "DisputePeriodActive")
      .withArgs(f.id, UINT40_MAX, next);
    expect(await observe(f)).to.deep.equal(before);
    await f.escrow.connect(f.arbiter).resolveDispute(f.t, 0n, []);
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Resolved);
  });

  it("caps the end of the refund window at type(uint40).max when the buyer confirms", async function () {
    const f = await nearEnd({ refundWindow: UINT32_MAX });
    await f.escrow.connect(f.buyer).pay(f.t);
    await f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash);
    await f.escrow.connect(f.buyer).confirmReceipt(f.t, []);
    const s = await f.escrow.statusOf(f.id);
    expect([s.state, s.deadline]).to.deep.equal([OrderState.Completed, UINT40_MAX]);
  });

  it("refuses terms whose payment deadline does not fit in uint40 with InvalidDeadline rather than wrap it", async function () {
    const f = base;
    const t = await terms(f, { paymentDeadline: UINT40_MAX + 1n });
    await expect(f.escrow.connect(f.merchant).createOrder(t, []))
      .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
      .withArgs(UINT40_MAX + 1n, (v: bigint) => v > 0n);
  });

  it("leaves the chain's clock where it was after the tests above", async function () {
    expect(BigInt(await time.latest())).to.be.lessThan(NEAR_END);
  });
});
