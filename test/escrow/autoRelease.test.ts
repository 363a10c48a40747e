import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState, type OrderRecord } from "../helpers/fixtures";
import { AMOUNT, feeOf, load, shippedOrderFixture } from "../helpers/settlement";
import { shouldReleaseEscrowToMerchant } from "./release.behavior";

/** Moves the clock so the next transaction lands right after `record`'s deadline (if it is not past already). */
async function afterDeadline(record: OrderRecord): Promise<void> {
  if (BigInt(await time.latest()) < record.deadline) await time.setNextBlockTimestamp(record.deadline + 1n);
}

describe("PaymentEscrow.autoRelease", function () {
  shouldReleaseEscrowToMerchant(async (f, orderId, record, items) => {
    await afterDeadline(record);
    return f.escrow.connect(f.stranger).autoRelease(orderId, record, items);
  }, true);

  describe("protection period", function () {
    it("reverts with ProtectionPeriodActive right after shipment", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, orderId, items } = f;
      const releaseAfter = f.record().deadline;
      const ts = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(stranger).autoRelease(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodActive")
        .withArgs(orderId, releaseAfter, ts);
    });

    it("reverts with ProtectionPeriodActive at exactly releaseAfter", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, orderId, items } = f;
      const releaseAfter = f.record().deadline;
      await time.setNextBlockTimestamp(releaseAfter);

      await expect(escrow.connect(stranger).autoRelease(orderId, f.record(), items))
        .to.be.revertedWithCustomError(escrow, "ProtectionPeriodActive")
        .withArgs(orderId, releaseAfter, releaseAfter);
    });

    it("releases at releaseAfter + 1", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, stranger, merchant, buyer, orderId, items, book } = f;
      await time.setNextBlockTimestamp(f.record().deadline + 1n);
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(stranger).autoRelease(orderId, f.record(), items);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - fee, fee, true);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Completed);
    });
  });

  describe("caller", function () {
    it("may be anyone: the buyer, the merchant, the operator or a stranger", async function () {
      for (const who of ["buyer", "merchant", "operator", "stranger"] as const) {
        const f = await load(shippedOrderFixture);
        const { escrow, orderId, items } = f;
        await time.setNextBlockTimestamp(f.record().deadline + 1n);

        await expect(escrow.connect(f[who]).autoRelease(orderId, f.record(), items))
          .to.emit(escrow, "OrderCompleted")
          .withArgs(orderId, f.merchant.address, f.buyer.address, AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT), true);
      }
    });
  });
});
