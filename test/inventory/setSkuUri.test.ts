import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture } from "../helpers/fixtures";

describe("InventoryToken.setSkuUri", function () {
  it("lets the merchant change the URI: SkuUriUpdated, URI and uri(id)", async function () {
    const { inventory, merchant, skuA } = await loadFixture(deployEscrowFixture);

    const tx = inventory.connect(merchant).setSkuUri(skuA, "ipfs://sku-a-v2");
    await expect(tx).to.emit(inventory, "SkuUriUpdated").withArgs(skuA, "ipfs://sku-a-v2");
    await expect(tx).to.emit(inventory, "URI").withArgs("ipfs://sku-a-v2", skuA);
    expect(await inventory.uri(skuA)).to.equal("ipfs://sku-a-v2");
  });

  it("changes only the given SKU", async function () {
    const { inventory, merchant, skuA, skuB } = await loadFixture(deployEscrowFixture);
    await inventory.connect(merchant).setSkuUri(skuA, "ipfs://sku-a-v2");

    expect(await inventory.uri(skuB)).to.equal("ipfs://sku-b");
  });

  it("lets an operator approved with setApprovalForAll change the URI", async function () {
    const { inventory, operator, skuB } = await loadFixture(deployEscrowFixture);

    await expect(inventory.connect(operator).setSkuUri(skuB, "ipfs://sku-b-v2"))
      .to.emit(inventory, "SkuUriUpdated")
      .withArgs(skuB, "ipfs://sku-b-v2");
  });

  it("reverts with NotMerchantOrOperator for a stranger and for another merchant", async function () {
    const { inventory, merchant, otherMerchant, stranger, skuA } = await loadFixture(deployEscrowFixture);

    for (const caller of [stranger, otherMerchant]) {
      await expect(inventory.connect(caller).setSkuUri(skuA, "ipfs://mine"))
        .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
        .withArgs(merchant.address, caller.address);
    }
  });

  it("reverts with SkuNotFound for a SKU not created yet and for counter 0", async function () {
    const { inventory, merchant } = await loadFixture(deployEscrowFixture);

    for (const n of [3, 0]) {
      const id = await inventory.skuId(merchant.address, n);
      await expect(inventory.connect(merchant).setSkuUri(id, "ipfs://x"))
        .to.be.revertedWithCustomError(inventory, "SkuNotFound")
        .withArgs(id);
    }
  });

  it("reverts with EmptyUri for an empty URI", async function () {
    const { inventory, merchant, skuA } = await loadFixture(deployEscrowFixture);

    await expect(inventory.connect(merchant).setSkuUri(skuA, ""))
      .to.be.revertedWithCustomError(inventory, "EmptyUri")
      .withArgs();
  });
});
