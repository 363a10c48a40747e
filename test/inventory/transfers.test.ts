import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture } from "../helpers/fixtures";

describe("InventoryToken transfers", function () {
  it("lets the merchant transfer stock with safeTransferFrom", async function () {
    const { inventory, merchant, buyer, skuA } = await loadFixture(deployEscrowFixture);

    await expect(inventory.connect(merchant).safeTransferFrom(merchant.address, buyer.address, skuA, 3n, "0x"))
      .to.emit(inventory, "TransferSingle")
      .withArgs(merchant.address, merchant.address, buyer.address, skuA, 3n);
    expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(97n);
    expect(await inventory.balanceOf(buyer.address, skuA)).to.equal(3n);
    expect(await inventory.totalSupply(skuA)).to.equal(100n);
  });

  it("lets the merchant transfer a batch with safeBatchTransferFrom", async function () {
    const { inventory, merchant, buyer, skuA, skuB } = await loadFixture(deployEscrowFixture);

    await inventory
      .connect(merchant)
      .safeBatchTransferFrom(merchant.address, buyer.address, [skuA, skuB], [1n, 2n], "0x");
    expect(await inventory.balanceOfBatch([buyer.address, buyer.address], [skuA, skuB])).to.deep.equal([1n, 2n]);
  });

  it("lets a holder pass stock on, and an approved operator move the merchant's stock", async function () {
    const { inventory, merchant, operator, buyer, otherBuyer, skuA } = await loadFixture(deployEscrowFixture);
    await inventory.connect(operator).safeTransferFrom(merchant.address, buyer.address, skuA, 2n, "0x");
    await inventory.connect(buyer).safeTransferFrom(buyer.address, otherBuyer.address, skuA, 1n, "0x");

    expect(
      await inventory.balanceOfBatch([merchant.address, buyer.address, otherBuyer.address], [skuA, skuA, skuA]),
    ).to.deep.equal([98n, 1n, 1n]);
  });

  it("reverts with ERC1155MissingApprovalForAll for a stranger moving the merchant's stock", async function () {
    const { inventory, merchant, stranger, skuA } = await loadFixture(deployEscrowFixture);

    await expect(inventory.connect(stranger).safeTransferFrom(merchant.address, stranger.address, skuA, 1n, "0x"))
      .to.be.revertedWithCustomError(inventory, "ERC1155MissingApprovalForAll")
      .withArgs(stranger.address, merchant.address);
  });

  it("reverts with ERC1155InvalidReceiver for a contract without the ERC-1155 receiver hook", async function () {
    const { escrow, inventory, merchant, skuA } = await loadFixture(deployEscrowFixture);
    const escrowAddress = await escrow.getAddress();

    await expect(inventory.connect(merchant).safeTransferFrom(merchant.address, escrowAddress, skuA, 1n, "0x"))
      .to.be.revertedWithCustomError(inventory, "ERC1155InvalidReceiver")
      .withArgs(escrowAddress);
  });
});
