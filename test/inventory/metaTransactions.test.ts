import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HDNodeWallet } from "ethers";
import { deployEscrowFixture, type EscrowFixture } from "../helpers/fixtures";
import { signForwardRequest } from "../helpers/metaTx";

interface GaslessFixture extends EscrowFixture {
  /** A merchant key that never held native currency. */
  wallet: HDNodeWallet;
  inventoryAddress: string;
}

async function gaslessMerchantFixture(): Promise<GaslessFixture> {
  const f = await deployEscrowFixture();
  const wallet = ethers.Wallet.createRandom(ethers.provider);
  return { ...f, wallet, inventoryAddress: await f.inventory.getAddress() };
}

describe("InventoryToken through the ERC-2771 forwarder", function () {
  it("creates a SKU for a merchant without native currency, the relayer paying the gas", async function () {
    const { inventory, forwarder, operator, wallet, inventoryAddress } = await loadFixture(gaslessMerchantFixture);
    expect(await ethers.provider.getBalance(wallet.address)).to.equal(0n);
    const data = inventory.interface.encodeFunctionData("createSku", [wallet.address, "ipfs://gasless"]);
    const request = await signForwardRequest(forwarder, wallet, { to: inventoryAddress, data });
    const id = await inventory.skuId(wallet.address, 1);

    const tx = forwarder.connect(operator).execute(request);
    await expect(tx).to.emit(inventory, "SkuCreated").withArgs(id, wallet.address, "ipfs://gasless");
    await expect(tx).to.emit(forwarder, "ExecutedForwardRequest").withArgs(wallet.address, 0n, true);
    expect(await inventory.merchantOf(id)).to.equal(wallet.address);
    expect(await inventory.uri(id)).to.equal("ipfs://gasless");
    expect(await ethers.provider.getBalance(wallet.address)).to.equal(0n);
  });

  it("then mints stock for that merchant, who is the ERC-1155 operator of the mint", async function () {
    const { inventory, forwarder, operator, wallet, inventoryAddress } = await loadFixture(gaslessMerchantFixture);
    const create = inventory.interface.encodeFunctionData("createSku", [wallet.address, "ipfs://gasless"]);
    await forwarder
      .connect(operator)
      .execute(await signForwardRequest(forwarder, wallet, { to: inventoryAddress, data: create }));
    const id = await inventory.skuId(wallet.address, 1);
    const mint = inventory.interface.encodeFunctionData("mintStock", [[id], [25n]]);
    const request = await signForwardRequest(forwarder, wallet, { to: inventoryAddress, data: mint });

    await expect(forwarder.connect(operator).execute(request))
      .to.emit(inventory, "TransferSingle")
      .withArgs(wallet.address, ethers.ZeroAddress, wallet.address, id, 25n);
    expect(await inventory.balanceOf(wallet.address, id)).to.equal(25n);
    expect(await inventory.totalSupply(id)).to.equal(25n);
    expect(await forwarder.nonces(wallet.address)).to.equal(2n);
    expect(await ethers.provider.getBalance(wallet.address)).to.equal(0n);
  });

  it("acts as the signer, not the relayer: a request for another merchant's SKU fails", async function () {
    const { inventory, forwarder, operator, merchant, wallet, inventoryAddress } =
      await loadFixture(gaslessMerchantFixture);
    // The fixture's operator is approved by `merchant`, so only the forwarded sender decides the outcome.
    const data = inventory.interface.encodeFunctionData("createSku", [merchant.address, "ipfs://not-mine"]);
    const request = await signForwardRequest(forwarder, wallet, { to: inventoryAddress, data });

    await expect(forwarder.connect(operator).execute(request))
      .to.be.revertedWithCustomError(forwarder, "FailedCall")
      .withArgs();
    // What the forwarder ran: the call with the signer appended, from the forwarder.
    await expect(
      ethers.provider.call({
        from: await forwarder.getAddress(),
        to: inventoryAddress,
        data: ethers.concat([data, wallet.address]),
      }),
    )
      .to.be.revertedWithCustomError(inventory, "NotMerchantOrOperator")
      .withArgs(merchant.address, wallet.address);
  });

  it("reverts with ERC2771ForwarderInvalidSigner for a request claiming another sender", async function () {
    const { inventory, forwarder, operator, merchant, wallet, inventoryAddress } =
      await loadFixture(gaslessMerchantFixture);
    const data = inventory.interface.encodeFunctionData("createSku", [merchant.address, "ipfs://forged"]);
    const request = await signForwardRequest(forwarder, wallet, { to: inventoryAddress, data, from: merchant.address });

    await expect(forwarder.connect(operator).execute(request))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(wallet.address, merchant.address);
  });
});
