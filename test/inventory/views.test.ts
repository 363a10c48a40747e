import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture } from "../helpers/fixtures";

const MAX_UINT96 = (1n << 96n) - 1n;

describe("InventoryToken views", function () {
  describe("skuId", function () {
    it("puts the merchant in the high 160 bits and the counter in the low 96", async function () {
      const { inventory, merchant } = await loadFixture(deployEscrowFixture);

      expect(await inventory.skuId(merchant.address, 7)).to.equal((BigInt(merchant.address) << 96n) + 7n);
      expect(await inventory.skuId(merchant.address, MAX_UINT96)).to.equal(
        (BigInt(merchant.address) << 96n) | MAX_UINT96,
      );
      expect(await inventory.skuId(ethers.ZeroAddress, 1)).to.equal(1n);
    });
  });

  describe("merchantOf", function () {
    it("returns the merchant of an existing SKU", async function () {
      const { inventory, merchant, skuA, skuB } = await loadFixture(deployEscrowFixture);

      expect(await inventory.merchantOf(skuA)).to.equal(merchant.address);
      expect(await inventory.merchantOf(skuB)).to.equal(merchant.address);
    });

    it("returns the zero address for a SKU not created yet, for counter 0 and for a merchant without SKUs", async function () {
      const { inventory, merchant, otherMerchant } = await loadFixture(deployEscrowFixture);

      expect(await inventory.merchantOf(await inventory.skuId(merchant.address, 3))).to.equal(ethers.ZeroAddress);
      expect(await inventory.merchantOf(await inventory.skuId(merchant.address, 0))).to.equal(ethers.ZeroAddress);
      expect(await inventory.merchantOf(await inventory.skuId(otherMerchant.address, 1))).to.equal(ethers.ZeroAddress);
      expect(await inventory.merchantOf(0n)).to.equal(ethers.ZeroAddress);
    });
  });

  describe("skuCount", function () {
    it("counts each merchant's SKUs", async function () {
      const { inventory, merchant, otherMerchant } = await loadFixture(deployEscrowFixture);

      expect(await inventory.skuCount(merchant.address)).to.equal(2n);
      expect(await inventory.skuCount(otherMerchant.address)).to.equal(0n);
    });
  });

  describe("escrow and forwarder", function () {
    it("names the escrow that created it", async function () {
      const { escrow, inventory } = await loadFixture(deployEscrowFixture);

      expect(await inventory.escrow()).to.equal(await escrow.getAddress());
      expect(await escrow.inventory()).to.equal(await inventory.getAddress());
    });

    it("trusts the escrow's forwarder", async function () {
      const { inventory, forwarder, stranger } = await loadFixture(deployEscrowFixture);

      expect(await inventory.trustedForwarder()).to.equal(await forwarder.getAddress());
      expect(await inventory.isTrustedForwarder(await forwarder.getAddress())).to.equal(true);
      expect(await inventory.isTrustedForwarder(stranger.address)).to.equal(false);
    });
  });

  describe("uri", function () {
    it("returns each SKU's own URI and an empty string for an unknown id", async function () {
      const { inventory, merchant, skuA, skuB } = await loadFixture(deployEscrowFixture);

      expect(await inventory.uri(skuA)).to.equal("ipfs://sku-a");
      expect(await inventory.uri(skuB)).to.equal("ipfs://sku-b");
      expect(await inventory.uri(await inventory.skuId(merchant.address, 3))).to.equal("");
    });
  });

  describe("supportsInterface", function () {
    it("supports ERC-165, ERC-1155 and ERC-1155 metadata URI", async function () {
      const { inventory } = await loadFixture(deployEscrowFixture);

      expect(await inventory.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await inventory.supportsInterface("0xd9b67a26")).to.equal(true); // ERC-1155
      expect(await inventory.supportsInterface("0x0e89341c")).to.equal(true); // ERC-1155 metadata URI
    });

    it("does not claim other interfaces", async function () {
      const { inventory } = await loadFixture(deployEscrowFixture);

      expect(await inventory.supportsInterface("0xffffffff")).to.equal(false);
      expect(await inventory.supportsInterface("0x80ac58cd")).to.equal(false); // ERC-721
      expect(await inventory.supportsInterface("0x4e2312e0")).to.equal(false); // ERC-1155 receiver
    });
  });
});
