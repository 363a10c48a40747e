import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  ADMIN_DELAY,
  deployEscrowFixture,
  idOf,
  itemsHash,
  ORDER_TYPES,
  OrderState,
  terms,
  USD,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";
import { escrowDomain, offerDigest, orderMessage } from "../../sdk/orderRecord";

/** A checkout offer is valid once, on one chain, for one escrow deployment. */
describe("security: checkout offer replay", function () {
  async function offerFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    const offer: OrderTerms = await terms(f, { buyer: ethers.ZeroAddress, amount: USD(25) }, items);
    const orderId = await idOf(f.escrow, offer, items);
    const { chainId } = await ethers.provider.getNetwork();
    const domain = { chainId, verifyingContract: await f.escrow.getAddress() };
    /** Who a signature of `t` recovers to, over the digest this escrow checks. */
    const recover = (t: OrderTerms, its: LineItem[], signature: string) =>
      ethers.recoverAddress(offerDigest(domain, t, its), signature);
    return { ...f, items, offer, orderId, recover };
  }

  async function signFor(
    signer: Awaited<ReturnType<typeof offerFixture>>["merchant"],
    offer: OrderTerms,
    items: LineItem[],
    chainId: bigint,
    verifyingContract: string,
  ): Promise<string> {
    return signer.signTypedData(escrowDomain({ chainId, verifyingContract }), ORDER_TYPES, orderMessage(offer, items));
  }

  it("reverts a replaying buyer's and a second buyer's reuse of an offer with OrderAlreadyExists; nobody is charged twice", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await f.escrow.getAddress());
    await f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.orderId);
    await expect(f.escrow.connect(f.otherBuyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
      .withArgs(f.orderId);

    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(25));
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(1n);
  });

  it("reverts a replayer's use of an offer signed for another chain id with InvalidOfferSignature", async function () {
    const f = await offerFixture();
    const signature = await signFor(f.merchant, f.offer, f.items, 1n, await f.escrow.getAddress());
    const recovered = f.recover(f.offer, f.items, signature);
    expect(recovered).to.not.equal(f.merchant.address);
    // The id is the same on every chain (the struct hash); only the signature is bound to the domain.
    expect(await f.escrow.orderIdOf(f.offer)).to.equal(f.orderId);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.orderId, recovered);
  });

  it("reverts a replayer's use of an offer signed for another escrow deployment with InvalidOfferSignature", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const otherEscrow = await (
      await ethers.getContractFactory("PaymentEscrow")
    ).deploy(
      f.admin.address,
      ADMIN_DELAY,
      f.arbiter.address,
      await f.forwarder.getAddress(),
      f.feeRecipient.address,
      100,
    );
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await otherEscrow.getAddress());
    const recovered = f.recover(f.offer, f.items, signature);
    expect(recovered).to.not.equal(f.merchant.address);

    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(f.orderId, recovered);
  });

  it("reverts a buyer's offer whose amount or items were changed after signing (InvalidOfferSignature, LineItemsMismatch)", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, await f.escrow.getAddress());
    const cheaper = { ...f.offer, amount: USD(1) };
    const more = [{ skuId: f.skuA, quantity: 50n }];
    const moreTerms = { ...f.offer, itemsHash: itemsHash(more) };
    const cheaperId = await f.escrow.orderIdOf(cheaper);
    const moreId = await f.escrow.orderIdOf(moreTerms);

    await expect(f.escrow.connect(f.buyer).checkout(cheaper, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(cheaperId, f.recover(cheaper, f.items, signature));
    // Other items against the signed commitment do not even match the terms.
    await expect(f.escrow.connect(f.buyer).checkout(f.offer, more, signature))
      .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
      .withArgs(f.offer.itemsHash, itemsHash(more));
    // Changing the commitment too changes the id, which the merchant never signed.
    await expect(f.escrow.connect(f.buyer).checkout(moreTerms, more, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(moreId, f.recover(moreTerms, more, signature));
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
  });
  /** `data` with the high byte of the 32-byte ABI word `word` (counted after the selector) set: same value, dirty bits. */
  function dirty(data: string, word: number): string {
    const bytes = ethers.getBytes(data);
    bytes[4 + word * 32] = 0x01;
    return ethers.hexlify(bytes);
  }

  it("reverts a front-runner's copy of a taken offer re-encoded with dirty high bits, without creating a second order", async function () {
    const f = await offerFixture();
    const { chainId } = await ethers.provider.getNetwork();
    const escrowAddress = await f.escrow.getAddress();
    const signature = await signFor(f.merchant, f.offer, f.items, chainId, escrowAddress);
    const data = f.escrow.interface.encodeFunctionData("checkout", [f.offer, f.items, signature]);
    // Words 5 (maxFeeBps, a uint16) and 0 (merchant, an address) carry the same values with dirty high bits.
    for (const word of [5, 0]) {
      await expect(f.otherBuyer.sendTransaction({ to: escrowAddress, data: dirty(data, word) })).to.be.reverted;
    }
    await f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature);
    for (const word of [5, 0]) {
      await expect(f.otherBuyer.sendTransaction({ to: escrowAddress, data: dirty(data, word) })).to.be.reverted;
    }
    expect(await f.usd.balanceOf(escrowAddress)).to.equal(USD(25));
    expect(await f.inventory.balanceOf(escrowAddress, f.skuA)).to.equal(1n);
  });

  it("finds no order for a stranger's dirty-bit copy of an order's terms in pay (OrderNotFound) and refuses it in revokeOffer", async function () {
    const f = await offerFixture();
    const escrowAddress = await f.escrow.getAddress();
    const t = await terms(f, { amount: USD(25) });
    await f.escrow.connect(f.merchant).createOrder(t, []);
    const pay = dirty(f.escrow.interface.encodeFunctionData("pay", [t]), 5);
    await expect(f.buyer.sendTransaction({ to: escrowAddress, data: pay })).to.be.revertedWithCustomError(
      f.escrow,
      "OrderNotFound",
    );
    // The merchant's own revocation of look-alike terms is refused too, so it always hits the real offer's id.
    const revoke = dirty(f.escrow.interface.encodeFunctionData("revokeOffer", [f.offer]), 5);
    await expect(f.merchant.sendTransaction({ to: escrowAddress, data: revoke })).to.be.reverted;
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.None);
    await f.escrow.connect(f.buyer).pay(t);
    expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Paid);
  });
});
