import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { ADMIN_DELAY, FEE_BPS, ORDER_TYPES, OrderState, USD, itemsHash, terms } from "../helpers/fixtures";
import { NO_ITEMS_HASH, hashItems as sdkHashItems, orderMessage } from "../../sdk/orderRecord";
import { createOrder, createPaidOrder, deployCreationFixture, type CreationFixture } from "../helpers/creation";
import type { OrderTerms } from "../helpers/fixtures";

const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

/** Ships a paid order and has the buyer confirm it; returns the completion transaction. */
async function shipAndConfirm(f: CreationFixture, t: OrderTerms) {
  await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.id("tracking")));
  return f.escrow.connect(f.buyer).confirmReceipt(t, []);
}

/** The escrow's constructor arguments, from named signers, with overrides. */
async function deployArgs(
  over: Partial<{
    admin: string;
    delay: bigint;
    arbiter: string;
    forwarder: string;
    feeRecipient: string;
    feeBps: bigint;
  }> = {},
) {
  const [admin, arbiter, forwarder, feeRecipient] = await ethers.getSigners();
  const a = {
    admin: admin.address,
    delay: ADMIN_DELAY,
    arbiter: arbiter.address,
    forwarder: forwarder.address,
    feeRecipient: feeRecipient.address,
    feeBps: 250n,
    ...over,
  };
  return [a.admin, a.delay, a.arbiter, a.forwarder, a.feeRecipient, a.feeBps] as const;
}

describe("PaymentEscrow administration", function () {
  describe("constructor", function () {
    it("grants the admin and arbiter roles, allows native currency, creates its inventory and emits its settings", async function () {
      const [admin, arbiter, forwarder, feeRecipient] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("PaymentEscrow");
      const escrow = await factory.deploy(...(await deployArgs()));
      const tx = escrow.deploymentTransaction()!;
      await expect(tx).to.emit(escrow, "TokenAllowed").withArgs(ethers.ZeroAddress, true);
      await expect(tx).to.emit(escrow, "FeeRecipientUpdated").withArgs(feeRecipient.address);
      await expect(tx).to.emit(escrow, "FeeUpdated").withArgs(250n);
      await expect(tx)
        .to.emit(escrow, "RoleGranted")
        .withArgs(await escrow.ARBITER_ROLE(), arbiter.address, admin.address);
      expect(await escrow.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await escrow.defaultAdmin()).to.equal(admin.address);
      expect(await escrow.defaultAdminDelay()).to.equal(ADMIN_DELAY);
      expect(await escrow.hasRole(await escrow.ARBITER_ROLE(), arbiter.address)).to.equal(true);
      // The admin is not an arbiter by itself, and the arbiter is not an admin.
      expect(await escrow.hasRole(await escrow.ARBITER_ROLE(), admin.address)).to.equal(false);
      expect(await escrow.hasRole(DEFAULT_ADMIN_ROLE, arbiter.address)).to.equal(false);
      expect(await escrow.isTokenAllowed(ethers.ZeroAddress)).to.equal(true);
      expect(await escrow.feeBps()).to.equal(250n);
      expect(await escrow.feeRecipient()).to.equal(feeRecipient.address);
      expect(await escrow.isTrustedForwarder(forwarder.address)).to.equal(true);
      const inventory = await ethers.getContractAt("InventoryToken", await escrow.inventory());
      expect(await inventory.escrow()).to.equal(await escrow.getAddress());
    });

    it("the fixture's arbiter holds ARBITER_ROLE and can resolve disputes", async function () {
      const f = await loadFixture(deployCreationFixture);
      expect(await f.escrow.hasRole(await f.escrow.ARBITER_ROLE(), f.arbiter.address)).to.equal(true);
      const o = await createPaidOrder(f);
      await f.book.send(f.escrow.connect(f.buyer).dispute(o.terms, ethers.id("evidence")));
      await f.book.send(f.escrow.connect(f.arbiter).resolveDispute(o.terms, USD(100), []));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Resolved);
    });

    it("reverts with AccessControlInvalidDefaultAdmin for a zero admin", async function () {
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(factory.deploy(...(await deployArgs({ admin: ethers.ZeroAddress }))))
        .to.be.revertedWithCustomError(factory, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with ZeroAddress for a zero arbiter", async function () {
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(
        factory.deploy(...(await deployArgs({ arbiter: ethers.ZeroAddress }))),
      ).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("reverts with ZeroAddress for a zero fee recipient", async function () {
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(
        factory.deploy(...(await deployArgs({ feeRecipient: ethers.ZeroAddress }))),
      ).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("reverts with FeeTooHigh above 1,000 bps and accepts exactly 1,000", async function () {
      const factory = await ethers.getContractFactory("PaymentEscrow");
      await expect(factory.deploy(...(await deployArgs({ feeBps: 1_001n }))))
        .to.be.revertedWithCustomError(factory, "FeeTooHigh")
        .withArgs(1_001n, 1_000n);
      const escrow = await factory.deploy(...(await deployArgs({ feeBps: 1_000n })));
      expect(await escrow.feeBps()).to.equal(1_000n);
    });
  });

  describe("default admin rules", function () {
    it("grantRole(DEFAULT_ADMIN_ROLE) reverts with AccessControlEnforcedDefaultAdminRules", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(
        f.escrow.connect(f.admin).grantRole(DEFAULT_ADMIN_ROLE, f.stranger.address),
      ).to.be.revertedWithCustomError(f.escrow, "AccessControlEnforcedDefaultAdminRules");
      expect(await f.escrow.hasRole(DEFAULT_ADMIN_ROLE, f.stranger.address)).to.equal(false);
    });

    it("revokeRole(DEFAULT_ADMIN_ROLE) reverts with AccessControlEnforcedDefaultAdminRules", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(
        f.escrow.connect(f.admin).revokeRole(DEFAULT_ADMIN_ROLE, f.admin.address),
      ).to.be.revertedWithCustomError(f.escrow, "AccessControlEnforcedDefaultAdminRules");
      expect(await f.escrow.defaultAdmin()).to.equal(f.admin.address);
    });

    it("transfers the admin role in two steps: begin, then accept once the delay has passed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const beginAt = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(beginAt);
      const schedule = beginAt + ADMIN_DELAY;
      await expect(f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.stranger.address))
        .to.emit(f.escrow, "DefaultAdminTransferScheduled")
        .withArgs(f.stranger.address, schedule);
      const [pending, acceptSchedule] = await f.escrow.pendingDefaultAdmin();
      expect(pending).to.equal(f.stranger.address);
      expect(acceptSchedule).to.equal(schedule);
      // Still the old admin until accepted.
      expect(await f.escrow.defaultAdmin()).to.equal(f.admin.address);
      await f.escrow.connect(f.admin).setFeeBps(200);

      // Too early, including the schedule's own second.
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await time.setNextBlockTimestamp(schedule);
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);

      await time.setNextBlockTimestamp(schedule + 1n);
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.emit(f.escrow, "RoleRevoked")
        .withArgs(DEFAULT_ADMIN_ROLE, f.admin.address, f.stranger.address)
        .and.to.emit(f.escrow, "RoleGranted")
        .withArgs(DEFAULT_ADMIN_ROLE, f.stranger.address, f.stranger.address);
      expect(await f.escrow.defaultAdmin()).to.equal(f.stranger.address);
      expect(await f.escrow.hasRole(DEFAULT_ADMIN_ROLE, f.admin.address)).to.equal(false);
      const [afterPending, afterSchedule] = await f.escrow.pendingDefaultAdmin();
      expect(afterPending).to.equal(ethers.ZeroAddress);
      expect(afterSchedule).to.equal(0n);

      // The new admin administers; the old one no longer can.
      await expect(f.escrow.connect(f.stranger).setFeeBps(300)).to.emit(f.escrow, "FeeUpdated").withArgs(300n);
      await expect(f.escrow.connect(f.admin).setFeeBps(0))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.admin.address, DEFAULT_ADMIN_ROLE);
    });

    it("reverts with AccessControlInvalidDefaultAdmin when a stranger accepts a transfer meant for someone else", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.otherMerchant.address);
      await time.increase(ADMIN_DELAY + 1n);
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlInvalidDefaultAdmin")
        .withArgs(f.stranger.address);
      expect(await f.escrow.defaultAdmin()).to.equal(f.admin.address);
    });

    it("cancels a pending transfer: DefaultAdminTransferCanceled, and the candidate can no longer accept", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.stranger.address);
      await expect(f.escrow.connect(f.admin).cancelDefaultAdminTransfer()).to.emit(
        f.escrow,
        "DefaultAdminTransferCanceled",
      );
      const [pending, schedule] = await f.escrow.pendingDefaultAdmin();
      expect(pending).to.equal(ethers.ZeroAddress);
      expect(schedule).to.equal(0n);
      await time.increase(ADMIN_DELAY + 1n);
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlInvalidDefaultAdmin")
        .withArgs(f.stranger.address);
      expect(await f.escrow.defaultAdmin()).to.equal(f.admin.address);
    });

    it("a new begin replaces the pending candidate", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.stranger.address);
      await expect(f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.otherMerchant.address))
        .to.emit(f.escrow, "DefaultAdminTransferCanceled")
        .and.to.emit(f.escrow, "DefaultAdminTransferScheduled");
      await time.increase(ADMIN_DELAY + 1n);
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlInvalidDefaultAdmin")
        .withArgs(f.stranger.address);
      await f.escrow.connect(f.otherMerchant).acceptDefaultAdminTransfer();
      expect(await f.escrow.defaultAdmin()).to.equal(f.otherMerchant.address);
    });

    it("reverts with AccessControlUnauthorizedAccount when a non-admin begins or cancels a transfer", async function () {
      const f = await loadFixture(deployCreationFixture);
      await expect(f.escrow.connect(f.stranger).beginDefaultAdminTransfer(f.stranger.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, DEFAULT_ADMIN_ROLE);
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.stranger.address);
      await expect(f.escrow.connect(f.stranger).cancelDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, DEFAULT_ADMIN_ROLE);
    });

    it("the admin grants and revokes the other roles with grantRole/revokeRole; a non-admin cannot", async function () {
      const f = await loadFixture(deployCreationFixture);
      const arbiterRole = await f.escrow.ARBITER_ROLE();
      await expect(f.escrow.connect(f.admin).grantRole(arbiterRole, f.stranger.address))
        .to.emit(f.escrow, "RoleGranted")
        .withArgs(arbiterRole, f.stranger.address, f.admin.address);
      await expect(f.escrow.connect(f.admin).revokeRole(arbiterRole, f.arbiter.address))
        .to.emit(f.escrow, "RoleRevoked")
        .withArgs(arbiterRole, f.arbiter.address, f.admin.address);
      expect(await f.escrow.hasRole(arbiterRole, f.arbiter.address)).to.equal(false);
      await expect(f.escrow.connect(f.arbiter).grantRole(arbiterRole, f.arbiter.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.arbiter.address, DEFAULT_ADMIN_ROLE);
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
      // Disallowing an address without code is harmless and allowed.
      await expect(f.escrow.connect(f.admin).setTokenAllowed(f.stranger.address, false))
        .to.emit(f.escrow, "TokenAllowed")
        .withArgs(f.stranger.address, false);
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
      await f.book.send(f.escrow.connect(f.buyer).pay(o.terms));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
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
      expect(await f.escrow.feeBps()).to.equal(FEE_BPS);
    });

    it("reverts with AccessControlUnauthorizedAccount for a non-admin, the arbiter included", async function () {
      const f = await loadFixture(deployCreationFixture);
      for (const caller of [f.merchant, f.arbiter, f.pauser]) {
        await expect(f.escrow.connect(caller).setFeeBps(0))
          .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, DEFAULT_ADMIN_ROLE);
      }
    });

    it("applies to orders created afterwards only: an earlier order keeps its fee at release", async function () {
      const f = await loadFixture(deployCreationFixture);
      const before = await createPaidOrder(f);
      expect((await f.escrow.statusOf(before.id)).feeBps).to.equal(FEE_BPS);
      await f.escrow.connect(f.admin).setFeeBps(500);
      expect((await f.escrow.statusOf(before.id)).feeBps).to.equal(FEE_BPS);
      const after = await createPaidOrder(f);
      expect((await f.escrow.statusOf(after.id)).feeBps).to.equal(500n);

      await expect(shipAndConfirm(f, before.terms))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(before.id, f.merchant.address, f.buyer.address, USD(99), USD(1));
      await expect(shipAndConfirm(f, after.terms))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(after.id, f.merchant.address, f.buyer.address, USD(95), USD(5));
      expect(await f.usd.balanceOf(f.feeRecipient.address)).to.equal(USD(6));
      expect(await f.usd.balanceOf(f.merchant.address)).to.equal(USD(194));
    });

    it("a fee above a merchant's signed maximum blocks its new orders until the fee is lowered again", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).setFeeBps(300);
      const t = await terms(f, { maxFeeBps: 200n });
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
        .withArgs(300n, 200n);
      await f.escrow.connect(f.admin).setFeeBps(200);
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
    });
  });

  describe("setFeeRecipient", function () {
    it("sets the recipient with FeeRecipientUpdated, and later fees go there, for earlier orders too", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await expect(f.escrow.connect(f.admin).setFeeRecipient(f.stranger.address))
        .to.emit(f.escrow, "FeeRecipientUpdated")
        .withArgs(f.stranger.address);
      expect(await f.escrow.feeRecipient()).to.equal(f.stranger.address);
      await expect(shipAndConfirm(f, o.terms)).to.changeTokenBalances(
        f.usd,
        [f.stranger, f.feeRecipient],
        [USD(1), 0n],
      );
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
      for (const caller of [f.admin, f.operator, f.arbiter, f.stranger]) {
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

    it("keeps shipping and confirming working while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await f.escrow.connect(f.pauser).pause();
      await f.book.send(f.escrow.connect(f.merchant).ship(o.terms, ethers.id("tracking")));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Shipped);
      await f.book.send(f.escrow.connect(f.buyer).confirmReceipt(o.terms, []));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Completed);
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
    it("reports the fee, fee recipient, allowed tokens, inventory and constants", async function () {
      const f = await loadFixture(deployCreationFixture);
      expect(await f.escrow.feeBps()).to.equal(FEE_BPS);
      expect(await f.escrow.feeRecipient()).to.equal(f.feeRecipient.address);
      expect(await f.escrow.isTokenAllowed(await f.usd.getAddress())).to.equal(true);
      expect(await f.escrow.isTokenAllowed(ethers.ZeroAddress)).to.equal(true);
      expect(await f.escrow.isTokenAllowed(f.stranger.address)).to.equal(false);
      expect(await f.escrow.inventory()).to.equal(await f.inventory.getAddress());
      expect(await f.inventory.escrow()).to.equal(await f.escrow.getAddress());
      expect(await f.escrow.MAX_FEE_BPS()).to.equal(1_000n);
      expect(await f.escrow.MAX_LINE_ITEMS()).to.equal(64n);
      expect(await f.escrow.DISPUTE_PERIOD()).to.equal(14n * 24n * 3600n);
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
      await expect(shipAndConfirm(f, o.terms))
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.merchant.address, rftAddr, USD(99));
      expect(await f.escrow.credited(f.merchant.address, rftAddr)).to.equal(USD(99));
      expect(await f.escrow.credited(f.feeRecipient.address, rftAddr)).to.equal(USD(1));
    });

    it("the escrow's items commitment (named by LineItemsMismatch) equals the sdk's hashItems, for empty and non-empty lists", async function () {
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
        // Terms committing to other items: the escrow reverts naming the commitment it computed for `items`.
        const t = await terms(f, { itemsHash: ethers.id("other items") });
        await expect(f.escrow.connect(f.merchant).createOrder(t, items))
          .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, sdkHashItems(items));
        expect(itemsHash(items)).to.equal(sdkHashItems(items));
      }
      expect(sdkHashItems([])).to.equal(NO_ITEMS_HASH);
    });

    it("orderIdOf is the EIP-712 struct hash of the terms; offers are signed in the version 2 domain", async function () {
      const f = await loadFixture(deployCreationFixture);
      const domain = {
        name: "orderchain PaymentEscrow",
        version: "2",
        chainId: (await ethers.provider.getNetwork()).chainId,
        verifyingContract: await f.escrow.getAddress(),
      };
      const onChain = await f.escrow.eip712Domain();
      expect(onChain.name).to.equal(domain.name);
      expect(onChain.version).to.equal(domain.version);
      expect(onChain.chainId).to.equal(domain.chainId);
      expect(onChain.verifyingContract).to.equal(domain.verifyingContract);
      for (const list of [[{ skuId: f.skuA, quantity: 3n }], []]) {
        const t = await terms(f, {}, list);
        const id = await f.escrow.orderIdOf(t);
        expect(id).to.equal(ethers.TypedDataEncoder.hashStruct("Order", ORDER_TYPES, orderMessage(t, list)));
        // The digest a merchant signs wraps the id in this escrow's domain.
        const digest = ethers.keccak256(ethers.concat(["0x1901", ethers.TypedDataEncoder.hashDomain(domain), id]));
        expect(digest).to.equal(ethers.TypedDataEncoder.hash(domain, ORDER_TYPES, orderMessage(t, list)));
      }
    });

    it("statusOf, payerOf and proposalOf are all zero for an id never used", async function () {
      const f = await loadFixture(deployCreationFixture);
      const unknown = ethers.id("unknown");
      const s = await f.escrow.statusOf(unknown);
      expect(s.state).to.equal(OrderState.None);
      expect(s.feeBps).to.equal(0n);
      expect(s.deadline).to.equal(0n);
      expect(s.refunded).to.equal(0n);
      expect(await f.escrow.payerOf(unknown)).to.equal(ethers.ZeroAddress);
      const p = await f.escrow.proposalOf(unknown);
      expect(p.by).to.equal(0n);
      expect(p.buyerTotal).to.equal(0n);
    });
  });
});
