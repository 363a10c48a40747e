import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { OrderBook, OrderState, USD, terms } from "../helpers/fixtures";
import { deployAttackFixture, errorName } from "../helpers/attacks";

/**
 * Every state-changing entry point of the escrow is guarded: a malicious token calling any of them back from
 * inside a payment transfer is refused before anything else is checked.
 */
describe("security: re-entrancy guard on every entry point", function () {
  const record = {
    merchant: ethers.ZeroAddress,
    buyer: ethers.ZeroAddress,
    token: ethers.ZeroAddress,
    amount: 1n,
    feeBps: 0n,
    state: OrderState.Paid,
    deadline: 0n,
    shipWithin: 0n,
    protectionPeriod: 0n,
    itemsHash: ethers.ZeroHash,
  };
  const offer = {
    orderId: ethers.id("nested"),
    merchant: ethers.ZeroAddress,
    buyer: ethers.ZeroAddress,
    token: ethers.ZeroAddress,
    amount: 1n,
    paymentDeadline: 0n,
    shipWithin: 0n,
    protectionPeriod: 0n,
  };
  const permit = { deadline: 0n, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
  const id = ethers.id("nested");
  const nestedCalls: Array<[string, unknown[]]> = [
    ["createOrder", [offer, []]],
    ["pay", [id, record]],
    ["payWithPermit", [id, record, permit]],
    ["checkout", [offer, [], "0x"]],
    ["checkoutWithPermit", [offer, [], "0x", permit]],
    ["ship", [id, record, ethers.ZeroHash]],
    ["confirmReceipt", [id, record, []]],
    ["autoRelease", [id, record, []]],
    ["cancel", [id, record, []]],
    ["cancelUnshipped", [id, record, []]],
    ["refund", [id, record, 1n, []]],
    ["dispute", [id, record, ethers.ZeroHash]],
    ["resolveDispute", [id, record, 0n, []]],
    ["withdraw", [ethers.ZeroAddress, ethers.ZeroAddress]],
  ];

  for (const [fn, args] of nestedCalls) {
    it(`refuses a nested ${fn} with ReentrancyGuardReentrantCall and completes the outer payment`, async function () {
      const f = await loadFixture(deployAttackFixture);
      const book = new OrderBook(f.escrow);
      const t = await terms(f, { token: await f.evilToken.getAddress(), amount: USD(10) });
      const orderId = t.orderId as string;
      await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      await f.evilToken.arm(
        await f.escrow.getAddress(),
        f.escrow.interface.encodeFunctionData(fn as "pay", args as never),
      );

      const tx = f.escrow.connect(f.buyer).pay(orderId, book.get(orderId));
      await expect(tx).to.changeTokenBalances(f.evilToken, [f.buyer, f.escrow], [-USD(10), USD(10)]);
      await book.send(tx);

      expect(await f.evilToken.reentrySucceeded()).to.equal(false);
      expect(errorName(f.escrow.interface, await f.evilToken.reentryResult())).to.equal("ReentrancyGuardReentrantCall");
      expect(book.get(orderId).state).to.equal(OrderState.Paid);
    });
  }
});
