import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { OrderBook, OrderState, USD, idOf, terms } from "../helpers/fixtures";
import { deployAttackFixture, errorName } from "../helpers/attacks";
import { NO_ITEMS_HASH } from "../../sdk/orderRecord";

/**
 * Every state-changing entry point of the escrow is guarded: a malicious token calling any of them back from
 * inside a payment transfer is refused before anything else is checked.
 */
describe("security: re-entrancy guard on every entry point", function () {
  // Terms that pass no check at all: only the guard can be what refuses them.
  const nestedTerms = {
    merchant: ethers.ZeroAddress,
    payee: ethers.ZeroAddress,
    buyer: ethers.ZeroAddress,
    token: ethers.ZeroAddress,
    amount: 1n,
    maxFeeBps: 0n,
    paymentDeadline: 0n,
    shipWithin: 0n,
    protectionPeriod: 0n,
    refundWindow: 0n,
    itemsHash: NO_ITEMS_HASH,
    salt: ethers.id("nested"),
  };
  const permit = { deadline: 0n, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
  const nestedCalls: Array<[string, unknown[]]> = [
    ["revokeOffer", [nestedTerms]],
    ["createOrder", [nestedTerms, []]],
    ["pay", [nestedTerms]],
    ["payWithPermit", [nestedTerms, permit]],
    ["checkout", [nestedTerms, [], "0x"]],
    ["checkoutWithPermit", [nestedTerms, [], "0x", permit]],
    ["ship", [nestedTerms, ethers.ZeroHash]],
    ["confirmReceipt", [nestedTerms, []]],
    ["autoRelease", [nestedTerms, []]],
    ["cancel", [nestedTerms, []]],
    ["cancelUnshipped", [nestedTerms, []]],
    ["refund", [nestedTerms, 1n, []]],
    ["refundCompleted", [nestedTerms, 1n]],
    ["refundCompletedWithPermit", [nestedTerms, 1n, permit]],
    ["dispute", [nestedTerms, ethers.ZeroHash]],
    ["proposeSettlement", [nestedTerms, 0n]],
    ["acceptSettlement", [nestedTerms, 0n, []]],
    ["resolveDispute", [nestedTerms, 0n, []]],
    ["settleExpiredDispute", [nestedTerms, []]],
    ["withdraw", [ethers.ZeroAddress, ethers.ZeroAddress]],
  ];

  for (const [fn, args] of nestedCalls) {
    it(`refuses a malicious token's nested ${fn} with ReentrancyGuardReentrantCall and completes the outer payment`, async function () {
      const f = await loadFixture(deployAttackFixture);
      const book = new OrderBook(f.escrow);
      const t = await terms(f, { token: await f.evilToken.getAddress(), amount: USD(10) });
      const orderId = await idOf(f.escrow, t);
      await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      await f.evilToken.arm(
        await f.escrow.getAddress(),
        f.escrow.interface.encodeFunctionData(fn as "pay", args as never),
      );

      const tx = f.escrow.connect(f.buyer).pay(t);
      await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [-USD(10), USD(10)]);
      await book.send(tx);

      expect(await f.evilToken.attempted()).to.equal(true);
      expect(await f.evilToken.reentrySucceeded()).to.equal(false);
      expect(errorName(f.escrow.interface, await f.evilToken.reentryResult())).to.equal("ReentrancyGuardReentrantCall");
      expect(book.get(orderId).state).to.equal(OrderState.Paid);
    });
  }
});
