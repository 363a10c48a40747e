import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { terms } from "../helpers/fixtures";
import { shouldCheckStockCall, twoMerchantsFixture } from "./stock.behavior";

describe("InventoryToken.burnStock", function () {
  describe("success", function () {
    it("burns a batch from the merchant and emits TransferBatch to the zero address", async function () {
      const { inventory, merchant, skuA, skuB } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant).burnStock([skuA, skuB], [30n, 100n]))
        .to.emit(inventory, "TransferBatch")
        .withArgs(merchant.address, merchant.address, ethers.ZeroAddress, [skuA, skuB], [30n, 100n]);
      expect(await inventory.balanceOfBatch([merchant.address, merchant.address], [skuA, skuB])).to.deep.equal([
        70n,
        0n,
      ]);
    });

    it("lowers the supply of each SKU burnt, and only of those", async function () {
      const { inventory, merchant, skuA, skuB, otherSku } = await loadFixture(twoMerchantsFixture);
      await inventory.connect(merchant).burnStock([skuA, skuB], [30n, 100n]);

      expect(await inventory.totalSupply(skuA)).to.equal(70n);
      expect(await inventory.totalSupply(skuB)).to.equal(0n);
      expect(await inventory.totalSupply(otherSku)).to.equal(10n);
      expect(await inventory.merchantOf(skuB)).to.not.equal(ethers.ZeroAddress);
    });

    it("keeps a SKU's supply through a transfer and lowers it by a burn of units that changed hands", async function () {
      const { inventory, merchant, stranger, skuA } = await loadFixture(twoMerchantsFixture);
      await inventory.connect(merchant).safeTransferFrom(merchant.address, stranger.address, skuA, 40n, "0x");
      expect(await inventory.totalSupply(skuA)).to.equal(100n);
      await inventory.connect(stranger).safeTransferFrom(stranger.address, merchant.address, skuA, 40n, "0x");
      await inventory.connect(merchant).burnStock([skuA], [100n]);
      expect(await inventory.totalSupply(skuA)).to.equal(0n);
      await expect(inventory.connect(merchant).burnStock([skuA], [1n]))
        .to.be.revertedWithCustomError(inventory, "ERC1155InsufficientBalance")
        .withArgs(merchant.address, 0n, 1n, skuA);
    });

    it("lets an operator approved with setApprovalForAll burn the merchant's stock", async function () {
      const { inventory, merchant, operator, skuA } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(operator).burnStock([skuA], [1n]))
        .to.emit(inventory, "TransferSingle")
        .withArgs(operator.address, merchant.address, ethers.ZeroAddress, skuA, 1n);
      expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(99n);
    });
  });

  describe("balance", function () {
    it("reverts with ERC1155InsufficientBalance for more than the merchant holds", async function () {
      const { inventory, merchant, skuA } = await loadFixture(twoMerchantsFixture);

      await expect(inventory.connect(merchant).burnStock([skuA], [101n]))
        .to.be.revertedWithCustomError(inventory, "ERC1155InsufficientBalance")
        .withArgs(merchant.address, 100n, 101n, skuA);
    });

    it("cannot burn stock reserved by an open order", async function () {
      const f = await loadFixture(twoMerchantsFixture);
      const { escrow, inventory, merchant, skuA } = f;
      const items = [{ skuId: skuA, quantity: 2n }];
      await escrow.connect(merchant).createOrder(await terms(f, {}, items), items);

      await expect(inventory.connect(merchant).burnStock([skuA], [99n]))
        .to.be.revertedWithCustomError(inventory, "ERC1155InsufficientBalance")
        .withArgs(merchant.address, 98n, 99n, skuA);
    });
  });

  shouldCheckStockCall("burnStock");
});
