import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, idOf, OrderBook, OrderState, terms } from "../helpers/fixtures";
import { deployAttackFixture, errorName } from "../helpers/attacks";

const Mode = { Accept: 0, Revert: 1, BurnGas: 2, Reenter: 3 } as const;
const PRICE = ethers.parseEther("1");
const FEE = (PRICE * FEE_BPS) / 10_000n;

/**
 * A contract account as merchant or buyer of a native order that refuses, burns the gas of, or re-enters from its
 * native payout: the settlement must still complete, pay the others, and credit what it refused.
 */
describe("security: hostile native receiver", function () {
  /** A native order whose merchant is the hostile contract, paid by the buyer and shipped. */
  async function hostileMerchantShippedOrder() {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const escrowAddress = await f.escrow.getAddress();
    const hostileAddress = await f.hostile.getAddress();
    // The hostile contract is the merchant and (by default) the payee.
    const t = await terms(f, { merchant: hostileAddress, token: ethers.ZeroAddress, amount: PRICE });
    const orderId = await idOf(f.escrow, t);
    await book.send(
      f.hostile.execute(escrowAddress, 0n, f.escrow.interface.encodeFunctionData("createOrder", [t, []])),
    );
    await book.send(f.escrow.connect(f.buyer).pay(t, { value: PRICE }));
    await book.send(
      f.hostile.execute(escrowAddress, 0n, f.escrow.interface.encodeFunctionData("ship", [t, ethers.ZeroHash])),
    );
    return { ...f, book, t, orderId, escrowAddress, hostileAddress };
  }

  /** A native order with line items, paid by the hostile contract as buyer. */
  async function hostileBuyerPaidOrder() {
    const f = await loadFixture(deployAttackFixture);
    const book = new OrderBook(f.escrow);
    const escrowAddress = await f.escrow.getAddress();
    const hostileAddress = await f.hostile.getAddress();
    const items = [{ skuId: f.skuA, quantity: 3n }];
    const t = await terms(f, { buyer: hostileAddress, token: ethers.ZeroAddress, amount: PRICE }, items);
    const orderId = await idOf(f.escrow, t, items);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    await book.send(
      f.hostile.execute(escrowAddress, PRICE, f.escrow.interface.encodeFunctionData("pay", [t]), { value: PRICE }),
    );
    return { ...f, book, t, orderId, items, escrowAddress, hostileAddress };
  }

  describe("as merchant of a released order", function () {
    it("credits the refused payout when a hostile merchant reverts, pays the fee, and lets it withdraw elsewhere", async function () {
      const f = await hostileMerchantShippedOrder();
      await f.hostile.setMode(Mode.Revert, ethers.ZeroAddress, "0x");

      const tx = f.escrow.connect(f.buyer).confirmReceipt(f.t, []);
      await expect(tx)
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE - FEE);
      await expect(tx).to.changeEtherBalances([f.feeRecipient, f.hostile, f.escrow], [FEE, 0n, -FEE]);
      await f.book.send(tx);

      expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);
      expect(await f.escrow.credited(f.hostileAddress, ethers.ZeroAddress)).to.equal(PRICE - FEE);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(PRICE - FEE);

      // Withdrawing to itself still fails (and keeps the credit); withdrawing to another address works once.
      const toSelf = f.escrow.interface.encodeFunctionData("withdraw", [ethers.ZeroAddress, f.hostileAddress]);
      await expect(f.hostile.execute(f.escrowAddress, 0n, toSelf))
        .to.be.revertedWithCustomError(f.escrow, "WithdrawFailed")
        .withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE - FEE);
      const toStranger = f.escrow.interface.encodeFunctionData("withdraw", [ethers.ZeroAddress, f.stranger.address]);
      await expect(f.hostile.execute(f.escrowAddress, 0n, toStranger)).to.changeEtherBalances(
        [f.stranger, f.escrow],
        [PRICE - FEE, -(PRICE - FEE)],
      );
      await expect(f.hostile.execute(f.escrowAddress, 0n, toStranger))
        .to.be.revertedWithCustomError(f.escrow, "NothingToWithdraw")
        .withArgs(f.hostileAddress, ethers.ZeroAddress);
    });

    it("credits the payout of a hostile merchant that burns all gas, without starving the settlement", async function () {
      const f = await hostileMerchantShippedOrder();
      await f.hostile.setMode(Mode.BurnGas, ethers.ZeroAddress, "0x");
      await time.increaseTo(f.book.get(f.orderId).deadline + 1n);

      const tx = f.escrow.connect(f.stranger).autoRelease(f.t, [], { gasLimit: 500_000 });
      await expect(tx)
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE - FEE);
      await expect(tx).to.changeEtherBalances([f.feeRecipient, f.escrow], [FEE, -FEE]);
      const receipt = await f.book.send(tx);

      // The receiver gets 50,000 gas and no more, so the whole release stays cheap.
      expect(receipt.gasUsed).to.be.lessThan(200_000n);
      expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(PRICE - FEE);
    });

    it("credits the payout of a hostile merchant that re-enters from it, then blocks a double withdraw", async function () {
      const f = await hostileMerchantShippedOrder();
      // From inside its payout, the merchant tries to refund the same order to the buyer. The 50,000 gas of a
      // native payout do not even cover that attempt, so the payout is refused and credited.
      await f.hostile.setMode(
        Mode.Reenter,
        f.escrowAddress,
        f.escrow.interface.encodeFunctionData("refund", [f.t, PRICE, []]),
      );

      const tx = f.escrow.connect(f.buyer).confirmReceipt(f.t, []);
      await expect(tx)
        .to.emit(f.escrow, "PayoutCredited")
        .withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE - FEE);
      await expect(tx).to.changeEtherBalances([f.hostile, f.feeRecipient, f.buyer, f.escrow], [0n, FEE, 0n, -FEE]);
      await f.book.send(tx);
      expect(await f.hostile.reentrySucceeded()).to.equal(false);
      expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);

      // Withdrawing forwards all gas; from inside it the merchant tries to withdraw again.
      const withdrawCall = f.escrow.interface.encodeFunctionData("withdraw", [ethers.ZeroAddress, f.hostileAddress]);
      await f.hostile.setMode(Mode.Reenter, f.escrowAddress, withdrawCall);
      await expect(f.hostile.execute(f.escrowAddress, 0n, withdrawCall)).to.changeEtherBalances(
        [f.hostile, f.escrow],
        [PRICE - FEE, -(PRICE - FEE)],
      );

      expect(await f.hostile.reentrySucceeded()).to.equal(false);
      expect(errorName(f.escrow.interface, await f.hostile.reentryResult())).to.equal("ReentrancyGuardReentrantCall");
      expect(await f.escrow.credited(f.hostileAddress, ethers.ZeroAddress)).to.equal(0n);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(0n);
    });
  });

  describe("as buyer of a refunded or resolved order", function () {
    it("credits a refund the hostile buyer refuses, ends the order and returns the stock to the merchant", async function () {
      const f = await hostileBuyerPaidOrder();
      await f.hostile.setMode(Mode.Revert, ethers.ZeroAddress, "0x");

      const tx = f.escrow.connect(f.merchant).refund(f.t, PRICE, f.items);
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE);
      await expect(tx).to.changeEtherBalances([f.hostile, f.escrow], [0n, 0n]);
      await f.book.send(tx);

      expect(f.book.get(f.orderId).state).to.equal(OrderState.Refunded);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
      expect(await f.escrow.credited(f.hostileAddress, ethers.ZeroAddress)).to.equal(PRICE);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(PRICE);
    });

    it("credits the partial refund of a hostile buyer that re-enters from it and leaves the rest escrowed", async function () {
      const f = await hostileBuyerPaidOrder();
      const part = PRICE / 4n;
      // From inside the partial refund, the buyer tries to open a dispute on the same terms.
      await f.hostile.setMode(
        Mode.Reenter,
        f.escrowAddress,
        f.escrow.interface.encodeFunctionData("dispute", [f.t, ethers.ZeroHash]),
      );

      const tx = f.escrow.connect(f.merchant).refund(f.t, part, []);
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.hostileAddress, ethers.ZeroAddress, part);
      await expect(tx).to.changeEtherBalances([f.hostile, f.escrow], [0n, 0n]);
      await f.book.send(tx);

      expect(await f.hostile.reentrySucceeded()).to.equal(false);
      expect(f.book.get(f.orderId).state).to.equal(OrderState.Paid);
      expect(f.book.get(f.orderId).escrowed).to.equal(PRICE - part);
      const status = await f.escrow.statusOf(f.orderId);
      expect(status.state).to.equal(OrderState.Paid);
      expect(status.refunded).to.equal(part);
      // Escrowed remainder plus the credited refund.
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(PRICE);
      expect(await f.escrow.credited(f.hostileAddress, ethers.ZeroAddress)).to.equal(part);
    });

    it("credits the buyer share of a hostile gas-burning buyer and still pays merchant and fee", async function () {
      const f = await hostileBuyerPaidOrder();
      await f.book.send(
        f.hostile.execute(
          f.escrowAddress,
          0n,
          f.escrow.interface.encodeFunctionData("dispute", [f.t, ethers.ZeroHash]),
        ),
      );
      await f.hostile.setMode(Mode.BurnGas, ethers.ZeroAddress, "0x");
      const buyerShare = PRICE / 2n;
      const merchantShare = PRICE - buyerShare;
      const fee = (merchantShare * FEE_BPS) / 10_000n;

      const tx = f.escrow.connect(f.arbiter).resolveDispute(f.t, buyerShare, f.items);
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.hostileAddress, ethers.ZeroAddress, buyerShare);
      await expect(tx).to.changeEtherBalances(
        [f.merchant, f.feeRecipient, f.escrow],
        [merchantShare - fee, fee, -merchantShare],
      );
      await f.book.send(tx);

      expect(f.book.get(f.orderId).state).to.equal(OrderState.Resolved);
      // The buyer kept part of its money, so the goods are its; a contract without an ERC-1155 receiver hook
      // does not take delivery, so they are held for it in custody, and it claims them to an account of its choice.
      await expect(tx).to.emit(f.inventory, "StockHeld").withArgs(f.hostileAddress, [f.skuA], [3n]);
      expect(await f.inventory.balanceOf(f.hostileAddress, f.skuA)).to.equal(0n);
      expect(await f.inventory.heldStock(f.hostileAddress, f.skuA)).to.equal(3n);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(buyerShare);
      const wallet = ethers.Wallet.createRandom().address;
      await f.hostile.execute(
        await f.inventory.getAddress(),
        0n,
        f.inventory.interface.encodeFunctionData("claimStock", [[f.skuA], wallet]),
      );
      expect(await f.inventory.balanceOf(wallet, f.skuA)).to.equal(3n);
      expect(await f.inventory.heldStock(f.hostileAddress, f.skuA)).to.equal(0n);
    });

    it("credits the refund of a hostile buyer that cancels an unshipped order but refuses the money", async function () {
      const f = await hostileBuyerPaidOrder();
      await f.hostile.setMode(Mode.Revert, ethers.ZeroAddress, "0x");
      await time.increaseTo(f.book.get(f.orderId).deadline + 1n);

      const tx = f.hostile.execute(
        f.escrowAddress,
        0n,
        f.escrow.interface.encodeFunctionData("cancelUnshipped", [f.t, f.items]),
      );
      await expect(tx).to.emit(f.escrow, "PayoutCredited").withArgs(f.hostileAddress, ethers.ZeroAddress, PRICE);
      await f.book.send(tx);

      expect(f.book.get(f.orderId).state).to.equal(OrderState.Refunded);
      expect(await f.escrow.credited(f.hostileAddress, ethers.ZeroAddress)).to.equal(PRICE);
      expect(await ethers.provider.getBalance(f.escrowAddress)).to.equal(PRICE);
    });
  });
});
