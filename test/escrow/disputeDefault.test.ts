import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
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
  proposalOf,
  stock,
} from "../helpers/settlement";

const DISPUTE_PERIOD = 14n * 24n * 3600n;
/** Moves the clock so the next transaction lands one second after the order's defaultAfter; returns defaultAfter. */
async function pastDefaultAfter(f: LoadedOrder, orderId: string = f.orderId): Promise<bigint> {
  const defaultAfter = (await f.escrow.statusOf(orderId)).deadline;
  await time.setNextBlockTimestamp(defaultAfter + 1n);
  return defaultAfter;
}

/** A payout wallet of the merchant that is not the merchant itself. */
const PAYEE = ethers.getAddress("0x00000000000000000000000000000000000fa1e5");

describe("PaymentEscrow.settleExpiredDispute", function () {
  describe("dispute period", function () {
    it("reverts with DisputePeriodActive right after the dispute was opened", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      const defaultAfter = (await statusOf(escrow, orderId)).deadline;
      const ts = BigInt(await time.latest()) + 1n;
      expect(defaultAfter).to.equal(ts - 1n + DISPUTE_PERIOD);
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "DisputePeriodActive")
        .withArgs(orderId, defaultAfter, ts);
    });

    it("reverts with DisputePeriodActive at exactly defaultAfter", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items } = f;
      const defaultAfter = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(defaultAfter);

      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "DisputePeriodActive")
        .withArgs(orderId, defaultAfter, defaultAfter);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });

    it("counts the period from the dispute, not from shipment: a dispute at the end of protection defaults 14 days later", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, buyer, stranger, orderId, terms: t, items } = f;
      const releaseAfter = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(releaseAfter);
      await escrow.connect(buyer).dispute(t, EVIDENCE);
      const defaultAfter = releaseAfter + DISPUTE_PERIOD;
      expect((await statusOf(escrow, orderId)).deadline).to.equal(defaultAfter);

      await time.setNextBlockTimestamp(defaultAfter);
      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "DisputePeriodActive")
        .withArgs(orderId, defaultAfter, defaultAfter);
      await time.setNextBlockTimestamp(defaultAfter + 1n);
      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, t.merchant, buyer.address, AMOUNT, 0n, 0n, Resolution.Default);
    });
  });

  describe("default outcome", function () {
    it("one second after defaultAfter a stranger refunds the buyer everything and returns the stock to the merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, stranger, merchant, buyer, feeRecipient, orderId, terms: t, items, book } = f;
      const before = await statusOf(escrow, orderId);
      await pastDefaultAfter(f);

      const tx = escrow.connect(stranger).settleExpiredDispute(t, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n, 0n, Resolution.Default);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient, stranger],
        [-AMOUNT, AMOUNT, 0n, 0n, 0n],
      );
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      await book.send(tx);

      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Resolved });
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
      expect(f.view().state).to.equal(OrderState.Resolved);
    });

    it("after partial refunds refunds the buyer the remainder", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, stranger, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 3_456_789n, []);
      await escrow.connect(merchant).refund(t, 20_000_000n, []);
      const remainder = 100_000_000n;
      await pastDefaultAfter(f);

      const tx = escrow.connect(stranger).settleExpiredDispute(t, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, remainder, 0n, 0n, Resolution.Default);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-remainder, remainder, 0n, 0n],
      );
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Resolved);
      expect(s.refunded).to.equal(23_456_789n);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("pays the payee nothing when the payee is another wallet", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, stranger, merchant, buyer, book } = f;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Disputed", { terms: { amount: AMOUNT, payee: PAYEE }, items });
      await pastDefaultAfter(f, o.orderId);

      await expect(escrow.connect(stranger).settleExpiredDispute(o.terms, items)).to.changeTokenBalances(
        usd,
        [buyer, PAYEE, merchant],
        [AMOUNT, 0n, 0n],
      );
    });

    it("refunds a native order", async function () {
      const f = await load(disputedNativeOrderFixture);
      const { escrow, stranger, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await pastDefaultAfter(f);

      const tx = escrow.connect(stranger).settleExpiredDispute(t, items);
      await expect(tx).to.changeEtherBalances(
        [escrow, buyer, merchant, feeRecipient],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT, 0n, 0n],
      );
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, NATIVE_AMOUNT, 0n, 0n, Resolution.Default);
    });

    it("may be applied by anyone: the buyer, the merchant, the operator, the arbiter or a stranger", async function () {
      for (const who of ["buyer", "merchant", "operator", "arbiter", "stranger"] as const) {
        const f = await load(disputedOrderFixture);
        const { escrow, orderId, terms: t, items } = f;
        await pastDefaultAfter(f);

        await expect(escrow.connect(f[who]).settleExpiredDispute(t, items))
          .to.emit(escrow, "DisputeResolved")
          .withArgs(orderId, f.merchant.address, f.buyer.address, AMOUNT, 0n, 0n, Resolution.Default);
      }
    });

    it("clears a pending proposal", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, merchant, buyer, orderId, terms: t, items, book } = f;
      await book.send(escrow.connect(merchant).proposeSettlement(t, 1n));
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, 1n]);
      await pastDefaultAfter(f);

      await book.send(escrow.connect(stranger).settleExpiredDispute(t, items));
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
      expect(f.view().proposal).to.equal(undefined);
      await expect(escrow.connect(buyer).acceptSettlement(t, 1n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("works while the escrow is paused", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, pauser, stranger, buyer, orderId, terms: t, items } = f;
      await escrow.connect(pauser).pause();
      await pastDefaultAfter(f);

      await expect(escrow.connect(stranger).settleExpiredDispute(t, items)).to.changeTokenBalance(usd, buyer, AMOUNT);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
    });
  });

  describe("the arbiter and the two sides after the dispute period", function () {
    it("lets the arbiter still resolve after defaultAfter when nobody applied the default", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, stranger, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      const defaultAfter = (await statusOf(escrow, orderId)).deadline;
      await time.setNextBlockTimestamp(defaultAfter + 3600n);
      const buyerAmount = 23_456_789n;
      const fee = feeOf(AMOUNT - buyerAmount);

      const tx = escrow.connect(arbiter).resolveDispute(t, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          buyerAmount,
          AMOUNT - buyerAmount - fee,
          fee,
          Resolution.Arbiter,
        );
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, AMOUNT - buyerAmount - fee, fee],
      );
      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("the arbiter's resolution clears a pending proposal", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, buyer, merchant, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, 50_000_000n);
      await pastDefaultAfter(f);

      await escrow.connect(arbiter).resolveDispute(t, 0n, items);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
      await expect(escrow.connect(merchant).acceptSettlement(t, 50_000_000n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });

    it("once the default was applied, the arbiter can no longer resolve", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, stranger, orderId, terms: t, items } = f;
      await pastDefaultAfter(f);
      await escrow.connect(stranger).settleExpiredDispute(t, items);

      await expect(escrow.connect(arbiter).resolveDispute(t, 0n, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Resolved);
    });
  });

  describe("checks", function () {
    it("reverts with LineItemsMismatch for missing or wrong items", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, orderId, terms: t, items, skuB } = f;
      const wrong = [items[0], { skuId: skuB, quantity: 5n }];
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);

      for (const given of [[], wrong]) {
        await expect(escrow.connect(stranger).settleExpiredDispute(t, given))
          .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
    });

    it("reverts with InvalidState for a paid and a shipped order, however late", async function () {
      const paid = await load(paidOrderFixture);
      await time.increase(DISPUTE_PERIOD * 10n);
      await expect(paid.escrow.connect(paid.stranger).settleExpiredDispute(paid.terms, paid.items))
        .to.be.revertedWithCustomError(paid.escrow, "InvalidState")
        .withArgs(paid.orderId, OrderState.Paid);

      const shipped = await load(shippedOrderFixture);
      await time.increase(DISPUTE_PERIOD * 10n);
      await expect(shipped.escrow.connect(shipped.stranger).settleExpiredDispute(shipped.terms, shipped.items))
        .to.be.revertedWithCustomError(shipped.escrow, "InvalidState")
        .withArgs(shipped.orderId, OrderState.Shipped);
    });

    it("reverts with InvalidState after the merchant refunded in full during the dispute", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, stranger, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, AMOUNT, items);
      await time.increase(DISPUTE_PERIOD + 1n);

      await expect(escrow.connect(stranger).settleExpiredDispute(t, items))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Refunded);
    });

    it("reverts with OrderNotFound for terms with another payee and for terms never used", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, terms: t, items } = f;
      await time.increase(DISPUTE_PERIOD + 1n);
      const forged = { ...t, payee: stranger.address };
      const unknown = await terms(f);

      await expect(escrow.connect(stranger).settleExpiredDispute(forged, items))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
      await expect(escrow.connect(stranger).settleExpiredDispute(unknown, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
