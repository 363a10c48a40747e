import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import { FEE_BPS, OrderState, USD, itemsHash, signOffer, terms } from "../helpers/fixtures";
import { toRecord } from "../../sdk/orderRecord";
import { deployCreationFixture, itemTuples, type CreationFixture } from "../helpers/creation";

const ONE_ETH = ethers.parseEther("1");

/** Names of the escrow's own events in a receipt, in emission order. */
function escrowEventNames(f: CreationFixture, receipt: ContractTransactionReceipt, escrowAddr: string): string[] {
  return receipt.logs.filter((l) => l.address === escrowAddr).map((l) => f.escrow.interface.parseLog(l)?.name ?? "?");
}

describe("PaymentEscrow.checkout", function () {
  describe("success", function () {
    it("creates and pays an ERC-20 offer without line items: OrderCreated then OrderPaid, state Paid", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const payAt = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(payAt);
      const tx = f.escrow.connect(f.buyer).checkout(offer, [], sig);
      await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(100), USD(100)]);
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(
          offer.orderId,
          f.merchant.address,
          f.buyer.address,
          await f.usd.getAddress(),
          USD(100),
          FEE_BPS,
          offer.paymentDeadline,
          offer.shipWithin,
          offer.protectionPeriod,
          [],
        );
      await expect(tx)
        .to.emit(f.escrow, "OrderPaid")
        .withArgs(offer.orderId, f.merchant.address, f.buyer.address, USD(100), payAt + BigInt(offer.shipWithin));
      const receipt = await f.book.send(tx);
      expect(escrowEventNames(f, receipt, escrowAddr)).to.deep.equal(["OrderCreated", "OrderPaid"]);
      const rec = f.book.get(offer.orderId as string);
      expect(rec.state).to.equal(OrderState.Paid);
      expect(rec.buyer).to.equal(f.buyer.address);
      expect(rec.deadline).to.equal(payAt + BigInt(offer.shipWithin));
      expect(await f.escrow.isCurrent(offer.orderId, rec)).to.equal(true);
    });

    it("creates and pays a native offer with line items and reserves the stock", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const items = [
        { skuId: f.skuA, quantity: 2n },
        { skuId: f.skuB, quantity: 3n },
      ];
      const offer = await terms(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      const tx = f.escrow.connect(f.buyer).checkout(offer, items, sig, { value: ONE_ETH });
      await expect(tx).to.changeEtherBalances([f.buyer, f.escrow], [-ONE_ETH, ONE_ETH]);
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(
          offer.orderId,
          f.merchant.address,
          f.buyer.address,
          ethers.ZeroAddress,
          ONE_ETH,
          FEE_BPS,
          offer.paymentDeadline,
          offer.shipWithin,
          offer.protectionPeriod,
          itemTuples(items),
        );
      await expect(tx)
        .to.emit(f.inventory, "TransferBatch")
        .withArgs(escrowAddr, f.merchant.address, escrowAddr, [f.skuA, f.skuB], [2n, 3n]);
      const receipt = await f.book.send(tx);
      expect(escrowEventNames(f, receipt, escrowAddr)).to.deep.equal(["OrderCreated", "OrderPaid"]);
      const rec = f.book.get(offer.orderId as string);
      expect(rec.state).to.equal(OrderState.Paid);
      expect(rec.itemsHash).to.equal(itemsHash(items));
      expect(await f.inventory.balanceOf(escrowAddr, f.skuB)).to.equal(3n);
    });

    it("returns the Paid record it stores", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      const returned = toRecord(await f.escrow.connect(f.buyer).checkout.staticCall(offer, items, sig));
      expect(returned.state).to.equal(OrderState.Paid);
      expect(returned.buyer).to.equal(f.buyer.address);
      expect(returned.itemsHash).to.equal(itemsHash(items));
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, items, sig));
      const rec = f.book.get(offer.orderId as string);
      expect(await f.escrow.orderHash(offer.orderId)).to.equal(await f.escrow.hashOrder(rec));
    });

    it("lets anyone take an open offer and makes them the buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { buyer: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig));
      expect(f.book.get(offer.orderId as string).buyer).to.equal(f.otherBuyer.address);
    });

    it("accepts an offer signed by an operator the merchant approved", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.operator, offer, []);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      expect(f.book.get(offer.orderId as string).state).to.equal(OrderState.Paid);
    });

    it("accepts an offer of a contract merchant validated through ERC-1271", async function () {
      const f = await loadFixture(deployCreationFixture);
      const wallet = await (await ethers.getContractFactory("ERC1271Merchant")).deploy(f.otherMerchant.address);
      const offer = await terms(f, { merchant: await wallet.getAddress() });
      const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      const rec = f.book.get(offer.orderId as string);
      expect(rec.merchant).to.equal(await wallet.getAddress());
      expect(rec.state).to.equal(OrderState.Paid);
    });
  });

  describe("reverts", function () {
    it("reverts with InvalidOfferSignature naming an unapproved signer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.stranger, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, f.stranger.address);
    });

    it("reverts with InvalidOfferSignature when another merchant signed the offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.otherMerchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, f.otherMerchant.address);
    });

    it("reverts with InvalidOfferSignature when the offer is presented under another merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      const presented = { ...signed, merchant: f.otherMerchant.address };
      const recovered = ethers.recoverAddress(await f.escrow.offerDigest(presented, []), sig);
      await expect(f.escrow.connect(f.buyer).checkout(presented, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(signed.orderId, recovered);
    });

    it("reverts with InvalidOfferSignature for a tampered amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const signed = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, signed, []);
      const tampered = { ...signed, amount: USD(1) };
      const recovered = ethers.recoverAddress(await f.escrow.offerDigest(tampered, []), sig);
      expect(recovered).to.not.equal(f.merchant.address);
      await expect(f.escrow.connect(f.buyer).checkout(tampered, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(signed.orderId, recovered);
    });

    it("reverts with InvalidOfferSignature for tampered line items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const signedItems = [{ skuId: f.skuA, quantity: 1n }];
      const sig = await signOffer(f.escrow, f.merchant, offer, signedItems);
      const tamperedItems = [{ skuId: f.skuA, quantity: 50n }];
      const recovered = ethers.recoverAddress(await f.escrow.offerDigest(offer, tamperedItems), sig);
      await expect(f.escrow.connect(f.buyer).checkout(offer, tamperedItems, sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, recovered);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "InvalidOfferSignature",
      );
    });

    it("reverts with InvalidOfferSignature naming address zero for a malformed signature", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], "0x1234"))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, ethers.ZeroAddress);
    });

    it("reverts with InvalidOfferSignature for an operator whose approval was revoked", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.operator, offer, []);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, f.operator.address);
    });

    it("reverts with InvalidOfferSignature when a contract merchant's owner did not sign", async function () {
      const f = await loadFixture(deployCreationFixture);
      const wallet = await (await ethers.getContractFactory("ERC1271Merchant")).deploy(f.otherMerchant.address);
      const offer = await terms(f, { merchant: await wallet.getAddress() });
      const sig = await signOffer(f.escrow, f.stranger, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offer.orderId, f.stranger.address);
    });

    it("reverts with NotBuyer when an offer naming a buyer is taken by someone else", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(offer.orderId, f.otherBuyer.address);
    });

    it("reverts with OrderAlreadyExists when the same offer is used twice", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { buyer: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, [], sig));
      await expect(f.escrow.connect(f.otherBuyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(offer.orderId);
    });

    it("reverts with InvalidDeadline for an expired offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const late = BigInt(offer.paymentDeadline) + 1n;
      await time.setNextBlockTimestamp(late);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(offer.paymentDeadline, late);
    });

    it("reverts with WrongNativeAmount when a native offer is underpaid", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f, { token: ethers.ZeroAddress, amount: ONE_ETH });
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig, { value: ONE_ETH / 2n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongNativeAmount")
        .withArgs(ONE_ETH, ONE_ETH / 2n);
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
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, items);
      await expect(f.escrow.connect(f.buyer).checkout(offer, items, sig))
        .to.be.revertedWithCustomError(f.inventory, "ERC1155InsufficientBalance")
        .withArgs(f.merchant.address, 100n, 1_000n, f.skuA);
    });

    it("reverts with EnforcedPause while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.buyer).checkout(offer, [], sig)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
    });
  });
});
