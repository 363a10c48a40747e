import { expect } from "chai";
import { ethers } from "hardhat";
import { takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, idOf, signOffer, terms, type OrderTerms } from "../helpers/fixtures";
import { deployCreationFixture, type CreationFixture } from "../helpers/creation";

const UINT40_MAX = 2n ** 40n - 1n;
/** The longest period the terms can carry (uint32). */
const MAX_PERIOD = 2n ** 32n - 1n;
/** A clock far enough in the future that now + MAX_PERIOD no longer fits in a uint40. */
const LATE = 2n ** 40n - 2n ** 31n;
const DISPUTE_PERIOD = 14n * 24n * 3600n;
const EVIDENCE = ethers.id("evidence");

/**
 * Runs `body` on a fresh escrow deployed with the clock at `start`, then rewinds the chain (clock included), so
 * no other test sees the late clock.
 */
async function lateChain(start: bigint, body: (f: CreationFixture) => Promise<void>): Promise<void> {
  const snapshot = await takeSnapshot();
  try {
    await time.setNextBlockTimestamp(start);
    const f = await deployCreationFixture();
    expect(BigInt(await time.latest())).to.be.greaterThanOrEqual(start);
    await body(f);
  } finally {
    await snapshot.restore();
  }
}

/** Creates an order with `overrides` as the merchant and pays it as the buyer. */
async function paidOrder(f: CreationFixture, overrides: Partial<OrderTerms>): Promise<OrderTerms> {
  const t = await terms(f, overrides);
  await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
  await f.book.send(f.escrow.connect(f.buyer).pay(t));
  return t;
}

describe("PaymentEscrow deadlines at the end of uint40 time", function () {
  it("ship with the longest protection period caps releaseAfter at the uint40 maximum instead of wrapping", async function () {
    await lateChain(LATE, async (f) => {
      const t = await paidOrder(f, { protectionPeriod: MAX_PERIOD });
      const id = await idOf(f.escrow, t);
      const shipAt = BigInt(await time.latest()) + 1n;
      expect(shipAt + MAX_PERIOD).to.be.greaterThan(UINT40_MAX);
      await time.setNextBlockTimestamp(shipAt);

      const tx = f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash);
      await expect(tx)
        .to.emit(f.escrow, "OrderShipped")
        .withArgs(id, f.merchant.address, f.buyer.address, ethers.ZeroHash, UINT40_MAX);
      await f.book.send(tx);
      const s = await f.escrow.statusOf(id);
      expect(s.state).to.equal(OrderState.Shipped);
      expect(s.deadline).to.equal(UINT40_MAX);
      expect(f.book.get(id).deadline).to.equal(UINT40_MAX);

      // A wrapped deadline would lie in the past and let a stranger release at once; the capped one does not.
      const now = shipAt + 1n;
      await time.setNextBlockTimestamp(now);
      await expect(f.escrow.connect(f.stranger).autoRelease(t, []))
        .to.be.revertedWithCustomError(f.escrow, "ProtectionPeriodActive")
        .withArgs(id, UINT40_MAX, now);
      // The buyer is still protected: it can dispute.
      await expect(f.escrow.connect(f.buyer).dispute(t, EVIDENCE))
        .to.emit(f.escrow, "OrderDisputed")
        .withArgs(id, f.merchant.address, f.buyer.address, EVIDENCE, now + 1n + DISPUTE_PERIOD);
    });
  });

  it("pay with the longest ship-within caps shipBy at the uint40 maximum; the merchant can still ship", async function () {
    await lateChain(LATE, async (f) => {
      const t = await terms(f, { shipWithin: MAX_PERIOD });
      const id = await idOf(f.escrow, t);
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      const payAt = BigInt(await time.latest()) + 1n;
      expect(payAt + MAX_PERIOD).to.be.greaterThan(UINT40_MAX);
      await time.setNextBlockTimestamp(payAt);

      await expect(f.escrow.connect(f.buyer).pay(t))
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(id, f.merchant.address, f.buyer.address, t.amount, UINT40_MAX);
      expect((await f.escrow.statusOf(id)).deadline).to.equal(UINT40_MAX);

      const now = payAt + 1n;
      await time.setNextBlockTimestamp(now);
      await expect(f.escrow.connect(f.buyer).cancelUnshipped(t, []))
        .to.be.revertedWithCustomError(f.escrow, "ShipByNotPassed")
        .withArgs(id, UINT40_MAX, now);
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Shipped);
    });
  });

  it("checkout with the longest ship-within caps shipBy at the uint40 maximum", async function () {
    await lateChain(LATE, async (f) => {
      const offer = await terms(f, { shipWithin: MAX_PERIOD });
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(id, f.merchant.address, f.buyer.address, offer.amount, UINT40_MAX);
      expect((await f.escrow.statusOf(id)).deadline).to.equal(UINT40_MAX);
    });
  });

  it("completion with the longest refund window caps the Completed deadline at the uint40 maximum", async function () {
    await lateChain(LATE, async (f) => {
      const t = await paidOrder(f, { refundWindow: MAX_PERIOD });
      const id = await idOf(f.escrow, t);
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
      await f.book.send(f.escrow.connect(f.buyer).confirmReceipt(t, []));
      const s = await f.escrow.statusOf(id);
      expect(s.state).to.equal(OrderState.Completed);
      expect(s.deadline).to.equal(UINT40_MAX);
    });
  });

  it("a dispute opened within the dispute period of the end caps defaultAfter at the uint40 maximum", async function () {
    await lateChain(UINT40_MAX - 7n * 24n * 3600n, async (f) => {
      const t = await paidOrder(f, {});
      const id = await idOf(f.escrow, t);
      await expect(f.escrow.connect(f.buyer).dispute(t, EVIDENCE))
        .to.emit(f.escrow, "OrderDisputed")
        .withArgs(id, f.merchant.address, f.buyer.address, EVIDENCE, UINT40_MAX);
      expect((await f.escrow.statusOf(id)).deadline).to.equal(UINT40_MAX);

      const now = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(now);
      await expect(f.escrow.connect(f.stranger).settleExpiredDispute(t, []))
        .to.be.revertedWithCustomError(f.escrow, "DisputePeriodActive")
        .withArgs(id, UINT40_MAX, now);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Disputed);
    });
  });

  it("leaves the clock of later tests untouched", async function () {
    expect(BigInt(await time.latest())).to.be.lessThan(LATE);
  });
});
