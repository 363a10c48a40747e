import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  itemsHash,
  OFFER_TYPES,
  terms,
  USD,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";

/** A checkout offer is valid once, on one chain, for one escrow deployment. */
describe("security: checkout offer replay", function () {
  async function offerFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    const offer: OrderTerms = await terms(f, { buyer: ethers.ZeroAddress, amount: USD(25) });
    return { ...f, items, offer };
  }

  async function signFor(
    signer: Awaited<ReturnType<typeof offerFixture>>["merchant"],
    offer: OrderTerms,
    items: LineItem[],
    chainId: bigint,
    verifyingContract: string,
  ): Promise<string> {
    return signer.signTypedData(
      { name: "orderchain PaymentEscrow", version: "1", chainId, verifyingContract },
      OFFER_TYPES,
      { ...offer, itemsHash: itemsHash(items) },
    );
  }

  it("reverts the second use of an offer with OrderAlreadyExists and charges nobody twice", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await f.escrow.getAddress());
    await f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offer.orderId);
    await expect(f.escrow.connect(f.otherBuyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.offer.orderId);

    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(25));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(1n);
  });

  it("reverts an offer signed for another chain id with InvalidOfferSignature", async function () {
    const f = await offerFixture();
    const signature = await signFor(f.merchant, f.offer, f.items, 1n, await f.escrow.getAddress());
    const recovered = ethers.recoverAddress(await f.escrow.offerDigest(f.offer, f.items), signature);
    expect(recovered).to.not.equal(f.merchant.address);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.offer.orderId, recovered);
  });

  it("reverts an offer signed for another escrow deployment with InvalidOfferSignature", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const otherEscrow = await (
      await ethers.getContractFactory("PaymentEscrow")
    ).deploy(f.admin.address, await f.forwarder.getAddress(), f.feeRecipient.address, 100);
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await otherEscrow.getAddress());
    const recovered = ethers.recoverAddress(await f.escrow.offerDigest(f.offer, f.items), signature);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.offer.orderId, recovered);
  });

  it("reverts an offer whose amount or items were changed after signing with InvalidOfferSignature", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await f.escrow.getAddress());
    const cheaper = { ...f.offer, amount: USD(1) };
    const more = [{ skuId: f.skuA, quantity: 50n }];

    await expect(f.escrow.connect(f.buyer).checkout(cheaper, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.offer.orderId, ethers.recoverAddress(await f.escrow.offerDigest(cheaper, f.items), signature));
    await expect(f.escrow.connect(f.buyer).checkout(f.offer, more, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.offer.orderId, ethers.recoverAddress(await f.escrow.offerDigest(f.offer, more), signature));
  });
});
