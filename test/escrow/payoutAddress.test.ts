import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BlocklistStablecoin } from "../../typechain-types";
import {
  OrderBook,
  OrderState,
  USD,
  deployEscrowFixture,
  idOf,
  signOffer,
  terms,
  type EscrowFixture,
} from "../helpers/fixtures";
import { signForwardRequest } from "../helpers/metaTx";
import { AMOUNT, EVIDENCE, TRACKING, feeOf, itemsOf, statusOf } from "../helpers/settlement";

interface PayoutFixture extends EscrowFixture {
  /** The merchant's own payout wallet (a cold wallet the relayer never holds the key of). */
  payout: HardhatEthersSigner;
}

/** The escrow fixture, with the merchant's payout wallet registered. */
async function registeredPayoutFixture(): Promise<PayoutFixture> {
  const f = await deployEscrowFixture();
  const [, , , , , , , , , , payout] = await ethers.getSigners();
  await f.escrow.connect(f.merchant).setPayoutAddress(payout.address);
  return { ...f, payout };
}

interface BlocklistPayeeFixture extends PayoutFixture {
  bUsd: BlocklistStablecoin;
}

/** As {@link registeredPayoutFixture}, plus a blocklist token the buyer holds and approved. */
async function blocklistPayeeFixture(): Promise<BlocklistPayeeFixture> {
  const f = await registeredPayoutFixture();
  const bUsd = await (await ethers.getContractFactory("BlocklistStablecoin")).deploy();
  await f.escrow.setTokenAllowed(await bUsd.getAddress(), true);
  await bUsd.mint(f.buyer.address, USD(1_000));
  await bUsd.connect(f.buyer).approve(await f.escrow.getAddress(), ethers.MaxUint256);
  return { ...f, bUsd };
}

describe("PaymentEscrow.setPayoutAddress (merchant payout registry)", function () {
  describe("registry", function () {
    it("reads the merchant itself while nothing is registered", async function () {
      const f = await loadFixture(deployEscrowFixture);
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.merchant.address);
      expect(await f.escrow.payoutAddressOf(f.stranger.address)).to.equal(f.stranger.address);
    });

    it("registers the caller's payout address with PayoutAddressSet, and address(0) resets it to the merchant", async function () {
      const f = await loadFixture(deployEscrowFixture);
      await expect(f.escrow.connect(f.merchant).setPayoutAddress(f.otherBuyer.address))
        .to.emit(f.escrow, "PayoutAddressSet")
        .withArgs(f.merchant.address, f.otherBuyer.address);
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.otherBuyer.address);
      await expect(f.escrow.connect(f.merchant).setPayoutAddress(ethers.ZeroAddress))
        .to.emit(f.escrow, "PayoutAddressSet")
        .withArgs(f.merchant.address, f.merchant.address);
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.merchant.address);
    });

    it("reverts with InvalidPayee for the escrow or its inventory (money there would be owed to nobody)", async function () {
      const f = await loadFixture(deployEscrowFixture);
      for (const target of [await f.escrow.getAddress(), await f.inventory.getAddress()]) {
        await expect(f.escrow.connect(f.merchant).setPayoutAddress(target))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(target);
      }
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.merchant.address);
    });

    it("accepts the merchant's meta-transaction relayed through the trusted forwarder (the relayer pays the gas)", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const request = await signForwardRequest(f.forwarder, f.merchant, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("setPayoutAddress", [f.otherBuyer.address]),
      });
      await expect(f.forwarder.connect(f.operator).execute(request))
        .to.emit(f.escrow, "PayoutAddressSet")
        .withArgs(f.merchant.address, f.otherBuyer.address);
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.otherBuyer.address);
      expect(await f.escrow.payoutAddressOf(f.operator.address)).to.equal(f.operator.address);
    });

    it("lets a stranger, a second merchant or the operator (also in its batch) change only their own entry, never the merchant's", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      for (const caller of [f.stranger, f.otherMerchant, f.operator]) {
        await expect(f.escrow.connect(caller).setPayoutAddress(caller.address))
          .to.emit(f.escrow, "PayoutAddressSet")
          .withArgs(caller.address, caller.address);
      }
      const call = f.escrow.interface.encodeFunctionData("setPayoutAddress", [f.operator.address]);
      await expect(f.escrow.connect(f.operator).batch([call], true))
        .to.emit(f.escrow, "PayoutAddressSet")
        .withArgs(f.operator.address, f.operator.address);
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.payout.address);
    });

    it("refuses a forged meta-transaction claiming the merchant as sender (ERC2771ForwarderInvalidSigner)", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const request = await signForwardRequest(f.forwarder, f.operator, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("setPayoutAddress", [f.operator.address]),
        from: f.merchant.address,
      });
      await expect(f.forwarder.connect(f.operator).execute(request)).to.be.revertedWithCustomError(
        f.forwarder,
        "ERC2771ForwarderInvalidSigner",
      );
      expect(await f.escrow.payoutAddressOf(f.merchant.address)).to.equal(f.payout.address);
    });
  });

  describe("operator-created terms", function () {
    it("lets the operator name the registered payout address as payee, and the release pays it", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const items = itemsOf(f);
      const t = await terms(f, { payee: f.payout.address, amount: AMOUNT }, items);
      await f.escrow.connect(f.operator).createOrder(t, items);
      await f.escrow.connect(f.buyer).pay(t);
      await f.escrow.connect(f.operator).ship(t, TRACKING);
      const share = AMOUNT - feeOf(AMOUNT);
      await expect(f.escrow.connect(f.buyer).confirmReceipt(t, items)).to.changeTokenBalances(
        f.usd,
        [f.payout, f.merchant, f.feeRecipient],
        [share, 0n, feeOf(AMOUNT)],
      );
    });

    it("still lets the operator name the merchant itself as payee while a payout address is registered", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const t = await terms(f);
      await f.escrow.connect(f.operator).createOrder(t, []);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Created);
    });

    it("reverts with PayeeNotAuthorized when a stolen operator key names itself, a stranger or another merchant's payout", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      await f.escrow.connect(f.otherMerchant).setPayoutAddress(f.stranger.address);
      for (const payee of [f.operator.address, f.stranger.address, f.otherMerchant.address]) {
        const t = await terms(f, { payee });
        await expect(f.escrow.connect(f.operator).createOrder(t, []))
          .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
          .withArgs(f.merchant.address, payee, f.operator.address);
      }
    });

    it("reverts with PayeeNotAuthorized when a stolen operator key registers itself as its own payout and names itself", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      await f.escrow.connect(f.operator).setPayoutAddress(f.operator.address);
      const t = await terms(f, { payee: f.operator.address });
      await expect(f.escrow.connect(f.operator).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    });

    it("accepts an operator-signed offer paying the registered payout address; refuses it once the merchant moved its payout before the buyer took it", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const offer = await terms(f, { payee: f.payout.address, buyer: ethers.ZeroAddress });
      const sig = await signOffer(f.escrow, f.operator, offer, []);
      const late = await terms(f, { payee: f.payout.address, buyer: ethers.ZeroAddress });
      const lateSig = await signOffer(f.escrow, f.operator, late, []);
      await f.escrow.connect(f.buyer).checkout(offer, [], sig);
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);

      await f.escrow.connect(f.merchant).setPayoutAddress(f.otherBuyer.address);
      await expect(f.escrow.connect(f.buyer).checkout(late, [], lateSig))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, f.payout.address, f.operator.address);
    });

    it("keeps the payee of orders created before the merchant changed or reset its payout address", async function () {
      const f = await loadFixture(registeredPayoutFixture);
      const book = new OrderBook(f.escrow);
      const t = await terms(f, { payee: f.payout.address, amount: AMOUNT });
      await book.send(f.escrow.connect(f.operator).createOrder(t, []));
      await f.escrow.connect(f.merchant).setPayoutAddress(f.otherBuyer.address);
      await f.escrow.connect(f.buyer).pay(t);
      await f.escrow.connect(f.operator).ship(t, TRACKING);
      await f.escrow.connect(f.merchant).setPayoutAddress(ethers.ZeroAddress);
      await expect(f.escrow.connect(f.operator).createOrder(await terms(f, { payee: f.payout.address }), []))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, f.payout.address, f.operator.address);
      const view = await statusOf(f.escrow, await idOf(f.escrow, t));
      await time.increaseTo(view.deadline + 1n);
      const share = AMOUNT - feeOf(AMOUNT);
      await expect(f.escrow.connect(f.stranger).autoRelease(t, [])).to.changeTokenBalances(
        f.usd,
        [f.payout, f.otherBuyer, f.merchant],
        [share, 0n, 0n],
      );
    });
  });

  describe("a payee the token refuses", function () {
    it("credits a blocklisted payout address at release instead of blocking the settlement", async function () {
      const f = await loadFixture(blocklistPayeeFixture);
      const token = await f.bUsd.getAddress();
      const t = await terms(f, { payee: f.payout.address, token, amount: AMOUNT });
      await f.escrow.connect(f.operator).createOrder(t, []);
      await f.escrow.connect(f.buyer).pay(t);
      await f.escrow.connect(f.operator).ship(t, TRACKING);
      await f.bUsd.setBlocked(f.payout.address, true);
      const share = AMOUNT - feeOf(AMOUNT);
      const tx = f.escrow.connect(f.buyer).confirmReceipt(t, []);
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.payout.address, token, share);
      await expect(tx).to.changeTokenBalances(f.bUsd, [f.feeRecipient, f.escrow], [feeOf(AMOUNT), -feeOf(AMOUNT)]);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Completed);
      expect(await f.escrow.credited(f.payout.address, token)).to.equal(share);
      await f.bUsd.setBlocked(f.payout.address, false);
      await expect(f.escrow.connect(f.payout).withdraw(token, f.payout.address)).to.changeTokenBalance(
        f.bUsd,
        f.payout,
        share,
      );
    });

    it("credits a blocklisted payout address its share of a dispute split; the buyer is paid", async function () {
      const f = await loadFixture(blocklistPayeeFixture);
      const token = await f.bUsd.getAddress();
      const t = await terms(f, { payee: f.payout.address, token, amount: AMOUNT });
      await f.escrow.connect(f.operator).createOrder(t, []);
      await f.escrow.connect(f.buyer).pay(t);
      await f.escrow.connect(f.buyer).dispute(t, EVIDENCE);
      await f.bUsd.setBlocked(f.payout.address, true);
      const buyerTotal = AMOUNT / 2n;
      const payeeShare = AMOUNT - buyerTotal;
      const fee = feeOf(payeeShare);
      const tx = f.escrow.connect(f.arbiter).resolveDispute(t, buyerTotal, []);
      await expect(tx)
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.payout.address, token, payeeShare - fee);
      await expect(tx).to.changeTokenBalances(f.bUsd, [f.buyer, f.feeRecipient], [buyerTotal, fee]);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Resolved);
      expect(await f.escrow.credited(f.payout.address, token)).to.equal(payeeShare - fee);
    });
  });
});
