import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OFFER_TYPES, OrderState, USD, itemsHash, terms } from "../helpers/fixtures";
import { hashItems as sdkHashItems } from "../../sdk/orderRecord";
import {
  ZERO_HASH,
  createOrder,
  createPaidOrder,
  deployCreationFixture,
  type CreationFixture,
} from "../helpers/creation";

const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

/** Ships a paid order and has the buyer confirm it; returns the completion receipt. */
async function shipAndConfirm(f: CreationFixture, id: string) {
  await f.book.send(f.escrow.connect(f.merchant).ship(id, f.book.get(id), ethers.id("tracking")));
  return f.escrow.connect(f.buyer).confirmReceipt(id, f.book.get(id), []);
}

describe("PaymentEscrow administration", function () {
  describe("constructor", function () {
    it("grants the admin role, allows native currency, creates its inventory and emits its settings", async function () {
      const [admin, forwarder, feeRecipient] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("PaymentEscrow");
      const escrow = await factory.deploy(admin.address, forwarder.address, feeRecipient.address, 250);
      const tx = escrow.deploymentTransaction()!;
      await expect(tx).to.emit(escrow, "TokenAllowed").withArgs(ethers.ZeroAddress, true);
      await expect(tx).to.emit(escrow, "FeeRecipientUpdated").withArgs(feeRecipient.address);
      await expect(tx).to.emit(escrow, "FeeUpdated").withArgs(250n);
      expect(await escrow.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await escrow.isTokenAllowed(ethers.ZeroAddress)).to.equal(true);
      expect(await escrow.feeBps()).to.equal(250n);
      expect(await escrow.feeRecipient()).to.equal(feeRecipient.address);
      expect(await escrow.isTrustedForwarder(forwarder.address)).to.equal(true);
      const inventory = await ethers.getContractAt("InventoryToken", await escrow.inventory());
      expect(await inventory.escrow()).to.equal(await escrow.getAddress());
    });

    it("reverts with ZeroAddress for a zero admin", async function () {
      const [, forwarder, feeRecipient] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(
        factory.deploy(ethers.ZeroAddress, forwarder.address, feeRecipient.address, 100),
      ).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("reverts with ZeroAddress for a zero fee recipient", async function () {
      const [admin, forwarder] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(
        factory.deploy(admin.address, forwarder.address, ethers.ZeroAddress, 100),
      ).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("reverts with FeeTooHigh above 1,000 bps", async function () {
      const [admin, forwarder, feeRecipient] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(factory.deploy(admin.address, forwarder.address, feeRecipient.address, 1_001))
        .to.be.revertedWithCustomError(factory, "FeeTooHigh")
        .withArgs(1_001n, 1_000n);
    });
  });

  describe("setTokenAllowed", function () {
    it("allows and disallows a token contract with TokenAllowed events", async function () {
      const f = await loadFixture(deployCreationFixture);
      const token = await (await ethers.getContractFactory("MockStablecoin")).deploy();
      const addr = await token.getAddress();
      expect(await f.escrow.isTokenAllowed(addr)).to.equal(false);
      await expect(f.escrow.connect(f.admin).setTokenAllowed(addr, true))
        .to.emit(f.escrow, "TokenAllowed")
        .withArgs(addr, true);
      expect(await f.escrow.isTokenAllowed(addr)).to.equal(true);
      await expect(f.escrow.connect(f.admin).setTokenAllowed(addr, false))
        .to.emit(f.escrow, "TokenAllowed")
        .withArgs(addr, false);
      expect(await f.escrow.isTokenAllowed(addr)).to.equal(false);
    });

    it("reverts with TokenNotAllowed when allowing an address without code", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.admin).setTokenAllowed(f.stranger.address, true))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(f.stranger.address);
    });

    it("can disallow native currency, which blocks new native orders", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).setTokenAllowed(ethers.ZeroAddress, false);
      const t = await terms(f, { token: ethers.ZeroAddress });
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(ethers.ZeroAddress);
    });

    it("lets an existing order be paid after its token was disallowed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await f.escrow.connect(f.admin).setTokenAllowed(await f.usd.getAddress(), false);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      expect(f.book.get(o.id).state).to.equal(OrderState.Paid);
    });

    it("reverts with AccessControlUnauthorizedAccount for a non-admin", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.operator).setTokenAllowed(await f.usd.getAddress(), false))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.operator.address, DEFAULT_ADMIN_ROLE);
    });
  });

  describe("setFeeBps", function () {
    it("sets the fee up to the 1,000 bps cap with FeeUpdated", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.admin).setFeeBps(1_000)).to.emit(f.escrow, "FeeUpdated").withArgs(1_000n);
      expect(await f.escrow.feeBps()).to.equal(1_000n);
      await expect(f.escrow.connect(f.admin).setFeeBps(0)).to.emit(f.escrow, "FeeUpdated").withArgs(0n);
      expect(await f.escrow.feeBps()).to.equal(0n);
    });

    it("reverts with FeeTooHigh above the cap", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.admin).setFeeBps(1_001))
        .to.be.revertedWithCustomError(f.escrow, "FeeTooHigh")
        .withArgs(1_001n, 1_000n);
    });

    it("reverts with AccessControlUnauthorizedAccount for a non-admin", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.merchant).setFeeBps(0))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.merchant.address, DEFAULT_ADMIN_ROLE);
    });

    it("applies to orders created afterwards only: an earlier order keeps its fee at release", async function () {
      const f = await loadFixture(deployCreationFixture);
      const before = await createPaidOrder(f);
      expect(before.record.feeBps).to.equal(FEE_BPS);
      await f.escrow.connect(f.admin).setFeeBps(500);
      const after = await createPaidOrder(f);
      expect(after.record.feeBps).to.equal(500n);

      await expect(shipAndConfirm(f, before.id))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(before.id, f.merchant.address, f.buyer.address, USD(99), USD(1), false);
      await expect(shipAndConfirm(f, after.id))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(after.id, f.merchant.address, f.buyer.address, USD(95), USD(5), false);
      expect(await f.usd.balanceOf(f.feeRecipient.address)).to.equal(USD(6));
      expect(await f.usd.balanceOf(f.merchant.address)).to.equal(USD(194));
    });
  });

  describe("setFeeRecipient", function () {
    it("sets the recipient with FeeRecipientUpdated, and later fees go there", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.admin).setFeeRecipient(f.stranger.address))
        .to.emit(f.escrow, "FeeRecipientUpdated")
        .withArgs(f.stranger.address);
      expect(await f.escrow.feeRecipient()).to.equal(f.stranger.address);
      const o = await createPaidOrder(f);
      await expect(shipAndConfirm(f, o.id)).to.changeTokenBalances(f.usd, [f.stranger, f.feeRecipient], [USD(1), 0n]);
    });

    it("reverts with ZeroAddress for a zero recipient", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.admin).setFeeRecipient(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
    });

    it("reverts with AccessControlUnauthorizedAccount for a non-admin", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.feeRecipient).setFeeRecipient(f.feeRecipient.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.feeRecipient.address, DEFAULT_ADMIN_ROLE);
    });
  });

  describe("pause and unpause", function () {
    it("pauses and unpauses with Paused/Unpaused events, by the pauser", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.pauser).pause()).to.emit(f.escrow, "Paused").withArgs(f.pauser.address);
      expect(await f.escrow.paused()).to.equal(true);
      await expect(f.escrow.connect(f.pauser).unpause()).to.emit(f.escrow, "Unpaused").withArgs(f.pauser.address);
      expect(await f.escrow.paused()).to.equal(false);
      await createOrder(f);
    });

    it("reverts with AccessControlUnauthorizedAccount for callers without PAUSER_ROLE, the admin included", async function () {
      const f = await loadFixture(deployCreationFixture);
      const role = await f.escrow.PAUSER_ROLE();
      for (const caller of [f.admin, f.operator, f.stranger]) {
        await expect(f.escrow.connect(caller).pause())
          .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, role);
      }
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.admin).unpause())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.admin.address, role);
    });

    it("reverts with EnforcedPause when pausing twice and ExpectedPause when unpausing while running", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.pauser).unpause()).to.be.revertedWithCustomError(f.escrow, "ExpectedPause");
      await f.escrow.connect(f.pauser).pause();
      await expect(f.escrow.connect(f.pauser).pause()).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
    });

    it("keeps shipping working while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await f.escrow.connect(f.pauser).pause();
      await f.book.send(f.escrow.connect(f.merchant).ship(o.id, o.record, ethers.id("tracking")));
      expect(f.book.get(o.id).state).to.equal(OrderState.Shipped);
    });
  });

  describe("setOperatorApproval", function () {
    it("approves and revokes an operator with OperatorApprovalSet", async function () {
      const f = await loadFixture(deployCreationFixture);
      expect(await f.escrow.isOperatorApproved(f.otherMerchant.address, f.operator.address)).to.equal(false);
      await expect(f.escrow.connect(f.otherMerchant).setOperatorApproval(f.operator.address, true))
        .to.emit(f.escrow, "OperatorApprovalSet")
        .withArgs(f.otherMerchant.address, f.operator.address, true);
      expect(await f.escrow.isOperatorApproved(f.otherMerchant.address, f.operator.address)).to.equal(true);
      await createOrder(f, { merchant: f.otherMerchant.address }, [], f.operator);
      await expect(f.escrow.connect(f.otherMerchant).setOperatorApproval(f.operator.address, false))
        .to.emit(f.escrow, "OperatorApprovalSet")
        .withArgs(f.otherMerchant.address, f.operator.address, false);
      expect(await f.escrow.isOperatorApproved(f.otherMerchant.address, f.operator.address)).to.equal(false);
    });

    it("reverts with ZeroAddress for a zero operator", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(
        f.escrow.connect(f.merchant).setOperatorApproval(ethers.ZeroAddress, true),
      ).to.be.revertedWithCustomError(f.escrow, "ZeroAddress");
    });

    it("scopes approval to the approving merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      expect(await f.escrow.isOperatorApproved(f.merchant.address, f.operator.address)).to.equal(true);
      expect(await f.escrow.isOperatorApproved(f.otherMerchant.address, f.operator.address)).to.equal(false);
      expect(await f.escrow.isOperatorApproved(f.merchant.address, f.stranger.address)).to.equal(false);
    });
  });

  describe("views", function () {
    it("reports the fee, fee recipient, allowed tokens and inventory", async function () {
      const f = await loadFixture(deployCreationFixture);
      expect(await f.escrow.feeBps()).to.equal(FEE_BPS);
      expect(await f.escrow.feeRecipient()).to.equal(f.feeRecipient.address);
      expect(await f.escrow.isTokenAllowed(await f.usd.getAddress())).to.equal(true);
      expect(await f.escrow.isTokenAllowed(ethers.ZeroAddress)).to.equal(true);
      expect(await f.escrow.isTokenAllowed(f.stranger.address)).to.equal(false);
      expect(await f.escrow.inventory()).to.equal(await f.inventory.getAddress());
      expect(await f.inventory.escrow()).to.equal(await f.escrow.getAddress());
    });

    it("reports credited payouts after a push transfer failed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const rft = await (await ethers.getContractFactory("ReturnsFalseToken")).deploy();
      const rftAddr = await rft.getAddress();
      await f.escrow.connect(f.admin).setTokenAllowed(rftAddr, true);
      await rft.mint(f.buyer.address, USD(100));
      await rft.connect(f.buyer).approve(await f.escrow.getAddress(), USD(100));
      const o = await createPaidOrder(f, { token: rftAddr });
      expect(await f.escrow.credited(f.merchant.address, rftAddr)).to.equal(0n);
      await rft.setFailing(true);
      await expect(shipAndConfirm(f, o.id))
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.merchant.address, rftAddr, USD(99));
      expect(await f.escrow.credited(f.merchant.address, rftAddr)).to.equal(USD(99));
      expect(await f.escrow.credited(f.feeRecipient.address, rftAddr)).to.equal(USD(1));
    });

    it("hashItems equals the sdk's hashItems, for empty and non-empty lists", async function () {
      const f = await loadFixture(deployCreationFixture);
      const lists = [
        [],
        [{ skuId: f.skuA, quantity: 1n }],
        [
          { skuId: f.skuB, quantity: 7n },
          { skuId: f.skuA, quantity: 2n ** 200n },
        ],
      ];
      for (const items of lists) {
        const onChain = await f.escrow.hashItems(items);
        expect(onChain).to.equal(sdkHashItems(items));
        expect(onChain).to.equal(itemsHash(items));
      }
    });

    it("isCurrent is true only for an order's current record", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      expect(await f.escrow.isCurrent(o.id, o.record)).to.equal(true);
      expect(await f.escrow.isCurrent(o.id, { ...o.record, amount: o.record.amount + 1n })).to.equal(false);
      expect(await f.escrow.isCurrent(ethers.id("unknown"), o.record)).to.equal(false);
      await f.book.send(f.escrow.connect(f.buyer).pay(o.id, o.record));
      expect(await f.escrow.isCurrent(o.id, o.record)).to.equal(false);
      expect(await f.escrow.isCurrent(o.id, f.book.get(o.id))).to.equal(true);
      expect(await f.escrow.orderHash(ethers.id("unknown"))).to.equal(ZERO_HASH);
    });

    it("offerDigest matches ethers' EIP-712 TypedDataEncoder hash", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      const items = [{ skuId: f.skuA, quantity: 3n }];
      const domain = {
        name: "orderchain PaymentEscrow",
        version: "1",
        chainId: (await ethers.provider.getNetwork()).chainId,
        verifyingContract: await f.escrow.getAddress(),
      };
      const types = OFFER_TYPES;
      for (const list of [items, []]) {
        const expected = ethers.TypedDataEncoder.hash(domain, types, { ...offer, itemsHash: sdkHashItems(list) });
        expect(await f.escrow.offerDigest(offer, list)).to.equal(expected);
      }
    });
  });
});
