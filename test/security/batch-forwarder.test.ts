import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, idOf, OrderBook, OrderState, terms, USD } from "../helpers/fixtures";
import { signForwardRequest } from "../helpers/attacks";

/**
 * A batch relayed through the trusted forwarder: every item must run as the request's signer, never as an
 * address some item claims by appending it to its own calldata.
 */
describe("security: batch through the forwarder", function () {
  async function relayedBatchFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const escrowAddress = await f.escrow.getAddress();
    // An order of another merchant, which never approved the operator.
    const foreign = await terms(f, { merchant: f.otherMerchant.address });
    await book.send(f.escrow.connect(f.otherMerchant).createOrder(foreign, []));
    await book.send(f.escrow.connect(f.buyer).pay(foreign));
    return { ...f, book, escrowAddress, foreign, foreignId: await idOf(f.escrow, foreign) };
  }

  it("runs each item as the operator that signed the request (the stranger relaying it gains nothing)", async function () {
    const f = await relayedBatchFixture();
    const a = await terms(f);
    const b = await terms(f);
    const calls = [a, b].map((t) => f.escrow.interface.encodeFunctionData("createOrder", [t, []]));
    const request = await signForwardRequest(f.forwarder, f.operator, {
      to: f.escrowAddress,
      data: f.escrow.interface.encodeFunctionData("batch", [calls, true]),
    });

    await f.book.send(f.forwarder.connect(f.stranger).execute(request));
    expect(f.book.get(await idOf(f.escrow, a)).state).to.equal(OrderState.Created);
    expect(f.book.get(await idOf(f.escrow, b)).terms.merchant).to.equal(f.merchant.address);
    expect((await f.escrow.statusOf(await idOf(f.escrow, a))).state).to.equal(OrderState.Created);
  });

  it("fails an item in which the operator appends a spoofed merchant address with NotMerchantOrOperator", async function () {
    const f = await relayedBatchFixture();
    const own = await terms(f);
    const foreignNew = await terms(f, { merchant: f.otherMerchant.address });
    // The item claims to come from otherMerchant by carrying its address as an ERC-2771 suffix.
    const spoofedRefund = ethers.concat([
      f.escrow.interface.encodeFunctionData("refund", [f.foreign, 1n, []]),
      f.otherMerchant.address,
    ]);
    const spoofedCreate = ethers.concat([
      f.escrow.interface.encodeFunctionData("createOrder", [foreignNew, []]),
      f.otherMerchant.address,
    ]);
    const calls = [spoofedRefund, f.escrow.interface.encodeFunctionData("createOrder", [own, []]), spoofedCreate];
    const request = await signForwardRequest(f.forwarder, f.operator, {
      to: f.escrowAddress,
      data: f.escrow.interface.encodeFunctionData("batch", [calls, false]),
    });

    const tx = f.forwarder.connect(f.stranger).execute(request);
    const notAllowed = f.escrow.interface.encodeErrorResult("NotMerchantOrOperator", [
      f.otherMerchant.address,
      f.operator.address,
    ]);
    await expect(tx)
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, notAllowed)
      .and.to.emit(f.escrow, "BatchItemFailed")
      .withArgs(2n, notAllowed);
    await f.book.send(tx);

    expect(f.book.get(f.foreignId).state).to.equal(OrderState.Paid);
    expect(f.book.get(f.foreignId).escrowed).to.equal(USD(100));
    expect((await f.escrow.statusOf(f.foreignId)).refunded).to.equal(0n);
    expect(f.book.get(await idOf(f.escrow, own)).state).to.equal(OrderState.Created);
    expect((await f.escrow.statusOf(await idOf(f.escrow, foreignNew))).state).to.equal(OrderState.None);
  });

  it("fails a spoofed item of a batch sent directly by the operator with NotMerchantOrOperator", async function () {
    const f = await relayedBatchFixture();
    const spoofedCreate = ethers.concat([
      f.escrow.interface.encodeFunctionData("createOrder", [await terms(f, { merchant: f.otherMerchant.address }), []]),
      f.otherMerchant.address,
    ]);
    await expect(f.escrow.connect(f.operator).batch([spoofedCreate], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(
        0n,
        f.escrow.interface.encodeErrorResult("NotMerchantOrOperator", [f.otherMerchant.address, f.operator.address]),
      );
  });

  it("reverts a relayed batch signed by a merchant without the operator role", async function () {
    const f = await relayedBatchFixture();
    const request = await signForwardRequest(f.forwarder, f.merchant, {
      to: f.escrowAddress,
      data: f.escrow.interface.encodeFunctionData("batch", [[], true]),
    });
    // The forwarder hides the inner reason; the direct call shows it.
    await expect(f.forwarder.connect(f.stranger).execute(request)).to.be.revertedWithCustomError(
      f.forwarder,
      "FailedCall",
    );
    await expect(f.escrow.connect(f.merchant).batch([], true))
      .to.be.revertedWithCustomError(f.escrow, "AccessControlUnauthorizedAccount")
      .withArgs(f.merchant.address, await f.escrow.OPERATOR_ROLE());
  });
});
