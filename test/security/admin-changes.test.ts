import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  ADMIN_DELAY,
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  OrderBook,
  OrderState,
  signOffer,
  signPermit,
  terms,
  USD,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";

const AMOUNT = USD(100);
const FEE = (AMOUNT * FEE_BPS) / 10_000n;
const EVIDENCE = ethers.id("evidence");

/**
 * Administrative changes while orders are open (a token taken off the allowlist, an operator de-authorised, a
 * pause, a new fee recipient, a new admin, a new arbiter) apply to what comes next and never strand the money
 * or the stock of an order already open.
 */
describe("security: admin and merchant changes while orders are open", function () {
  /** Five open orders of the merchant, created by its operator, one per open state. */
  async function openOrdersFixture() {
    const f = await deployEscrowFixture();
    const book = new OrderBook(f.escrow);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    const names = ["unpaid", "paid", "shipped", "disputed", "toCancelUnshipped"] as const;
    const o = {} as Record<(typeof names)[number], OrderTerms>;
    for (const name of names) {
      o[name] = await terms(f, { amount: AMOUNT }, items);
      await book.send(f.escrow.connect(f.operator).createOrder(o[name], items));
      if (name !== "unpaid") await book.send(f.escrow.connect(f.buyer).pay(o[name]));
    }
    await book.send(f.escrow.connect(f.operator).ship(o.shipped, ethers.ZeroHash));
    await book.send(f.escrow.connect(f.buyer).dispute(o.disputed, EVIDENCE));
    return { ...f, book, items, o, escrowAddress: await f.escrow.getAddress() };
  }

  type F = Awaited<ReturnType<typeof openOrdersFixture>>;

  const stateOfId = async (escrow: EscrowFixture["escrow"], id: string) => (await escrow.statusOf(id)).state;

  const stateOf = async (f: F, t: OrderTerms) => (await f.escrow.statusOf(await idOf(f.escrow, t, f.items))).state;

  /**
   * Ends every open order of the fixture by its normal path; the escrow must then hold nothing. `seller` ships,
   * `settler` proposes the merchant's side of the dispute's settlement.
   */
  async function settleAll(f: F, seller = f.merchant, settler = seller) {
    await f.escrow.connect(f.buyer).pay(f.o.unpaid);
    await f.escrow.connect(seller).ship(f.o.unpaid, ethers.ZeroHash);
    await f.escrow.connect(f.buyer).confirmReceipt(f.o.unpaid, f.items);
    await f.escrow.connect(seller).ship(f.o.paid, ethers.ZeroHash);
    await f.escrow.connect(f.buyer).confirmReceipt(f.o.paid, f.items);
    await f.escrow.connect(settler).proposeSettlement(f.o.disputed, USD(60));
    await f.escrow.connect(f.buyer).acceptSettlement(f.o.disputed, USD(60), f.items);
    const shipBy = (await f.escrow.statusOf(await idOf(f.escrow, f.o.toCancelUnshipped, f.items))).deadline;
    const releaseAfter = (await f.escrow.statusOf(await idOf(f.escrow, f.o.shipped, f.items))).deadline;
    const later = shipBy > releaseAfter ? shipBy : releaseAfter;
    if (BigInt(await time.latest()) <= later) await time.increaseTo(later + 1n);
    await f.escrow.connect(f.stranger).autoRelease(f.o.shipped, f.items);
    await f.escrow.connect(f.buyer).cancelUnshipped(f.o.toCancelUnshipped, f.items);
    for (const [name, state] of [
      ["unpaid", OrderState.Completed],
      ["paid", OrderState.Completed],
      ["shipped", OrderState.Completed],
      ["disputed", OrderState.Resolved],
      ["toCancelUnshipped", OrderState.Refunded],
    ] as const) {
      expect(await stateOf(f, f.o[name]), name).to.equal(state);
    }
    expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
    expect(await f.inventory.balanceOf(f.escrowAddress, f.skuA)).to.equal(0n);
  }

  describe("a token taken off the allowlist", function () {
    it("refuses the merchant's new orders and a buyer's checkout in it with TokenNotAllowed; its open orders are still paid and settle", async function () {
      const f = await loadFixture(openOrdersFixture);
      const usd = await f.usd.getAddress();
      await expect(f.escrow.connect(f.admin).setTokenAllowed(usd, false))
        .to.emit(f.escrow, "TokenAllowed")
        .withArgs(usd, false);

      await expect(f.escrow.connect(f.merchant).createOrder(await terms(f, {}, f.items), f.items))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(usd);
      const offer = await terms(f, {}, f.items);
      const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
      await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(usd);

      // pay() does not look at the allowlist again: an order created while the token was allowed is still paid.
      await settleAll(f);
    });

    it("lets the open native orders settle after the admin disallowed native currency", async function () {
      const f = await loadFixture(openOrdersFixture);
      const t = await terms(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1") });
      await f.escrow.connect(f.merchant).createOrder(t, []);
      await f.escrow.connect(f.admin).setTokenAllowed(ethers.ZeroAddress, false);
      await f.escrow.connect(f.buyer).pay(t, { value: t.amount });
      await f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash);
      const fee = (t.amount * FEE_BPS) / 10_000n;
      await expect(f.escrow.connect(f.buyer).confirmReceipt(t, [])).to.changeEtherBalances(
        [f.merchant, f.feeRecipient, f.escrow],
        [t.amount - fee, fee, -t.amount],
      );
      await expect(f.escrow.connect(f.merchant).createOrder(await terms(f, { token: ethers.ZeroAddress }), []))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("an operator the merchant de-authorised mid-order", function () {
    it("reverts the de-authorised operator's ship, refund, revokeOffer and proposals (NotMerchantOrOperator, NotCounterparty); the merchant settles everything", async function () {
      const f = await loadFixture(openOrdersFixture);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      const paidId = await idOf(f.escrow, f.o.paid, f.items);
      const disputedId = await idOf(f.escrow, f.o.disputed, f.items);
      const unpaidId = await idOf(f.escrow, f.o.unpaid, f.items);

      await expect(f.escrow.connect(f.operator).ship(f.o.paid, ethers.ZeroHash))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.operator.address);
      await expect(f.escrow.connect(f.operator).refund(f.o.paid, 1n, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.operator.address);
      await expect(f.escrow.connect(f.operator).revokeOffer(await terms(f)))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.operator.address);
      await expect(f.escrow.connect(f.operator).cancel(f.o.unpaid, f.items))
        .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlineNotPassed")
        .withArgs(unpaidId, f.o.unpaid.paymentDeadline, (v: bigint) => v > 0n);
      await expect(f.escrow.connect(f.operator).proposeSettlement(f.o.disputed, 0n))
        .to.be.revertedWithCustomError(f.escrow, "NotCounterparty")
        .withArgs(disputedId, f.operator.address);
      await f.escrow.connect(f.buyer).proposeSettlement(f.o.disputed, USD(90));
      await expect(f.escrow.connect(f.operator).acceptSettlement(f.o.disputed, USD(90), f.items))
        .to.be.revertedWithCustomError(f.escrow, "NotCounterparty")
        .withArgs(disputedId, f.operator.address);
      // Nor through a batch, although it still holds the operator role.
      const call = f.escrow.interface.encodeFunctionData("ship", [f.o.paid, ethers.ZeroHash]);
      await expect(f.escrow.connect(f.operator).batch([call], true))
        .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
        .withArgs(
          0n,
          f.escrow.interface.encodeErrorResult("NotMerchantOrOperator", [f.merchant.address, f.operator.address]),
        );
      expect(await stateOf(f, f.o.paid)).to.equal(OrderState.Paid);
      expect((await f.escrow.statusOf(paidId)).refunded).to.equal(0n);

      await settleAll(f, f.merchant);
    });

    it("reverts a checkout of an offer the de-authorised operator signed before with InvalidOfferSignature", async function () {
      const f = await loadFixture(openOrdersFixture);
      const offer = await terms(f, { amount: AMOUNT }, f.items);
      const offerId = await idOf(f.escrow, offer, f.items);
      const signature = await signOffer(f.escrow, f.operator, offer, f.items);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
        .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
        .withArgs(offerId, f.operator.address);
      // Approved again, the same offer is good again: the merchant decides.
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, true);
      await f.book.send(f.escrow.connect(f.buyer).checkout(offer, f.items, signature));
      expect(await stateOf(f, offer)).to.equal(OrderState.Paid);
    });

    it("still delivers the stock of the operator's open orders after the merchant withdrew its inventory approval; refuses its signed offers with items, its partial refunds and its settlements of the merchant's side (NotStockOperator)", async function () {
      const f = await loadFixture(openOrdersFixture);
      const offer = await terms(f, { amount: AMOUNT }, f.items);
      const signature = await signOffer(f.escrow, f.operator, offer, f.items);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      // Without stock authority it can no longer let the buyer keep the goods for less than the price.
      const paidId = await idOf(f.escrow, f.o.paid, f.items);
      const disputedId = await idOf(f.escrow, f.o.disputed, f.items);
      await expect(f.escrow.connect(f.operator).refund(f.o.paid, USD(10), []))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      await expect(f.escrow.connect(f.operator).proposeSettlement(f.o.disputed, USD(60)))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      await f.escrow.connect(f.buyer).proposeSettlement(f.o.disputed, USD(10));
      await expect(f.escrow.connect(f.operator).acceptSettlement(f.o.disputed, USD(10), f.items))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      expect((await f.escrow.statusOf(paidId)).refunded).to.equal(0n);
      expect(await stateOfId(f.escrow, disputedId)).to.equal(OrderState.Disputed);
      // Still an escrow operator: it ships, and the reserved stock reaches the buyer; the merchant settles the
      // dispute's side itself.
      await settleAll(f, f.operator, f.merchant);
      // One unit each from the two confirmed, the released and the settled order.
      expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(4n);
    });
  });

  describe("a pause while orders are open", function () {
    it("reverts new orders, payments and checkouts with EnforcedPause, while a stranger, the buyer, the merchant and the arbiter settle every open order", async function () {
      const f = await loadFixture(openOrdersFixture);
      await f.escrow.connect(f.pauser).pause();
      const offer = await terms(f, {}, f.items);
      const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
      const permit = await signPermit(f.usd, f.buyer, f.escrowAddress, AMOUNT, BigInt(await time.latest()) + 600n);
      await expect(f.escrow.connect(f.merchant).createOrder(offer, f.items)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      await expect(f.escrow.connect(f.buyer).pay(f.o.unpaid)).to.be.revertedWithCustomError(f.escrow, "EnforcedPause");
      await expect(f.escrow.connect(f.buyer).payWithPermit(f.o.unpaid, permit)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature)).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );

      // Revoking an offer, refunding, shipping, settling a dispute and every deadline-driven ending still work.
      await f.escrow.connect(f.merchant).revokeOffer(offer);
      expect(await stateOf(f, offer)).to.equal(OrderState.Revoked);
      await f.escrow.connect(f.merchant).refund(f.o.paid, USD(10), []);
      await f.escrow.connect(f.operator).ship(f.o.paid, ethers.ZeroHash);
      await f.escrow.connect(f.buyer).confirmReceipt(f.o.paid, f.items);
      await f.escrow.connect(f.buyer).dispute(f.o.shipped, EVIDENCE);
      await f.escrow.connect(f.buyer).proposeSettlement(f.o.shipped, USD(50));
      await f.escrow.connect(f.merchant).acceptSettlement(f.o.shipped, USD(50), f.items);
      await time.increase((await f.escrow.DISPUTE_PERIOD()) + 1n);
      await f.escrow.connect(f.stranger).settleExpiredDispute(f.o.disputed, f.items);
      await f.escrow.connect(f.buyer).cancelUnshipped(f.o.toCancelUnshipped, f.items);
      // The unpaid order's payment deadline passed during the pause: anyone may cancel it, paused or not.
      await f.escrow.connect(f.stranger).cancel(f.o.unpaid, f.items);
      for (const [name, state] of [
        ["unpaid", OrderState.Cancelled],
        ["paid", OrderState.Completed],
        ["shipped", OrderState.Resolved],
        ["disputed", OrderState.Resolved],
        ["toCancelUnshipped", OrderState.Refunded],
      ] as const) {
        expect(await stateOf(f, f.o[name]), name).to.equal(state);
      }
      expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
      expect(await f.inventory.balanceOf(f.escrowAddress, f.skuA)).to.equal(0n);
      expect(await f.escrow.paused()).to.equal(true);
    });
  });

  describe("a stablecoin issuer blocking a party while its order is open", function () {
    async function blocklistFixture() {
      const f = await deployEscrowFixture();
      // Deployed by the admin account, which therefore manages the token's blocklist (the issuer).
      const token = await (await ethers.getContractFactory("BlocklistStablecoin")).connect(f.admin).deploy();
      const escrowAddress = await f.escrow.getAddress();
      await f.escrow.connect(f.admin).setTokenAllowed(await token.getAddress(), true);
      await token.mint(f.buyer.address, USD(1_000));
      await token.connect(f.buyer).approve(escrowAddress, ethers.MaxUint256);
      const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, { token: await token.getAddress(), amount: AMOUNT }, items);
      await f.escrow.connect(f.merchant).createOrder(t, items);
      await f.escrow.connect(f.buyer).pay(t);
      return { ...f, token, escrowAddress, items, t, orderId: await idOf(f.escrow, t, items) };
    }

    it("completes the release when the issuer blocked the payee: its share stays credited while blocked, cannot be withdrawn to another wallet (CreditNotTransferable), and is withdrawn to itself once unblocked", async function () {
      const f = await loadFixture(blocklistFixture);
      const token = await f.token.getAddress();
      await f.token.setBlocked(f.merchant.address, true);
      await f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash);
      const tx = f.escrow.connect(f.buyer).confirmReceipt(f.t, f.items);
      await expect(tx)
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.merchant.address, token, AMOUNT - FEE);
      // The settlement of the others completes: the fee is paid, the stock reaches the buyer.
      await expect(tx).to.changeTokenBalances(f.token, [f.feeRecipient, f.escrow], [FEE, -FEE]);
      expect(await stateOfId(f.escrow, f.orderId)).to.equal(OrderState.Completed);
      expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(1n);

      // The blocked payee cannot route its credit around the issuer's block to a clean wallet.
      const wallet = ethers.Wallet.createRandom().address;
      await expect(f.escrow.connect(f.merchant).withdraw(token, wallet))
        .to.be.revertedWithCustomError(f.escrow, "CreditNotTransferable")
        .withArgs(f.merchant.address, wallet);
      // To itself, the token refuses it while the block lasts; the credit stays.
      await expect(f.escrow.connect(f.merchant).withdraw(token, f.merchant.address))
        .to.be.revertedWithCustomError(f.escrow, "WithdrawFailed")
        .withArgs(f.merchant.address, token, AMOUNT - FEE);
      expect(await f.escrow.credited(f.merchant.address, token)).to.equal(AMOUNT - FEE);
      expect(await f.token.balanceOf(wallet)).to.equal(0n);
      expect(await f.token.balanceOf(f.escrowAddress)).to.equal(AMOUNT - FEE);

      // Unblocked by the issuer, it withdraws its credit to itself.
      await f.token.setBlocked(f.merchant.address, false);
      const withdrawal = f.escrow.connect(f.merchant).withdraw(token, f.merchant.address);
      await expect(withdrawal)
        .to.emit(f.escrow, "PayoutWithdrawn")
        .withArgs(f.merchant.address, token, f.merchant.address, AMOUNT - FEE);
      await expect(withdrawal).to.changeTokenBalances(f.token, [f.merchant, f.escrow], [AMOUNT - FEE, -(AMOUNT - FEE)]);
      expect(await f.escrow.credited(f.merchant.address, token)).to.equal(0n);
      expect(await f.token.balanceOf(f.escrowAddress)).to.equal(0n);
    });

    it("completes a refund, the buyer's cancelUnshipped and the default when the issuer blocked the buyer: its money stays credited while blocked, cannot be withdrawn to another wallet (CreditNotTransferable), and is withdrawn to itself once unblocked", async function () {
      const f = await loadFixture(blocklistFixture);
      const token = await f.token.getAddress();
      // A second paid order of the same buyer, which the merchant never ships.
      const unshipped = await terms(f, { token, amount: USD(40) }, f.items);
      const unshippedId = await idOf(f.escrow, unshipped, f.items);
      await f.escrow.connect(f.merchant).createOrder(unshipped, f.items);
      await f.escrow.connect(f.buyer).pay(unshipped);

      await f.token.setBlocked(f.buyer.address, true);
      await expect(f.escrow.connect(f.merchant).refund(f.t, USD(10), []))
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.buyer.address, token, USD(10));
      await f.escrow.connect(f.buyer).dispute(f.t, EVIDENCE);
      await time.increaseTo((await f.escrow.statusOf(f.orderId)).deadline + 1n);
      await expect(f.escrow.connect(f.stranger).settleExpiredDispute(f.t, f.items))
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.buyer.address, token, AMOUNT - USD(10));
      expect(await stateOfId(f.escrow, f.orderId)).to.equal(OrderState.Resolved);
      await expect(f.escrow.connect(f.buyer).cancelUnshipped(unshipped, f.items))
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.buyer.address, token, USD(40));
      expect(await stateOfId(f.escrow, unshippedId)).to.equal(OrderState.Refunded);
      // Both orders' stock went back to the merchant.
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
      const total = AMOUNT + USD(40);
      expect(await f.escrow.credited(f.buyer.address, token)).to.equal(total);
      expect(await f.token.balanceOf(f.escrowAddress)).to.equal(total);

      // The blocked buyer cannot move the credit to a clean wallet; to itself the token refuses it meanwhile.
      const wallet = ethers.Wallet.createRandom().address;
      await expect(f.escrow.connect(f.buyer).withdraw(token, wallet))
        .to.be.revertedWithCustomError(f.escrow, "CreditNotTransferable")
        .withArgs(f.buyer.address, wallet);
      await expect(f.escrow.connect(f.buyer).withdraw(token, f.buyer.address))
        .to.be.revertedWithCustomError(f.escrow, "WithdrawFailed")
        .withArgs(f.buyer.address, token, total);
      expect(await f.escrow.credited(f.buyer.address, token)).to.equal(total);
      expect(await f.token.balanceOf(wallet)).to.equal(0n);

      await f.token.setBlocked(f.buyer.address, false);
      const before = await f.token.balanceOf(f.buyer.address);
      await expect(f.escrow.connect(f.buyer).withdraw(token, f.buyer.address))
        .to.emit(f.escrow, "PayoutWithdrawn")
        .withArgs(f.buyer.address, token, f.buyer.address, total);
      expect(await f.token.balanceOf(f.buyer.address)).to.equal(before + total);
      expect(await f.escrow.credited(f.buyer.address, token)).to.equal(0n);
      expect(await f.token.balanceOf(f.escrowAddress)).to.equal(0n);
    });

    it("completes every payout as a credit when the issuer blocked the escrow itself; withdrawals fail with WithdrawFailed and keep the credit until it is unblocked", async function () {
      const f = await loadFixture(blocklistFixture);
      const token = await f.token.getAddress();
      await f.token.setBlocked(f.escrowAddress, true);
      await f.escrow.connect(f.merchant).ship(f.t, ethers.ZeroHash);
      await f.escrow.connect(f.buyer).confirmReceipt(f.t, f.items);
      expect(await stateOfId(f.escrow, f.orderId)).to.equal(OrderState.Completed);
      expect(await f.escrow.credited(f.merchant.address, token)).to.equal(AMOUNT - FEE);
      expect(await f.escrow.credited(f.feeRecipient.address, token)).to.equal(FEE);
      // The stock still reached the buyer.
      expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(1n);
      await expect(f.escrow.connect(f.merchant).withdraw(token, f.merchant.address))
        .to.be.revertedWithCustomError(f.escrow, "WithdrawFailed")
        .withArgs(f.merchant.address, token, AMOUNT - FEE);
      expect(await f.escrow.credited(f.merchant.address, token)).to.equal(AMOUNT - FEE);
      await f.token.setBlocked(f.escrowAddress, false);
      await f.escrow.connect(f.merchant).withdraw(token, f.merchant.address);
      await f.escrow.connect(f.feeRecipient).withdraw(token, f.feeRecipient.address);
      expect(await f.token.balanceOf(f.escrowAddress)).to.equal(0n);
    });

    it("reverts a blocked buyer's payment with the token's AccountBlocked and lets a stranger cancel the order after its deadline", async function () {
      const f = await loadFixture(blocklistFixture);
      const items: LineItem[] = [{ skuId: f.skuB, quantity: 1n }];
      const t = await terms(f, { token: await f.token.getAddress(), amount: AMOUNT }, items);
      await f.escrow.connect(f.merchant).createOrder(t, items);
      await f.token.setBlocked(f.buyer.address, true);
      await expect(f.escrow.connect(f.buyer).pay(t))
        .to.be.revertedWithCustomError(f.token, "AccountBlocked")
        .withArgs(f.buyer.address);
      await time.increaseTo(t.paymentDeadline + 1n);
      await f.escrow.connect(f.stranger).cancel(t, items);
      expect(await stateOfId(f.escrow, await idOf(f.escrow, t, items))).to.equal(OrderState.Cancelled);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuB)).to.equal(100n);
    });
  });

  describe("a new fee recipient, admin or arbiter", function () {
    it("pays the fees of orders open before the admin changed the fee recipient to the new recipient", async function () {
      const f = await loadFixture(openOrdersFixture);
      const [newRecipient] = [f.otherBuyer];
      await f.escrow.connect(f.admin).setFeeRecipient(newRecipient.address);
      await f.escrow.connect(f.merchant).ship(f.o.paid, ethers.ZeroHash);
      await expect(f.escrow.connect(f.buyer).confirmReceipt(f.o.paid, f.items)).to.changeTokenBalances(
        f.usd,
        [f.feeRecipient, newRecipient, f.merchant],
        [0n, FEE, AMOUNT - FEE],
      );
      await expect(f.escrow.connect(f.stranger).setFeeRecipient(f.stranger.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, await f.escrow.DEFAULT_ADMIN_ROLE());
      await expect(f.escrow.connect(f.admin).setFeeRecipient(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
    });

    it("keeps open orders settling through a two-step admin handover; a stranger can neither take the role nor be granted it", async function () {
      const f = await loadFixture(openOrdersFixture);
      const newAdmin = (await ethers.getSigners())[10];
      const adminRole = await f.escrow.DEFAULT_ADMIN_ROLE();
      await expect(f.escrow.connect(f.admin).grantRole(adminRole, newAdmin.address)).to.be.revertedWithCustomError(
        f.escrow,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await expect(f.escrow.connect(f.stranger).beginDefaultAdminTransfer(f.stranger.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.stranger.address, adminRole);
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(newAdmin.address);
      const [, schedule] = await f.escrow.pendingDefaultAdmin();
      await expect(f.escrow.connect(f.stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlInvalidDefaultAdmin")
        .withArgs(f.stranger.address);
      await expect(f.escrow.connect(newAdmin).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(f.escrow, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);

      // During the delay the old admin still rules, and orders go on.
      await f.escrow.connect(f.merchant).ship(f.o.paid, ethers.ZeroHash);
      await time.increase(ADMIN_DELAY + 1n);
      await f.escrow.connect(newAdmin).acceptDefaultAdminTransfer();
      expect(await f.escrow.defaultAdmin()).to.equal(newAdmin.address);
      await expect(f.escrow.connect(f.admin).setFeeBps(0n))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.admin.address, adminRole);
      await f.escrow.connect(newAdmin).setFeeBps(0n);

      // The handover took longer than the payment and ship-by windows: every order still ends.
      await time.increaseTo((await f.escrow.statusOf(await idOf(f.escrow, f.o.shipped, f.items))).deadline + 1n);
      await f.escrow.connect(f.stranger).cancel(f.o.unpaid, f.items);
      await f.escrow.connect(f.stranger).autoRelease(f.o.shipped, f.items);
      await f.escrow.connect(f.buyer).confirmReceipt(f.o.paid, f.items);
      await f.escrow.connect(f.buyer).cancelUnshipped(f.o.toCancelUnshipped, f.items);
      await f.escrow.connect(f.arbiter).resolveDispute(f.o.disputed, USD(50), f.items);
      // Orders created before the fee cut keep their fee.
      expect(await f.usd.balanceOf(f.feeRecipient.address)).to.equal(2n * FEE + (USD(50) * FEE_BPS) / 10_000n);
      expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
    });

    it("reverts the replaced arbiter's resolution with NotArbiter and lets the new arbiter resolve the open dispute", async function () {
      const f = await loadFixture(openOrdersFixture);
      const role = await f.escrow.ARBITER_ROLE();
      const newArbiter = (await ethers.getSigners())[11];
      await f.escrow.connect(f.admin).grantRole(role, newArbiter.address);
      await f.escrow.connect(f.admin).revokeRole(role, f.arbiter.address);
      await expect(f.escrow.connect(f.arbiter).resolveDispute(f.o.disputed, 0n, f.items))
        .to.be.revertedWithCustomError(f.escrow, "NotArbiter")
        .withArgs(f.arbiter.address);
      await f.escrow.connect(newArbiter).resolveDispute(f.o.disputed, AMOUNT, f.items);
      expect(await stateOf(f, f.o.disputed)).to.equal(OrderState.Resolved);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(95n + 1n);
    });
  });
});
