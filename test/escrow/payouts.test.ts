import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HostileReceiver, ReturnsFalseToken } from "../../typechain-types";
import { OrderBook, OrderState, deployEscrowFixture, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  EVIDENCE,
  NATIVE_AMOUNT,
  feeOf,
  itemsOf,
  load,
  placeOrder,
  type LoadedOrder,
  type OrderFixture,
} from "../helpers/settlement";

const Mode = { Accept: 0n, Revert: 1n, BurnGas: 2n } as const;
const NATIVE = ethers.ZeroAddress;

interface HostileFixture extends OrderFixture {
  hostile: HostileReceiver;
}

/** A shipped native order whose merchant (and so its payee) is a HostileReceiver acting through the operator. */
async function hostileMerchantFixture(): Promise<HostileFixture> {
  const f = await deployEscrowFixture();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  const hostileAddress = await hostile.getAddress();
  await hostile.execute(
    await f.escrow.getAddress(),
    0n,
    f.escrow.interface.encodeFunctionData("setOperatorApproval", [f.operator.address, true]),
  );
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { merchant: hostileAddress, token: NATIVE, amount: NATIVE_AMOUNT },
    seller: f.operator,
  });
  return { ...f, hostile, ...placed, views: new Map(book.views) };
}

/** A shipped native order of the (EOA) merchant whose payee is a HostileReceiver. */
async function hostilePayeeFixture(): Promise<HostileFixture> {
  const f = await deployEscrowFixture();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { payee: await hostile.getAddress(), token: NATIVE, amount: NATIVE_AMOUNT },
    items: itemsOf(f),
  });
  return { ...f, hostile, ...placed, views: new Map(book.views) };
}

/** A paid native order whose buyer is a HostileReceiver. */
async function hostileBuyerFixture(): Promise<HostileFixture> {
  const f = await deployEscrowFixture();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  const book = new OrderBook(f.escrow);
  const t = await terms(f, { buyer: await hostile.getAddress(), token: NATIVE, amount: NATIVE_AMOUNT });
  await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
  const payCall = f.escrow.interface.encodeFunctionData("pay", [t]);
  await book.send(hostile.execute(await f.escrow.getAddress(), NATIVE_AMOUNT, payCall, { value: NATIVE_AMOUNT }));
  const orderId = await f.escrow.orderIdOf(t);
  return { ...f, hostile, orderId, terms: t, items: [], views: new Map(book.views) };
}

/** A shipped ERC-20 order (with items) whose payee is `stranger`, not the merchant. */
async function separatePayeeFixture(): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { payee: f.stranger.address, amount: AMOUNT },
    items: itemsOf(f),
  });
  return { ...f, ...placed, views: new Map(book.views) };
}

/** A disputed ERC-20 order (with items) whose payee is `stranger`, not the merchant. */
async function separatePayeeDisputeFixture(): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Disputed", {
    terms: { payee: f.stranger.address, amount: AMOUNT },
    items: itemsOf(f),
  });
  return { ...f, ...placed, views: new Map(book.views) };
}

interface FalseTokenFixture extends OrderFixture {
  rft: ReturnsFalseToken;
}

/** A shipped order paid in a token that starts returning false once `setFailing(true)` is called. */
async function returnsFalseTokenFixture(): Promise<FalseTokenFixture> {
  const f = await deployEscrowFixture();
  const rft = await (await ethers.getContractFactory("ReturnsFalseToken")).deploy();
  const rftAddress = await rft.getAddress();
  await f.escrow.connect(f.admin).setTokenAllowed(rftAddress, true);
  await rft.mint(f.buyer.address, AMOUNT);
  await rft.connect(f.buyer).approve(await f.escrow.getAddress(), AMOUNT);
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", { terms: { token: rftAddress, amount: AMOUNT } });
  return { ...f, rft, ...placed, views: new Map(book.views) };
}

/** Makes the HostileReceiver send `escrow.withdraw(token, to)`. */
async function withdrawAs(f: LoadedOrder<HostileFixture>, token: string, to: string) {
  const data = f.escrow.interface.encodeFunctionData("withdraw", [token, to]);
  return f.hostile.execute(await f.escrow.getAddress(), 0n, data);
}

describe("PaymentEscrow payouts", function () {
  describe("the payee, not the merchant, receives the release", function () {
    it("pays the payee the amount minus the fee on confirmReceipt; the merchant gets nothing", async function () {
      const f = await load(separatePayeeFixture);
      const { escrow, usd, merchant, buyer, stranger, feeRecipient, orderId, terms: t, items } = f;
      const fee = feeOf(AMOUNT);
      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, AMOUNT - fee, fee);
      await expect(tx).to.changeTokenBalances(
        usd,
        [escrow, stranger, merchant, feeRecipient],
        [-AMOUNT, AMOUNT - fee, 0n, fee],
      );
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      await f.book.send(tx);
      expect(f.view().state).to.equal(OrderState.Completed);
      // The goods go to the buyer regardless of who is paid.
      expect(await f.inventory.balanceOf(buyer.address, f.skuA)).to.equal(2n);
    });

    it("pays the payee on autoRelease by a stranger after the protection period", async function () {
      const f = await load(separatePayeeFixture);
      const { escrow, usd, merchant, otherBuyer, stranger, orderId, terms: t, items } = f;
      await time.setNextBlockTimestamp(f.view().deadline + 1n);
      const tx = escrow.connect(otherBuyer).autoRelease(t, items);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, f.buyer.address, AMOUNT - feeOf(AMOUNT), feeOf(AMOUNT));
      await expect(tx).to.changeTokenBalances(usd, [stranger, merchant], [AMOUNT - feeOf(AMOUNT), 0n]);
    });

    it("pays the payee what remains after a partial refund, minus the fee on that remainder", async function () {
      const f = await load(separatePayeeFixture);
      const { escrow, usd, merchant, buyer, stranger, feeRecipient, terms: t, items } = f;
      const part = 23_456_789n;
      await f.book.send(escrow.connect(merchant).refund(t, part, items));
      const remaining = AMOUNT - part;
      await expect(escrow.connect(buyer).confirmReceipt(t, items)).to.changeTokenBalances(
        usd,
        [stranger, merchant, feeRecipient],
        [remaining - feeOf(remaining), 0n, feeOf(remaining)],
      );
    });

    it("pays the payee's share of an arbiter's split; the buyer gets its part", async function () {
      const f = await load(separatePayeeDisputeFixture);
      const { escrow, usd, arbiter, merchant, buyer, stranger, feeRecipient, orderId, terms: t, items } = f;
      const buyerAmount = 23_456_789n;
      const payeeShare = AMOUNT - buyerAmount;
      const fee = feeOf(payeeShare);
      const tx = escrow.connect(arbiter).resolveDispute(t, buyerAmount, items);
      await expect(tx)
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, merchant.address, buyer.address, buyerAmount, payeeShare - fee, fee, 0n);
      await expect(tx).to.changeTokenBalances(
        usd,
        [buyer, stranger, merchant, feeRecipient],
        [buyerAmount, payeeShare - fee, 0n, fee],
      );
    });

    it("pays the payee's share of a settlement the buyer accepted", async function () {
      const f = await load(separatePayeeDisputeFixture);
      const { escrow, usd, merchant, buyer, stranger, terms: t, items } = f;
      const buyerAmount = 3_456_789n;
      await f.book.send(escrow.connect(merchant).proposeSettlement(t, buyerAmount));
      const payeeShare = AMOUNT - buyerAmount;
      await expect(escrow.connect(buyer).acceptSettlement(t, buyerAmount, items)).to.changeTokenBalances(
        usd,
        [buyer, stranger, merchant],
        [buyerAmount, payeeShare - feeOf(payeeShare), 0n],
      );
    });

    it("pays the payee nothing when the default outcome refunds the buyer everything", async function () {
      const f = await load(separatePayeeDisputeFixture);
      const { escrow, usd, merchant, buyer, stranger, feeRecipient, terms: t, items } = f;
      await time.setNextBlockTimestamp(f.view().deadline + 1n);
      await expect(escrow.connect(stranger).settleExpiredDispute(t, items)).to.changeTokenBalances(
        usd,
        [buyer, stranger, merchant, feeRecipient],
        [AMOUNT, 0n, 0n, 0n],
      );
    });

    it("pays a separate payee of a native order in native currency", async function () {
      const f = await load(separatePayeeFixture);
      const { escrow, merchant, buyer, stranger, feeRecipient, book } = f;
      const placed = await placeOrder(f, book, "Shipped", {
        terms: { payee: stranger.address, token: NATIVE, amount: NATIVE_AMOUNT },
      });
      const fee = feeOf(NATIVE_AMOUNT);
      await expect(escrow.connect(buyer).confirmReceipt(placed.terms, [])).to.changeEtherBalances(
        [escrow, stranger, merchant, feeRecipient],
        [-NATIVE_AMOUNT, NATIVE_AMOUNT - fee, 0n, fee],
      );
    });
  });

  describe("a payee contract that refuses native currency", function () {
    it("credits the payee (not the merchant) and the release still succeeds", async function () {
      const f = await load(hostilePayeeFixture);
      const { escrow, hostile, merchant, buyer, feeRecipient, orderId, terms: t, items } = f;
      await hostile.setMode(Mode.Revert, NATIVE, "0x");
      const hostileAddress = await hostile.getAddress();
      const fee = feeOf(NATIVE_AMOUNT);
      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx)
        .to.emit(escrow, "PayoutCredited")
        .withArgs(hostileAddress, NATIVE, NATIVE_AMOUNT - fee);
      await expect(tx)
        .to.emit(escrow, "OrderCompleted")
        .withArgs(orderId, merchant.address, buyer.address, NATIVE_AMOUNT - fee, fee);
      await expect(tx).to.changeEtherBalances([escrow, hostile, merchant, feeRecipient], [-fee, 0n, 0n, fee]);
      await f.book.send(tx);
      expect(f.view().state).to.equal(OrderState.Completed);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(NATIVE_AMOUNT - fee);
      expect(await escrow.credited(merchant.address, NATIVE)).to.equal(0n);
      await expect(escrow.connect(merchant).withdraw(NATIVE, merchant.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(merchant.address, NATIVE);
    });

    it("lets the payee withdraw its credit to another address", async function () {
      const f = await load(hostilePayeeFixture);
      const { escrow, hostile, buyer, otherBuyer, terms: t, items } = f;
      await hostile.setMode(Mode.BurnGas, NATIVE, "0x");
      await f.book.send(escrow.connect(buyer).confirmReceipt(t, items));
      const owed = NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT);
      const tx = withdrawAs(f, NATIVE, otherBuyer.address);
      await expect(tx)
        .to.emit(escrow, "PayoutWithdrawn")
        .withArgs(await hostile.getAddress(), NATIVE, otherBuyer.address, owed);
      await expect(tx).to.changeEtherBalances([escrow, otherBuyer], [-owed, owed]);
    });
  });

  describe("a fee recipient that refuses native currency", function () {
    it("credits the fee and pays the payee", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, admin, buyer, terms: t, items } = f;
      // The merchant contract accepts; a second hostile receiver becomes the fee recipient.
      const feeSink = await (await ethers.getContractFactory("HostileReceiver")).deploy();
      await feeSink.setMode(Mode.Revert, NATIVE, "0x");
      const feeSinkAddress = await feeSink.getAddress();
      await escrow.connect(admin).setFeeRecipient(feeSinkAddress);
      const fee = feeOf(NATIVE_AMOUNT);
      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx).to.emit(escrow, "PayoutCredited").withArgs(feeSinkAddress, NATIVE, fee);
      await expect(tx).to.changeEtherBalances(
        [escrow, hostile, feeSink],
        [-(NATIVE_AMOUNT - fee), NATIVE_AMOUNT - fee, 0n],
      );
      expect(await escrow.credited(feeSinkAddress, NATIVE)).to.equal(fee);
    });
  });

  describe("a merchant contract (its own payee) that refuses native currency", function () {
    for (const [name, mode] of [
      ["reverts", Mode.Revert],
      ["burns all gas", Mode.BurnGas],
    ] as const) {
      it(`credits the payout when the merchant ${name}, and release still succeeds`, async function () {
        const f = await load(hostileMerchantFixture);
        const { escrow, hostile, buyer, feeRecipient, orderId, terms: t, items, book } = f;
        await hostile.setMode(mode, NATIVE, "0x");
        const fee = feeOf(NATIVE_AMOUNT);
        const hostileAddress = await hostile.getAddress();

        const tx = escrow.connect(buyer).confirmReceipt(t, items);
        await expect(tx)
          .to.emit(escrow, "PayoutCredited")
          .withArgs(hostileAddress, NATIVE, NATIVE_AMOUNT - fee);
        await expect(tx)
          .to.emit(escrow, "OrderCompleted")
          .withArgs(orderId, hostileAddress, buyer.address, NATIVE_AMOUNT - fee, fee);
        await expect(tx).to.changeEtherBalances([escrow, hostile, feeRecipient], [-fee, 0n, fee]);
        await book.send(tx);

        expect(f.view().state).to.equal(OrderState.Completed);
        expect((await escrow.statusOf(orderId)).state).to.equal(OrderState.Completed);
        expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(NATIVE_AMOUNT - fee);
      });
    }

    it("credits the payout on auto-release by a stranger", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, stranger, terms: t, items } = f;
      await hostile.setMode(Mode.BurnGas, NATIVE, "0x");
      await time.setNextBlockTimestamp(f.view().deadline + 1n);

      await expect(escrow.connect(stranger).autoRelease(t, items))
        .to.emit(escrow, "PayoutCredited")
        .withArgs(await hostile.getAddress(), NATIVE, NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT));
    });

    it("adds up the credits of several orders", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, buyer, operator, terms: t, items, book } = f;
      await hostile.setMode(Mode.Revert, NATIVE, "0x");
      const hostileAddress = await hostile.getAddress();
      await book.send(escrow.connect(buyer).confirmReceipt(t, items));
      const second = await placeOrder(f, book, "Shipped", {
        terms: { merchant: hostileAddress, token: NATIVE, amount: 1_000_000n },
        seller: operator,
      });
      await book.send(escrow.connect(buyer).confirmReceipt(second.terms, []));

      const expected = NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT) + 1_000_000n - feeOf(1_000_000n);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(expected);
    });

    it("pays nothing into the credit when the merchant accepts", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, buyer, terms: t, items } = f;
      const fee = feeOf(NATIVE_AMOUNT);

      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      await expect(tx).to.changeEtherBalance(hostile, NATIVE_AMOUNT - fee);
    });
  });

  describe("withdraw", function () {
    async function creditedHostileMerchant(): Promise<LoadedOrder<HostileFixture> & { owed: bigint }> {
      const f = await load(hostileMerchantFixture);
      await f.hostile.setMode(Mode.Revert, NATIVE, "0x");
      await f.book.send(f.escrow.connect(f.buyer).confirmReceipt(f.terms, f.items));
      return { ...f, owed: NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT) };
    }

    it("pays a native credit to another address and emits PayoutWithdrawn", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, hostile, stranger, owed } = f;
      const hostileAddress = await hostile.getAddress();

      const tx = withdrawAs(f, NATIVE, stranger.address);
      await expect(tx).to.emit(escrow, "PayoutWithdrawn").withArgs(hostileAddress, NATIVE, stranger.address, owed);
      await expect(tx).to.changeEtherBalances([escrow, stranger, hostile], [-owed, owed, 0n]);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(0n);
    });

    it("pays the merchant contract itself once it accepts native currency again", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, hostile, owed } = f;
      await hostile.setMode(Mode.Accept, NATIVE, "0x");

      await expect(withdrawAs(f, NATIVE, await hostile.getAddress())).to.changeEtherBalances(
        [escrow, hostile],
        [-owed, owed],
      );
    });

    it("works while paused", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, pauser, stranger, owed } = f;
      await escrow.connect(pauser).pause();
      await expect(withdrawAs(f, NATIVE, stranger.address)).to.changeEtherBalance(stranger, owed);
    });

    it("reverts with NothingToWithdraw once the credit was withdrawn", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, hostile, stranger } = f;
      await withdrawAs(f, NATIVE, stranger.address);

      await expect(withdrawAs(f, NATIVE, stranger.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(await hostile.getAddress(), NATIVE);
    });

    it("reverts with NothingToWithdraw for a stranger without credit, and for another token", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, usd, hostile, stranger } = f;
      const usdAddress = await usd.getAddress();

      await expect(escrow.connect(stranger).withdraw(NATIVE, stranger.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(stranger.address, NATIVE);
      await expect(withdrawAs(f, usdAddress, await hostile.getAddress()))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(await hostile.getAddress(), usdAddress);
    });

    it("reverts with CreditNotTransferable for an ERC-20 withdrawal to another address, before looking at the credit", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, usd, hostile, stranger } = f;
      const usdAddress = await usd.getAddress();
      const hostileAddress = await hostile.getAddress();

      await expect(withdrawAs(f, usdAddress, stranger.address))
        .to.be.revertedWithCustomError(escrow, "CreditNotTransferable")
        .withArgs(hostileAddress, stranger.address);
      await expect(escrow.connect(stranger).withdraw(usdAddress, hostileAddress))
        .to.be.revertedWithCustomError(escrow, "CreditNotTransferable")
        .withArgs(stranger.address, hostileAddress);
    });

    it("reverts with ZeroAddress for a withdrawal to the zero address", async function () {
      const f = await creditedHostileMerchant();
      await expect(withdrawAs(f, NATIVE, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(f.escrow, "ZeroAddress")
        .withArgs();
    });

    it("reverts with WithdrawFailed when the target refuses, and keeps the credit", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, hostile, owed } = f;
      const hostileAddress = await hostile.getAddress();

      await expect(withdrawAs(f, NATIVE, hostileAddress))
        .to.be.revertedWithCustomError(escrow, "WithdrawFailed")
        .withArgs(hostileAddress, NATIVE, owed);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(owed);
    });
  });

  describe("a buyer contract that refuses native currency", function () {
    it("credits a full refund to the buyer; the order is Refunded; the buyer withdraws elsewhere", async function () {
      const f = await load(hostileBuyerFixture);
      const { escrow, hostile, merchant, stranger, terms: t, book } = f;
      await hostile.setMode(Mode.Revert, NATIVE, "0x");
      const hostileAddress = await hostile.getAddress();

      const tx = escrow.connect(merchant).refund(t, NATIVE_AMOUNT, []);
      await expect(tx).to.emit(escrow, "PayoutCredited").withArgs(hostileAddress, NATIVE, NATIVE_AMOUNT);
      await book.send(tx);
      expect(f.view().state).to.equal(OrderState.Refunded);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(NATIVE_AMOUNT);

      await expect(withdrawAs(f, NATIVE, stranger.address)).to.changeEtherBalance(stranger, NATIVE_AMOUNT);
    });

    it("credits the buyer's share of an arbiter's split and pays the merchant's", async function () {
      const f = await load(hostileBuyerFixture);
      const { escrow, hostile, merchant, arbiter, terms: t, book } = f;
      const disputeCall = escrow.interface.encodeFunctionData("dispute", [t, EVIDENCE]);
      await book.send(hostile.execute(await escrow.getAddress(), 0n, disputeCall));
      await hostile.setMode(Mode.BurnGas, NATIVE, "0x");
      const buyerAmount = NATIVE_AMOUNT / 2n;
      const payeeShare = NATIVE_AMOUNT - buyerAmount;
      const tx = escrow.connect(arbiter).resolveDispute(t, buyerAmount, []);
      await expect(tx)
        .to.emit(escrow, "PayoutCredited")
        .withArgs(await hostile.getAddress(), NATIVE, buyerAmount);
      await expect(tx).to.changeEtherBalance(merchant, payeeShare - feeOf(payeeShare));
    });
  });

  describe("an ERC-20 that refuses the transfer (returns false)", function () {
    it("credits the payee's payout and the fee, and release still succeeds", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, feeRecipient, terms: t, items, book } = f;
      await rft.setFailing(true);
      const rftAddress = await rft.getAddress();
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(buyer).confirmReceipt(t, items);
      await expect(tx)
        .to.emit(escrow, "PayoutCredited")
        .withArgs(merchant.address, rftAddress, AMOUNT - fee);
      await expect(tx).to.emit(escrow, "PayoutCredited").withArgs(feeRecipient.address, rftAddress, fee);
      await book.send(tx);

      expect(f.view().state).to.equal(OrderState.Completed);
      expect(await rft.balanceOf(await escrow.getAddress())).to.equal(AMOUNT);
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(AMOUNT - fee);
      expect(await escrow.credited(feeRecipient.address, rftAddress)).to.equal(fee);
    });

    it("reverts with WithdrawFailed while the token still refuses", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, terms: t, items } = f;
      await rft.setFailing(true);
      await escrow.connect(buyer).confirmReceipt(t, items);
      const rftAddress = await rft.getAddress();

      await expect(escrow.connect(merchant).withdraw(rftAddress, merchant.address))
        .to.be.revertedWithCustomError(escrow, "WithdrawFailed")
        .withArgs(merchant.address, rftAddress, AMOUNT - feeOf(AMOUNT));
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(AMOUNT - feeOf(AMOUNT));
    });

    it("lets the payee and the fee recipient withdraw once the token works again", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, feeRecipient, stranger, terms: t, items } = f;
      await rft.setFailing(true);
      await escrow.connect(buyer).confirmReceipt(t, items);
      await rft.setFailing(false);
      const rftAddress = await rft.getAddress();
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(merchant).withdraw(rftAddress, merchant.address);
      await expect(tx)
        .to.emit(escrow, "PayoutWithdrawn")
        .withArgs(merchant.address, rftAddress, merchant.address, AMOUNT - fee);
      await expect(tx).to.changeTokenBalances(rft, [escrow, merchant], [-(AMOUNT - fee), AMOUNT - fee]);
      await expect(escrow.connect(feeRecipient).withdraw(rftAddress, feeRecipient.address)).to.changeTokenBalances(
        rft,
        [escrow, feeRecipient, stranger],
        [-fee, fee, 0n],
      );
      expect(await rft.balanceOf(await escrow.getAddress())).to.equal(0n);
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(0n);
      expect(await escrow.credited(feeRecipient.address, rftAddress)).to.equal(0n);
    });

    it("reverts with CreditNotTransferable when the payee or the fee recipient sends an ERC-20 credit elsewhere, and keeps it", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, feeRecipient, stranger, terms: t, items } = f;
      await rft.setFailing(true);
      await escrow.connect(buyer).confirmReceipt(t, items);
      await rft.setFailing(false);
      const rftAddress = await rft.getAddress();
      const fee = feeOf(AMOUNT);

      // A token that refused the payee by its own rules must not be routed around through the escrow.
      for (const [account, to] of [
        [merchant, stranger],
        [merchant, buyer],
        [feeRecipient, stranger],
        [feeRecipient, merchant],
      ] as const) {
        await expect(escrow.connect(account).withdraw(rftAddress, to.address))
          .to.be.revertedWithCustomError(escrow, "CreditNotTransferable")
          .withArgs(account.address, to.address);
      }
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(AMOUNT - fee);
      expect(await escrow.credited(feeRecipient.address, rftAddress)).to.equal(fee);
      expect(await rft.balanceOf(await escrow.getAddress())).to.equal(AMOUNT);

      await expect(escrow.connect(merchant).withdraw(rftAddress, merchant.address)).to.changeTokenBalance(
        rft,
        merchant,
        AMOUNT - fee,
      );
    });

    it("lets the buyer withdraw a credited ERC-20 refund only to itself", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, otherBuyer, terms: t, items } = f;
      await rft.setFailing(true);
      await escrow.connect(merchant).refund(t, AMOUNT, items);
      await rft.setFailing(false);
      const rftAddress = await rft.getAddress();

      await expect(escrow.connect(buyer).withdraw(rftAddress, otherBuyer.address))
        .to.be.revertedWithCustomError(escrow, "CreditNotTransferable")
        .withArgs(buyer.address, otherBuyer.address);
      const tx = escrow.connect(buyer).withdraw(rftAddress, buyer.address);
      await expect(tx).to.emit(escrow, "PayoutWithdrawn").withArgs(buyer.address, rftAddress, buyer.address, AMOUNT);
      await expect(tx).to.changeTokenBalances(rft, [escrow, buyer], [-AMOUNT, AMOUNT]);
      expect(await escrow.credited(buyer.address, rftAddress)).to.equal(0n);
    });

    it("credits a refund to the buyer while the token refuses", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, terms: t, items } = f;
      await rft.setFailing(true);
      const rftAddress = await rft.getAddress();

      await expect(escrow.connect(merchant).refund(t, AMOUNT, items))
        .to.emit(escrow, "PayoutCredited")
        .withArgs(buyer.address, rftAddress, AMOUNT);
      expect(await escrow.credited(buyer.address, rftAddress)).to.equal(AMOUNT);
    });
  });
});
