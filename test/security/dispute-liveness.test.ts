import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import {
  ADMIN_DELAY,
  deployEscrowFixture,
  idOf,
  OrderBook,
  OrderState,
  terms,
  USD,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";

const AMOUNT = USD(100);
const EVIDENCE = ethers.id("evidence: never arrived");

type Stage = "Created" | "Paid" | "Shipped" | "Disputed after payment" | "Disputed after shipment";

interface LivenessFixture extends EscrowFixture {
  book: OrderBook;
  newAdmin: HardhatEthersSigner;
}

/**
 * No order can be stuck: from every state that is not final, someone other than the arbiter (the buyer, or
 * anyone) can end it once a deadline fixed by the terms has passed, and the escrow then holds nothing for it.
 * That stays true when the arbiter is gone (its role revoked or renounced) and after the admin role moved to a
 * new admin.
 */
describe("security: every order reaches a final state without the arbiter", function () {
  async function livenessFixture(): Promise<LivenessFixture> {
    const f = await deployEscrowFixture();
    const signers = await ethers.getSigners();
    return { ...f, book: new OrderBook(f.escrow), newAdmin: signers[10] };
  }

  const variants: Record<string, (f: LivenessFixture) => Promise<void>> = {
    "with the arbiter in place": async () => undefined,
    "after the admin revoked the arbiter role": async (f) => {
      await f.escrow.connect(f.admin).revokeRole(await f.escrow.ARBITER_ROLE(), f.arbiter.address);
    },
    "after the arbiter renounced its role": async (f) => {
      await f.escrow.connect(f.arbiter).renounceRole(await f.escrow.ARBITER_ROLE(), f.arbiter.address);
    },
    "after an admin handover whose new admin revoked the arbiter": async (f) => {
      await f.escrow.connect(f.admin).beginDefaultAdminTransfer(f.newAdmin.address);
      await time.increase(ADMIN_DELAY + 1n);
      await f.escrow.connect(f.newAdmin).acceptDefaultAdminTransfer();
      expect(await f.escrow.defaultAdmin()).to.equal(f.newAdmin.address);
      const role = await f.escrow.ARBITER_ROLE();
      // The old admin has no say any more; the new one does.
      await expect(f.escrow.connect(f.admin).revokeRole(role, f.arbiter.address))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(f.admin.address, await f.escrow.DEFAULT_ADMIN_ROLE());
      await f.escrow.connect(f.newAdmin).revokeRole(role, f.arbiter.address);
    },
  };

  async function placeAt(f: LivenessFixture, stage: Stage) {
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 2n }];
    const t = await terms(f, { amount: AMOUNT }, items);
    const orderId = await idOf(f.escrow, t, items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    if (stage !== "Created") await f.book.send(f.escrow.connect(f.buyer).pay(t));
    if (stage === "Shipped" || stage === "Disputed after shipment") {
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
    }
    if (stage.startsWith("Disputed")) await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
    return { t, items, orderId };
  }

  interface Ending {
    /** The final state reached. */
    state: bigint;
    /** Who ends it (never the arbiter), for the test title. */
    who: string;
    /** What the deadline of the state is called, for the test title. */
    deadlineName: string;
    /** The call that ends it. */
    end: (f: LivenessFixture, t: OrderTerms, items: LineItem[]) => Promise<ContractTransactionResponse>;
    /** The error it reverts with while the deadline has not passed. */
    early: string;
  }

  const endings: Record<Stage, Ending> = {
    Created: {
      state: OrderState.Cancelled,
      who: "a stranger",
      deadlineName: "payment deadline",
      end: (f, t, items) => f.escrow.connect(f.stranger).cancel(t, items),
      early: "PaymentDeadlineNotPassed",
    },
    Paid: {
      state: OrderState.Refunded,
      who: "the buyer",
      deadlineName: "ship-by time",
      end: (f, t, items) => f.escrow.connect(f.buyer).cancelUnshipped(t, items),
      early: "ShipByNotPassed",
    },
    Shipped: {
      state: OrderState.Completed,
      who: "a stranger",
      deadlineName: "protection period",
      end: (f, t, items) => f.escrow.connect(f.stranger).autoRelease(t, items),
      early: "ProtectionPeriodActive",
    },
    "Disputed after payment": {
      state: OrderState.Resolved,
      who: "a stranger",
      deadlineName: "dispute period",
      end: (f, t, items) => f.escrow.connect(f.stranger).settleExpiredDispute(t, items),
      early: "DisputePeriodActive",
    },
    "Disputed after shipment": {
      state: OrderState.Resolved,
      who: "a stranger",
      deadlineName: "dispute period",
      end: (f, t, items) => f.escrow.connect(f.stranger).settleExpiredDispute(t, items),
      early: "DisputePeriodActive",
    },
  };

  async function expectNothingHeld(f: LivenessFixture) {
    const escrowAddress = await f.escrow.getAddress();
    expect(await f.usd.balanceOf(escrowAddress)).to.equal(0n);
    expect(await f.inventory.balanceOf(escrowAddress, f.skuA)).to.equal(0n);
    for (const account of [f.buyer, f.merchant, f.feeRecipient]) {
      expect(await f.escrow.credited(account.address, await f.usd.getAddress())).to.equal(0n);
    }
  }

  for (const [variant, setUp] of Object.entries(variants)) {
    describe(variant, function () {
      for (const stage of Object.keys(endings) as Stage[]) {
        const ending = endings[stage];
        it(`lets ${ending.who} end an order in state ${stage} one second after its ${ending.deadlineName}, never before; the escrow holds nothing for it`, async function () {
          const f = await loadFixture(livenessFixture);
          await setUp(f);
          const { t, items, orderId } = await placeAt(f, stage);
          const deadline = (await f.escrow.statusOf(orderId)).deadline;
          const buyerBefore = await f.usd.balanceOf(f.buyer.address);

          await time.setNextBlockTimestamp(deadline);
          await expect(ending.end(f, t, items))
            .to.be.revertedWithCustomError(f.escrow, ending.early)
            .withArgs(orderId, deadline, deadline);
          await time.setNextBlockTimestamp(deadline + 1n);
          await f.book.send(ending.end(f, t, items));

          expect((await f.escrow.statusOf(orderId)).state).to.equal(ending.state);
          expect(f.book.get(orderId).escrowed).to.equal(0n);
          await expectNothingHeld(f);
          if (stage !== "Created" && stage !== "Shipped") {
            // Refunds and defaults return everything to the buyer, and the stock to the merchant.
            expect(await f.usd.balanceOf(f.buyer.address)).to.equal(buyerBefore + AMOUNT);
            expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
          }
          if (stage.startsWith("Disputed") && variant !== "with the arbiter in place") {
            expect(await f.escrow.hasRole(await f.escrow.ARBITER_ROLE(), f.arbiter.address)).to.equal(false);
          }
        });
      }

      it("refuses a removed arbiter's resolution with NotArbiter (a stranger applies the default); an arbiter in place may still resolve late", async function () {
        const f = await loadFixture(livenessFixture);
        await setUp(f);
        const { t, items, orderId } = await placeAt(f, "Disputed after payment");
        if (await f.escrow.hasRole(await f.escrow.ARBITER_ROLE(), f.arbiter.address)) {
          // Still in place: it may resolve, even after the dispute period, as long as nobody applied the default.
          await time.increaseTo((await f.escrow.statusOf(orderId)).deadline + 1n);
          await f.book.send(f.escrow.connect(f.arbiter).resolveDispute(t, USD(10), items));
          expect((await f.escrow.statusOf(orderId)).state).to.equal(OrderState.Resolved);
        } else {
          await expect(f.escrow.connect(f.arbiter).resolveDispute(t, USD(10), items))
            .to.be.revertedWithCustomError(f.escrow, "NotArbiter")
            .withArgs(f.arbiter.address);
          await time.increaseTo((await f.escrow.statusOf(orderId)).deadline + 1n);
          await f.book.send(f.escrow.connect(f.stranger).settleExpiredDispute(t, items));
        }
        await expectNothingHeld(f);
      });
    });
  }

  it("ends the slowest possible order (paid, shipped and disputed each at its last second) by a stranger within paymentDeadline + shipWithin + protectionPeriod + DISPUTE_PERIOD", async function () {
    const f = await loadFixture(livenessFixture);
    await variants["after the admin revoked the arbiter role"](f);
    const items: LineItem[] = [{ skuId: f.skuB, quantity: 1n }];
    const t = await terms(f, { amount: AMOUNT }, items);
    const orderId = await idOf(f.escrow, t, items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    const disputePeriod = await f.escrow.DISPUTE_PERIOD();
    const bound = t.paymentDeadline + t.shipWithin + t.protectionPeriod + disputePeriod;

    await time.setNextBlockTimestamp(t.paymentDeadline);
    await f.book.send(f.escrow.connect(f.buyer).pay(t));
    await time.setNextBlockTimestamp(t.paymentDeadline + t.shipWithin);
    await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
    await time.setNextBlockTimestamp(t.paymentDeadline + t.shipWithin + t.protectionPeriod);
    await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
    expect((await f.escrow.statusOf(orderId)).deadline).to.equal(bound);

    await time.setNextBlockTimestamp(bound + 1n);
    await f.book.send(f.escrow.connect(f.stranger).settleExpiredDispute(t, items));
    expect((await f.escrow.statusOf(orderId)).state).to.equal(OrderState.Resolved);
    expect(BigInt(await time.latest())).to.equal(bound + 1n);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuB)).to.equal(0n);
  });

  it("lets the buyer of a griefing merchant's order with a uint32-max ship-by window get its money back within DISPUTE_PERIOD by disputing", async function () {
    const f = await loadFixture(livenessFixture);
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    // 136 years to ship and 136 years of protection: the buyer's cancelUnshipped is out of reach.
    const t = await terms(f, { amount: AMOUNT, shipWithin: 2n ** 32n - 1n, protectionPeriod: 2n ** 32n - 1n }, items);
    const orderId = await idOf(f.escrow, t, items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    const before = await f.usd.balanceOf(f.buyer.address);
    await f.book.send(f.escrow.connect(f.buyer).pay(t));
    await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
    const disputedAt = BigInt(await time.latest());
    const defaultAfter = (await f.escrow.statusOf(orderId)).deadline;
    expect(defaultAfter).to.equal(disputedAt + (await f.escrow.DISPUTE_PERIOD()));
    await time.setNextBlockTimestamp(defaultAfter + 1n);
    await f.book.send(f.escrow.connect(f.stranger).settleExpiredDispute(t, items));
    expect(await f.usd.balanceOf(f.buyer.address)).to.equal(before);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });

  it("keeps the dispute deadline fixed: neither a griefing merchant's proposals and partial refunds nor the buyer's proposals move it", async function () {
    const f = await loadFixture(livenessFixture);
    const { t, items, orderId } = await placeAt(f, "Disputed after payment");
    const deadline = (await f.escrow.statusOf(orderId)).deadline;
    await f.escrow.connect(f.merchant).proposeSettlement(t, USD(1));
    await f.escrow.connect(f.buyer).proposeSettlement(t, USD(90));
    await f.escrow.connect(f.merchant).refund(t, 1n, []);
    await f.escrow.connect(f.merchant).proposeSettlement(t, USD(2));
    expect((await f.escrow.statusOf(orderId)).deadline).to.equal(deadline);
    // The buyer cannot restart the clock by disputing again.
    await expect(f.escrow.connect(f.buyer).dispute(t, EVIDENCE))
      .to.be.revertedWithCustomError(f.escrow, "InvalidState")
      .withArgs(orderId, OrderState.Disputed);
    await time.setNextBlockTimestamp(deadline + 1n);
    await f.book.send(f.escrow.connect(f.stranger).settleExpiredDispute(t, items));
    const proposal = await f.escrow.proposalOf(orderId);
    expect(proposal.by).to.equal(0n);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
  });
});
