import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import {
  FEE_BPS,
  ORDER_TYPES,
  OrderState,
  USD,
  domainOf,
  idOf,
  itemsHash,
  newSalt,
  signOffer,
  terms,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";
import { offerDigest, orderMessage } from "../../sdk/orderRecord";
import { deployCreationFixture, itemTuples, termsTuple, type CreationFixture } from "../helpers/creation";

const ONE_ETH = ethers.parseEther("1");
const UINT40_MAX = 2n ** 40n - 1n;

/** Names of the escrow's own events in a receipt, in emission order. */
function escrowEventNames(f: CreationFixture, receipt: ContractTransactionReceipt, escrowAddr: string): string[] {
  return receipt.logs.filter((l) => l.address === escrowAddr).map((l) => f.escrow.interface.parseLog(l)?.name ?? "?");
}

/** The EIP-712 digest of an order id in the escrow's domain: what a checkout signature is over. */
async function digestOf(f: CreationFixture, id: string): Promise<string> {
  const domainSeparator = ethers.TypedDataEncoder.hashDomain(await domainOf(f.escrow));
  return ethers.keccak256(ethers.concat(["0x1901", domainSeparator, id]));
}

/** The address a signature recovers to for the offer digest of `t` (what the escrow names in InvalidOfferSignature). */
async function recoveredFor(f: CreationFixture, t: OrderTerms, sig: string): Promise<string> {
  return ethers.recoverAddress(await digestOf(f, await f.escrow.orderIdOf(t)), sig);
}

/** Deploys an ERC-1271 contract merchant whose signing key is `otherMerchant`. */
async function contractMerchant(f: CreationFixture) {
  const wallet = await (await ethers.getContractFactory("ERC1271Merchant")).deploy(f.otherMerchant.address);
  return { wallet, address: await wallet.getAddress() };
}

describe("PaymentEscrow.checkout", function () {
  describe("success", function () {
    it("creates and pays an ERC-20 offer without line items: OrderCreated then OrderPaid, state Paid", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const offer = await terms(f);
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const payAt = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.buyer).checkout(offer, [], sig);
      await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(100), USD(100)]);
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(offer), FEE_BPS, []);
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(id, f.merchant.address, f.buyer.address, USD(100), payAt + offer.shipWithin);
      const receipt = await f.book.send(tx);
      expect(escrowEventNames(f, receipt, escrowAddr)).to.deep.equal(["OrderCreated", "OrderPaid"]);
      const s = await f.escrow.statusOf(id);
      expect(s.state).to.equal(OrderState.Paid);
      expect(s.feeBps).to.equal(FEE_BPS);
      expect(s.deadline).to.equal(payAt + offer.shipWithin);
      expect(s.refunded).to.equal(0n);
      // The offer names its buyer: no payer is written.
      expect(await f.escrow.payerOf(id)).to.equal(ethers.ZeroAddress);
      const view = f.book.get(id);
      expect(view.state).to.equal(OrderState.Paid);
      expect(view.escrowed).to.equal(USD(100));
      expect(view.deadline).to.equal(s.deadline);
    });

    it("returns the order id, orderIdOf(terms), whose EIP-712 digest the merchant signed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, {}, items);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      const id = await f.escrow.connect(f.buyer).checkout.staticCall(offer, items, sig);
      expect(id).to.equal(await f.escrow.orderIdOf(offer));
      expect(id).to.equal(await idOf(f.escrow, offer, items));
      // The id is the terms' EIP-712 struct hash; the merchant signed its digest in the escrow's domain.
      expect(id).to.equal(ethers.TypedDataEncoder.hashStruct("Order", ORDER_TYPES, orderMessage(offer, items)));
      expect(ethers.recoverAddress(await digestOf(f, id), sig)).to.equal(f.merchant.address);
      expect(await digestOf(f, id)).to.equal(offerDigest(await domainOf(f.escrow), offer, items));
    });

    it("creates and pays a native offer with line items and reserves the stock", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const items = [
        { skuId: f.skuA, quantity: 2n },
        { skuId: f.skuB, quantity: 3n },
      ];
      const offer = await terms(f, { token: ethers.ZeroAddress, amount: ONE_ETH }, items);
      const id = await idOf(f.escrow, offer, items);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      const tx = f.escrow.connect(f.buyer).checkout(offer, items, sig, { value: ONE_ETH });
      await expect(tx).to.changeEtherBalances([f.buyer, f.escrow], [-ONE_ETH, ONE_ETH]);
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(offer), FEE_BPS, itemTuples(items));
      await expect(tx)
        .to.emit(f.inventory, "TransferBatch")
        .withArgs(escrowAddr, f.merchant.address, escrowAddr, [f.skuA, f.skuB], [2n, 3n]);
      const receipt = await f.book.send(tx);
      expect(escrowEventNames(f, receipt, escrowAddr)).to.deep.equal(["OrderCreated", "OrderPaid"]);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
      expect(f.book.get(id).items).to.deep.equal(items);
      expect(await f.inventory.balanceOf(escrowAddr, f.skuB)).to.equal(3n);
    });

    it("lets anyone take an open offer (buyer zero) and makes them the buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { buyer: ethers.ZeroAddress });
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const payAt = BigInt(await time.latest()) + 3n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.otherBuyer).checkout(offer, [], sig);
      // OrderCreated names the buyer of the terms (none); OrderPaid names the payer.
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, ethers.ZeroAddress, termsTuple(offer), FEE_BPS, []);
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(id, f.merchant.address, f.otherBuyer.address, USD(100), payAt + offer.shipWithin);
      await f.book.send(tx);
      expect(await f.escrow.payerOf(id)).to.equal(f.otherBuyer.address);
      expect(f.book.get(id).buyer).to.equal(f.otherBuyer.address);
    });

    it("lets the named buyer take a bound offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { buyer: f.otherBuyer.address });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig));
      const id = await idOf(f.escrow, offer);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
      expect(f.book.get(id).buyer).to.equal(f.otherBuyer.address);
    });

    it("accepts an offer with line items signed by an operator the merchant approved", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 2n }];
      const offer = await terms(f, {}, items);
      const sig = await signOffer(f.escrow, f.operator, offer, items);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, items, sig));
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer, items))).state).to.equal(OrderState.Paid);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(98n);
    });

    it("accepts an offer of a contract merchant validated through ERC-1271", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { address } = await contractMerchant(f);
      const offer = await terms(f, { merchant: address });
      expect(offer.payee).to.equal(address);
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, address, f.buyer.address, termsTuple(offer), FEE_BPS, []);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
    });

    it("accepts a fee exactly equal to the signed maximum and fixes it in the status", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { maxFeeBps: FEE_BPS });
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      expect((await f.escrow.statusOf(id)).feeBps).to.equal(FEE_BPS);
      // A later fee change does not touch the order.
      await f.escrow.connect(f.admin).setFeeBps(700);
      expect((await f.escrow.statusOf(id)).feeBps).to.equal(FEE_BPS);
      expect(f.book.get(id).feeBps).to.equal(FEE_BPS);
    });

    it("takes an offer whose signed maximum covers a fee raised after signing, at the new fee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { maxFeeBps: 300n });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.escrow.connect(f.admin).setFeeBps(300);
      const id = await idOf(f.escrow, offer);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(offer), 300n, []);
      expect((await f.escrow.statusOf(id)).feeBps).to.equal(300n);
    });

    it("gives two merchants' offers with the same reference (salt) two ids; both can be taken", async function () {
      const f = await loadFixture(deployCreationFixture);
      const salt = newSalt();
      const mine = await terms(f, { salt });
      const theirs = await terms(f, { merchant: f.otherMerchant.address, salt });
      const mineId = await idOf(f.escrow, mine);
      const theirsId = await idOf(f.escrow, theirs);
      expect(mineId).to.not.equal(theirsId);
      await f.book.send(
        f.escrow.connect(f.buyer).checkout(theirs, [], await signOffer(f.escrow, f.otherMerchant, theirs, [])),
      );
      await f.book.send(f.escrow.connect(f.buyer).checkout(mine, [], await signOffer(f.escrow, f.merchant, mine, [])));
      expect((await f.escrow.statusOf(mineId)).state).to.equal(OrderState.Paid);
      expect((await f.escrow.statusOf(theirsId)).state).to.equal(OrderState.Paid);
    });

    it("takes an offer one second before its deadline", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await time.setNextBlockTimestamp(offer.paymentDeadline - 1n);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);
    });

    it("takes an offer exactly at its deadline second, as documented (the deadline is the last second it may be taken)", async function () {
      // IPaymentEscrow documents `paymentDeadline` as the time *after which* an offer can no longer be taken,
      // and pay() accepts payment exactly at it. checkout() rejects this second with InvalidDeadline.
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await time.setNextBlockTimestamp(offer.paymentDeadline);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);
    });
  });

  describe("reverts", function () {
    it("reverts with ZeroAddress for a zero merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { merchant: ethers.ZeroAddress, payee: f.merchant.address });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
    });

    it("reverts with ZeroAddress for a zero payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { payee: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
    });

    it("reverts with FeeAboveSignedMax when the fee exceeds the offer's maxFeeBps", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { maxFeeBps: FEE_BPS - 1n });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
        .withArgs(FEE_BPS, FEE_BPS - 1n);
    });

    it("reverts with FeeAboveSignedMax when the admin raised the fee above the maximum after the offer was signed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { maxFeeBps: FEE_BPS });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.escrow.connect(f.admin).setFeeBps(FEE_BPS + 1n);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
        .withArgs(FEE_BPS + 1n, FEE_BPS);
      expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    });

    it("reverts with LineItemsMismatch when the items differ from the signed commitment", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signedItems = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, {}, signedItems);
      const sig = await signOffer(f.escrow, f.merchant, offer, signedItems);
      for (const given of [[{ skuId: f.skuA, quantity: 50n }], [] as LineItem[]]) {
        await expect(f.escrow.connect(f.buyer).checkout(offer, given, sig))
          .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
          .withArgs(offer.itemsHash, itemsHash(given));
      }
    });

    it("refuses a merchant's signature in its malleable form (high s) and in 64-byte compact form: InvalidOfferSignature(id, 0)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, {});
      const id = await idOf(f.escrow, offer);
      const sig = ethers.Signature.from(await signOffer(f.escrow, f.merchant, offer, []));
      const N = BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
      // The same signature with s' = n - s and v flipped recovers the merchant too, but is not the canonical one.
      const highS = ethers.concat([
        sig.r,
        ethers.toBeHex(N - BigInt(sig.s), 32),
        ethers.toBeHex(sig.v === 27 ? 28 : 27, 1),
      ]);
      for (const bad of [highS, sig.compactSerialized]) {
        await expect(f.escrow.connect(f.buyer).checkout(offer, [], bad, { value: 0n }))
          .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
          .withArgs(id, ethers.ZeroAddress);
      }
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig.serialized));
    });

    it("reverts with InvalidOfferSignature for an offer signed with other items (commitment changed to match)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signedItems = [{ skuId: f.skuA, quantity: 1n }];
      const signed = await terms(f, {}, signedItems);
      const sig = await signOffer(f.escrow, f.merchant, signed, signedItems);
      const tamperedItems = [{ skuId: f.skuA, quantity: 50n }];
      const tampered = { ...signed, itemsHash: itemsHash(tamperedItems) };
      const recovered = await recoveredFor(f, tampered, sig);
      expect(recovered).to.not.equal(f.merchant.address);
      await expect(f.escrow.connect(f.buyer).checkout(tampered, tamperedItems, sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, tampered, tamperedItems), recovered);
    });

    it("reverts with InvalidOfferSignature for a tampered amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      const tampered = { ...signed, amount: USD(1) };
      const recovered = await recoveredFor(f, tampered, sig);
      expect(recovered).to.not.equal(f.merchant.address);
      await expect(f.escrow.connect(f.buyer).checkout(tampered, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, tampered), recovered);
    });

    it("reverts with InvalidOfferSignature for a front-runner redirecting the payee to itself", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      const tampered = { ...signed, payee: f.stranger.address };
      const recovered = await recoveredFor(f, tampered, sig);
      await expect(f.escrow.connect(f.buyer).checkout(tampered, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, tampered), recovered);
    });

    it("reverts with InvalidOfferSignature for a tampered maximum fee, deadline or buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f, { maxFeeBps: FEE_BPS });
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      for (const tampered of [
        { ...signed, maxFeeBps: 1_000n },
        { ...signed, paymentDeadline: signed.paymentDeadline + 3600n },
        { ...signed, buyer: ethers.ZeroAddress },
      ]) {
        await expect(f.escrow.connect(f.buyer).checkout(tampered, [], sig))
          .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
          .withArgs(await idOf(f.escrow, tampered), await recoveredFor(f, tampered, sig));
      }
    });

    it("reverts with InvalidOfferSignature naming an unapproved signer (a stranger)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.stranger, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, offer), f.stranger.address);
    });

    it("reverts with InvalidOfferSignature when a second merchant signed the offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, offer), f.otherMerchant.address);
    });

    it("reverts with InvalidOfferSignature when a second merchant presents the offer under its own name", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f, { buyer: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      const presented = { ...signed, merchant: f.otherMerchant.address };
      const recovered = await recoveredFor(f, presented, sig);
      await expect(f.escrow.connect(f.otherMerchant).checkout(presented, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, presented), recovered);
    });

    it("reverts with InvalidOfferSignature for a signature made in another domain (version, escrow, chain)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const id = await idOf(f.escrow, offer);
      const own = await domainOf(f.escrow);
      for (const domain of [
        { ...own, version: "1" },
        { ...own, verifyingContract: f.stranger.address },
        { ...own, chainId: own.chainId + 1n },
      ]) {
        const sig = await f.merchant.signTypedData(domain, ORDER_TYPES, orderMessage(offer, []));
        await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
          .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
          .withArgs(id, ethers.recoverAddress(await digestOf(f, id), sig));
      }
    });

    it("reverts with InvalidOfferSignature for a signature over the bare order id instead of its digest", async function () {
      const f = await loadFixture(deployCreationFixture);
      // A raw key the merchant approves as its operator, so it can sign arbitrary hashes.
      const key = ethers.Wallet.createRandom();
      await f.escrow.connect(f.merchant).setOperatorApproval(key.address, true);
      const offer = await terms(f);
      const id = await idOf(f.escrow, offer);
      const bare = key.signingKey.sign(id).serialized;
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], bare))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(id, ethers.recoverAddress(await digestOf(f, id), bare));
      // The same key signing the digest is accepted.
      const good = key.signingKey.sign(await digestOf(f, id)).serialized;
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], good));
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
    });

    it("reverts with InvalidOfferSignature naming address zero for a malformed signature", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], "0x1234"))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, offer), ethers.ZeroAddress);
    });

    it("reverts with InvalidOfferSignature for an operator whose approval was revoked", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.operator, offer, []);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, offer), f.operator.address);
    });

    it("reverts with NotStockOperator for an operator-signed offer with items without the inventory approval", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, {}, items);
      const sig = await signOffer(f.escrow, f.operator, offer, items);
      await expect(f.escrow.connect(f.buyer).checkout(offer, items, sig))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      // The same operator's offer without items moves no stock and goes through.
      const plain = await terms(f);
      await f.book.send(
        f.escrow.connect(f.buyer).checkout(plain, [], await signOffer(f.escrow, f.operator, plain, [])),
      );
    });

    it("reverts with InvalidOfferSignature when a contract merchant's owner did not sign", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { address } = await contractMerchant(f);
      const offer = await terms(f, { merchant: address });
      const sig = await signOffer(f.escrow, f.stranger, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(await idOf(f.escrow, offer), f.stranger.address);
    });

    it("reverts with NotBuyer when a front-runner takes an offer naming another buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(await idOf(f.escrow, offer), f.otherBuyer.address);
      // The named buyer can still take it.
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
    });

    it("reverts with OrderAlreadyExists when the same offer is used twice", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { buyer: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      await expect(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(await idOf(f.escrow, offer));
    });

    it("reverts with OrderAlreadyExists for an offer whose terms the merchant already created as an order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.merchant).createOrder(offer, []));
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(await idOf(f.escrow, offer));
    });

    it("reverts with InvalidDeadline one second after the offer's deadline", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const late = offer.paymentDeadline + 1n;
      await time.setNextBlockTimestamp(late);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(offer.paymentDeadline, late);
    });

    it("reverts with InvalidDeadline for a deadline above the uint40 maximum", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { paymentDeadline: UINT40_MAX + 1n });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const now = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(now);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(UINT40_MAX + 1n, now);
    });

    it("reverts with ZeroAmount for an offer of zero", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { amount: 0n });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAmount",
      );
    });

    it("reverts with AmountTooLarge for an offer above 2^184 - 1", async function () {
      const f = await loadFixture(deployCreationFixture);
      const max = 2n ** 184n - 1n;
      const offer = await terms(f, { amount: max + 1n });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "AmountTooLarge")
        .withArgs(max + 1n, max);
    });

    it("reverts with TokenNotAllowed for an offer in a token that is not allowed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const usdAddr = await f.usd.getAddress();
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.escrow.connect(f.admin).setTokenAllowed(usdAddr, false);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(usdAddr);
    });

    it("reverts with WrongNativeAmount when a native offer is underpaid or overpaid", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      for (const value of [ONE_ETH / 2n, ONE_ETH + 1n, 0n]) {
        await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig, { value }))
          .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
          .withArgs(ONE_ETH, value);
      }
    });

    it("reverts with UnexpectedNativeValue when ETH is sent with an ERC-20 offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig, { value: 7n }))
        .to.be.revertedWithCustomError(f.escrow, "UnexpectedNativeValue")
        .withArgs(7n);
    });

    it("reverts with ERC1155InsufficientBalance from the inventory when stock is short", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1_000n }];
      const offer = await terms(f, {}, items);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      await expect(f.escrow.connect(f.buyer).checkout(offer, items, sig))
        .to.be.revertedWithCustomError(f.inventory, "ERC1155InsufficientBalance")
        .withArgs(f.merchant.address, 100n, 1_000n, f.skuA);
    });

    it("reverts with EnforcedPause while paused and leaves the offer usable", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.None);
      await f.escrow.connect(f.pauser).unpause();
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
    });
  });
  describe("payee", function () {
    it("takes an offer the merchant signed for another payee; the release pays that payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, { payee: f.stranger.address }, items);
      const id = await idOf(f.escrow, offer, items);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      await expect(f.escrow.connect(f.buyer).checkout(offer, items, sig))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(offer), FEE_BPS, itemTuples(items));
      await f.escrow.connect(f.merchant).ship(offer, ethers.ZeroHash);
      const fee = (offer.amount * FEE_BPS) / 10_000n;
      await expect(f.escrow.connect(f.buyer).confirmReceipt(offer, items)).to.changeTokenBalances(
        f.usd,
        [f.stranger, f.merchant, f.feeRecipient],
        [offer.amount - fee, 0n, fee],
      );
    });

    it("takes an offer an ERC-1271 contract merchant signed for another payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { address } = await contractMerchant(f);
      const offer = await terms(f, { merchant: address, payee: f.stranger.address });
      const id = await idOf(f.escrow, offer);
      const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, address, f.buyer.address, termsTuple(offer), FEE_BPS, []);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Paid);
    });

    it("reverts with PayeeNotAuthorized for an offer a stolen operator key signed naming itself or a stranger as payee; nothing moves", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 3n }];
      for (const payee of [f.operator.address, f.stranger.address]) {
        for (const list of [items, []]) {
          const offer = await terms(f, { payee }, list);
          const sig = await signOffer(f.escrow, f.operator, offer, list);
          const tx = f.escrow.connect(f.buyer).checkout(offer, list, sig);
          await expect(tx)
            .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
            .withArgs(f.merchant.address, payee, f.operator.address);
          expect((await f.escrow.statusOf(await idOf(f.escrow, offer, list))).state).to.equal(OrderState.None);
        }
      }
      expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
      // The same operator's offer paying the merchant goes through.
      const fine = await terms(f, {}, items);
      await f.book.send(
        f.escrow.connect(f.buyer).checkout(fine, items, await signOffer(f.escrow, f.operator, fine, items)),
      );
      expect((await f.escrow.statusOf(await idOf(f.escrow, fine, items))).state).to.equal(OrderState.Paid);
    });

    it("reverts with PayeeNotAuthorized for an offer an operator of a contract merchant signed for another payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const wallet = await (await ethers.getContractFactory("HostileReceiver")).deploy();
      const address = await wallet.getAddress();
      const approve = f.escrow.interface.encodeFunctionData("setOperatorApproval", [f.operator.address, true]);
      await wallet.execute(await f.escrow.getAddress(), 0n, approve);
      const offer = await terms(f, { merchant: address, payee: f.operator.address });
      const sig = await signOffer(f.escrow, f.operator, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(address, f.operator.address, f.operator.address);
    });

    it("reverts with InvalidPayee for an offer paying the escrow or the inventory, whoever signed it", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { address } = await contractMerchant(f);
      for (const payee of [await f.escrow.getAddress(), await f.inventory.getAddress()]) {
        for (const [merchant, signer] of [
          [f.merchant.address, f.merchant],
          [f.merchant.address, f.operator],
          [address, f.otherMerchant],
        ] as const) {
          const offer = await terms(f, { merchant, payee });
          const sig = await signOffer(f.escrow, signer, offer, []);
          await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
            .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
            .withArgs(payee);
        }
      }
    });
  });
});
