import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OrderState, USD, idOf, itemsHash, newSalt, terms } from "../helpers/fixtures";
import { NO_ITEMS_HASH } from "../../sdk/orderRecord";
import {
  createOrder,
  createPaidOrder,
  deployCreationFixture,
  itemTuples,
  termsTuple,
  type CreationFixture,
} from "../helpers/creation";

const UINT40_MAX = 2n ** 40n - 1n;

/** Ships a paid order and has the buyer confirm it. */
async function shipAndConfirm(f: CreationFixture, t: Awaited<ReturnType<typeof terms>>) {
  await f.book.send(f.escrow.connect(f.merchant).ship(t, ethers.id("tracking")));
  return f.escrow.connect(f.buyer).confirmReceipt(t, []);
}

describe("PaymentEscrow.createOrder", function () {
  describe("success", function () {
    it("creates an order by the merchant and emits OrderCreated with the terms, the fee and the items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [
        { skuId: f.skuA, quantity: 2n },
        { skuId: f.skuB, quantity: 5n },
      ];
      const t = await terms(f, {}, items);
      const id = await idOf(f.escrow, t, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(t), FEE_BPS, itemTuples(items));
    });

    it("returns the order id, which equals orderIdOf(terms) and the off-chain digest", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 3n }];
      const t = await terms(f, {}, items);
      const returned = await f.escrow.connect(f.merchant).createOrder.staticCall(t, items);
      expect(returned).to.equal(await f.escrow.orderIdOf(t));
      expect(returned).to.equal(await idOf(f.escrow, t, items));
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
      expect(f.book.get(returned).terms).to.deep.equal(t);
    });

    it("stores the status: Created, the current fee, the payment deadline, nothing refunded, no payer", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      const s = await f.escrow.statusOf(o.id);
      expect(s.state).to.equal(OrderState.Created);
      expect(s.feeBps).to.equal(FEE_BPS);
      expect(s.deadline).to.equal(o.terms.paymentDeadline);
      expect(s.refunded).to.equal(0n);
      // The buyer is the terms' buyer; only an open order's payment writes a payer.
      expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
      expect(o.view.state).to.equal(OrderState.Created);
      expect(o.view.feeBps).to.equal(FEE_BPS);
      expect(o.view.escrowed).to.equal(0n);
    });

    it("creates an order by an approved operator, for the merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, {}, items);
      const id = await idOf(f.escrow, t, items);
      await expect(f.escrow.connect(f.operator).createOrder(t, items))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(t), FEE_BPS, itemTuples(items));
      expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Created);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(99n);
    });

    it("commits the hash of no items (keccak256 of nothing) for an order without line items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      expect(o.terms.itemsHash).to.equal(NO_ITEMS_HASH);
      expect(NO_ITEMS_HASH).to.equal(ethers.keccak256("0x"));
      expect(o.view.items).to.deep.equal([]);
    });

    it("creates an open order (buyer zero) that has no payer yet", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { buyer: ethers.ZeroAddress });
      expect(await f.escrow.payerOf(o.id)).to.equal(ethers.ZeroAddress);
      expect(o.view.buyer).to.equal(ethers.ZeroAddress);
    });

    it("creates a native-currency order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1") });
      expect(o.view.terms.token).to.equal(ethers.ZeroAddress);
      expect(o.view.terms.amount).to.equal(ethers.parseEther("1"));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
    });

    it("creates an order whose payee is not the merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { payee: f.stranger.address });
      const id = await idOf(f.escrow, t);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(t), FEE_BPS, []);
    });

    it("moves one SKU's stock from the merchant into escrow custody (TransferSingle)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const items = [{ skuId: f.skuA, quantity: 4n }];
      const t = await terms(f, {}, items);
      const tx = f.escrow.connect(f.merchant).createOrder(t, items);
      await expect(tx)
        .to.emit(f.inventory, "TransferSingle")
        .withArgs(escrowAddr, f.merchant.address, escrowAddr, f.skuA, 4n);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(96n);
      expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(4n);
    });

    it("moves several SKUs' stock into escrow custody (TransferBatch)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const items = [
        { skuId: f.skuA, quantity: 10n },
        { skuId: f.skuB, quantity: 1n },
      ];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.emit(f.inventory, "TransferBatch")
        .withArgs(escrowAddr, f.merchant.address, escrowAddr, [f.skuA, f.skuB], [10n, 1n]);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(90n);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuB)).to.equal(99n);
      expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(10n);
      expect(await f.inventory.balanceOf(escrowAddr, f.skuB)).to.equal(1n);
      // Reservation moves stock; it neither mints nor burns.
      expect(await f.inventory.totalSupply(f.skuA)).to.equal(100n);
    });

    it("accepts exactly 64 line items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = Array.from({ length: 64 }, () => ({ skuId: f.skuA, quantity: 1n }));
      const o = await createOrder(f, {}, items);
      expect(o.terms.itemsHash).to.equal(itemsHash(items));
      expect(o.view.items).to.deep.equal(items);
      expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(64n);
    });

    it("accepts a fee exactly equal to the signed maximum", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { maxFeeBps: FEE_BPS });
      expect((await f.escrow.statusOf(o.id)).feeBps).to.equal(FEE_BPS);
    });

    it("accepts a zero signed maximum while the fee is zero", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.admin).setFeeBps(0);
      const o = await createOrder(f, { maxFeeBps: 0n });
      expect((await f.escrow.statusOf(o.id)).feeBps).to.equal(0n);
    });

    it("accepts a payment deadline one second in the future and one at the uint40 maximum", async function () {
      const f = await loadFixture(deployCreationFixture);
      const now = BigInt(await time.latest());
      const t = await terms(f, { paymentDeadline: now + 2n });
      await time.setNextBlockTimestamp(now + 1n);
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).deadline).to.equal(now + 2n);

      const far = await createOrder(f, { paymentDeadline: UINT40_MAX });
      expect((await f.escrow.statusOf(far.id)).deadline).to.equal(UINT40_MAX);
    });

    it("fixes the fee at creation: a later fee change leaves the order's fee and its settlement unchanged", async function () {
      const f = await loadFixture(deployCreationFixture);
      const before = await createPaidOrder(f);
      await expect(f.escrow.connect(f.admin).setFeeBps(500)).to.emit(f.escrow, "FeeUpdated").withArgs(500n);
      expect((await f.escrow.statusOf(before.id)).feeBps).to.equal(FEE_BPS);
      const after = await createPaidOrder(f);
      expect((await f.escrow.statusOf(after.id)).feeBps).to.equal(500n);

      await expect(shipAndConfirm(f, before.terms))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(before.id, f.merchant.address, f.buyer.address, USD(99), USD(1));
      await expect(shipAndConfirm(f, after.terms))
        .to.emit(f.escrow, "OrderCompleted")
        .withArgs(after.id, f.merchant.address, f.buyer.address, USD(95), USD(5));
      expect((await f.escrow.statusOf(before.id)).feeBps).to.equal(FEE_BPS);
    });

    it("gives two merchants using the same reference (salt) two different ids; neither blocks the other", async function () {
      const f = await loadFixture(deployCreationFixture);
      const salt = newSalt();
      const mine = await terms(f, { salt });
      const theirs = await terms(f, { merchant: f.otherMerchant.address, salt });
      const mineId = await idOf(f.escrow, mine);
      const theirsId = await idOf(f.escrow, theirs);
      expect(mineId).to.not.equal(theirsId);
      // The second merchant goes first with the same reference: the first merchant's order is unaffected.
      await f.book.send(f.escrow.connect(f.otherMerchant).createOrder(theirs, []));
      await f.book.send(f.escrow.connect(f.merchant).createOrder(mine, []));
      expect((await f.escrow.statusOf(mineId)).state).to.equal(OrderState.Created);
      expect((await f.escrow.statusOf(theirsId)).state).to.equal(OrderState.Created);
      expect(f.book.get(mineId).terms.merchant).to.equal(f.merchant.address);
      expect(f.book.get(theirsId).terms.merchant).to.equal(f.otherMerchant.address);
    });
  });

  describe("reverts", function () {
    it("reverts with ZeroAddress for a zero payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { payee: ethers.ZeroAddress });
      await expect(f.escrow.connect(f.merchant).createOrder(t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAddress",
      );
    });

    it("rejects a zero merchant: nobody can act for address zero, so NotMerchantOrOperator fires first", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { merchant: ethers.ZeroAddress });
      // The ZeroAddress check of the terms is defence in depth here (checkout reaches it, see its tests): the
      // authorisation runs first and no caller is address zero or an operator approved by it.
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(ethers.ZeroAddress, f.merchant.address);
    });

    it("reverts with FeeAboveSignedMax when the fee exceeds the terms' maxFeeBps", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { maxFeeBps: FEE_BPS - 1n });
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
        .withArgs(FEE_BPS, FEE_BPS - 1n);
    });

    it("reverts with FeeAboveSignedMax for terms made before the admin raised the fee above their maximum", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { maxFeeBps: FEE_BPS });
      await f.escrow.connect(f.admin).setFeeBps(FEE_BPS + 1n);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "FeeAboveSignedMax")
        .withArgs(FEE_BPS + 1n, FEE_BPS);
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
    });

    it("reverts with LineItemsMismatch when the items do not match the terms' itemsHash", async function () {
      const f = await loadFixture(deployCreationFixture);
      const committed = [{ skuId: f.skuA, quantity: 2n }];
      const t = await terms(f, {}, committed);
      for (const given of [
        [{ skuId: f.skuA, quantity: 3n }],
        [{ skuId: f.skuB, quantity: 2n }],
        [...committed, { skuId: f.skuB, quantity: 1n }],
        [],
      ]) {
        await expect(f.escrow.connect(f.merchant).createOrder(t, given))
          .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
          .withArgs(t.itemsHash, itemsHash(given));
      }
    });

    it("reverts with LineItemsMismatch for items given to terms committing to none", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      const given = [{ skuId: f.skuA, quantity: 1n }];
      await expect(f.escrow.connect(f.merchant).createOrder(t, given))
        .to.be.revertedWithCustomError(f.escrow, "LineItemsMismatch")
        .withArgs(NO_ITEMS_HASH, itemsHash(given));
    });

    it("reverts with OrderAlreadyExists for the same terms twice", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.merchant).createOrder(o.terms, []))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
      await expect(f.escrow.connect(f.operator).createOrder(o.terms, []))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
    });

    it("reverts with OrderAlreadyExists for the terms of a cancelled order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const o = await createOrder(f, {}, items);
      await f.book.send(f.escrow.connect(f.merchant).cancel(o.terms, items));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Cancelled);
      await expect(f.escrow.connect(f.merchant).createOrder(o.terms, items))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
    });

    it("reverts with OrderAlreadyExists for the terms of a completed order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await f.book.send(shipAndConfirm(f, o.terms));
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Completed);
      await expect(f.escrow.connect(f.merchant).createOrder(o.terms, []))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
    });

    it("reverts with ZeroAmount for a zero amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { amount: 0n });
      await expect(f.escrow.connect(f.merchant).createOrder(t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroAmount",
      );
    });

    it("reverts with AmountTooLarge above 2^184 - 1, and accepts exactly that amount", async function () {
      const f = await loadFixture(deployCreationFixture);
      const max = 2n ** 184n - 1n;
      const t = await terms(f, { amount: max + 1n });
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "AmountTooLarge")
        .withArgs(max + 1n, max);
      const o = await createOrder(f, { amount: max });
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
    });

    it("accepts a payment deadline at the current second (payable within that second, like pay)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const now = BigInt(await time.latest());
      const t = await terms(f, { paymentDeadline: now + 1n });
      await time.setNextBlockTimestamp(now + 1n);
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      const s = await f.escrow.statusOf(await idOf(f.escrow, t));
      expect(s.state).to.equal(OrderState.Created);
      expect(s.deadline).to.equal(now + 1n);
    });

    it("reverts with InvalidDeadline for a payment deadline one second before the current one", async function () {
      const f = await loadFixture(deployCreationFixture);
      const now = BigInt(await time.latest());
      const t = await terms(f, { paymentDeadline: now + 1n });
      await time.setNextBlockTimestamp(now + 2n);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(now + 1n, now + 2n);
    });

    it("reverts with InvalidDeadline for a payment deadline in the past", async function () {
      const f = await loadFixture(deployCreationFixture);
      const now = BigInt(await time.latest());
      const t = await terms(f, { paymentDeadline: now - 10n });
      await time.setNextBlockTimestamp(now + 1n);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(now - 10n, now + 1n);
    });

    it("reverts with InvalidDeadline for a payment deadline above the uint40 maximum", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { paymentDeadline: UINT40_MAX + 1n });
      const now = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(now);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(UINT40_MAX + 1n, now);
    });

    it("reverts with TokenNotAllowed for an unknown token", async function () {
      const f = await loadFixture(deployCreationFixture);
      const unknown = await (await ethers.getContractFactory("MockStablecoin")).deploy();
      const t = await terms(f, { token: await unknown.getAddress() });
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(await unknown.getAddress());
    });

    it("reverts with TokenNotAllowed for a token that was disallowed", async function () {
      const f = await loadFixture(deployCreationFixture);
      const usdAddr = await f.usd.getAddress();
      await f.escrow.connect(f.admin).setTokenAllowed(usdAddr, false);
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "TokenNotAllowed")
        .withArgs(usdAddr);
    });

    it("reverts with TooManyLineItems for 65 line items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = Array.from({ length: 65 }, () => ({ skuId: f.skuA, quantity: 1n }));
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "TooManyLineItems")
        .withArgs(65n, 64n);
    });

    it("reverts with ZeroQuantity for a line item of quantity zero", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [
        { skuId: f.skuA, quantity: 1n },
        { skuId: f.skuB, quantity: 0n },
      ];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "ZeroQuantity")
        .withArgs(f.skuB);
    });

    it("reverts with NotMerchantOrOperator for a stranger", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.stranger).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.stranger.address);
    });

    it("reverts with NotMerchantOrOperator for a second merchant creating the first merchant's terms", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.otherMerchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.otherMerchant.address);
    });

    it("reverts with NotMerchantOrOperator for the operator of another merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      // The operator is approved by `merchant` only, never by `otherMerchant`.
      const t = await terms(f, { merchant: f.otherMerchant.address });
      await expect(f.escrow.connect(f.operator).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.otherMerchant.address, f.operator.address);
    });

    it("reverts with NotMerchantOrOperator for an operator whose approval the merchant revoked", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.merchant).setOperatorApproval(f.operator.address, false);
      const t = await terms(f);
      await expect(f.escrow.connect(f.operator).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(f.merchant.address, f.operator.address);
    });

    it("reverts with NotStockOperator for an operator without the merchant's inventory approval, items only", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.operator).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "NotStockOperator")
        .withArgs(f.merchant.address, f.operator.address);
      // Without items no stock moves, so the escrow approval suffices.
      await createOrder(f, {}, [], f.operator);
    });

    it("reverts with NotSkuMerchant from the inventory for a SKU of another merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://other");
      const otherSku = await f.inventory.skuId(f.otherMerchant.address, 1);
      await f.inventory.connect(f.otherMerchant).mintStock([otherSku], [10n]);
      const items = [{ skuId: otherSku, quantity: 1n }];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.inventory, "NotSkuMerchant")
        .withArgs(otherSku, f.merchant.address);
    });

    it("reverts with ERC1155InsufficientBalance from the inventory when stock is short", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 101n }];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.inventory, "ERC1155InsufficientBalance")
        .withArgs(f.merchant.address, 100n, 101n, f.skuA);
    });

    it("reverts with EnforcedPause while paused, and creates again once unpaused", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.pauser).pause();
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      await f.escrow.connect(f.pauser).unpause();
      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.Created);
    });

    it("leaves no trace of a reverted creation", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 101n }];
      const t = await terms(f, {}, items);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items)).to.be.revertedWithCustomError(
        f.inventory,
        "ERC1155InsufficientBalance",
      );
      const s = await f.escrow.statusOf(await idOf(f.escrow, t, items));
      expect(s.state).to.equal(OrderState.None);
      expect(s.feeBps).to.equal(0n);
      expect(s.deadline).to.equal(0n);
      expect(s.refunded).to.equal(0n);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    });
  });
  describe("payee", function () {
    /** A contract merchant (a HostileReceiver accepting everything) that approved the fixture's operator. */
    async function contractMerchant(f: CreationFixture) {
      const wallet = await (await ethers.getContractFactory("HostileReceiver")).deploy();
      const address = await wallet.getAddress();
      const approve = f.escrow.interface.encodeFunctionData("setOperatorApproval", [f.operator.address, true]);
      await wallet.execute(await f.escrow.getAddress(), 0n, approve);
      return { wallet, address };
    }

    it("lets the merchant name any payee: its payout wallet, a stranger, even its operator", async function () {
      const f = await loadFixture(deployCreationFixture);
      for (const payee of [f.otherMerchant.address, f.stranger.address, f.operator.address]) {
        const items = [{ skuId: f.skuA, quantity: 1n }];
        const t = await terms(f, { payee }, items);
        const id = await idOf(f.escrow, t, items);
        await expect(f.escrow.connect(f.merchant).createOrder(t, items))
          .to.emit(f.escrow, "OrderCreated")
          .withArgs(id, f.merchant.address, f.buyer.address, termsTuple(t), FEE_BPS, itemTuples(items));
        expect((await f.escrow.statusOf(id)).state).to.equal(OrderState.Created);
      }
    });

    it("lets an operator create terms whose payee is the merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, { payee: f.merchant.address }, [], f.operator);
      expect(o.view.terms.payee).to.equal(f.merchant.address);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
    });

    it("reverts with PayeeNotAuthorized when a stolen operator key names itself or a stranger as payee; nothing is reserved", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 5n }];
      for (const payee of [f.operator.address, f.stranger.address, f.otherMerchant.address]) {
        for (const list of [items, []]) {
          const t = await terms(f, { payee }, list);
          await expect(f.escrow.connect(f.operator).createOrder(t, list))
            .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
            .withArgs(f.merchant.address, payee, f.operator.address);
          expect((await f.escrow.statusOf(await idOf(f.escrow, t, list))).state).to.equal(OrderState.None);
        }
      }
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    });

    it("reverts with PayeeNotAuthorized for an operator naming another payee even while it lacks the stock approval", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.merchant).setApprovalForAll(f.operator.address, false);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const t = await terms(f, { payee: f.operator.address }, items);
      await expect(f.escrow.connect(f.operator).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    });

    it("lets a contract merchant name another payee itself, but not through its operator (PayeeNotAuthorized)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { wallet, address } = await contractMerchant(f);
      const own = await terms(f, { merchant: address, payee: f.stranger.address });
      const create = f.escrow.interface.encodeFunctionData("createOrder", [own, []]);
      await expect(wallet.execute(await f.escrow.getAddress(), 0n, create))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(await idOf(f.escrow, own), address, f.buyer.address, termsTuple(own), FEE_BPS, []);

      const viaOperator = await terms(f, { merchant: address, payee: f.stranger.address });
      await expect(f.escrow.connect(f.operator).createOrder(viaOperator, []))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(address, f.stranger.address, f.operator.address);
      // With the contract merchant as its own payee, the operator may create.
      const toMerchant = await terms(f, { merchant: address, payee: address });
      await f.book.send(f.escrow.connect(f.operator).createOrder(toMerchant, []));
      expect((await f.escrow.statusOf(await idOf(f.escrow, toMerchant))).state).to.equal(OrderState.Created);
    });

    it("reverts with InvalidPayee when the merchant names the escrow or the inventory as payee", async function () {
      const f = await loadFixture(deployCreationFixture);
      const { wallet, address } = await contractMerchant(f);
      for (const payee of [await f.escrow.getAddress(), await f.inventory.getAddress()]) {
        const t = await terms(f, { payee });
        await expect(f.escrow.connect(f.merchant).createOrder(t, []))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(payee);
        const own = await terms(f, { merchant: address, payee });
        const create = f.escrow.interface.encodeFunctionData("createOrder", [own, []]);
        await expect(wallet.execute(await f.escrow.getAddress(), 0n, create))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(payee);
        expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
      }
    });

    it("rejects the escrow or the inventory as payee from an operator too (its payee check comes first: PayeeNotAuthorized)", async function () {
      const f = await loadFixture(deployCreationFixture);
      for (const payee of [await f.escrow.getAddress(), await f.inventory.getAddress()]) {
        const t = await terms(f, { payee });
        await expect(f.escrow.connect(f.operator).createOrder(t, []))
          .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
          .withArgs(f.merchant.address, payee, f.operator.address);
        expect((await f.escrow.statusOf(await idOf(f.escrow, t))).state).to.equal(OrderState.None);
      }
    });
  });
});
