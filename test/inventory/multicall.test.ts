import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture } from "../helpers/fixtures";
import { signForwardRequest } from "../helpers/metaTx";

describe("InventoryToken.multicall", function () {
  it("creates a SKU and mints its stock in one transaction, as the caller", async function () {
    const { inventory, merchant } = await loadFixture(deployEscrowFixture);
    const id = await inventory.skuId(merchant.address, 3);
    const calls = [
      inventory.interface.encodeFunctionData("createSku", [merchant.address, "ipfs://sku-c"]),
      inventory.interface.encodeFunctionData("mintStock", [[id], [7n]]),
    ];
    const results = await inventory.connect(merchant).multicall.staticCall(calls);
    expect(inventory.interface.decodeFunctionResult("createSku", results[0])[0]).to.equal(id);
    await expect(inventory.connect(merchant).multicall(calls))
      .to.emit(inventory, "SkuCreated")
      .withArgs(id, merchant.address, "ipfs://sku-c");
    expect(await inventory.balanceOf(merchant.address, id)).to.equal(7n);
    expect(await inventory.totalSupply(id)).to.equal(7n);
  });

  it("reverts everything with the failing call's own error", async function () {
    const { inventory, merchant, stranger, skuA } = await loadFixture(deployEscrowFixture);
    const calls = [
      inventory.interface.encodeFunctionData("mintStock", [[skuA], [5n]]),
      inventory.interface.encodeFunctionData("burnStock", [[skuA], [1_000n]]),
    ];
    await expect(inventory.connect(merchant).multicall(calls))
      .to.be.revertedWithCustomError(inventory, "ERC1155InsufficientBalance")
      .withArgs(merchant.address, 105n, 1_000n, skuA);
    expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(100n);
    // Each call is checked as if the caller sent it: a stranger cannot mint the merchant's stock.
    await expect(inventory.connect(stranger).multicall([calls[0]]))
      .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
      .withArgs(merchant.address, stranger.address);
  });

  it("keeps the signer of a forwarded request as the sender of every call", async function () {
    const { inventory, forwarder, operator } = await loadFixture(deployEscrowFixture);
    const wallet = ethers.Wallet.createRandom(ethers.provider);
    const id = await inventory.skuId(wallet.address, 1);
    const data = inventory.interface.encodeFunctionData("multicall", [
      [
        inventory.interface.encodeFunctionData("createSku", [wallet.address, "ipfs://gasless"]),
        inventory.interface.encodeFunctionData("mintStock", [[id], [3n]]),
      ],
    ]);
    const request = await signForwardRequest(forwarder, wallet, { to: await inventory.getAddress(), data });
    await expect(forwarder.connect(operator).execute(request))
      .to.emit(forwarder, "ExecutedForwardRequest")
      .withArgs(wallet.address, 0n, true);
    expect(await inventory.balanceOf(wallet.address, id)).to.equal(3n);
  });

  it("ignores a sender appended by a direct caller", async function () {
    const { inventory, merchant, stranger, skuA } = await loadFixture(deployEscrowFixture);
    const spoofed = ethers.concat([
      inventory.interface.encodeFunctionData("multicall", [
        [inventory.interface.encodeFunctionData("mintStock", [[skuA], [1n]])],
      ]),
      merchant.address,
    ]);
    await expect(stranger.sendTransaction({ to: await inventory.getAddress(), data: spoofed }))
      .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
      .withArgs(merchant.address, stranger.address);
  });
});
