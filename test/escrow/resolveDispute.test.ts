import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { PaymentEscrow } from "../../typechain-types";
import { OrderState, idOf, terms } from "../helpers/fixtures";
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
} from "../helpers/settlement";

const Party = { None: 0n, Buyer: 1n, Merchant: 2n } as const;
const Resolution = { Arbiter: 0n, Settlement: 1n, Default: 2n } as const;

/** The order's status slot as a plain object. */
async function statusOf(escrow: PaymentEscrow, orderId: string) {
  const s = await escrow.statusOf(orderId);
  return { state: s.state, feeBps: s.feeBps, deadline: s.deadline, refunded: s.refunded };
}

/** ERC-1155 balances of SKU A and B held by `holder`. */
async function stock(f: LoadedOrder, holder: string): Promise<bigint[]> {
  return f.inventory.balanceOfBatch([holder, holder], [f.skuA, f.skuB]);
}

/** A payout wallet of the merchant that is not the merchant itself. */
const PAYEE = ethers.getAddress("0x00000000000000000000000000000000000fa1e5");

describe("PaymentEscrow.resolveDispute", function () {
  describe("split", function () {
    it("pays buyerAmount to the buyer, the rest minus the fee on it to the payee, the fee to the fee recipient", async function () {
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

    it("splits what remains after a partial refund during the dispute", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);
      const escrowed = 100_000_000n;
      const buyerAmount = 50_000_000n;
      const fee = feeOf(escrowed - buyerAmount);

      const tx = escrow.connect(arbiter).resolveDispute(t, buyerAmount, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-escrowed, buyerAmount, escrowed - buyerAmount - fee, fee],
      );
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          buyerAmount,
          escrowed - buyerAmount - fee,
          fee,
          Resolution.Arbiter,
        );
    });

    it("returns the stock to the merchant when the buyer gets all that remains after a partial refund", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, arbiter, merchant, buyer, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);

      await expect(escrow.connect(arbiter).resolveDispute(t, 100_000_000n, items)).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant],
        [-100_000_000n, 100_000_000n, 0n],
      );
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
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
      expect([p.by, p.buyerAmount]).to.deep.equal([Party.None, 0n]);
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
    it("reverts with SplitExceedsEscrow when the buyer's share exceeds the amount", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, arbiter, orderId, terms: t, items } = f;

      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT + 1n, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsEscrow")
        .withArgs(orderId, AMOUNT + 1n, AMOUNT);
    });

    it("reverts with SplitExceedsEscrow when the buyer's share exceeds what remains after a partial refund", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, arbiter, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);

      await expect(escrow.connect(arbiter).resolveDispute(t, AMOUNT, items))
        .to.be.revertedWithCustomError(escrow, "SplitExceedsEscrow")
        .withArgs(orderId, AMOUNT, 100_000_000n);
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
          .withArgs(t.itemsHash, await escrow.hashItems(given));
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
