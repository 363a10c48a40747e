import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { twoMerchantsFixture } from "../inventory/stock.behavior";

/**
 * Supply is counted per SKU only: no account's minting, however large, can stop another merchant's stock.
 * (With one total over every SKU, a stranger minting up to 2^256-1 of its own SKU made every later mint by
 * anyone overflow.)
 */
describe("security: one merchant's supply cannot block another's minting", function () {
  const MAX = ethers.MaxUint256;

  it("a stranger minting 2^256-1 of its own SKU leaves every other merchant free to mint", async function () {
    const { inventory, merchant, otherMerchant, stranger, skuA, otherSku } = await loadFixture(twoMerchantsFixture);
    await inventory.connect(stranger).createSku(stranger.address, "ipfs://squatter");
    const strangerSku = await inventory.skuId(stranger.address, 1);

    // Everything minted so far is 100 + 100 of the merchant's two SKUs and 10 of the other merchant's: with one
    // total over all SKUs, this brings it to 2^256-1.
    await inventory.connect(stranger).mintStock([strangerSku], [MAX - 210n]);

    await inventory.connect(merchant).mintStock([skuA], [5n]);
    await inventory.connect(otherMerchant).mintStock([otherSku], [MAX - 10n]);
    expect(await inventory.totalSupply(strangerSku)).to.equal(MAX - 210n);
    expect(await inventory.totalSupply(skuA)).to.equal(105n);
    expect(await inventory.totalSupply(otherSku)).to.equal(MAX);
    expect(await inventory.balanceOf(otherMerchant.address, otherSku)).to.equal(MAX);
  });

  it("reverts with SupplyOverflow, not a panic, when a SKU's own supply would pass 2^256-1", async function () {
    const { inventory, otherMerchant, otherSku } = await loadFixture(twoMerchantsFixture);
    await inventory.connect(otherMerchant).mintStock([otherSku], [MAX - 10n]);

    await expect(inventory.connect(otherMerchant).mintStock([otherSku], [1n]))
      .to.be.revertedWithCustomError(inventory, "SupplyOverflow")
      .withArgs(otherSku, MAX, 1n);
    // The same SKU listed twice in one call is summed before the check.
    await inventory.connect(otherMerchant).burnStock([otherSku], [5n]);
    await expect(inventory.connect(otherMerchant).mintStock([otherSku, otherSku], [3n, 3n]))
      .to.be.revertedWithCustomError(inventory, "SupplyOverflow")
      .withArgs(otherSku, MAX - 2n, 3n);
    expect(await inventory.totalSupply(otherSku)).to.equal(MAX - 5n);
  });
});
