import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { HOUR, OrderState, USD, idOf, newSalt, signOffer, signPermit, terms } from "../helpers/fixtures";
import { createOrder, createPaidOrder, deployCreationFixture, type CreationFixture } from "../helpers/creation";
import type { LineItem, OrderTerms } from "../helpers/fixtures";

/** An offer with line items that the merchant signed and then revoked. */
async function revokedOffer(f: CreationFixture) {
  const items: LineItem[] = [{ skuId: f.skuA, quantity: 2n }];
  const t = await terms(f, {}, items);
  const id = await idOf(f.escrow, t, items);
  const sig = await signOffer(f.escrow, f.merchant, t, items);
  await (await f.escrow.connect(f.merchant).revokeOffer(t)).wait();
  return { t, id, items, sig };
}

describe("PaymentEscrow.revokeOffer", function () {
  describe("success", function () {
    it("lets the merchant revoke an unused offer: OfferRevoked, state Revoked (9), returns the id", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, {}, items);
      const id = await idOf(f.escrow, t, items);
      expect(await f.escrow.connect(f.merchant).revokeOffer.staticCall(t)).to.equal(id);
      await expect(f.escrow.connect(f.merchant).revokeOffer(t))
        .to.emit(f.escrow, "OfferRevoked")
        .withArgs(id, f.merchant.address, f.merchant.address);
      const s = await f.escrow.statusOf(id);
      expect(s.state).to.equal(OrderState.Revoked);
      expect(s.state).to.equal(9n);
      expect(s.feeBps).to.equal(0n);
      expect(s.deadline).to.equal(0n);
      expect(s.refunded).to.equal(0n);
      // Nothing else moves: no stock is reserved, no payer written.
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
      expect(await f.escrow.payerOf(id)).to.equal(ethers.ZeroAddress);
    });

    it("lets an approved operator revoke the merchant's offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      const id = await idOf(f.escrow, t);
      await expect(f.escrow.connect(f.operator).revokeOffer(t))
        .to.emit(f.escrow, "OfferRevoked")
        .withArgs(id, f.merchant.address, f.operator.address);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Revoked);
    });

    it("lets an operator revoke an offer with items even without the merchant's inventory approval", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, {}, items);
      await f.escrow.connect(f.operator).revokeOffer(t);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t, items))).state).to.equal(OrderState.Revoked);
    });

    it("works while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.pauser).pause();
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).revokeOffer(t)).to.emit(f.escrow, "OfferRevoked");
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Revoked);
    });

    it("revokes only the exact terms: an offer differing in its salt alone stays usable", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t } = await revokedOffer(f);
      const sibling: OrderTerms = { ...t, salt: newSalt() };
      const items = [{ skuId: f.skuA, quantity: 2n }];
      const sig = await signOffer(f.escrow, f.merchant, sibling, items);
      await f.book.send(f.escrow.connect(f.buyer).checkout(sibling, items, sig));
      expect((await f.escrow.statusOf(await idOf(f.escrow, sibling, items))).state).to.equal(OrderState.Paid);
    });

    it("a griefing second merchant revoking terms with the same reference (salt) revokes only its own id", async function () {
      const f = await loadFixture(deployCreationFixture);
      const salt = newSalt();
      const mine = await terms(f, { salt });
      const sig = await signOffer(f.escrow, f.merchant, mine, []);
      const theirs = { ...mine, merchant: f.otherMerchant.address, payee: f.otherMerchant.address };
      await expect(f.escrow.connect(f.otherMerchant).revokeOffer(theirs))
        .to.emit(f.escrow, "OfferRevoked")
        .withArgs(await idOf(f.escrow, theirs), f.otherMerchant.address, f.otherMerchant.address);
      const mineId = await idOf(f.escrow, mine);
      expect((await f.escrow.statusOf(mineId)).state).to.equal(OrderState.None);
      await f.book.send(f.escrow.connect(f.buyer).checkout(mine, [], sig));
      expect((await f.escrow.statusOf(mineId)).state).to.equal(OrderState.Paid);
    });
  });

  describe("who may revoke", function () {
    it("reverts with NotMerchantOrOperator for a stranger", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.stranger).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.stranger.address);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
    });

    it("reverts with NotMerchantOrOperator for a griefing second merchant revoking the first merchant's offer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.otherMerchant).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.otherMerchant.address);
      // The offer stays usable.
      await f.book.send(f.escrow.connect(f.buyer).checkout(t, [], await signOffer(f.escrow, f.merchant, t, [])));
    });

    it("reverts with NotMerchantOrOperator for the offer's own buyer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.buyer).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.buyer.address);
    });

    it("reverts with NotMerchantOrOperator for an operator whose approval the merchant withdrew", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      const t = await terms(f);
      await expect(f.escrow.connect(f.operator).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.operator.address);
    });

    it("reverts with NotMerchantOrOperator for an operator of another merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { merchant: f.otherMerchant.address });
      await expect(f.escrow.connect(f.operator).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.otherMerchant.address, f.operator.address);
    });
  });

  describe("a revoked id can never be used", function () {
    it("checkout of the revoked offer reverts with OrderAlreadyExists and moves nothing", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id, items, sig } = await revokedOffer(f);
      await expect(f.escrow.connect(f.buyer).checkout(t, items, sig))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(id);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Revoked);
    });

    it("checkoutWithPermit of the revoked offer reverts with OrderAlreadyExists", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id, items, sig } = await revokedOffer(f);
      const permit = await signPermit(
        f.usd,
        f.buyer,
        await f.escrow.getAddress(),
        USD(100),
        BigInt(await time.latest()) + HOUR,
      );
      await expect(f.escrow.connect(f.buyer).checkoutWithPermit(t, items, sig, permit))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(id);
    });

    it("createOrder with the revoked terms reverts with OrderAlreadyExists, for the merchant and its operator", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id, items } = await revokedOffer(f);
      for (const caller of [f.merchant, f.operator]) {
        await expect(f.escrow.connect(caller).createOrder(t, items))
          .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
          .withArgs(id);
      }
    });

    it("revoking the same terms twice reverts with OrderAlreadyExists", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id } = await revokedOffer(f);
      await expect(f.escrow.connect(f.merchant).revokeOffer(t))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(id);
    });

    it("pay and payWithPermit on a revoked id revert with InvalidState(Revoked)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id } = await revokedOffer(f);
      await expect(f.escrow.connect(f.buyer).pay(t))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(id, OrderState.Revoked);
      const permit = await signPermit(
        f.usd,
        f.buyer,
        await f.escrow.getAddress(),
        USD(100),
        BigInt(await time.latest()) + HOUR,
      );
      await expect(f.escrow.connect(f.buyer).payWithPermit(t, permit))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(id, OrderState.Revoked);
    });

    it("every lifecycle call on a revoked id reverts with InvalidState(Revoked)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id, items } = await revokedOffer(f);
      const calls = [
        () => f.escrow.connect(f.merchant).cancel(t, items),
        () => f.escrow.connect(f.merchant).ship(t, ethers.id("tracking")),
        () => f.escrow.connect(f.buyer).confirmReceipt(t, items),
        () => f.escrow.connect(f.stranger).autoRelease(t, items),
        () => f.escrow.connect(f.buyer).cancelUnshipped(t, items),
        () => f.escrow.connect(f.merchant).refund(t, 1n, items),
        () => f.escrow.connect(f.buyer).dispute(t, ethers.id("evidence")),
        () => f.escrow.connect(f.buyer).proposeSettlement(t, 0n),
        () => f.escrow.connect(f.merchant).acceptSettlement(t, 0n, items),
        () => f.escrow.connect(f.arbiter).resolveDispute(t, 0n, items),
        () => f.escrow.connect(f.stranger).settleExpiredDispute(t, items),
      ];
      for (const call of calls) {
        await expect(call()).to.be.revertedWithCustomError(f.escrow, "InvalidState").withArgs(id, OrderState.Revoked);
      }
    });

    it("cancel by a stranger after the revoked offer's deadline also reverts with InvalidState(Revoked)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { t, id, items } = await revokedOffer(f);
      await time.increaseTo(t.paymentDeadline + 1n);
      await expect(f.escrow.connect(f.stranger).cancel(t, items))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(id, OrderState.Revoked);
    });
  });

  describe("non-canonical calldata", function () {
    it("a revocation whose terms carry dirty high bits reverts (the ABI decoder refuses them) and revokes nothing; the signed offer stays revocable", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      // maxFeeBps (a uint16, word 5 of the terms) with a dirty high byte.
      const data = ethers.getBytes(f.escrow.interface.encodeFunctionData("revokeOffer", [t]));
      data[4 + 5 * 32] = 0x01;
      await expect(f.merchant.sendTransaction({ to: await f.escrow.getAddress(), data: ethers.hexlify(data) })).to.be
        .reverted;
      const id = await idOf(f.escrow, t);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.None);
      await f.escrow.connect(f.merchant).revokeOffer(t);
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Revoked);
    });

    it("creation with dirty high bits in the terms reverts (the ABI decoder refuses them)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      const data = ethers.getBytes(f.escrow.interface.encodeFunctionData("createOrder", [t, []]));
      data[4 + 5 * 32] = 0x01;
      await expect(f.merchant.sendTransaction({ to: await f.escrow.getAddress(), data: ethers.hexlify(data) })).to.be
        .reverted;
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
    });
  });

  describe("an existing order cannot be revoked", function () {
    it("reverts with OrderAlreadyExists for a created order, which stays Created with its stock reserved", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 3n }];
      const o = await createOrder(f, {}, items);
      for (const caller of [f.merchant, f.operator]) {
        await expect(f.escrow.connect(caller).revokeOffer(o.terms))
          .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
          .withArgs(o.id);
      }
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
      expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(3n);
    });

    it("reverts with OrderAlreadyExists for a paid order: a griefing merchant cannot strand the buyer's payment", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await expect(f.escrow.connect(f.merchant).revokeOffer(o.terms))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });

    it("reverts with OrderAlreadyExists for a taken offer and for a cancelled order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const offer = await terms(f);
      await f.book.send(
        f.escrow.connect(f.buyer).checkout(offer, [], await signOffer(f.escrow, f.merchant, offer, [])),
      );
      await expect(f.escrow.connect(f.merchant).revokeOffer(offer))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(await idOf(f.escrow, offer));

      const cancelled = await createOrder(f);
      await f.book.send(f.escrow.connect(f.merchant).cancel(cancelled.terms, []));
      await expect(f.escrow.connect(f.merchant).revokeOffer(cancelled.terms))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(cancelled.id);
      expect((await f.escrow.statusOf(cancelled.id)).state).to.equal(OrderState.Cancelled);
    });
  });
});
