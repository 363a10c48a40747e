import { expect } from "chai";
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  EVIDENCE,
  NATIVE_AMOUNT,
  createdOrderFixture,
  disputedOrderFixture,
  feeOf,
  load,
  paidNativeOrderFixture,
  paidOrderFixture,
  placeOrder,
  shippedNativeOrderFixture,
  shippedOrderFixture,
  type LoadedOrder,
  type OrderFixture,
  statusOf,
  stock,
} from "../helpers/settlement";

/**
 * Sends `first` and then `second` into the mempool and mines them in one block, `first` ahead of `second`:
 * `second` was signed before `first` changed the order, as a pending transaction is. Returns both receipts.
 */
async function mineTogether(
  first: () => Promise<ContractTransactionResponse>,
  second: () => Promise<ContractTransactionResponse>,
) {
  await network.provider.send("evm_setAutomine", [false]);
  try {
    const a = await first();
    const b = await second();
    await network.provider.send("evm_mine", []);
    const [ra, rb] = await Promise.all([a.wait(), b.wait()]);
    expect(ra!.blockNumber).to.equal(rb!.blockNumber);
    expect(ra!.index).to.be.lessThan(rb!.index);
    return [ra!, rb!] as const;
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
}

const ESCROWED_STATES: ReadonlyArray<[string, () => Promise<OrderFixture>, bigint]> = [
  ["Paid", paidOrderFixture, OrderState.Paid],
  ["Shipped", shippedOrderFixture, OrderState.Shipped],
  ["Disputed", disputedOrderFixture, OrderState.Disputed],
];

describe("PaymentEscrow.refund", function () {
  for (const [name, fixture, state] of ESCROWED_STATES) {
    describe(`in state ${name}`, function () {
      it("refunds part of the escrow: only statusOf.refunded changes, never state or deadline", async function () {
        const f = await load(fixture);
        const { escrow, usd, merchant, buyer, feeRecipient, orderId, terms: t } = f;
        const before = await statusOf(escrow, orderId);
        expect(before.state).to.equal(state);
        expect(before.refunded).to.equal(0n);
        const part = 23_456_789n;

        const tx = escrow.connect(merchant).refund(t, part, []);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, part, AMOUNT - part);
        await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant, feeRecipient], [-part, part, 0n, 0n]);

        expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, refunded: part });
        expect(await stock(f, await escrow.getAddress())).to.deep.equal([2n, 1n]);
      });

      it("refunds everything: state Refunded, deadline unchanged, the stock back to the merchant", async function () {
        const f = await load(fixture);
        const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
        const before = await statusOf(escrow, orderId);

        const tx = escrow.connect(merchant).refund(t, AMOUNT, items);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n);
        await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [-AMOUNT, AMOUNT, 0n]);

        expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Refunded });
        expect((await statusOf(escrow, orderId)).refunded).to.equal(0n);
        expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
        expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
        expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
      });
    });
  }

  describe("several refunds", function () {
    it("emits the remaining amount after each partial refund and adds up statusOf.refunded", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, book } = f;
      const before = await statusOf(escrow, orderId);
      let remaining = AMOUNT;
      for (const part of [1n, 456_788n, 3_000_000n]) {
        remaining -= part;
        const tx = escrow.connect(merchant).refund(t, part, []);
        await expect(tx)
          .to.emit(escrow, "OrderRefunded")
          .withArgs(orderId, merchant.address, buyer.address, part, remaining);
        await book.send(tx);
        expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, refunded: AMOUNT - remaining });
      }
      expect(remaining).to.equal(120_000_000n);
      expect(f.view().escrowed).to.equal(remaining);
      expect(f.view().refunded).to.equal(3_456_789n);
    });

    it("reverts with RefundExceedsEscrow against what is escrowed after earlier partial refunds", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);
      await escrow.connect(merchant).refund(t, 50_000_000n, []);
      const escrowed = 50_000_000n;

      // The bounds are one comparison (amount - 1 >= escrowed, unchecked): the largest amount must not wrap past it.
      for (const amount of [escrowed + 1n, AMOUNT, AMOUNT - 23_456_789n, ethers.MaxUint256]) {
        await expect(escrow.connect(merchant).refund(t, amount, items))
          .to.be.revertedWithCustomError(escrow, "RefundExceedsEscrow")
          .withArgs(orderId, amount, escrowed);
      }
      expect((await statusOf(escrow, orderId)).refunded).to.equal(AMOUNT - escrowed);
    });

    it("a full refund of the remainder ends the order and returns the stock; statusOf.refunded keeps the partial total", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 3_456_789n, []);
      await escrow.connect(merchant).refund(t, 20_000_000n, []);
      const before = await statusOf(escrow, orderId);
      const remainder = 100_000_000n;

      const tx = escrow.connect(merchant).refund(t, remainder, items);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, remainder, 0n);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [-remainder, remainder, 0n]);
      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Refunded });
      expect((await statusOf(escrow, orderId)).refunded).to.equal(23_456_789n);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
    });

    it("reverts with LineItemsMismatch on a full refund with wrong or missing items", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t, items, skuA } = f;
      await escrow.connect(merchant).refund(t, 456_789n, []);
      const wrong = [{ skuId: skuA, quantity: 20n }, items[1]];

      for (const given of [[], wrong, [items[1], items[0]]]) {
        await expect(escrow.connect(merchant).refund(t, AMOUNT - 456_789n, given))
          .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Paid);
    });

    it("ignores the items of a partial refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, skuA } = f;

      await expect(escrow.connect(merchant).refund(t, 10n, [{ skuId: skuA, quantity: 50n }]))
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, 10n, AMOUNT - 10n);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([2n, 1n]);
    });

    it("after several partial refunds, release pays the payee the rest minus the fee on it", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      const parts = [3_456_789n, 10_000_000n, 50_000_000n];
      for (const part of parts) await escrow.connect(merchant).refund(t, part, []);
      const rest = AMOUNT - parts.reduce((a, b) => a + b, 0n);
      expect(rest).to.equal(60_000_000n);

      const fee = feeOf(rest);
      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, merchant, feeRecipient, buyer],
        [-rest, rest - fee, fee, 0n],
      );
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, rest - fee, fee);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
    });
  });

  describe("pending calls of the buyer stay valid", function () {
    it("the buyer's dispute sent with the same terms still works after any number of partial refunds", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const buyersTerms = { ...t };
      for (let i = 1n; i <= 5n; i++) await escrow.connect(merchant).refund(t, i * 1_000_000n, []);
      const ts = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(ts);

      await expect(escrow.connect(buyer).dispute(buyersTerms, EVIDENCE))
        .to.emit(escrow, "OrderDisputed")
        .withArgs(orderId, merchant.address, buyer.address, EVIDENCE, ts + (await escrow.DISPUTE_PERIOD()));
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Disputed);
      expect(s.refunded).to.equal(15_000_000n);
    });

    it("a griefing merchant's partial refund mined just ahead of the buyer's pending dispute does not make it fail", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const [refundReceipt, disputeReceipt] = await mineTogether(
        () => escrow.connect(merchant).refund(t, 1n, [], { gasLimit: 500_000, maxPriorityFeePerGas: 2_000_000_000n }),
        () => escrow.connect(buyer).dispute(t, EVIDENCE, { gasLimit: 500_000, maxPriorityFeePerGas: 1_000_000_000n }),
      );
      expect(refundReceipt.status).to.equal(1);
      expect(disputeReceipt.status).to.equal(1);

      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Disputed);
      expect(s.refunded).to.equal(1n);
    });

    it("a griefing merchant's partial refunds mined just ahead of the buyer's pending cancelUnshipped do not make it fail", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, orderId, terms: t, items } = f;
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 1n);
      await escrow.connect(merchant).refund(t, 1_000n, []);
      const [, cancelReceipt] = await mineTogether(
        () =>
          escrow.connect(merchant).refund(t, 2_000n, [], { gasLimit: 500_000, maxPriorityFeePerGas: 2_000_000_000n }),
        () =>
          escrow.connect(buyer).cancelUnshipped(t, items, { gasLimit: 500_000, maxPriorityFeePerGas: 1_000_000_000n }),
      );
      expect(cancelReceipt.status).to.equal(1);

      const refunds = cancelReceipt.logs
        .map((l) => escrow.interface.parseLog(l))
        .filter((e) => e?.name === "OrderRefunded");
      expect(refunds.map((e) => [e!.args.amount, e!.args.remaining])).to.deep.equal([[AMOUNT - 3_000n, 0n]]);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
      expect((await statusOf(escrow, orderId)).refunded).to.equal(3_000n);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
    });
  });

  describe("caller and pause", function () {
    it("lets an approved operator refund", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, operator, merchant, buyer, orderId, terms: t } = f;

      await expect(escrow.connect(operator).refund(t, 5n, []))
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, 5n, AMOUNT - 5n);
      expect((await statusOf(escrow, orderId)).refunded).to.equal(5n);
    });

    it("reverts with NotMerchantOrOperator for the buyer, a stranger, the arbiter and a second merchant", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, buyer, stranger, arbiter, otherMerchant, terms: t } = f;

      for (const caller of [buyer, stranger, arbiter, otherMerchant]) {
        await expect(escrow.connect(caller).refund(t, 5n, []))
          .to.be.revertedWithCustomError(escrow, "NotMerchantOrOperator")
          .withArgs(merchant.address, caller.address);
      }
    });

    it("refunds the buyer, not the payee, when the payee is another wallet", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, usd, merchant, buyer, otherMerchant, book } = f;
      const o = await placeOrder(f, book, "Shipped", { terms: { payee: otherMerchant.address } });

      await expect(escrow.connect(merchant).refund(o.terms, o.terms.amount, [])).to.changeTokenBalances(
        usd,
        [escrow, buyer, otherMerchant, merchant],
        [-o.terms.amount, o.terms.amount, 0n, 0n],
      );
    });

    it("works while the escrow is paused", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, usd, pauser, merchant, buyer, orderId, terms: t, items } = f;
      await escrow.connect(pauser).pause();

      await escrow.connect(merchant).refund(t, 5n, []);
      await expect(escrow.connect(merchant).refund(t, AMOUNT - 5n, items)).to.changeTokenBalance(
        usd,
        buyer,
        AMOUNT - 5n,
      );
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
    });
  });

  describe("native currency", function () {
    it("refunds part of a native order", async function () {
      const f = await load(shippedNativeOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t } = f;
      const part = ethers.parseEther("0.25");

      const tx = escrow.connect(merchant).refund(t, part, []);
      await expect(tx).to.changeEtherBalances([escrow, buyer], [-part, part]);
      await expect(tx)
        .to.emit(escrow, "OrderRefunded")
        .withArgs(orderId, merchant.address, buyer.address, part, NATIVE_AMOUNT - part);
      expect((await statusOf(escrow, orderId)).refunded).to.equal(part);
    });

    it("refunds a native order in full", async function () {
      const f = await load(paidNativeOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;

      const tx = escrow.connect(merchant).refund(t, NATIVE_AMOUNT, items);
      await expect(tx).to.changeEtherBalances([escrow, buyer], [-NATIVE_AMOUNT, NATIVE_AMOUNT]);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Refunded);
    });
  });

  describe("checks", function () {
    it("reverts with ZeroAmount for a refund of zero", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, terms: t } = f;

      await expect(escrow.connect(merchant).refund(t, 0n, [])).to.be.revertedWithCustomError(escrow, "ZeroAmount");
    });

    it("reverts with RefundExceedsEscrow for more than the amount", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t, items } = f;

      await expect(escrow.connect(merchant).refund(t, AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "RefundExceedsEscrow")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
    });

    it("reverts with InvalidState for an unpaid order", async function () {
      const f = await load(createdOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;

      await expect(escrow.connect(merchant).refund(t, 5n, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Created);
    });

    it("reverts with InvalidState for a completed order", async function () {
      const f = await load(shippedOrderFixture);
      const { escrow, merchant, buyer, orderId, terms: t, items } = f;
      await escrow.connect(buyer).confirmReceipt(t, items);

      await expect(escrow.connect(merchant).refund(t, 5n, []))
        .to.be.revertedWithCustomError(escrow, "InvalidState")
        .withArgs(orderId, OrderState.Completed);
    });

    it("reverts with InvalidState for a refunded, a cancelled, a resolved and a revoked order", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, arbiter, orderId, terms: t, items, book } = f;
      await escrow.connect(arbiter).resolveDispute(t, 0n, items);
      const refunded = await placeOrder(f, book, "Paid");
      await escrow.connect(merchant).refund(refunded.terms, refunded.terms.amount, []);
      const cancelled = await placeOrder(f, book, "Created");
      await escrow.connect(merchant).cancel(cancelled.terms, []);
      const revoked = await terms(f);
      await escrow.connect(merchant).revokeOffer(revoked);

      for (const [tt, id, state] of [
        [t, orderId, OrderState.Resolved],
        [refunded.terms, refunded.orderId, OrderState.Refunded],
        [cancelled.terms, cancelled.orderId, OrderState.Cancelled],
        [revoked, await idOf(escrow, revoked), OrderState.Revoked],
      ] as const) {
        await expect(escrow.connect(merchant).refund(tt, 5n, []))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with OrderNotFound for terms with a raised amount", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant, orderId, terms: t } = f;
      const forged = { ...t, amount: AMOUNT * 2n };

      await expect(escrow.connect(merchant).refund(forged, AMOUNT + 1n, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
      expect((await statusOf(escrow, orderId)).refunded).to.equal(0n);
    });

    it("reverts with OrderNotFound for terms never used", async function () {
      const f = await load(paidOrderFixture);
      const { escrow, merchant } = f;
      const unknown = await terms(f);

      await expect(escrow.connect(merchant).refund(unknown, 5n, []))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });
  });
});
