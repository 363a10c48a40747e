import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, type EscrowFixture } from "../helpers/fixtures";

export interface StockFixture extends EscrowFixture {
  /** A SKU of `otherMerchant`, with 10 in stock. */
  otherSku: bigint;
}

/** The escrow fixture plus a SKU of a second merchant. */
export async function twoMerchantsFixture(): Promise<StockFixture> {
  const f = await deployEscrowFixture();
  await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://other-sku");
  const otherSku = await f.inventory.skuId(f.otherMerchant.address, 1);
  await f.inventory.connect(f.otherMerchant).mintStock([otherSku], [10n]);
  return { ...f, otherSku };
}

/** Checks shared by mintStock and burnStock: one merchant's existing SKUs, matching arrays, authorised caller. */
export function shouldCheckStockCall(method: "mintStock" | "burnStock"): void {
  describe("checks", function () {
    it("reverts with LengthMismatch when ids and amounts differ in length", async function () {
      const { inventory, merchant, skuA, skuB } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant)[method]([skuA, skuB], [1n]))
        .to.be.revertedWithCustomError(inventory, "LengthMismatch")
        .withArgs(2n, 1n);
      await expect(inventory.connect(merchant)[method]([skuA], [1n, 1n]))
        .to.be.revertedWithCustomError(inventory, "LengthMismatch")
        .withArgs(1n, 2n);
    });

    it("reverts with LengthMismatch for empty arrays", async function () {
      const { inventory, merchant } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant)[method]([], []))
        .to.be.revertedWithCustomError(inventory, "LengthMismatch")
        .withArgs(0n, 0n);
    });

    it("reverts with NotSkuMerchant when SKUs of two merchants are mixed", async function () {
      const { inventory, merchant, otherMerchant, skuA, otherSku } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant)[method]([skuA, otherSku], [1n, 1n]))
        .to.be.revertedWithCustomError(inventory, "NotSkuMerchant")
        .withArgs(otherSku, merchant.address);
      await expect(inventory.connect(otherMerchant)[method]([otherSku, skuA], [1n, 1n]))
        .to.be.revertedWithCustomError(inventory, "NotSkuMerchant")
        .withArgs(skuA, otherMerchant.address);
    });

    it("reverts with SkuNotFound for a SKU not created yet, first or later in the list", async function () {
      const { inventory, merchant, skuA } = await loadFixture(twoMerchantsFixture);
      const missing = await inventory.skuId(merchant.address, 3);

      await expect(inventory.connect(merchant)[method]([missing], [1n]))
        .to.be.revertedWithCustomError(inventory, "SkuNotFound")
        .withArgs(missing);
      await expect(inventory.connect(merchant)[method]([skuA, missing], [1n, 1n]))
        .to.be.revertedWithCustomError(inventory, "SkuNotFound")
        .withArgs(missing);
    });

    it("reverts with NotMerchantOrOperator for a stranger, the buyer and another merchant", async function () {
      const { inventory, merchant, otherMerchant, buyer, stranger, skuA, skuB } =
        await loadFixture(twoMerchantsFixture);

      for (const caller of [stranger, buyer, otherMerchant]) {
        await expect(inventory.connect(caller)[method]([skuA, skuB], [1n, 1n]))
          .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
          .withArgs(merchant.address, caller.address);
      }
    });

    it("reverts with NotMerchantOrOperator for an operator approved only on the escrow", async function () {
      const { escrow, inventory, otherMerchant, stranger, otherSku } = await loadFixture(twoMerchantsFixture);
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);

      await expect(inventory.connect(stranger)[method]([otherSku], [1n]))
        .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
        .withArgs(otherMerchant.address, stranger.address);
    });
  });
}
