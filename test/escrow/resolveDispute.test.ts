import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  EVIDENCE,
  NATIVE_AMOUNT,
  disputedNativeOrderFixture,
  disputedOrderFixture,
  feeOf,
  itemsOf,
  load,
  paidOrderFixture,
  placeOrder,
  shippedOrderFixture,
  type LoadedOrder,
  Party,
  Resolution,
  statusOf,
  stock,
} from "../helpers/settlement";
import { RACE_GAS, eventsOf, inOneBlock, outcomeOf } from "./sameBlock";

/** A payout wallet of the merchant that is not the merchant itself. */
const PAYEE = ethers.getAddress("0x00000000000000000000000000000000000fa1e5");

describe("PaymentEscrow.resolveDispute", function () {
  describe("split", function () {
    it("pays buyerTotal to the buyer, the rest minus the fee on it to the payee, the fee to the fee recipient", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      const buyerAmount = 23_456_789n;
      const payeeShare = AMOUNT - buyerAmount;
      const fee = feeOf(payeeShare);
      expect(fee).to.equal(1_000_000n);

      const tx = escrow.connect(arbiter).resolveDispute(t, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, buyerAmount, payeeShare - fee, fee, Resolution.Arbiter);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, payeeShare - fee, fee],
      );
    });

    it("pays the payee's share to the terms' payee, not the merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, book } = f;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Disputed", { terms: { amount: AMOUNT, payee: PAYEE }, items });
      const buyerAmount = 23_456_789n;
      const payeeShare = AMOUNT - buyerAmount;
      const fee = feeOf(payeeShare);

      const tx = escrow.connect(arbiter).resolveDispute(o.terms, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(o.orderId, merchant.address, buyer.address, buyerAmount, payeeShare - fee, fee, Resolution.Arbiter);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, PAYEE, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, payeeShare - fee, 0n, fee],
      );
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
    });

    it("charges the fee fixed in statusOf.feeBps, not the current fee", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, admin, arbiter, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(admin).setFeeBps(1_000);
      expect((await statusOf(escrow, orderId)).feeBps).to.equal(100n);

      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items)).to.changeTokenBalances(
        usd,
        [merchant, feeRecipient],
        [AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT)],
      );
    });

    it("gives the stock to the buyer when the payee gets a share", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, buyer, terms: t, items } = f;
      await escrow.connect(arbiter).resolveDispute(t, AMOUNT - 1n, items);

      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
    });

    it("gives the payee everything minus the fee, and the stock to the buyer, when the buyer gets nothing", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(arbiter).resolveDispute(t, 0n, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 0n, AMOUNT - fee, fee, Resolution.Arbiter);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, 0n, AMOUNT - fee, fee],
      );
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
    });

    it("refunds the buyer everything, charges no fee and returns the stock to the merchant when the buyer gets it all", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;

      const tx = escrow.connect(arbiter).resolveDispute(t, AMOUNT, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n, 0n, Resolution.Arbiter);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant, feeRecipient], [-AMOUNT, AMOUNT, 0n, 0n]);
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("splits a native order", async function () {
      const f = await load(disputedNativeOrderFixture);
      const { escrow, arbiter, merchant, buyer, feeRecipient, terms: t, items } = f;
      const buyerAmount = ethers.parseEther("0.4");
      const payeeShare = NATIVE_AMOUNT - buyerAmount;
      const fee = feeOf(payeeShare);

      await expect(escrow.connect(arbiter).resolveDispute(t, buyerAmount, items)).to.changeEtherBalances(
        [escrow, buyer, merchant, feeRecipient],
        [-NATIVE_AMOUNT, buyerAmount, payeeShare - fee, fee],
      );
    });

    it("counts a partial refund during the dispute towards buyerTotal: the buyer receives buyerTotal minus it", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items, book } = f;
      const refunded = 23_456_789n;
      await book.send(escrow.connect(merchant).refund(t, refunded, []));
      const buyerTotal = refunded + 50_000_000n;
      const payeeShare = AMOUNT - buyerTotal;
      const fee = feeOf(payeeShare);
      expect(payeeShare).to.equal(50_000_000n);

      const tx = escrow.connect(arbiter).resolveDispute(t, buyerTotal, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-(AMOUNT - refunded), 50_000_000n, payeeShare - fee, fee],
      );
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 50_000_000n, payeeShare - fee, fee, Resolution.Arbiter);
      await book.send(tx);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(f.view().state).to.equal(OrderState.Resolved);
      expect(f.view().escrowed).to.equal(0n);
    });

    it("a buyerTotal of the whole amount after a partial refund pays the buyer the rest and returns the stock to the merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);

      const tx = escrow.connect(arbiter).resolveDispute(t, AMOUNT, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-100_000_000n, 100_000_000n, 0n, 0n],
      );
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 100_000_000n, 0n, 0n, Resolution.Arbiter);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("a refund larger than the awarded buyerTotal gives the buyer nothing more and the payee the rest", async function () {
      const refunded = 23_456_789n;
      for (const buyerTotal of [0n, 20_000_000n, refunded]) {
        const f = await load(disputedOrderFixture);
        const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
        await escrow.connect(merchant).refund(t, refunded, []);
        const payeeShare = AMOUNT - refunded;
        const fee = feeOf(payeeShare);

        const tx = escrow.connect(arbiter).resolveDispute(t, buyerTotal, items);
        await expect(tx)
          .to.emit(escrow, "DisputeResolved")
          .withArgs(orderId, merchant.address, buyer.address, 0n, payeeShare - fee, fee, Resolution.Arbiter);
        await expect(tx).to.changeTokenBalances(
          usd,
          [escrow, buyer, merchant, feeRecipient],
          [-payeeShare, 0n, payeeShare - fee, fee],
        );
        expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
        expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      }
    });

    it("a griefing merchant's 1-wei partial refund placed ahead of the arbiter's award in the same block changes nobody's outcome", async function () {
      for (const buyerTotal of [AMOUNT, 40_000_000n]) {
        const award = (f: LoadedOrder) =>
          f.escrow.connect(f.arbiter).resolveDispute(f.terms, buyerTotal, f.items, { gasLimit: RACE_GAS });

        // Without the refund.
        const plain = await load(disputedOrderFixture);
        const expected = await outcomeOf(plain, async () => (await award(plain)).wait());

        // The merchant's refund of 1 wei goes into the same block, ahead of the arbiter's award.
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t } = f;
        let receipts: ContractTransactionReceipt[] = [];
        const raced = await outcomeOf(f, async () => {
          receipts = await inOneBlock([
            () => escrow.connect(merchant).refund(t, 1n, [], { gasLimit: RACE_GAS }),
            () => award(f),
          ]);
        });
        const [refundLog] = await eventsOf(escrow, receipts[0], "OrderRefunded");
        expect(refundLog.args.amount).to.equal(1n);
        expect(refundLog.args.remaining).to.equal(AMOUNT - 1n);
        const [resolved] = await eventsOf(escrow, receipts[1], "DisputeResolved");
        expect(resolved.args.buyer).to.equal(buyer.address);
        expect(resolved.args.buyerAmount).to.equal(buyerTotal - 1n);
        expect(resolved.args.resolution).to.equal(Resolution.Arbiter);
        expect((await statusOf(escrow, orderId)).refunded).to.equal(1n);

        expect(raced).to.deep.equal(expected);
        const payeeShare = AMOUNT - buyerTotal;
        expect(expected).to.deep.equal({
          buyer: buyerTotal,
          payee: payeeShare - feeOf(payeeShare),
          feeRecipient: feeOf(payeeShare),
          escrow: -AMOUNT,
          buyerStock: payeeShare === 0n ? [0n, 0n] : [2n, 1n],
          merchantStock: payeeShare === 0n ? [100n, 100n] : [98n, 99n],
          state: OrderState.Resolved,
        });
      }
    });

    it("resolves a dispute opened after shipping", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, arbiter, buyer, orderId, terms: t, items } = f;
      await escrow.connect(buyer).dispute(t, EVIDENCE);

      await escrow.connect(arbiter).resolveDispute(t, 1n, items);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
    });

    it("sets the status to Resolved, deadline, fee and refunded unchanged", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, orderId, terms: t, items, book } = f;
      await book.send(escrow.connect(merchant).refund(t, 5n, []));
      const before = await statusOf(escrow, orderId);
      await book.send(escrow.connect(arbiter).resolveDispute(t, 1n, items));

      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Resolved });
      expect(f.view().state).to.equal(OrderState.Resolved);
      expect(f.view().escrowed).to.equal(0n);
    });

    it("clears a pending settlement proposal", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, buyer, merchant, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, 10n);

      await escrow.connect(arbiter).resolveDispute(t, 20n, items);
      const p = await escrow.proposalOf(orderId);
      expect([p.by, p.buyerTotal]).to.deep.equal([Party.None, 0n]);
      await expect(escrow.connect(merchant).acceptSettlement(t, 10n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("lets a newly granted arbiter resolve", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, admin, stranger, orderId, terms: t, items } = f;
      await escrow.connect(admin).grantRole(await escrow.ARBITER_ROLE(), stranger.address);

      await escrow.connect(stranger).resolveDispute(t, 0n, items);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, pauser, arbiter, buyer, terms: t, items } = f;
      await escrow.connect(pauser).pause();

      await expect(escrow.connect(arbiter).resolveDispute(t, 7n, items)).to.changeTokenBalance(usd, buyer, 7n);
    });

    it("works after the dispute period when nobody applied the default", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, merchant, buyer, orderId, terms: t, items } = f;
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);

      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          0n,
          AMOUNT - feeOf(AMOUNT),
          feeOf(AMOUNT),
          Resolution.Arbiter,
        );
    });
  });

  describe("merchant refund during a dispute", function () {
    it("lets the merchant refund in full: Refunded, stock back, and nothing left to resolve", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, merchant, arbiter, buyer, orderId, terms: t, items } = f;

      await expect(escrow.connect(merchant).refund(t, AMOUNT, items)).to.changeTokenBalance(usd, buyer, AMOUNT);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);

      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with SplitExceedsAmount one unit above the amount; exactly the amount passes", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, buyer, orderId, terms: t, items } = f;

      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsAmount")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
      await expect(escrow.connect(arbiter).resolveDispute(t, ethers.MaxUint256, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsAmount")
        .withArgs(orderId, ethers.MaxUint256, AMOUNT);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);

      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT, items))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, f.merchant.address, buyer.address, AMOUNT, 0n, 0n, Resolution.Arbiter);
    });

    it("bounds buyerTotal by the amount, not by what is escrowed, after a partial refund", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, arbiter, buyer, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);

      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsAmount")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT, items))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 100_000_000n, 0n, 0n, Resolution.Arbiter);
    });

    it("reverts with NotArbiter for the admin, the merchant, the operator, the buyer and a stranger", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, admin, merchant, operator, buyer, stranger, orderId, terms: t, items } = f;

      for (const caller of [admin, merchant, operator, buyer, stranger]) {
        await expect(escrow.connect(caller).resolveDispute(t, 0n, items))
          .to.be.revertedWithCustomError(escrow, "NotArbiter")
          .withArgs(caller.address);
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });

    it("reverts with NotArbiter for an arbiter whose role was revoked", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, admin, arbiter, terms: t, items } = f;
      await escrow.connect(admin).revokeRole(await escrow.ARBITER_ROLE(), arbiter.address);

      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items))
        .to.be.revertedWithCustomError(escrow, "NotArbiter")
        .withArgs(arbiter.address);
    });

    it("reverts with InvalidState for a paid, a shipped and a resolved order", async function () {
      const paid = await load(paidOrderFixture);
      await expect(paid.escrow.connect(paid.arbiter).resolveDispute(paid.terms, 0n, paid.items))
        .to.be.revertedWithCustomError(paid.escrow, "InvalidState")
        .withArgs(paid.orderId, OrderState.Paid);

      const shipped = await load(shippedOrderFixture);
      await expect(shipped.escrow.connect(shipped.arbiter).resolveDispute(shipped.terms, 0n, shipped.items))
        .to.be.revertedWithCustomError(shipped.escrow, "InvalidState")
        .withArgs(shipped.orderId, OrderState.Shipped);

      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, terms: t, items } = f;
      await escrow.connect(arbiter).resolveDispute(t, 0n, items);
      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("reverts with LineItemsMismatch when the items are missing or wrong", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, terms: t, items, skuA } = f;
      const wrong = [{ skuId: skuA, quantity: 1n }, items[1]];

      for (const given of [[], wrong]) {
        await expect(escrow.connect(arbiter).resolveDispute(t, 0n, given))
          .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });

    it("reverts with OrderNotFound for terms with a raised amount", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, terms: t, items } = f;
      const forged = { ...t, amount: AMOUNT * 2n };

      await expect(escrow.connect(arbiter).resolveDispute(forged, AMOUNT * 2n, items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(arbiter).resolveDispute(unknown, 0n, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
