import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HostileReceiver, ReturnsFalseToken } from "../../typechain-types";
import { OrderBook, OrderState, deployEscrowFixture, terms } from "../helpers/fixtures";
import {
  AMOUNT,
  NATIVE_AMOUNT,
  feeOf,
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

/** A shipped native order whose merchant is a HostileReceiver (acting through the fixture's operator). */
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
  const { orderId, items } = await placeOrder(f, book, "Shipped", {
    terms: { merchant: hostileAddress, token: NATIVE, amount: NATIVE_AMOUNT },
    seller: f.operator,
  });
  return { ...f, hostile, orderId, items, records: new Map(book.records) };
}

/** A paid native order whose buyer is a HostileReceiver. */
async function hostileBuyerFixture(): Promise<HostileFixture> {
  const f = await deployEscrowFixture();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  const book = new OrderBook(f.escrow);
  const t = await terms(f, { buyer: await hostile.getAddress(), token: NATIVE, amount: NATIVE_AMOUNT });
  const orderId = t.orderId as string;
  await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
  const payCall = f.escrow.interface.encodeFunctionData("pay", [orderId, book.get(orderId)]);
  await book.send(hostile.execute(await f.escrow.getAddress(), NATIVE_AMOUNT, payCall, { value: NATIVE_AMOUNT }));
  return { ...f, hostile, orderId, items: [], records: new Map(book.records) };
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
  const { orderId, items } = await placeOrder(f, book, "Shipped", { terms: { token: rftAddress, amount: AMOUNT } });
  return { ...f, rft, orderId, items, records: new Map(book.records) };
}

/** Makes the HostileReceiver send `escrow.withdraw(token, to)`. */
async function withdrawAs(f: LoadedOrder<HostileFixture>, token: string, to: string) {
  const data = f.escrow.interface.encodeFunctionData("withdraw", [token, to]);
  return f.hostile.execute(await f.escrow.getAddress(), 0n, data);
}

describe("PaymentEscrow payouts", function () {
  describe("a merchant contract that refuses native currency", function () {
    for (const [name, mode] of [
      ["reverts", Mode.Revert],
      ["burns all gas", Mode.BurnGas],
    ] as const) {
      it(`credits the payout when the merchant ${name}, and release still succeeds`, async function () {
        const f = await load(hostileMerchantFixture);
        const { escrow, hostile, buyer, feeRecipient, orderId, items, book } = f;
        await hostile.setMode(mode, NATIVE, "0x");
        const fee = feeOf(NATIVE_AMOUNT);
        const hostileAddress = await hostile.getAddress();

        const tx = escrow.connect(buyer).confirmReceipt(orderId, f.record(), items);
        await expect(tx)
          .to.emit(escrow, "PayoutCredited")
          .withArgs(hostileAddress, NATIVE, NATIVE_AMOUNT - fee);
        await expect(tx)
          .to.emit(escrow, "OrderCompleted")
          .withArgs(orderId, hostileAddress, buyer.address, NATIVE_AMOUNT - fee, fee, false);
        await expect(tx).to.changeEtherBalances([escrow, hostile, feeRecipient], [-fee, 0n, fee]);
        await book.send(tx);

        expect(f.record().state).to.equal(OrderState.Completed);
        expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(NATIVE_AMOUNT - fee);
      });
    }

    it("credits the payout on auto-release by a stranger", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, stranger, orderId, items } = f;
      await hostile.setMode(Mode.BurnGas, NATIVE, "0x");
      await time.setNextBlockTimestamp(f.record().deadline + 1n);

      await expect(escrow.connect(stranger).autoRelease(orderId, f.record(), items))
        .to.emit(escrow, "PayoutCredited")
        .withArgs(await hostile.getAddress(), NATIVE, NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT));
    });

    it("adds up the credits of several orders", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, buyer, operator, orderId, items, book } = f;
      await hostile.setMode(Mode.Revert, NATIVE, "0x");
      const hostileAddress = await hostile.getAddress();
      await book.send(escrow.connect(buyer).confirmReceipt(orderId, f.record(), items));
      const second = await placeOrder(f, book, "Shipped", {
        terms: { merchant: hostileAddress, token: NATIVE, amount: 1_000_000n },
        seller: operator,
      });
      await book.send(escrow.connect(buyer).confirmReceipt(second.orderId, book.get(second.orderId), []));

      const expected = NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT) + 1_000_000n - feeOf(1_000_000n);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(expected);
    });

    it("pays nothing into the credit when the merchant accepts", async function () {
      const f = await load(hostileMerchantFixture);
      const { escrow, hostile, buyer, orderId, items } = f;
      const fee = feeOf(NATIVE_AMOUNT);

      const tx = escrow.connect(buyer).confirmReceipt(orderId, f.record(), items);
      await expect(tx).not.to.emit(escrow, "PayoutCredited");
      await expect(tx).to.changeEtherBalance(hostile, NATIVE_AMOUNT - fee);
    });
  });

  describe("withdraw", function () {
    async function creditedHostileMerchant(): Promise<LoadedOrder<HostileFixture> & { owed: bigint }> {
      const f = await load(hostileMerchantFixture);
      await f.hostile.setMode(Mode.Revert, NATIVE, "0x");
      await f.book.send(f.escrow.connect(f.buyer).confirmReceipt(f.orderId, f.record(), f.items));
      return { ...f, owed: NATIVE_AMOUNT - feeOf(NATIVE_AMOUNT) };
    }

    it("pays the credited amount to another address and emits PayoutWithdrawn", async function () {
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

    it("reverts with NothingToWithdraw once the credit was withdrawn", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, hostile, stranger } = f;
      await withdrawAs(f, NATIVE, stranger.address);

      await expect(withdrawAs(f, NATIVE, stranger.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(await hostile.getAddress(), NATIVE);
    });

    it("reverts with NothingToWithdraw for an account without credit, and for another token", async function () {
      const f = await creditedHostileMerchant();
      const { escrow, usd, hostile, stranger } = f;
      const usdAddress = await usd.getAddress();

      await expect(escrow.connect(stranger).withdraw(NATIVE, stranger.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(stranger.address, NATIVE);
      await expect(withdrawAs(f, usdAddress, stranger.address))
        .to.be.revertedWithCustomError(escrow, "NothingToWithdraw")
        .withArgs(await hostile.getAddress(), usdAddress);
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
      const { escrow, hostile, merchant, stranger, orderId, book } = f;
      await hostile.setMode(Mode.Revert, NATIVE, "0x");
      const hostileAddress = await hostile.getAddress();

      const tx = escrow.connect(merchant).refund(orderId, f.record(), NATIVE_AMOUNT, []);
      await expect(tx).to.emit(escrow, "PayoutCredited").withArgs(hostileAddress, NATIVE, NATIVE_AMOUNT);
      await book.send(tx);
      expect(f.record().state).to.equal(OrderState.Refunded);
      expect(await escrow.credited(hostileAddress, NATIVE)).to.equal(NATIVE_AMOUNT);

      await expect(withdrawAs(f, NATIVE, stranger.address)).to.changeEtherBalance(stranger, NATIVE_AMOUNT);
    });
  });

  describe("an ERC-20 that refuses the transfer (returns false)", function () {
    it("credits the merchant's payout and the fee, and release still succeeds", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, feeRecipient, orderId, items, book } = f;
      await rft.setFailing(true);
      const rftAddress = await rft.getAddress();
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(buyer).confirmReceipt(orderId, f.record(), items);
      await expect(tx)
        .to.emit(escrow, "PayoutCredited")
        .withArgs(merchant.address, rftAddress, AMOUNT - fee);
      await expect(tx).to.emit(escrow, "PayoutCredited").withArgs(feeRecipient.address, rftAddress, fee);
      await book.send(tx);

      expect(f.record().state).to.equal(OrderState.Completed);
      expect(await rft.balanceOf(await escrow.getAddress())).to.equal(AMOUNT);
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(AMOUNT - fee);
      expect(await escrow.credited(feeRecipient.address, rftAddress)).to.equal(fee);
    });

    it("reverts with WithdrawFailed while the token still refuses", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, orderId, items } = f;
      await rft.setFailing(true);
      await escrow.connect(buyer).confirmReceipt(orderId, f.record(), items);
      const rftAddress = await rft.getAddress();

      await expect(escrow.connect(merchant).withdraw(rftAddress, merchant.address))
        .to.be.revertedWithCustomError(escrow, "WithdrawFailed")
        .withArgs(merchant.address, rftAddress, AMOUNT - feeOf(AMOUNT));
    });

    it("lets the merchant and the fee recipient withdraw once the token works again", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, feeRecipient, stranger, orderId, items } = f;
      await rft.setFailing(true);
      await escrow.connect(buyer).confirmReceipt(orderId, f.record(), items);
      await rft.setFailing(false);
      const rftAddress = await rft.getAddress();
      const fee = feeOf(AMOUNT);

      const tx = escrow.connect(merchant).withdraw(rftAddress, merchant.address);
      await expect(tx)
        .to.emit(escrow, "PayoutWithdrawn")
        .withArgs(merchant.address, rftAddress, merchant.address, AMOUNT - fee);
      await expect(tx).to.changeTokenBalances(rft, [escrow, merchant], [-(AMOUNT - fee), AMOUNT - fee]);
      await expect(escrow.connect(feeRecipient).withdraw(rftAddress, stranger.address)).to.changeTokenBalance(
        rft,
        stranger,
        fee,
      );
      expect(await rft.balanceOf(await escrow.getAddress())).to.equal(0n);
      expect(await escrow.credited(merchant.address, rftAddress)).to.equal(0n);
    });

    it("credits a refund to the buyer while the token refuses", async function () {
      const f = await load(returnsFalseTokenFixture);
      const { escrow, rft, merchant, buyer, orderId, items } = f;
      await rft.setFailing(true);
      const rftAddress = await rft.getAddress();

      await expect(escrow.connect(merchant).refund(orderId, f.record(), AMOUNT, items))
        .to.emit(escrow, "PayoutCredited")
        .withArgs(buyer.address, rftAddress, AMOUNT);
      expect(await escrow.credited(buyer.address, rftAddress)).to.equal(AMOUNT);
    });
  });
});
