import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { shouldCheckStockCall, twoMerchantsFixture } from "./stock.behavior";

describe("InventoryToken.mintStock", function () {
  describe("success", function () {
    it("mints a batch to the merchant and emits TransferBatch from the zero address", async function () {
      const { inventory, merchant, skuA, skuB } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant).mintStock([skuA, skuB], [5n, 7n]))
        .to.emit(inventory, "TransferBatch")
        .withArgs(merchant.address, ethers.ZeroAddress, merchant.address, [skuA, skuB], [5n, 7n]);
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        105n,
        107n,
      ]);
    });

    it("tracks the supply per SKU", async function () {
      const { inventory, merchant, skuA, skuB, otherSku } = await loadFixture(twoMerchantsFixture);
      await inventory.connect(merchant).mintStock([skuA, skuB], [5n, 7n]);

      expect(await inventory.totalSupply(skuA)).to.equal(105n);
      expect(await inventory.totalSupply(skuB)).to.equal(107n);
      expect(await inventory.totalSupply(otherSku)).to.equal(10n);
    });

    it("emits TransferSingle for one SKU", async function () {
      const { inventory, otherMerchant, otherSku } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(otherMerchant).mintStock([otherSku], [3n]))
        .to.emit(inventory, "TransferSingle")
        .withArgs(otherMerchant.address, ethers.ZeroAddress, otherMerchant.address, otherSku, 3n);
    });

    it("adds up a SKU listed twice", async function () {
      const { inventory, merchant, skuA } = await loadFixture(twoMerchantsFixture);
      await inventory.connect(merchant).mintStock([skuA, skuA], [1n, 2n]);

      expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(103n);
      expect(await inventory.totalSupply(skuA)).to.equal(103n);
    });

    it("lets an operator approved with setApprovalForAll mint, into the merchant's account", async function () {
      const { inventory, merchant, operator, skuA } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(operator).mintStock([skuA], [4n]))
        .to.emit(inventory, "TransferSingle")
        .withArgs(operator.address, ethers.ZeroAddress, merchant.address, skuA, 4n);
      expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(104n);
      expect(await inventory.balanceOf(operator.address, skuA)).to.equal(0n);
    });
  });

  shouldCheckStockCall("mintStock");
});
