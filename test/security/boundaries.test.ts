import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  MAX_FEE_BPS,
  OrderBook,
  OrderState,
  signOffer,
  terms,
  USD,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";
import { errorName, mineInOneBlock } from "../helpers/attacks";

/** The largest order amount the escrow accepts: `type(uint184).max` (the width of the status' refunded field). */
const MAX_AMOUNT = 2n ** 184n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;
const UINT40_MAX = 2n ** 40n - 1n;
const EVIDENCE = ethers.id("evidence");
const feeAt = (amount: bigint, bps: bigint): bigint => (amount * bps) / 10_000n;

/**
 * Values at and just past every bound the escrow has: amounts near 2^256, fees that round to zero, the longest
 * periods, the most line items, and every deadline at its exact second. Past a bound the escrow reverts with a
 * named error, never with a panic.
 */
describe("security: boundaries", function () {
  async function boundaryFixture() {
    const f = await loadFixture(deployEscrowFixture);
    return { ...f, book: new OrderBook(f.escrow), escrowAddress: await f.escrow.getAddress() };
  }

  type F = Awaited<ReturnType<typeof boundaryFixture>>;

  async function create(f: F, overrides: Partial<OrderTerms>, items: LineItem[] = []) {
    const t = await terms(f, overrides, items);
    await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    return { t, id: await idOf(f.escrow, t, items) };
  }

  describe("amounts", function () {
    it("settles a merchant's largest order (2^184-1 units of a minted token) at the highest fee, without overflow in the fee math", async function () {
      const f = await boundaryFixture();
      await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
      await f.usd.mint(f.buyer.address, MAX_AMOUNT);
      const { t, id } = await create(f, { amount: MAX_AMOUNT });
      await f.book.send(f.escrow.connect(f.buyer).pay(t));
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
      const fee = feeAt(MAX_AMOUNT, MAX_FEE_BPS);
      await expect(f.escrow.connect(f.buyer).confirmReceipt(t, []))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(id, f.merchant.address, f.buyer.address, MAX_AMOUNT - fee, fee);
      expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
      expect(await f.usd.balanceOf(f.feeRecipient.address)).to.equal(fee);
    });

    it("settles a merchant's largest native order through a partial refund and an arbiter's split, and a whole one at the highest fee", async function () {
      const f = await boundaryFixture();
      await f.escrow.connect(f.admin).setFeeBps(MAX_FEE_BPS);
      await ethers.provider.send("hardhat_setBalance", [f.buyer.address, ethers.toQuantity(MAX_AMOUNT * 2n)]);
      const { t, id } = await create(f, { amount: MAX_AMOUNT, token: ethers.ZeroAddress });
      await f.book.send(f.escrow.connect(f.buyer).pay(t, { value: MAX_AMOUNT }));
      // A partial refund of all but one wei: the refunded total needs all 184 bits.
      await f.book.send(f.escrow.connect(f.merchant).refund(t, MAX_AMOUNT - 1n, []));
      expect((await f.escrow.statusOf(id)).refunded).to.equal(MAX_AMOUNT - 1n);
      await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
      await expect(f.escrow.connect(f.arbiter).resolveDispute(t, 0n, [])).to.changeEtherBalances(
        [f.merchant, f.escrow],
        [1n, -1n],
      );
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(0n);

      // And a whole one, released at the highest fee.
      const whole = await create(f, { amount: MAX_AMOUNT, token: ethers.ZeroAddress });
      await f.book.send(f.escrow.connect(f.buyer).pay(whole.t, { value: MAX_AMOUNT }));
      await f.book.send(f.escrow.connect(f.merchant).ship(whole.t, ethers.ZeroHash));
      const fee = feeAt(MAX_AMOUNT, MAX_FEE_BPS);
      await expect(f.escrow.connect(f.buyer).confirmReceipt(whole.t, [])).to.changeEtherBalances(
        [f.merchant, f.feeRecipient, f.escrow],
        [MAX_AMOUNT - fee, fee, -MAX_AMOUNT],
      );
    });

    it("reverts a merchant's order or a buyer's checkout above 2^184-1 (up to 2^256-1) with AmountTooLarge, not a panic", async function () {
      const f = await boundaryFixture();
      for (const amount of [MAX_AMOUNT + 1n, ethers.MaxUint256 / MAX_FEE_BPS + 1n, ethers.MaxUint256]) {
        const t = await terms(f, { amount });
        await expect(f.escrow.connect(f.merchant).createOrder(t, []))
          .to.be.revertedWithCustomError(f.escrow, "AmountTooLarge")
          .withArgs(amount, MAX_AMOUNT);
        const native = await terms(f, { amount, token: ethers.ZeroAddress, buyer: ethers.ZeroAddress });
        const signature = await signOffer(f.escrow, f.merchant, native, []);
        await expect(f.escrow.connect(f.buyer).checkout(native, [], signature))
          .to.be.revertedWithCustomError(f.escrow, "AmountTooLarge")
          .withArgs(amount, MAX_AMOUNT);
      }
      await expect(
        f.escrow.connect(f.merchant).createOrder(await terms(f, { amount: 0n }), []),
      ).to.be.revertedWithCustomError(f.escrow, "ZeroAmount");
    });

    it("rounds the fee of a merchant's tiny order down to zero: the payee gets everything, the fee recipient no transfer", async function () {
      const f = await boundaryFixture();
      // 99 units at 1%: 0.99 rounds to 0. 100 units: exactly 1.
      for (const [amount, fee] of [
        [1n, 0n],
        [99n, 0n],
        [100n, 1n],
      ] as const) {
        const { t, id } = await create(f, { amount });
        await f.book.send(f.escrow.connect(f.buyer).pay(t));
        await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
        const tx = f.escrow.connect(f.buyer).confirmReceipt(t, []);
        await expect(tx)
          .to.emit(f.escrow, "OrderCompleted")
          .withArgs(id, f.merchant.address, f.buyer.address, amount - fee, fee);
        await expect(tx).to.changeTokenBalances(f.usd, [f.merchant, f.feeRecipient], [amount - fee, fee]);
        const receipt = await (await tx).wait();
        const toFeeRecipient = receipt!.logs
          .map((l) => (l.address === (f.usd.target as string) ? f.usd.interface.parseLog(l) : null))
          .filter((e) => e?.name === "Transfer" && e.args.to === f.feeRecipient.address);
        expect(toFeeRecipient.length).to.equal(fee === 0n ? 0 : 1);
      }
      // In a split, the fee is taken from the payee's share only: 99 units to the payee at 1% round to 0.
      const { t, id } = await create(f, { amount: 150n });
      await f.book.send(f.escrow.connect(f.buyer).pay(t));
      await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
      await expect(f.escrow.connect(f.arbiter).resolveDispute(t, 51n, []))
        .to.emit(f.escrow, "DisputeResolved")
        .withArgs(id, f.merchant.address, f.buyer.address, 51n, 99n, 0n, 0n);
      expect(FEE_BPS).to.equal(100n);
    });
  });

  describe("periods and deadlines", function () {
    it("keeps a merchant's uint32-max ship, protection and refund periods exact in the 40-bit deadlines", async function () {
      const f = await boundaryFixture();
      const { t, id } = await create(f, {
        shipWithin: UINT32_MAX,
        protectionPeriod: UINT32_MAX,
        refundWindow: UINT32_MAX,
      });
      await f.book.send(f.escrow.connect(f.buyer).pay(t));
      const paidAt = BigInt(await time.latest());
      expect((await f.escrow.statusOf(id)).deadline).to.equal(paidAt + UINT32_MAX);
      // Ship in the very last second of the 136-year window.
      await time.setNextBlockTimestamp(paidAt + UINT32_MAX);
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
      const releaseAfter = paidAt + 2n * UINT32_MAX;
      expect((await f.escrow.statusOf(id)).deadline).to.equal(releaseAfter);
      await time.setNextBlockTimestamp(releaseAfter);
      await expect(f.escrow.connect(f.stranger).autoRelease(t, []))
        .to.be.revertedWithCustomError(f.escrow, "ProtectionPeriodActive")
        .withArgs(id, releaseAfter, releaseAfter);
      await time.setNextBlockTimestamp(releaseAfter + 1n);
      await f.book.send(f.escrow.connect(f.stranger).autoRelease(t, []));
      const s = await f.escrow.statusOf(id);
      expect(s.state).to.equal(OrderState.Completed);
      expect(s.deadline).to.equal(releaseAfter + 1n + UINT32_MAX);
      expect(s.deadline).to.be.lessThan(UINT40_MAX);
    });

    it("accepts a payment deadline of 2^40-1 or the current second, and reverts a merchant's 2^40, 2^64-1 or past deadline with InvalidDeadline", async function () {
      const f = await boundaryFixture();
      const { id } = await create(f, { paymentDeadline: UINT40_MAX });
      expect((await f.escrow.statusOf(id)).deadline).to.equal(UINT40_MAX);
      for (const paymentDeadline of [UINT40_MAX + 1n, 2n ** 64n - 1n]) {
        const t = await terms(f, { paymentDeadline });
        await expect(f.escrow.connect(f.merchant).createOrder(t, []))
          .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
          .withArgs(paymentDeadline, (v: bigint) => v > 0n);
      }
      // A deadline one second in the past is refused; one in the creation's own second is payable in it.
      const next = BigInt(await time.latest()) + 10n;
      const past = await terms(f, { paymentDeadline: next - 1n });
      await time.setNextBlockTimestamp(next);
      await expect(f.escrow.connect(f.merchant).createOrder(past, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(next - 1n, next);
      const now = await terms(f, { paymentDeadline: next + 1n });
      const [created, paid] = await mineInOneBlock(
        [
          { send: (o) => f.escrow.connect(f.merchant).createOrder(now, [], o), tipGwei: 2n },
          { send: (o) => f.escrow.connect(f.buyer).pay(now, o), tipGwei: 1n },
        ],
        next + 1n,
      );
      expect(created.ok, `creation reverted with ${errorName(f.escrow.interface, created.revertData)}`).to.equal(true);
      expect(paid.ok).to.equal(true);
      expect((await f.escrow.statusOf(await idOf(f.escrow, now))).state).to.equal(OrderState.Paid);
    });

    it("does not let a buyer cancel as unshipped at once because its payment near the end of the 40-bit range wrapped the ship-by time (uint32-max shipWithin)", async function () {
      const f = await boundaryFixture();
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      try {
        // Unreachable before the year 36812, but the cast is the escrow's: block.timestamp + shipWithin must fit.
        const now = UINT40_MAX - 1_000_000n;
        await time.setNextBlockTimestamp(now);
        await ethers.provider.send("evm_mine", []);
        const { t, id } = await create(f, { paymentDeadline: UINT40_MAX, shipWithin: UINT32_MAX });
        const pay = f.escrow.connect(f.buyer).pay(t);
        // Either the payment is refused, or the ship-by time is really shipWithin later.
        let paid = true;
        try {
          await (await pay).wait();
        } catch {
          paid = false;
        }
        if (paid) {
          const paidAt = BigInt(await time.latest());
          const shipBy = (await f.escrow.statusOf(id)).deadline;
          expect(shipBy, `ship-by ${shipBy} wrapped below the payment time ${paidAt}`).to.be.greaterThanOrEqual(paidAt);
          // The buyer must not be able to cancel right away as "unshipped".
          await expect(f.escrow.connect(f.buyer).cancelUnshipped(t, [])).to.be.revertedWithCustomError(
            f.escrow,
            "ShipByNotPassed",
          );
        }
      } finally {
        await ethers.provider.send("evm_revert", [snapshot]);
      }
    });
  });

  describe("line items", function () {
    async function manySkusFixture() {
      const f = await boundaryFixture();
      const max = Number(await f.escrow.MAX_LINE_ITEMS());
      const first = Number(await f.inventory.skuCount(f.merchant.address)) + 1;
      const calls = Array.from({ length: max + 1 }, (_, i) =>
        f.inventory.interface.encodeFunctionData("createSku", [f.merchant.address, `ipfs://many-${i}`]),
      );
      await f.inventory.connect(f.merchant).multicall(calls);
      const skus = await Promise.all(
        Array.from({ length: max + 1 }, (_, i) => f.inventory.skuId(f.merchant.address, first + i)),
      );
      await f.inventory.connect(f.merchant).mintStock(
        skus,
        skus.map(() => 5n),
      );
      const items = (n: number): LineItem[] => skus.slice(0, n).map((skuId) => ({ skuId, quantity: 1n }));
      return { ...f, max, skus, items };
    }

    it("settles a merchant's order of exactly MAX_LINE_ITEMS items for a contract buyer that refuses them, within a block", async function () {
      const f = await manySkusFixture();
      const receiver = await (await ethers.getContractFactory("StockReceiver")).deploy();
      await receiver.setMode(1); // refuses every delivery: the held path of every SKU runs
      const items = f.items(f.max);
      const amount = ethers.parseEther("1");
      const { t, id } = await create(
        f,
        { buyer: await receiver.getAddress(), token: ethers.ZeroAddress, amount },
        items,
      );
      expect(await f.inventory.balanceOf(f.escrowAddress, f.skus[f.max - 1])).to.equal(1n);
      await f.book.send(
        receiver.execute(f.escrowAddress, amount, f.escrow.interface.encodeFunctionData("pay", [t]), { value: amount }),
      );
      await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
      await time.increase(t.protectionPeriod + 1n);
      const receipt = await f.book.send(f.escrow.connect(f.stranger).autoRelease(t, items));
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Completed);
      expect(receipt.gasUsed).to.be.lessThan(15_000_000n);
      expect(await f.inventory.heldStock(await receiver.getAddress(), f.skus[f.max - 1])).to.equal(1n);
    });

    it("reverts a merchant's order and a buyer's checkout with MAX_LINE_ITEMS + 1 items with TooManyLineItems", async function () {
      const f = await manySkusFixture();
      const items = f.items(f.max + 1);
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "TooManyLineItems")
        .withArgs(BigInt(f.max + 1), BigInt(f.max));
      const signature = await signOffer(f.escrow, f.merchant, t, items);
      await expect(f.escrow.connect(f.buyer).checkout(t, items, signature))
        .to.be.revertedWithCustomError(f.escrow, "TooManyLineItems")
        .withArgs(BigInt(f.max + 1), BigInt(f.max));
      // A zero quantity is refused by name as well.
      const zero = [{ skuId: f.skus[0], quantity: 0n }];
      await expect(f.escrow.connect(f.merchant).createOrder(await terms(f, {}, zero), zero))
        .to.be.revertedWithCustomError(f.escrow, "ZeroQuantity")
        .withArgs(f.skus[0]);
    });
  });

  describe("each deadline at its exact second", function () {
    it("lets the buyer pay at the payment deadline's second and reverts one second later with PaymentDeadlinePassed; a stranger cancels only then", async function () {
      const f = await boundaryFixture();
      const onTime = await create(f, {});
      await time.setNextBlockTimestamp(onTime.t.paymentDeadline);
      await f.book.send(f.escrow.connect(f.buyer).pay(onTime.t));
      expect((await f.escrow.statusOf(onTime.id)).state).to.equal(OrderState.Paid);

      const late = await create(f, {});
      const d = late.t.paymentDeadline;
      await time.setNextBlockTimestamp(d);
      await expect(f.escrow.connect(f.stranger).cancel(late.t, []))
        .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlineNotPassed")
        .withArgs(late.id, d, d);
      await time.setNextBlockTimestamp(d + 1n);
      await expect(f.escrow.connect(f.buyer).pay(late.t))
        .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlinePassed")
        .withArgs(late.id, d, d + 1n);
      await f.book.send(f.escrow.connect(f.stranger).cancel(late.t, []));
      expect((await f.escrow.statusOf(late.id)).state).to.equal(OrderState.Cancelled);
    });

    it("lets the buyer take an offer at its expiry second, as it may pay an order then (paymentDeadline is inclusive)", async function () {
      const f = await boundaryFixture();
      const offer = await terms(f, { buyer: ethers.ZeroAddress });
      const signature = await signOffer(f.escrow, f.merchant, offer, []);
      const [checkout] = await mineInOneBlock(
        [{ send: (o) => f.escrow.connect(f.buyer).checkout(offer, [], signature, o), tipGwei: 1n }],
        offer.paymentDeadline,
      );
      expect(checkout.ok, `checkout reverted with ${errorName(f.escrow.interface, checkout.revertData)}`).to.equal(
        true,
      );
      expect((await f.escrow.statusOf(await idOf(f.escrow, offer))).state).to.equal(OrderState.Paid);
    });

    it("lets the merchant ship at the ship-by second and reverts one second later with ShipByPassed; the buyer cancels only then", async function () {
      const f = await boundaryFixture();
      const a = await create(f, {});
      await f.book.send(f.escrow.connect(f.buyer).pay(a.t));
      const shipBy = (await f.escrow.statusOf(a.id)).deadline;
      const b = await create(f, { paymentDeadline: shipBy });
      await time.setNextBlockTimestamp(shipBy - 1n);
      await f.book.send(f.escrow.connect(f.buyer).pay(b.t));
      const shipByB = (await f.escrow.statusOf(b.id)).deadline;

      await time.setNextBlockTimestamp(shipBy);
      await expect(f.escrow.connect(f.buyer).cancelUnshipped(a.t, []))
        .to.be.revertedWithCustomError(f.escrow, "ShipByNotPassed")
        .withArgs(a.id, shipBy, shipBy);
      await time.setNextBlockTimestamp(shipBy + 1n);
      await expect(f.escrow.connect(f.merchant).ship(a.t, ethers.ZeroHash))
        .to.be.revertedWithCustomError(f.escrow, "ShipByPassed")
        .withArgs(a.id, shipBy, shipBy + 1n);
      await f.book.send(f.escrow.connect(f.buyer).cancelUnshipped(a.t, []));
      expect((await f.escrow.statusOf(a.id)).state).to.equal(OrderState.Refunded);

      await time.setNextBlockTimestamp(shipByB);
      await f.book.send(f.escrow.connect(f.merchant).ship(b.t, ethers.ZeroHash));
      expect((await f.escrow.statusOf(b.id)).state).to.equal(OrderState.Shipped);
    });

    it("lets the buyer dispute at the protection period's last second, a stranger release only one second later (ProtectionPeriodActive, ProtectionPeriodOver)", async function () {
      const f = await boundaryFixture();
      const a = await create(f, {});
      const b = await create(f, {});
      await f.book.send(f.escrow.connect(f.buyer).pay(a.t));
      await f.book.send(f.escrow.connect(f.buyer).pay(b.t));
      await time.setNextBlockTimestamp(BigInt(await time.latest()) + 10n);
      await f.book.send(f.escrow.connect(f.merchant).ship(a.t, ethers.ZeroHash));
      await f.book.send(f.escrow.connect(f.merchant).ship(b.t, ethers.ZeroHash));
      const releaseA = (await f.escrow.statusOf(a.id)).deadline;
      const releaseB = (await f.escrow.statusOf(b.id)).deadline;
      expect(releaseB).to.equal(releaseA + 1n);

      await time.setNextBlockTimestamp(releaseA);
      await expect(f.escrow.connect(f.stranger).autoRelease(a.t, []))
        .to.be.revertedWithCustomError(f.escrow, "ProtectionPeriodActive")
        .withArgs(a.id, releaseA, releaseA);
      await time.setNextBlockTimestamp(releaseB);
      await f.book.send(f.escrow.connect(f.buyer).dispute(b.t, EVIDENCE));
      await time.setNextBlockTimestamp(releaseB + 1n);
      await expect(f.escrow.connect(f.buyer).dispute(a.t, EVIDENCE))
        .to.be.revertedWithCustomError(f.escrow, "ProtectionPeriodOver")
        .withArgs(a.id, releaseA, releaseB + 1n);
      await f.book.send(f.escrow.connect(f.stranger).autoRelease(a.t, []));
      expect((await f.escrow.statusOf(a.id)).state).to.equal(OrderState.Completed);
      expect((await f.escrow.statusOf(b.id)).state).to.equal(OrderState.Disputed);
    });

    it("lets a stranger apply the dispute default only one second after the dispute period (DisputePeriodActive); the arbiter may still resolve in its last second", async function () {
      const f = await boundaryFixture();
      const a = await create(f, {});
      const b = await create(f, {});
      for (const o of [a, b]) await f.book.send(f.escrow.connect(f.buyer).pay(o.t));
      await f.book.send(f.escrow.connect(f.buyer).dispute(a.t, EVIDENCE));
      const defaultAfter = (await f.escrow.statusOf(a.id)).deadline;
      await time.setNextBlockTimestamp(BigInt(await time.latest()) + 1n);
      await f.book.send(f.escrow.connect(f.buyer).dispute(b.t, EVIDENCE));
      expect((await f.escrow.statusOf(b.id)).deadline).to.equal(defaultAfter + 1n);

      await time.setNextBlockTimestamp(defaultAfter);
      await expect(f.escrow.connect(f.stranger).settleExpiredDispute(a.t, []))
        .to.be.revertedWithCustomError(f.escrow, "DisputePeriodActive")
        .withArgs(a.id, defaultAfter, defaultAfter);
      await time.setNextBlockTimestamp(defaultAfter + 1n);
      await f.book.send(f.escrow.connect(f.stranger).settleExpiredDispute(a.t, []));
      // b's last second: the arbiter resolves it; the stranger could not have applied the default yet.
      await expect(f.escrow.connect(f.stranger).settleExpiredDispute.staticCall(b.t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "DisputePeriodActive",
      );
      await f.book.send(f.escrow.connect(f.arbiter).resolveDispute(b.t, USD(20), []));
      expect((await f.escrow.statusOf(a.id)).state).to.equal(OrderState.Resolved);
      expect((await f.escrow.statusOf(b.id)).state).to.equal(OrderState.Resolved);
      // Whoever comes second finds the dispute over.
      await expect(f.escrow.connect(f.arbiter).resolveDispute(a.t, 0n, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(a.id, OrderState.Resolved);
      expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
    });
  });
});
