import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState } from "../helpers/fixtures";
import { AMOUNT, EVIDENCE, feeOf, load, shippedOrderFixture } from "../helpers/settlement";
import { shouldReleaseEscrowToPayee } from "./release.behavior";

describe("PaymentEscrow.autoRelease", function () {
  shouldReleaseEscrowToPayee(async (f, t, items) => {
    // The next transaction lands right after the order's current deadline, unless that is past already.
    const deadline = (await f.escrow.statusOf(await f.escrow.orderIdOf(t))).deadline;
    if (BigInt(await time.latest()) < deadline) await time.setNextBlockTimestamp(deadline + 1n);
    return f.escrow.connect(f.stranger).autoRelease(t, items);
  });

  describe("protection period", function () {
    it("reverts with ProtectionPeriodActive right after shipment", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      const releaseAfter = (await escrow.statusOf(orderId)).deadline;
      const ts = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodActive")
        .withArgs(orderId, releaseAfter, ts);
    });

    it("reverts with ProtectionPeriodActive at exactly releaseAfter", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      const releaseAfter = (await escrow.statusOf(orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter);

      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodActive")
        .withArgs(orderId, releaseAfter, releaseAfter);
      expect((await escrow.statusOf(orderId)).state).to.equal(OrderState.Shipped);
    });

    it("releases at releaseAfter + 1; the refund window then starts from that second", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, merchant, buyer, orderId, terms: t, items } = f;
      const releaseAfter = (await escrow.statusOf(orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter + 1n);
      const fee = feeOf(AMOUNT);

      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - fee, fee);
      const s = await escrow.statusOf(orderId);
      expect(s.state).to.equal(OrderState.Completed);
      expect(s.deadline).to.equal(releaseAfter + 1n + t.refundWindow);
    });

    it("a buyer's dispute at exactly releaseAfter comes first: autoRelease then reverts with InvalidState", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, buyer, orderId, terms: t, items } = f;
      const releaseAfter = (await escrow.statusOf(orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter);
      await escrow.connect(buyer).dispute(t, EVIDENCE);

      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Disputed);
    });
  });

  describe("caller", function () {
    it("may be anyone: the buyer, the merchant, the operator, the arbiter or a stranger", async function () {
      for (const who of ["buyer", "merchant", "operator", "arbiter", "stranger"] as const) {
        const f = await load(shippedOrderFixture);
        const { escrow, orderId, terms: t, items } = f;
        await time.setNextBlockTimestamp((await escrow.statusOf(orderId)).deadline + 1n);

        await expect(escrow.connect(f[who]).autoRelease(t, items))
          .to.emit(escrow, "OrderCompleted")
          .withArgs(orderId, f.merchant.address, f.buyer.address, AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT));
      }
    });
  });
});
