import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, OrderState, itemsHash, newOrderId, terms } from "../helpers/fixtures";
import { toRecord } from "../../sdk/orderRecord";
import { ZERO_HASH, createOrder, createPaidOrder, deployCreationFixture, itemTuples } from "../helpers/creation";

describe("PaymentEscrow.createOrder", function () {
  describe("success", function () {
    it("creates an order by the merchant and emits OrderCreated with every field", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [
        { skuId: f.skuA, quantity: 2n },
        { skuId: f.skuB, quantity: 5n },
      ];
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.emit(f.escrow, "OrderCreated")
        .withArgs(
          t.orderId,
          f.merchant.address,
          f.buyer.address,
          await f.usd.getAddress(),
          t.amount,
          FEE_BPS,
          t.paymentDeadline,
          t.shipWithin,
          t.protectionPeriod,
          itemTuples(items),
        );
    });

    it("creates an order by an approved operator", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f, {}, [], f.operator);
      expect(o.record.merchant).to.equal(f.merchant.address);
      expect(o.record.state).to.equal(OrderState.Created);
      expect(await f.escrow.orderHash(o.id)).to.equal(await f.escrow.hashOrder(o.record));
    });

    it("returns the initial record and stores its hash", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 3n }];
      const t = await terms(f);
      const returned = toRecord(await f.escrow.connect(f.merchant).createOrder.staticCall(t, items));
      const expected = {
        merchant: f.merchant.address,
        buyer: f.buyer.address,
        token: await f.usd.getAddress(),
        amount: BigInt(t.amount),
        feeBps: FEE_BPS,
        state: OrderState.Created,
        deadline: BigInt(t.paymentDeadline),
        shipWithin: BigInt(t.shipWithin),
        protectionPeriod: BigInt(t.protectionPeriod),
        itemsHash: itemsHash(items),
      };
      expect(returned).to.deep.equal(expected);

      await f.book.send(f.escrow.connect(f.merchant).createOrder(t, items));
      const record = f.book.get(t.orderId as string);
      expect(record).to.deep.equal(expected);
      expect(await f.escrow.orderHash(t.orderId)).to.equal(await f.escrow.hashOrder(record));
      expect(await f.escrow.isCurrent(t.orderId, record)).to.equal(true);
    });

    it("commits a zero items hash for an order without line items", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      expect(o.record.itemsHash).to.equal(ZERO_HASH);
      expect(await f.escrow.isCurrent(o.id, o.record)).to.equal(true);
    });

    it("creates an open order (buyer zero) and a native-currency order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const open = await createOrder(f, { buyer: ethers.ZeroAddress });
      expect(open.record.buyer).to.equal(ethers.ZeroAddress);
      const native = await createOrder(f, { token: ethers.ZeroAddress, amount: ethers.parseEther("1") });
      expect(native.record.token).to.equal(ethers.ZeroAddress);
      expect(native.record.amount).to.equal(ethers.parseEther("1"));
    });

    it("moves one SKU's stock from the merchant into escrow custody (TransferSingle)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const t = await terms(f);
      const tx = f.escrow.connect(f.merchant).createOrder(t, [{ skuId: f.skuA, quantity: 4n }]);
      await expect(tx)
        .to.emit(f.inventory, "TransferSingle")
        .withArgs(escrowAddr, f.merchant.address, escrowAddr, f.skuA, 4n);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(96n);
      expect(await f.inventory.balanceOf(escrowAddr, f.skuA)).to.equal(4n);
    });

    it("moves several SKUs' stock into escrow custody (TransferBatch)", async function () {
      const f = await loadFixture(deployCreationFixture);
      const escrowAddr = await f.escrow.getAddress();
      const t = await terms(f);
      const items = [
        { skuId: f.skuA, quantity: 10n },
        { skuId: f.skuB, quantity: 1n },
      ];
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
      expect(o.record.itemsHash).to.equal(itemsHash(items));
      expect(await f.inventory.balanceOf(await f.escrow.getAddress(), f.skuA)).to.equal(64n);
    });
  });

  describe("reverts", function () {
    it("reverts with ZeroOrderId for a zero id", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { orderId: ZERO_HASH });
      await expect(f.escrow.connect(f.merchant).createOrder(t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "ZeroOrderId",
      );
    });

    it("rejects a zero merchant: nobody can act for address zero, so NotMerchantOrOperator fires first", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f, { merchant: ethers.ZeroAddress });
      // The ZeroAddress check in the body is defence in depth: the authorisation modifier runs before it and no
      // caller is address zero or an operator approved by it.
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "NotMerchantOrOperator")
        .withArgs(ethers.ZeroAddress, f.merchant.address);
    });

    it("reverts with OrderAlreadyExists for an id in use", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createOrder(f);
      await expect(f.escrow.connect(f.merchant).createOrder(o.terms, []))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
    });

    it("reverts with OrderAlreadyExists for the id of a cancelled order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const o = await createOrder(f, {}, items);
      await f.book.send(f.escrow.connect(f.merchant).cancel(o.id, o.record, items));
      expect(f.book.get(o.id).state).to.equal(OrderState.Cancelled);
      await expect(f.escrow.connect(f.merchant).createOrder(o.terms, items))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(o.id);
    });

    it("reverts with OrderAlreadyExists for the id of a completed order", async function () {
      const f = await loadFixture(deployCreationFixture);
      const o = await createPaidOrder(f);
      await f.book.send(f.escrow.connect(f.merchant).ship(o.id, f.book.get(o.id), ethers.id("track")));
      await f.book.send(f.escrow.connect(f.buyer).confirmReceipt(o.id, f.book.get(o.id), []));
      expect(f.book.get(o.id).state).to.equal(OrderState.Completed);
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

    it("reverts with InvalidDeadline when the payment deadline is not in the future", async function () {
      const f = await loadFixture(deployCreationFixture);
      const now = BigInt(await time.latest());
      const t = await terms(f, { paymentDeadline: now + 1n });
      await time.setNextBlockTimestamp(now + 1n);
      await expect(f.escrow.connect(f.merchant).createOrder(t, []))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeadline")
        .withArgs(now + 1n, now + 1n);
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
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "TooManyLineItems")
        .withArgs(65n, 64n);
    });

    it("reverts with ZeroQuantity for a line item of quantity zero", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      const items = [
        { skuId: f.skuA, quantity: 1n },
        { skuId: f.skuB, quantity: 0n },
      ];
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

    it("reverts with NotSkuMerchant from the inventory for a SKU of another merchant", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://other");
      const otherSku = await f.inventory.skuId(f.otherMerchant.address, 1);
      await f.inventory.connect(f.otherMerchant).mintStock([otherSku], [10n]);
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, [{ skuId: otherSku, quantity: 1n }]))
        .to.be.revertedWithCustomError(f.inventory, "NotSkuMerchant")
        .withArgs(otherSku, f.merchant.address);
    });

    it("reverts with ERC1155InsufficientBalance from the inventory when stock is short", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, [{ skuId: f.skuA, quantity: 101n }]))
        .to.be.revertedWithCustomError(f.inventory, "ERC1155InsufficientBalance")
        .withArgs(f.merchant.address, 100n, 101n, f.skuA);
    });

    it("reverts with EnforcedPause while paused", async function () {
      const f = await loadFixture(deployCreationFixture);
      await f.escrow.connect(f.pauser).pause();
      const t = await terms(f);
      await expect(f.escrow.connect(f.merchant).createOrder(t, [])).to.be.revertedWithCustomError(
        f.escrow,
        "EnforcedPause",
      );
      await f.escrow.connect(f.pauser).unpause();
      await createOrder(f, { orderId: newOrderId() });
    });

    it("leaves no trace of a reverted creation", async function () {
      const f = await loadFixture(deployCreationFixture);
      const t = await terms(f);
      await expect(
        f.escrow.connect(f.merchant).createOrder(t, [{ skuId: f.skuA, quantity: 101n }]),
      ).to.be.revertedWithCustomError(f.inventory, "ERC1155InsufficientBalance");
      expect(await f.escrow.orderHash(t.orderId)).to.equal(ZERO_HASH);
      expect(await f.inventory.balanceOf(f.merchant.address, f.skuA)).to.equal(100n);
    });
  });
});
