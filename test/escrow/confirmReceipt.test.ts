import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { OrderState } from "../helpers/fixtures";
import { AMOUNT, feeOf, load, placeOrder, shippedOrderFixture } from "../helpers/settlement";
import { shouldReleaseEscrowToPayee } from "./release.behavior";

describe("PaymentEscrow.confirmReceipt", function () {
  shouldReleaseEscrowToPayee((f, t, items) => f.escrow.connect(f.buyer).confirmReceipt(t, items));

  describe("caller and timing", function () {
    it("reverts with NotBuyer for the merchant, its operator, another buyer, the arbiter and a stranger", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, operator, otherBuyer, arbiter, stranger, orderId, terms: t, items } = f;
      for (const caller of [merchant, operator, otherBuyer, arbiter, stranger]) {
        await expect(escrow.connect(caller).confirmReceipt(t, items))
          .to.be.revertedWithCustomError(escrow, "NotBuyer")
          .withArgs(orderId, caller.address);
      }
      expect((await escrow.statusOf(orderId)).state).to.equal(OrderState.Shipped);
    });

    it("reverts with NotBuyer for a payee that is not the buyer", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, otherMerchant, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { payee: otherMerchant.address } });

      await expect(escrow.connect(otherMerchant).confirmReceipt(o.terms, []))
        .to.be.revertedWithCustomError(escrow, "NotBuyer")
        .withArgs(o.orderId, otherMerchant.address);
    });

    it("lets the buyer confirm right after shipment, long before the protection period ends", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, orderId, terms: t, items } = f;
      const releaseAfter = (await escrow.statusOf(orderId)).deadline;
      const receipt = await (await escrow.connect(buyer).confirmReceipt(t, items)).wait();
      expect(BigInt((await receipt!.getBlock()).timestamp)).to.be.lessThan(releaseAfter);
      expect((await escrow.statusOf(orderId)).state).to.equal(OrderState.Completed);
    });

    it("lets the buyer confirm after the protection period ended", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      await time.increaseTo((await escrow.statusOf(orderId)).deadline + 1000n);

      await expect(escrow.connect(buyer).confirmReceipt(t, items))
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT));
    });

    it("lets the payer of an order open to any payer confirm, and nobody else", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, otherBuyer, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { buyer: ethers.ZeroAddress }, payer: otherBuyer });
      await expect(escrow.connect(buyer).confirmReceipt(o.terms, []))
        .to.be.revertedWithCustomError(escrow, "NotBuyer")
        .withArgs(o.orderId, buyer.address);

      const fee = feeOf(o.terms.amount);
      const tx = escrow.connect(otherBuyer).confirmReceipt(o.terms, []);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(o.orderId, merchant.address, otherBuyer.address, o.terms.amount - fee, fee);
      await expect(tx).to.changeTokenBalance(usd, merchant, o.terms.amount - fee);
    });
  });
});
