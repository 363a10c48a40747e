import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import {
  AMOUNT,
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
import { RACE_GAS, eventsOf, inOneBlock, outcomeOf } from "./sameBlock";

/** A payout wallet of the merchant that is not the merchant itself. */
const PAYEE = ethers.getAddress("0x00000000000000000000000000000000000fa1e5");

describe("PaymentEscrow settlement", function () {
  describe("proposeSettlement", function () {
    it("lets the buyer propose: SettlementProposed by Buyer, proposalOf set, nothing else changes", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, orderId, terms: t, book } = f;
      const before = await statusOf(escrow, orderId);

      const tx = escrow.connect(buyer).proposeSettlement(t, 40_000_000n);
      await expect(tx).to.emit(escrow, "SettlementProposed").withArgs(orderId, Party.Buyer, 40_000_000n);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant], [0n, 0n, 0n]);
      await book.send(tx);

      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, 40_000_000n]);
      expect(await statusOf(escrow, orderId)).to.deep.equal(before);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([2n, 1n]);
      expect(f.view().proposal).to.deep.equal({ by: Party.Buyer, buyerTotal: 40_000_000n });
    });

    it("lets the merchant and its operator propose, both as Merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, merchant, operator, orderId, terms: t } = f;

      await expect(escrow.connect(merchant).proposeSettlement(t, 1n))
        .to.emit(escrow, "SettlementProposed")
        .withArgs(orderId, Party.Merchant, 1n);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, 1n]);
      await expect(escrow.connect(operator).proposeSettlement(t, 2n))
        .to.emit(escrow, "SettlementProposed")
        .withArgs(orderId, Party.Merchant, 2n);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, 2n]);
    });

    it("replaces the earlier proposal with a new one, from either side", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, merchant, orderId, terms: t } = f;
      const steps = [
        [buyer, Party.Buyer, 90_000_000n],
        [merchant, Party.Merchant, 10_000_000n],
        [buyer, Party.Buyer, 60_000_000n],
        [buyer, Party.Buyer, 55_000_000n],
        [merchant, Party.Merchant, 0n],
      ] as const;
      for (const [who, by, amount] of steps) {
        await expect(escrow.connect(who).proposeSettlement(t, amount))
          .to.emit(escrow, "SettlementProposed")
          .withArgs(orderId, by, amount);
        expect(await proposalOf(escrow, orderId)).to.deep.equal([by, amount]);
      }
    });

    it("accepts a proposal of the whole amount and reverts with SplitExceedsAmount one unit above", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, merchant, orderId, terms: t } = f;

      await escrow.connect(buyer).proposeSettlement(t, AMOUNT);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, AMOUNT]);
      for (const who of [buyer, merchant]) {
        await expect(escrow.connect(who).proposeSettlement(t, AMOUNT + 1n))
          .to.be.revertedWithCustomError(escrow, "SplitExceedsAmount")
          .withArgs(orderId, AMOUNT + 1n, AMOUNT);
      }
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, AMOUNT]);
    });

    it("bounds a proposal by the whole amount, not by what is escrowed, after a partial refund", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, merchant, orderId, terms: t } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);
      const escrowed = 100_000_000n;

      // Above what is escrowed but within the order: the refund counts towards the buyer's total.
      await expect(escrow.connect(buyer).proposeSettlement(t, escrowed + 1n))
        .to.emit(escrow, "SettlementProposed")
        .withArgs(orderId, Party.Buyer, escrowed + 1n);
      await expect(escrow.connect(merchant).proposeSettlement(t, AMOUNT))
        .to.emit(escrow, "SettlementProposed")
        .withArgs(orderId, Party.Merchant, AMOUNT);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, AMOUNT]);
      for (const who of [buyer, merchant]) {
        await expect(escrow.connect(who).proposeSettlement(t, AMOUNT + 1n))
          .to.be.revertedWithCustomError(escrow, "SplitExceedsAmount")
          .withArgs(orderId, AMOUNT + 1n, AMOUNT);
      }
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, AMOUNT]);
    });

    it("reverts with NotCounterparty for a stranger, a second merchant and the arbiter", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, stranger, otherMerchant, arbiter, orderId, terms: t } = f;

      for (const caller of [stranger, otherMerchant, arbiter]) {
        await expect(escrow.connect(caller).proposeSettlement(t, 1n))
          .to.be.revertedWithCustomError(escrow, "NotCounterparty")
          .withArgs(orderId, caller.address);
      }
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
    });

    it("reverts with NotCounterparty for the payee when it is neither buyer nor merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, otherMerchant, book } = f;
      const o = await placeOrder(f, book, "Disputed", { terms: { payee: otherMerchant.address } });

      await expect(escrow.connect(otherMerchant).proposeSettlement(o.terms, 1n))
        .to.be.revertedWithCustomError(escrow, "NotCounterparty")
        .withArgs(o.orderId, otherMerchant.address);
    });

    it("reverts with InvalidState for a paid, a shipped and a resolved order", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, arbiter, orderId, terms: t, items, book } = f;
      const paid = await placeOrder(f, book, "Paid");
      const shipped = await placeOrder(f, book, "Shipped");
      await escrow.connect(arbiter).resolveDispute(t, 0n, items);

      for (const [tt, id, state] of [
        [paid.terms, paid.orderId, OrderState.Paid],
        [shipped.terms, shipped.orderId, OrderState.Shipped],
        [t, orderId, OrderState.Resolved],
      ] as const) {
        await expect(escrow.connect(buyer).proposeSettlement(tt, 0n))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(id, state);
      }
    });

    it("reverts with OrderNotFound for terms with a raised amount and for terms never used", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, terms: t } = f;
      const forged = { ...t, amount: AMOUNT * 2n };
      const unknown = await terms(f);

      await expect(escrow.connect(buyer).proposeSettlement(forged, AMOUNT * 2n))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await escrow.orderIdOf(forged));
      await expect(escrow.connect(buyer).proposeSettlement(unknown, 0n))
        .to.be.revertedWithCustomError(escrow, "OrderNotFound")
        .withArgs(await idOf(escrow, unknown));
    });

    it("works while the escrow is paused", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, pauser, buyer, orderId, terms: t } = f;
      await escrow.connect(pauser).pause();

      await escrow.connect(buyer).proposeSettlement(t, 5n);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, 5n]);
    });
  });

  describe("acceptSettlement", function () {
    it("buyer proposes, merchant accepts: the split is paid, DisputeResolved(Settlement), stock to the buyer", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items, book } = f;
      const buyerAmount = 23_456_789n;
      const payeeShare = AMOUNT - buyerAmount;
      const fee = feeOf(payeeShare);
      expect(fee).to.equal(1_000_000n);
      await escrow.connect(buyer).proposeSettlement(t, buyerAmount);
      const before = await statusOf(escrow, orderId);

      const tx = escrow.connect(merchant).acceptSettlement(t, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, buyerAmount, payeeShare - fee, fee, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, payeeShare - fee, fee],
      );
      await book.send(tx);

      expect(await statusOf(escrow, orderId)).to.deep.equal({ ...before, state: OrderState.Resolved });
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
      expect(await stock(f, await escrow.getAddress())).to.deep.equal([0n, 0n]);
      expect(f.view().state).to.equal(OrderState.Resolved);
      expect(f.view().proposal).to.equal(undefined);
    });

    it("buyer proposes, the merchant's operator accepts", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, operator, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, 0n);
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(operator).acceptSettlement(t, 0n, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 0n, AMOUNT - fee, fee, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, 0n, AMOUNT - fee, fee],
      );
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
    });

    it("merchant proposes, buyer accepts", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      const buyerAmount = 73_456_789n;
      const fee = feeOf(AMOUNT - buyerAmount);
      await escrow.connect(merchant).proposeSettlement(t, buyerAmount);

      const tx = escrow.connect(buyer).acceptSettlement(t, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          buyerAmount,
          AMOUNT - buyerAmount - fee,
          fee,
          Resolution.Settlement,
        );
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, AMOUNT - buyerAmount - fee, fee],
      );
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
    });

    it("pays the payee's share to the terms' payee, not the merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, book } = f;
      const items = itemsOf(f);
      const o = await placeOrder(f, book, "Disputed", { terms: { amount: AMOUNT, payee: PAYEE }, items });
      const buyerAmount = 23_456_789n;
      const fee = feeOf(AMOUNT - buyerAmount);
      await escrow.connect(merchant).proposeSettlement(o.terms, buyerAmount);

      const tx = escrow.connect(buyer).acceptSettlement(o.terms, buyerAmount, items);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, PAYEE, merchant, feeRecipient],
        [-AMOUNT, buyerAmount, AMOUNT - buyerAmount - fee, 0n, fee],
      );
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          o.orderId,
          merchant.address,
          buyer.address,
          buyerAmount,
          AMOUNT - buyerAmount - fee,
          fee,
          Resolution.Settlement,
        );
    });

    it("returns the stock to the merchant and charges no fee when the buyer gets everything", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(merchant).proposeSettlement(t, AMOUNT);

      const tx = escrow.connect(buyer).acceptSettlement(t, AMOUNT, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT, 0n, 0n, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(usd, [escrow, buyer, merchant, feeRecipient], [-AMOUNT, AMOUNT, 0n, 0n]);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("gives the stock to the buyer when the payee gets a single unit", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, AMOUNT - 1n);

      const tx = escrow.connect(merchant).acceptSettlement(t, AMOUNT - 1n, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - 1n, 1n, 0n, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(usd, [buyer, merchant, feeRecipient], [AMOUNT - 1n, 1n, 0n]);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(await stock(f, merchant.address)).to.deep.equal([98n, 99n]);
    });

    it("settles a native order", async function () {
      const f = await load(disputedNativeOrderFixture);
      const { escrow, buyer, merchant, feeRecipient, terms: t, items } = f;
      const buyerAmount = ethers.parseEther("0.4");
      const fee = feeOf(NATIVE_AMOUNT - buyerAmount);
      await escrow.connect(buyer).proposeSettlement(t, buyerAmount);

      await expect(escrow.connect(merchant).acceptSettlement(t, buyerAmount, items)).to.changeEtherBalances(
        [escrow, buyer, merchant, feeRecipient],
        [-NATIVE_AMOUNT, buyerAmount, NATIVE_AMOUNT - buyerAmount - fee, fee],
      );
    });

    it("counts a partial refund during the dispute towards the buyer's total: the buyer receives buyerTotal minus it", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items, book } = f;
      const refunded = 23_456_789n;
      await book.send(escrow.connect(merchant).refund(t, refunded, []));
      const buyerTotal = refunded + 40_000_000n;
      const payeeShare = AMOUNT - buyerTotal;
      const fee = feeOf(payeeShare);
      expect(payeeShare).to.equal(60_000_000n);
      expect(fee).to.equal(600_000n);
      await book.send(escrow.connect(buyer).proposeSettlement(t, buyerTotal));
      expect(f.view().proposal).to.deep.equal({ by: Party.Buyer, buyerTotal });

      const tx = escrow.connect(merchant).acceptSettlement(t, buyerTotal, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 40_000_000n, payeeShare - fee, fee, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-(AMOUNT - refunded), 40_000_000n, payeeShare - fee, fee],
      );
      await book.send(tx);
      const s = await statusOf(escrow, orderId);
      expect(s.state).to.equal(OrderState.Resolved);
      expect(s.refunded).to.equal(refunded);
      expect(await usd.balanceOf(await escrow.getAddress())).to.equal(0n);
      expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      expect(f.view().proposal).to.equal(undefined);
      expect(f.view().escrowed).to.equal(0n);
    });

    it("accepts a proposal made before a partial refund with the same outcome: the refund counts towards buyerTotal", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      const buyerTotal = 50_000_000n;
      const refunded = 23_456_789n;
      const payeeShare = AMOUNT - buyerTotal;
      const fee = feeOf(payeeShare);
      const buyerBefore = await usd.balanceOf(buyer.address);
      await escrow.connect(merchant).proposeSettlement(t, buyerTotal);
      await escrow.connect(merchant).refund(t, refunded, []);
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, buyerTotal]);

      const tx = escrow.connect(buyer).acceptSettlement(t, buyerTotal, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          buyerTotal - refunded,
          payeeShare - fee,
          fee,
          Resolution.Settlement,
        );
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-(AMOUNT - refunded), buyerTotal - refunded, payeeShare - fee, fee],
      );
      // In all, the buyer got exactly the agreed total: the refund and the settlement's part of it.
      expect((await usd.balanceOf(buyer.address)) - buyerBefore).to.equal(buyerTotal);
    });

    it("a buyerTotal of the whole amount after a partial refund pays the buyer the rest and returns the stock to the merchant", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(merchant).refund(t, 23_456_789n, []);
      await escrow.connect(buyer).proposeSettlement(t, AMOUNT);

      const tx = escrow.connect(merchant).acceptSettlement(t, AMOUNT, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, 100_000_000n, 0n, 0n, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-100_000_000n, 100_000_000n, 0n, 0n],
      );
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
      expect(await stock(f, buyer.address)).to.deep.equal([0n, 0n]);
    });

    it("a refund larger than the agreed buyerTotal gives the buyer nothing more and the payee the rest", async function () {
      const refunded = 23_456_789n;
      for (const buyerTotal of [0n, 10_000_000n, refunded]) {
        const f = await load(disputedOrderFixture);
        const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
        await escrow.connect(merchant).proposeSettlement(t, buyerTotal);
        await escrow.connect(merchant).refund(t, refunded, []);
        const payeeShare = AMOUNT - refunded;
        const fee = feeOf(payeeShare);
        expect(fee).to.equal(1_000_000n);

        const tx = escrow.connect(buyer).acceptSettlement(t, buyerTotal, items);
        await expect(tx)
          .to.emit(escrow, "DisputeResolved")
          .withArgs(orderId, merchant.address, buyer.address, 0n, payeeShare - fee, fee, Resolution.Settlement);
        await expect(tx).to.changeTokenBalances(
          usd,
          [escrow, buyer, merchant, feeRecipient],
          [-payeeShare, 0n, payeeShare - fee, fee],
        );
        await expect(tx).not.to.emit(escrow, "PayoutCredited");
        expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
        // The payee got a share, so the goods go to the buyer.
        expect(await stock(f, buyer.address)).to.deep.equal([2n, 1n]);
      }
    });

    it("accepts a pending proposal of the whole amount after a later partial refund: the buyer receives the rest", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, buyer, merchant, feeRecipient, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, AMOUNT);
      await escrow.connect(merchant).refund(t, 1n, []);

      const tx = escrow.connect(merchant).acceptSettlement(t, AMOUNT, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - 1n, 0n, 0n, Resolution.Settlement);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, buyer, merchant, feeRecipient],
        [-(AMOUNT - 1n), AMOUNT - 1n, 0n, 0n],
      );
      expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
      expect(await stock(f, merchant.address)).to.deep.equal([100n, 100n]);
    });

    it("a griefing merchant's 1-wei partial refund placed ahead of the buyer's acceptance in the same block changes nobody's outcome", async function () {
      for (const buyerTotal of [40_000_000n, AMOUNT]) {
        const accept = (f: LoadedOrder) =>
          f.escrow.connect(f.buyer).acceptSettlement(f.terms, buyerTotal, f.items, { gasLimit: RACE_GAS });

        // Without the refund.
        const plain = await load(disputedOrderFixture);
        await plain.escrow.connect(plain.merchant).proposeSettlement(plain.terms, buyerTotal);
        const expected = await outcomeOf(plain, async () => (await accept(plain)).wait());

        // The merchant's refund of 1 wei goes into the same block, ahead of the buyer's acceptance.
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t } = f;
        await escrow.connect(merchant).proposeSettlement(t, buyerTotal);
        let receipts: ContractTransactionReceipt[] = [];
        const raced = await outcomeOf(f, async () => {
          receipts = await inOneBlock([
            () => escrow.connect(merchant).refund(t, 1n, [], { gasLimit: RACE_GAS }),
            () => accept(f),
          ]);
        });
        const [refundLog] = await eventsOf(escrow, receipts[0], "OrderRefunded");
        expect(refundLog.args.amount).to.equal(1n);
        const [resolved] = await eventsOf(escrow, receipts[1], "DisputeResolved");
        expect(resolved.args.buyer).to.equal(buyer.address);
        expect(resolved.args.buyerAmount).to.equal(buyerTotal - 1n);
        expect(resolved.args.resolution).to.equal(Resolution.Settlement);
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

    it("still settles after the dispute period when nobody applied the default", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, buyer, merchant, orderId, terms: t, items } = f;
      await time.increaseTo((await statusOf(escrow, orderId)).deadline + 3600n);
      await escrow.connect(buyer).proposeSettlement(t, 7n);

      await expect(escrow.connect(merchant).acceptSettlement(t, 7n, items))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(
          orderId,
          merchant.address,
          buyer.address,
          7n,
          AMOUNT - 7n - feeOf(AMOUNT - 7n),
          feeOf(AMOUNT - 7n),
          Resolution.Settlement,
        );
    });

    it("works while the escrow is paused", async function () {
      const f = await load(disputedOrderFixture);
      const { escrow, usd, pauser, buyer, merchant, orderId, terms: t, items } = f;
      await escrow.connect(buyer).proposeSettlement(t, 7n);
      await escrow.connect(pauser).pause();

      await expect(escrow.connect(merchant).acceptSettlement(t, 7n, items)).to.changeTokenBalance(usd, buyer, 7n);
      expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Resolved);
    });

    describe("checks", function () {
      it("reverts with ProposalMismatch when accepting a different amount", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t, items } = f;
        await escrow.connect(buyer).proposeSettlement(t, 40_000_000n);

        for (const accepted of [0n, 39_999_999n, 40_000_001n]) {
          await expect(escrow.connect(merchant).acceptSettlement(t, accepted, items))
            .to.be.revertedWithCustomError(escrow, "ProposalMismatch")
            .withArgs(orderId, 40_000_000n, accepted);
        }
        expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, 40_000_000n]);
        expect((await statusOf(escrow, orderId)).state).to.equal(OrderState.Disputed);
      });

      it("a front-running buyer that replaces its proposal makes the merchant's acceptance of the old one revert with ProposalMismatch", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t, items } = f;
        await escrow.connect(buyer).proposeSettlement(t, 10_000_000n);
        await escrow.connect(buyer).proposeSettlement(t, AMOUNT);

        await expect(escrow.connect(merchant).acceptSettlement(t, 10_000_000n, items))
          .to.be.revertedWithCustomError(escrow, "ProposalMismatch")
          .withArgs(orderId, AMOUNT, 10_000_000n);
      });

      it("a front-running merchant that replaces its proposal makes the buyer's acceptance revert with ProposalMismatch", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t, items } = f;
        await escrow.connect(merchant).proposeSettlement(t, 90_000_000n);
        await escrow.connect(merchant).proposeSettlement(t, 1n);

        await expect(escrow.connect(buyer).acceptSettlement(t, 90_000_000n, items))
          .to.be.revertedWithCustomError(escrow, "ProposalMismatch")
          .withArgs(orderId, 1n, 90_000_000n);
      });

      it("reverts with NotCounterparty for the proposing buyer itself, a stranger, a second merchant and the arbiter", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, stranger, otherMerchant, arbiter, orderId, terms: t, items } = f;
        await escrow.connect(buyer).proposeSettlement(t, 1n);

        for (const caller of [buyer, stranger, otherMerchant, arbiter]) {
          await expect(escrow.connect(caller).acceptSettlement(t, 1n, items))
            .to.be.revertedWithCustomError(escrow, "NotCounterparty")
            .withArgs(orderId, caller.address);
        }
      });

      it("reverts with NotCounterparty for the proposing merchant itself, its operator, a stranger and a second merchant", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, merchant, operator, stranger, otherMerchant, orderId, terms: t, items } = f;
        await escrow.connect(merchant).proposeSettlement(t, 1n);

        for (const caller of [merchant, operator, stranger, otherMerchant]) {
          await expect(escrow.connect(caller).acceptSettlement(t, 1n, items))
            .to.be.revertedWithCustomError(escrow, "NotCounterparty")
            .withArgs(orderId, caller.address);
        }
        expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Merchant, 1n]);
      });

      it("reverts with NotCounterparty for the merchant when its operator made the proposal", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, merchant, operator, orderId, terms: t, items } = f;
        await escrow.connect(operator).proposeSettlement(t, 1n);

        await expect(escrow.connect(merchant).acceptSettlement(t, 1n, items))
          .to.be.revertedWithCustomError(escrow, "NotCounterparty")
          .withArgs(orderId, merchant.address);
      });

      it("reverts with NotCounterparty for everyone when there is no proposal", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, operator, stranger, orderId, terms: t, items } = f;
        expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);

        for (const caller of [buyer, merchant, operator, stranger]) {
          await expect(escrow.connect(caller).acceptSettlement(t, 0n, items))
            .to.be.revertedWithCustomError(escrow, "NotCounterparty")
            .withArgs(orderId, caller.address);
        }
      });

      it("reverts with InvalidState for a second acceptance; the proposal is consumed", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t, items } = f;
        await escrow.connect(buyer).proposeSettlement(t, 1n);
        await escrow.connect(merchant).acceptSettlement(t, 1n, items);

        await expect(escrow.connect(merchant).acceptSettlement(t, 1n, items))
          .to.be.revertedWithCustomError(escrow, "InvalidState")
          .withArgs(orderId, OrderState.Resolved);
        expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.None, 0n]);
      });

      it("reverts with LineItemsMismatch for missing or wrong items, keeping the proposal", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, orderId, terms: t, items, skuA } = f;
        await escrow.connect(buyer).proposeSettlement(t, 1n);
        const wrong = [{ skuId: skuA, quantity: 1n }, items[1]];

        for (const given of [[], wrong]) {
          await expect(escrow.connect(merchant).acceptSettlement(t, 1n, given))
            .to.be.revertedWithCustomError(escrow, "LineItemsMismatch")
            .withArgs(t.itemsHash, itemsHash(given));
        }
        expect(await proposalOf(escrow, orderId)).to.deep.equal([Party.Buyer, 1n]);
      });

      it("reverts with InvalidState for a paid and a shipped order", async function () {
        const paid = await load(paidOrderFixture);
        await expect(paid.escrow.connect(paid.merchant).acceptSettlement(paid.terms, 0n, paid.items))
          .to.be.revertedWithCustomError(paid.escrow, "InvalidState")
          .withArgs(paid.orderId, OrderState.Paid);

        const shipped = await load(shippedOrderFixture);
        await expect(shipped.escrow.connect(shipped.buyer).acceptSettlement(shipped.terms, 0n, shipped.items))
          .to.be.revertedWithCustomError(shipped.escrow, "InvalidState")
          .withArgs(shipped.orderId, OrderState.Shipped);
      });

      it("reverts with OrderNotFound for terms with another payee", async function () {
        const f = await load(disputedOrderFixture);
        const { escrow, buyer, merchant, stranger, terms: t, items } = f;
        await escrow.connect(buyer).proposeSettlement(t, 1n);
        const forged = { ...t, payee: stranger.address };

        await expect(escrow.connect(merchant).acceptSettlement(forged, 1n, items))
          .to.be.revertedWithCustomError(escrow, "OrderNotFound")
          .withArgs(await escrow.orderIdOf(forged));
      });
    });
  });
});
