import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { OrderState } from "../helpers/fixtures";
import { load, shippedOrderFixture } from "../helpers/settlement";
import { shouldReleaseEscrowToMerchant } from "./release.behavior";

describe("PaymentEscrow.confirmReceipt", function () {
  shouldReleaseEscrowToMerchant(
    (f, orderId, record, items) => f.escrow.connect(f.buyer).confirmReceipt(orderId, record, items),
    false,
  );

  describe("caller and timing", function () {
    it("reverts with NotBuyer for the merchant, its operator, another buyer and a stranger", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, operator, otherBuyer, stranger, orderId, items } = f;
      for (const caller of [merchant, operator, otherBuyer, stranger]) {
        await expect(escrow.connect(caller).confirmReceipt(orderId, f.record(), items))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(orderId, caller.address);
      }
    });

    it("lets the buyer confirm right after shipment, long before the protection period ends", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, items, book } = f;
      await book.send(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items));
      expect(f.record().state).to.equal(OrderState.Completed);
    });

    it("lets the buyer confirm after the protection period ended", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, items } = f;
      await time.increaseTo(f.record().deadline + 1000n);

      await expect(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items))
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, anyValue, buyer.address, anyValue, anyValue, false);
    });
  });
});
