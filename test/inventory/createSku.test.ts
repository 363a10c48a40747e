import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture } from "../helpers/fixtures";

describe("InventoryToken.createSku", function () {
  describe("success", function () {
    it("numbers a merchant's SKUs from 1: id = skuId(merchant, n)", async function () {
      const { inventory, otherMerchant } = await loadFixture(deployEscrowFixture);
      const first = await inventory.skuId(otherMerchant.address, 1);
      const second = await inventory.skuId(otherMerchant.address, 2);
      expect(first).to.equal((BigInt(otherMerchant.address) << 96n) | 1n);

      expect(await inventory.connect(otherMerchant).createSku.staticCall(otherMerchant.address, "ipfs://x")).to.equal(
        first,
      );
      await inventory.connect(otherMerchant).createSku(otherMerchant.address, "ipfs://x");
      await expect(inventory.connect(otherMerchant).createSku(otherMerchant.address, "ipfs://y"))
        .to.emit(inventory, "SkuCreated")
        .withArgs(second, otherMerchant.address, "ipfs://y");
      expect(await inventory.skuCount(otherMerchant.address)).to.equal(2n);
    });

    it("continues the merchant's own numbering, independent of other merchants", async function () {
      const { inventory, merchant, otherMerchant } = await loadFixture(deployEscrowFixture);
      await inventory.connect(otherMerchant).createSku(otherMerchant.address, "ipfs://other-1");

      await expect(inventory.connect(merchant).createSku(merchant.address, "ipfs://sku-c"))
        .to.emit(inventory, "SkuCreated")
        .withArgs(await inventory.skuId(merchant.address, 3), merchant.address, "ipfs://sku-c");
      expect(await inventory.skuCount(merchant.address)).to.equal(3n);
      expect(await inventory.skuCount(otherMerchant.address)).to.equal(1n);
    });

    it("stores the URI (uri(id), URI event) and starts with no supply", async function () {
      const { inventory, merchant } = await loadFixture(deployEscrowFixture);
      const id = await inventory.skuId(merchant.address, 3);

      await expect(inventory.connect(merchant).createSku(merchant.address, "ipfs://sku-c"))
        .to.emit(inventory, "URI")
        .withArgs("ipfs://sku-c", id);
      expect(await inventory.uri(id)).to.equal("ipfs://sku-c");
      expect(await inventory.merchantOf(id)).to.equal(merchant.address);
      expect(await inventory.totalSupply(id)).to.equal(0n);
    });

    it("lets an operator approved with setApprovalForAll create a SKU for the merchant", async function () {
      const { inventory, merchant, operator } = await loadFixture(deployEscrowFixture);
      const id = await inventory.skuId(merchant.address, 3);

      await expect(inventory.connect(operator).createSku(merchant.address, "ipfs://by-operator"))
        .to.emit(inventory, "SkuCreated")
        .withArgs(id, merchant.address, "ipfs://by-operator");
      expect(await inventory.merchantOf(id)).to.equal(merchant.address);
    });
  });

  describe("checks", function () {
    it("reverts with NotMerchantOrOperator for a stranger", async function () {
      const { inventory, merchant, stranger } = await loadFixture(deployEscrowFixture);

      await expect(inventory.connect(stranger).createSku(merchant.address, "ipfs://x"))
        .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
        .withArgs(merchant.address, stranger.address);
    });

    it("reverts with NotMerchantOrOperator for an operator approved only on the escrow", async function () {
      const { escrow, inventory, otherMerchant, stranger } = await loadFixture(deployEscrowFixture);
      await escrow.connect(otherMerchant).setOperatorApproval(stranger.address, true);

      await expect(inventory.connect(stranger).createSku(otherMerchant.address, "ipfs://x"))
        .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
        .withArgs(otherMerchant.address, stranger.address);
    });

    it("reverts with NotMerchantOrOperator once the operator's approval is revoked", async function () {
      const { inventory, merchant, operator } = await loadFixture(deployEscrowFixture);
      await inventory.connect(merchant).setApprovalForAll(operator.address, false);

      await expect(inventory.connect(operator).createSku(merchant.address, "ipfs://x"))
        .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
        .withArgs(merchant.address, operator.address);
    });

    it("reverts with EmptyUri for an empty URI", async function () {
      const { inventory, merchant } = await loadFixture(deployEscrowFixture);

      await expect(inventory.connect(merchant).createSku(merchant.address, ""))
        .to.be.revertedWithCustomError(inventory, "EmptyUri")
        .withArgs();
    });

    it("reverts with ZeroAddress for the zero merchant", async function () {
      const { inventory, merchant } = await loadFixture(deployEscrowFixture);

      await expect(inventory.connect(merchant).createSku(ethers.ZeroAddress, "ipfs://x"))
        .to.be.revertedWithCustomError(inventory, "ZeroAddress")
        .withArgs();
    });
  });
});
