import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployCreationFixture, createPaidOrder } from "../helpers/creation";
import { OrderState, idOf, itemsHash, terms } from "../helpers/fixtures";
import { NO_ITEMS_HASH } from "../../sdk/orderRecord";

describe("PaymentEscrow order ids", function () {
  it("the sdk computes the same order id and items commitment as the escrow", async function () {
    const f = await loadFixture(deployCreationFixture);
    const items = [
      { skuId: f.skuA, quantity: 2n },
      { skuId: f.skuB, quantity: 1n },
    ];
    const t = await terms(f, {}, items);
    expect(await f.escrow.orderIdOf(t)).to.equal(await idOf(f.escrow, t, items));
    // The escrow names the commitment it computed in LineItemsMismatch: it is the sdk's.
    for (const given of [items, []]) {
      const wrong = { ...t, itemsHash: ethers.id("not these items") };
      await expect(f.escrow.connect(f.merchant).createOrder(wrong, given))
        .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
        .withArgs(wrong.itemsHash, itemsHash(given));
    }
    expect(itemsHash([])).to.equal(NO_ITEMS_HASH);
  });

  it("a created and paid order keeps its terms; the status holds the payer and the ship-by time", async function () {
    const f = await loadFixture(deployCreationFixture);
    const o = await createPaidOrder(f);
    const s = await f.escrow.statusOf(o.id);
    expect(s.state).to.equal(OrderState.Paid);
    expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress); // the buyer is in the terms
    expect(s.deadline).to.equal(o.view.deadline);
    expect(o.view.escrowed).to.equal(o.terms.amount);
    await f.escrow.connect(f.merchant).ship(o.terms, ethers.ZeroHash);
    await f.escrow.connect(f.buyer).confirmReceipt(o.terms, []);
    expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Completed);
  });
});
