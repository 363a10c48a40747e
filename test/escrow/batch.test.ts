import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OrderState, USD, idOf, itemsHash, terms, type LineItem, type OrderTerms } from "../helpers/fixtures";
import {
  createOrder,
  createPaidOrder,
  deployCreationFixture,
  itemTuples,
  termsTuple,
  type CreationFixture,
} from "../helpers/creation";
import { signForwardRequest } from "../helpers/metaTx";

function createCall(f: CreationFixture, t: OrderTerms, items: LineItem[] = []): string {
  return f.escrow.interface.encodeFunctionData("createOrder", [t, items]);
}

function escrowError(f: CreationFixture, name: string, args: unknown[] = []): string {
  return f.escrow.interface.encodeErrorResult(name, args);
}

async function stateOf(f: CreationFixture, t: OrderTerms, items: LineItem[] = []): Promise<bigint> {
  return (await f.escrow.statusOf(await idOf(f.escrow, t, items))).state;
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
    const items = [[{ skuId: f.skuA, quantity: 1n }], [], [{ skuId: f.skuB, quantity: 4n }]];
    const all = [
      await terms(f, {}, items[0]),
      await terms(f, { buyer: ethers.ZeroAddress }, items[1]),
      await terms(f, {}, items[2]),
    ];
    const calls = all.map((t, i) => createCall(f, t, items[i]));
    expect(await f.escrow.connect(f.operator).batch.staticCall(calls, true)).to.deep.equal([true, true, true]);
    const tx = f.escrow.connect(f.operator).batch(calls, true);
    for (const [i, t] of all.entries()) {
      await expect(tx)
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(
          await idOf(f.escrow, t, items[i]),
          f.merchant.address,
          t.buyer,
          termsTuple(t),
          FEE_BPS,
          itemTuples(items[i]),
        );
    }
    await f.book.send(tx);
    for (const [i, t] of all.entries()) {
      const id = await idOf(f.escrow, t, items[i]);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Created);
      expect(f.book.get(id).terms).to.deep.equal(t);
    }
    expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(1n);
    expect(await f.inventory.balanceOf(escrowAddr, f.skuB)).to.equal(4n);
  });

  it("returns an empty result for an empty batch", async function () {
    const f = await loadFixture(deployCreationFixture);
    expect(await f.escrow.connect(f.operator).batch.staticCall([], true)).to.deep.equal([]);
    expect(await f.escrow.connect(f.operator).batch.staticCall([], false)).to.deep.equal([]);
  });

  it("reverts everything with BatchCallFailed(index, reason) when an atomic item fails", async function () {
    const f = await loadFixture(deployCreationFixture);
    const firstItems = [{ skuId: f.skuA, quantity: 1n }];
    const first = await terms(f, { buyer: ethers.ZeroAddress }, firstItems);
    const bad = await terms(f, { amount: 0n });
    const third = await terms(f);
    const calls = [createCall(f, first, firstItems), createCall(f, bad), createCall(f, third)];
    await expect(f.escrow.connect(f.operator).batch(calls, true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(1n, escrowError(f, "ZeroAmount"));
    expect(await stateOf(f, first, firstItems)).to.equal(OrderState.None);
    expect(await stateOf(f, third)).to.equal(OrderState.None);
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
  });

  it("reports FeeAboveSignedMax and LineItemsMismatch as the reasons of failed items", async function () {
    const f = await loadFixture(deployCreationFixture);
    const lowMax = await terms(f, { maxFeeBps: FEE_BPS - 1n });
    const committed = [{ skuId: f.skuA, quantity: 1n }];
    const mismatched = await terms(f, {}, committed);
    const given = [{ skuId: f.skuA, quantity: 2n }];
    const tx = f.escrow.connect(f.operator).batch([createCall(f, lowMax), createCall(f, mismatched, given)], false);
    await expect(tx)
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, escrowError(f, "FeeAboveSignedMax", [FEE_BPS, FEE_BPS - 1n]))
      .and.to.emit(f.escrow, "BatchItemFailed")
      .withArgs(1n, escrowError(f, "LineItemsMismatch", [mismatched.itemsHash, itemsHash(given)]));
  });

  it("reports the inventory's error as the reason of a failed item", async function () {
    const f = await loadFixture(deployCreationFixture);
    const items = [{ skuId: f.skuA, quantity: 500n }];
    const t = await terms(f, {}, items);
    const reason = f.inventory.interface.encodeErrorResult("ERC1155InsufficientBalance", [
      f.merchant.address,
      100n,
      500n,
      f.skuA,
    ]);
    await expect(f.escrow.connect(f.operator).batch([createCall(f, t, items)], true))
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
    expect(await stateOf(f, first)).to.equal(OrderState.Created);
    expect(await stateOf(f, third)).to.equal(OrderState.Created);
    // The existing order is untouched.
    const s = await f.escrow.statusOf(existing.id);
    expect(s.state).to.equal(OrderState.Created);
    expect(s.deadline).to.equal(existing.terms.paymentDeadline);
  });

  it("emits no BatchItemFailed when every non-atomic item succeeds", async function () {
    const f = await loadFixture(deployCreationFixture);
    const calls = [createCall(f, await terms(f)), createCall(f, await terms(f))];
    await expect(f.escrow.connect(f.operator).batch(calls, false)).not.to.emit(f.escrow, "BatchItemFailed");
  });

  it("runs a mixed batch: creates one order, ships another, refunds a third and revokes an offer", async function () {
    const f = await loadFixture(deployCreationFixture);
    const items = [{ skuId: f.skuA, quantity: 3n }];
    const toShip = await createPaidOrder(f);
    const toRefund = await createPaidOrder(f, {}, items);
    const freshItems = [{ skuId: f.skuB, quantity: 1n }];
    const fresh = await terms(f, {}, freshItems);
    const offer = await terms(f);
    const tracking = ethers.id("parcel-1");
    const calls = [
      createCall(f, fresh, freshItems),
      f.escrow.interface.encodeFunctionData("ship", [toShip.terms, tracking]),
      f.escrow.interface.encodeFunctionData("refund", [toRefund.terms, USD(100), items]),
      f.escrow.interface.encodeFunctionData("revokeOffer", [offer]),
    ];
    const tx = f.escrow.connect(f.operator).batch(calls, true);
    await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [USD(100), -USD(100)]);
    await expect(tx).to.emit(f.escrow, "OrderShipped");
    await expect(tx)
      .to.emit(f.escrow, "OrderRefunded")
      .withArgs(toRefund.id, f.merchant.address, f.buyer.address, USD(100), 0n);
    await expect(tx)
      .to.emit(f.escrow, "OfferRevoked")
      .withArgs(await idOf(f.escrow, offer), f.merchant.address, f.operator.address);
    await f.book.send(tx);
    expect(await stateOf(f, fresh, freshItems)).to.equal(OrderState.Created);
    expect((await f.escrow.statusOf(toShip.id)).state).to.equal(OrderState.Shipped);
    expect((await f.escrow.statusOf(toRefund.id)).state).to.equal(OrderState.Refunded);
    expect(await stateOf(f, offer)).to.equal(OrderState.Revoked);
    expect(f.book.get(toShip.id).state).to.equal(OrderState.Shipped);
    expect(f.book.get(toRefund.id).state).to.equal(OrderState.Refunded);
    // Refunded stock went back to the merchant; the new order's stock is in escrow.
    expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuB)).to.equal(1n);
  });

  it("cannot pay a native order: the item fails with WrongNativeAmount (value is zero)", async function () {
    const f = await loadFixture(deployCreationFixture);
    const amount = ethers.parseEther("1");
    const o = await createOrder(f, { buyer: ethers.ZeroAddress, token: ethers.ZeroAddress, amount });
    const call = f.escrow.interface.encodeFunctionData("pay", [o.terms]);
    const reason = escrowError(f, "WrongNativeAmount", [amount, 0n]);
    await expect(f.escrow.connect(f.operator).batch([call], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, reason);
    await expect(f.escrow.connect(f.operator).batch([call], false))
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, reason);
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
    expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
  });

  it("does not let an operator create orders via batch for a merchant that did not approve it", async function () {
    const f = await loadFixture(deployCreationFixture);
    const t = await terms(f, { merchant: f.otherMerchant.address });
    await expect(f.escrow.connect(f.operator).batch([createCall(f, t)], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.otherMerchant.address, f.operator.address]));
  });

  it("does not let a second role holder (a stranger) create for a merchant that approved only the first", async function () {
    const f = await loadFixture(deployCreationFixture);
    await f.escrow.connect(f.admin).grantRole(await f.escrow.OPERATOR_ROLE(), f.stranger.address);
    const t = await terms(f);
    await expect(f.escrow.connect(f.stranger).batch([createCall(f, t)], false))
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.merchant.address, f.stranger.address]));
    expect(await stateOf(f, t)).to.equal(OrderState.None);
  });

  it("does not let an operator route a merchant's sales elsewhere via batch: PayeeNotAuthorized is the item's reason", async function () {
    const f = await loadFixture(deployCreationFixture);
    const fine = await terms(f);
    const toOperator = await terms(f, { payee: f.operator.address });
    const tx = f.escrow.connect(f.operator).batch([createCall(f, fine), createCall(f, toOperator)], false);
    await expect(tx)
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(1n, escrowError(f, "PayeeNotAuthorized", [f.merchant.address, f.operator.address, f.operator.address]));
    await (await tx).wait();
    expect(await stateOf(f, fine)).to.equal(OrderState.Created);
    expect(await stateOf(f, toOperator)).to.equal(OrderState.None);
    await expect(f.escrow.connect(f.operator).batch([createCall(f, toOperator)], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, escrowError(f, "PayeeNotAuthorized", [f.merchant.address, f.operator.address, f.operator.address]));
  });

  describe("forwarder context", function () {
    it("runs each item of a relayed batch as the operator that signed the request", async function () {
      const f = await loadFixture(deployCreationFixture);
      const a = await terms(f);
      const b = await terms(f);
      const calls = [a, b].map((t) => createCall(f, t));
      const request = await signForwardRequest(f.forwarder, f.operator, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("batch", [calls, true]),
        gas: 1_000_000n,
      });
      // The stranger only relays (pays gas); the operator is the sender of every item.
      await f.book.send(f.forwarder.connect(f.stranger).execute(request));
      expect(await stateOf(f, a)).to.equal(OrderState.Created);
      expect(await stateOf(f, b)).to.equal(OrderState.Created);
      expect(f.book.get(await idOf(f.escrow, a)).terms.merchant).to.equal(f.merchant.address);
    });

    it("names the request's signer, not the relayer, in the reason of a failed relayed item", async function () {
      const f = await loadFixture(deployCreationFixture);
      const own = await terms(f);
      const foreign = await terms(f, { merchant: f.otherMerchant.address });
      const calls = [createCall(f, foreign), createCall(f, own)];
      const request = await signForwardRequest(f.forwarder, f.operator, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("batch", [calls, false]),
        gas: 1_000_000n,
      });
      const tx = f.forwarder.connect(f.stranger).execute(request);
      await expect(tx)
        .to.emit(f.escrow, "BatchItemFailed")
        .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.otherMerchant.address, f.operator.address]));
      await f.book.send(tx);
      expect(await stateOf(f, own)).to.equal(OrderState.Created);
      expect(await stateOf(f, foreign)).to.equal(OrderState.None);
    });

    it("fails an item of a relayed batch that appends a spoofed merchant address", async function () {
      const f = await loadFixture(deployCreationFixture);
      const foreign = await terms(f, { merchant: f.otherMerchant.address });
      // The item claims to come from otherMerchant by carrying its address as an ERC-2771 suffix.
      const spoofed = ethers.concat([createCall(f, foreign), f.otherMerchant.address]);
      const request = await signForwardRequest(f.forwarder, f.operator, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("batch", [[spoofed], false]),
        gas: 1_000_000n,
      });
      await expect(f.forwarder.connect(f.stranger).execute(request))
        .to.emit(f.escrow, "BatchItemFailed")
        .withArgs(0n, escrowError(f, "NotMerchantOrOperator", [f.otherMerchant.address, f.operator.address]));
      expect(await stateOf(f, foreign)).to.equal(OrderState.None);
    });

    it("refuses a relayed batch signed by an account without the operator role", async function () {
      const f = await loadFixture(deployCreationFixture);
      const request = await signForwardRequest(f.forwarder, f.merchant, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("batch", [[createCall(f, await terms(f))], true]),
        gas: 1_000_000n,
      });
      // The forwarder hides the inner reason (the direct call shows AccessControlUnauthorizedAccount above).
      await expect(f.forwarder.connect(f.stranger).execute(request)).to.be.revertedWithCustomError(
        f.forwarder,
        "FailedCall",
      );
    });
  });
});
