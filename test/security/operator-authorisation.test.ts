import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, idOf, OrderBook, OrderState, signOffer, terms, USD } from "../helpers/fixtures";

/**
 * The operator holds OPERATOR_ROLE (it may batch) and is approved by `merchant` only. It must not act for
 * `otherMerchant`, which never approved it, neither directly nor inside a batch.
 */
describe("security: operator acting for a merchant that did not authorise it", function () {
  async function otherMerchantFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://other");
    const otherSku = await f.inventory.skuId(f.otherMerchant.address, 1);
    await f.inventory.connect(f.otherMerchant).mintStock([otherSku], [10n]);
    const items = [{ skuId: otherSku, quantity: 1n }];
    // One unpaid and one paid order of the other merchant, created by that merchant itself.
    const unpaid = await terms(f, { merchant: f.otherMerchant.address }, items);
    const paid = await terms(f, { merchant: f.otherMerchant.address }, items);
    await book.send(f.escrow.connect(f.otherMerchant).createOrder(unpaid, items));
    await book.send(f.escrow.connect(f.otherMerchant).createOrder(paid, items));
    await book.send(f.escrow.connect(f.buyer).pay(paid));
    const unpaidId = await idOf(f.escrow, unpaid, items);
    const paidId = await idOf(f.escrow, paid, items);
    return { ...f, book, otherSku, items, unpaid, paid, unpaidId, paidId };
  }

  it("reverts the unauthorised operator's createOrder for the other merchant with NotMerchantOrOperator", async function () {
    const f = await otherMerchantFixture();
    const t = await terms(f, { merchant: f.otherMerchant.address }, f.items);
    await expect(f.escrow.connect(f.operator).createOrder(t, f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.otherMerchant.address, f.operator.address);
  });

  it("reverts the unauthorised operator's ship and refund of the other merchant's order with NotMerchantOrOperator", async function () {
    const f = await otherMerchantFixture();
    await expect(f.escrow.connect(f.operator).ship(f.paid, ethers.ZeroHash))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.otherMerchant.address, f.operator.address);
    await expect(f.escrow.connect(f.operator).refund(f.paid, USD(100), f.items))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.otherMerchant.address, f.operator.address);
    await expect(f.escrow.connect(f.operator).revokeOffer(await terms(f, { merchant: f.otherMerchant.address })))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.otherMerchant.address, f.operator.address);
    expect((await f.escrow.statusOf(f.paidId)).state).to.equal(OrderState.Paid);
  });

  it("reverts the unauthorised operator's early cancel of the other merchant's order with PaymentDeadlineNotPassed", async function () {
    const f = await otherMerchantFixture();
    const unpaid = f.book.get(f.unpaidId);
    // Cancel is open to anyone after the payment deadline, so before it an outsider gets the deadline error.
    await expect(f.escrow.connect(f.operator).cancel(f.unpaid, f.items))
      .to.be.revertedWithCustomError(f.escrow, "PaymentDeadlineNotPassed")
      .withArgs(f.unpaidId, unpaid.deadline, anyTimestamp);
  });

  it("reverts the unauthorised operator's whole atomic batch with BatchCallFailed carrying NotMerchantOrOperator", async function () {
    const f = await otherMerchantFixture();
    const own = await terms(f);
    const calls = [
      f.escrow.interface.encodeFunctionData("createOrder", [own, []]),
      f.escrow.interface.encodeFunctionData("ship", [f.paid, ethers.ZeroHash]),
    ];
    const reason = f.escrow.interface.encodeErrorResult("NotMerchantOrOperator", [
      f.otherMerchant.address,
      f.operator.address,
    ]);

    await expect(f.escrow.connect(f.operator).batch(calls, true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(1n, reason);
    expect((await f.escrow.statusOf(await idOf(f.escrow, own))).state).to.equal(OrderState.None);
    expect((await f.escrow.statusOf(f.paidId)).state).to.equal(OrderState.Paid);
  });

  it("fails every item of the unauthorised operator's non-atomic batch with NotMerchantOrOperator and keeps the rest", async function () {
    const f = await otherMerchantFixture();
    const own = await terms(f);
    const foreign = await terms(f, { merchant: f.otherMerchant.address }, f.items);
    const calls = [
      f.escrow.interface.encodeFunctionData("createOrder", [foreign, f.items]),
      f.escrow.interface.encodeFunctionData("ship", [f.paid, ethers.ZeroHash]),
      f.escrow.interface.encodeFunctionData("refund", [f.paid, USD(100), f.items]),
      f.escrow.interface.encodeFunctionData("createOrder", [own, []]),
      f.escrow.interface.encodeFunctionData("cancel", [f.unpaid, f.items]),
    ];
    const notAllowed = f.escrow.interface.encodeErrorResult("NotMerchantOrOperator", [
      f.otherMerchant.address,
      f.operator.address,
    ]);

    const tx = f.escrow.connect(f.operator).batch(calls, false);
    await expect(tx).to.emit(f.escrow, "BatchItemFailed").withArgs(0n, notAllowed);
    await expect(tx).to.emit(f.escrow, "BatchItemFailed").withArgs(1n, notAllowed);
    await expect(tx).to.emit(f.escrow, "BatchItemFailed").withArgs(2n, notAllowed);
    // An outsider's cancel before the payment deadline fails with the deadline error.
    await expect(tx)
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(4n, (reason: string) => {
        const e = f.escrow.interface.parseError(reason);
        return e?.name === "PaymentDeadlineNotPassed" && e.args[0] === f.unpaidId;
      });
    await expect(tx).to.emit(f.escrow, "OrderCreated");
    await f.book.send(tx);

    expect(f.book.get(await idOf(f.escrow, own)).state).to.equal(OrderState.Created);
    expect(f.book.get(f.paidId).state).to.equal(OrderState.Paid);
    expect(f.book.get(f.unpaidId).state).to.equal(OrderState.Created);
    expect((await f.escrow.statusOf(await idOf(f.escrow, foreign, f.items))).state).to.equal(OrderState.None);
  });

  it("reverts a de-authorised operator once the merchant withdrew its approval with NotMerchantOrOperator", async function () {
    const f = await loadFixture(deployEscrowFixture);
    await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
    const t = await terms(f);
    await expect(f.escrow.connect(f.operator).createOrder(t, []))
      .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
      .withArgs(f.merchant.address, f.operator.address);
  });

  it("reverts a checkout offer signed by an operator the other merchant did not approve with InvalidOfferSignature", async function () {
    const f = await otherMerchantFixture();
    const offer = await terms(f, { merchant: f.otherMerchant.address }, f.items);
    const signature = await signOffer(f.escrow, f.operator, offer, f.items);
    await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "InvalidOfferSignature")
      .withArgs(await idOf(f.escrow, offer, f.items), f.operator.address);
  });

  it("reverts the operator reserving another merchant's SKU in its own merchant's order with NotSkuMerchant", async function () {
    const f = await otherMerchantFixture();
    // The operator is approved by `merchant`, and tries to sell `otherMerchant`'s stock in its name.
    const t = await terms(f, {}, f.items);
    await expect(f.escrow.connect(f.operator).createOrder(t, f.items))
      .to.be.revertedWithCustomError(f.inventory, "NotSkuMerchant")
      .withArgs(f.otherSku, f.merchant.address);
  });
});

function anyTimestamp(value: bigint): boolean {
  return typeof value === "bigint" && value > 0n;
}
