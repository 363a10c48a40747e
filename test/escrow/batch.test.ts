import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OrderState, USD, terms, type LineItem, type OrderTerms } from "../helpers/fixtures";
import {
  ZERO_HASH,
  createOrder,
  createPaidOrder,
  deployCreationFixture,
  itemTuples,
  type CreationFixture,
} from "../helpers/creation";

function createCall(f: CreationFixture, t: OrderTerms, items: LineItem[] = []): string {
  return f.escrow.interface.encodeFunctionData("createOrder", [t, items]);
}

function escrowError(f: CreationFixture, name: string, args: unknown[] = []): string {
  return f.escrow.interface.encodeErrorResult(name, args);
}

describe("PaymentEscrow.batch", function () {
  it("reverts with AccessControlUnauthorizedAccount for a caller without the operator role", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f);
    // The merchant itself may create orders, but only operators may batch.
    for (const caller of [f.stranger, f.merchant]) {
      await expect(f.escrow.connect(caller).batch([createCall(f, t)], true))
        .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(caller.address, await f.escrow.OPERATOR_ROLE());
    }
  });

  it("creates several orders atomically, each with its stock reserved", async function () {
    const f = await loadFixture(deployCreationFixture);
    const escrowAddr = await f.escrow.getAddress();
    const all = [await terms(f), await terms(f, { buyer: ethers.ZeroAddress }), await terms(f)];
    const items = [[{ skuId: f.skuA, quantity: 1n }], [], [{ skuId: f.skuB, quantity: 4n }]];
    const calls = all.map((t, i) => createCall(f, t, items[i]));
    expect(await f.escrow.connect(f.operator).batch.staticCall(calls, true)).to.deep.equal([true, true, true]);
    const tx = f.escrow.connect(f.operator).batch(calls, true);
    for (const [i, t] of all.entries()) {
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(
          t.orderId,
          f.merchant.address,
          t.buyer,
          t.token,
          t.amount,
          FEE_BPS,
          t.paymentDeadline,
          t.shipWithin,
          t.protectionPeriod,
          itemTuples(items[i]),
        );
    }
    await f.book.send(tx);
    for (const t of all) {
      const rec = f.book.get(t.orderId as string);
      expect(rec.state).to.equal(OrderState.Created);
      expect(await f.escrow.isCurrent(t.orderId, rec)).to.equal(true);
    }
    expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(1n);
    expect(await f.inventory.balanceOf(escrowAddr, f.skuB)).to.equal(4n);
  });

  it("returns an empty result for an empty batch", async function () {
    const f = await loadFixture(deployCreationFixture);
    expect(await f.escrow.connect(f.operator).batch.staticCall([], true)).to.deep.equal([]);
  });

  it("reverts everything with BatchCallFailed(index, reason) when an atomic item fails", async function () {
    const f = await loadFixture(deployCreationFixture);
    const first = await terms(f, { buyer: ethers.ZeroAddress });
    const bad = await terms(f, { amount: 0n });
    const third = await terms(f);
    const calls = [createCall(f, first, [{ skuId: f.skuA, quantity: 1n }]), createCall(f, bad), createCall(f, third)];
    await expect(f.escrow.connect(f.operator).batch(calls, true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(1n, escrowError(f, "ZeroAmount"));
    expect(await f.escrow.orderHash(first.orderId)).to.equal(ZERO_HASH);
    expect(await f.escrow.orderHash(third.orderId)).to.equal(ZERO_HASH);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });

  it("reports the inventory's error as the reason of a failed item", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f);
    const reason = f.inventory.interface.encodeErrorResult("ERC1155InsufficientBalance", [
      f.merchant.address,
      100n,
      500n,
      f.skuA,
    ]);
    await expect(f.escrow.connect(f.operator).batch([createCall(f, t, [{ skuId: f.skuA, quantity: 500n }])], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, reason);
  });

  it("emits BatchItemFailed for a failing non-atomic item and keeps the others", async function () {
    const f = await loadFixture(deployCreationFixture);
    const existing = await createOrder(f);
    const first = await terms(f);
    const third = await terms(f);
    const calls = [createCall(f, first), createCall(f, existing.terms), createCall(f, third)];
    expect(await f.escrow.connect(f.operator).batch.staticCall(calls, false)).to.deep.equal([true, false, true]);
    const tx = f.escrow.connect(f.operator).batch(calls, false);
    await expect(tx)
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(1n, escrowError(f, "OrderAlreadyExists", [existing.id]));
    await f.book.send(tx);
    expect(f.book.get(first.orderId as string).state).to.equal(OrderState.Created);
    expect(f.book.get(third.orderId as string).state).to.equal(OrderState.Created);
    // The existing order is untouched.
    expect(await f.escrow.isCurrent(existing.id, existing.record)).to.equal(true);
  });

  it("runs a mixed batch: creates one order, ships another and refunds a third", async function () {
    const f = await loadFixture(deployCreationFixture);
    const items = [{ skuId: f.skuA, quantity: 3n }];
    const toShip = await createPaidOrder(f);
    const toRefund = await createPaidOrder(f, {}, items);
    const fresh = await terms(f);
    const tracking = ethers.id("parcel-1");
    const calls = [
      createCall(f, fresh, [{ skuId: f.skuB, quantity: 1n }]),
      f.escrow.interface.encodeFunctionData("ship", [toShip.id, toShip.record, tracking]),
      f.escrow.interface.encodeFunctionData("refund", [toRefund.id, toRefund.record, USD(100), items]),
    ];
    const tx = f.escrow.connect(f.operator).batch(calls, true);
    await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [USD(100), -USD(100)]);
    await expect(tx).to.emit(f.escrow, "OrderShipped");
    await expect(tx)
      .to.emit(f.escrow, "OrderRefunded")
      .withArgs(toRefund.id, f.merchant.address, f.buyer.address, USD(100), 0n);
    await f.book.send(tx);
    expect(f.book.get(fresh.orderId as string).state).to.equal(OrderState.Created);
    expect(f.book.get(toShip.id).state).to.equal(OrderState.Shipped);
    expect(f.book.get(toRefund.id).state).to.equal(OrderState.Refunded);
    for (const id of [fresh.orderId as string, toShip.id, toRefund.id]) {
      expect(await f.escrow.isCurrent(id, f.book.get(id))).to.equal(true);
    }
    // Refunded stock went back to the merchant; the new order's stock is in escrow.
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuB)).to.equal(1n);
  });

  it("cannot pay a native order: the item fails with WrongNativeAmount (value is zero)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const amount = ethers.parseEther("1");
    const o = await createOrder(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount });
    const call = f.escrow.interface.encodeFunctionData("pay", [o.id, o.record]);
    const reason = escrowError(f, "WrongNativeAmount", [amount, 0n]);
    await expect(f.escrow.connect(f.operator).batch([call], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, reason);
    await expect(f.escrow.connect(f.operator).batch([call], false))
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, reason);
    expect(await f.escrow.isCurrent(o.id, o.record)).to.equal(true);
  });

  it("does not let an operator create orders via batch for a merchant that did not approve it", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f, { merchant: f.otherMerchant.address });
    await expect(f.escrow.connect(f.operator).batch([createCall(f, t)], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.otherMerchant.address, f.operator.address]));
  });

  it("does not let a second role holder create for a merchant that approved only the first", async function () {
    const f = await loadFixture(deployCreationFixture);
    await f.escrow.connect(f.admin).grantRole(await f.escrow.OPERATOR_ROLE(), f.stranger.address);
    const t = await terms(f);
    await expect(f.escrow.connect(f.stranger).batch([createCall(f, t)], false))
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.merchant.address, f.stranger.address]));
    expect(await f.escrow.orderHash(t.orderId)).to.equal(ZERO_HASH);
  });
});
