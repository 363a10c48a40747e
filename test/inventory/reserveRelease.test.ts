import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { OrderBook, OrderState, idOf, terms } from "../helpers/fixtures";
import { twoMerchantsFixture } from "./stock.behavior";

describe("InventoryToken.reserve and release", function () {
  describe("reserve", function () {
    it("reverts with NotEscrow for the merchant, an operator, the escrow admin and a stranger", async function () {
      const { inventory, admin, merchant, operator, stranger, skuA } = await loadFixture(twoMerchantsFixture);

      for (const caller of [merchant, operator, admin, stranger]) {
        await expect(inventory.connect(caller).reserve(merchant.address, [skuA], [1n]))
          .to.be.revertedWithCustomError(inventory, "NotEscrow")
          .withArgs(caller.address);
      }
    });

    it("moves the stock into the escrow's custody when the escrow creates an order", async function () {
      const f = await loadFixture(twoMerchantsFixture);
      const { escrow, inventory, merchant, skuA, skuB } = f;
      const escrowAddress = await escrow.getAddress();
      const items = [
        { skuId: skuA, quantity: 3n },
        { skuId: skuB, quantity: 4n },
      ];

      await expect(escrow.connect(merchant).createOrder(await terms(f, {}, items), items))
        .to.emit(inventory, "TransferBatch")
        .withArgs(escrowAddress, merchant.address, escrowAddress, [skuA, skuB], [3n, 4n]);
      expect(await inventory.balanceOfBatch([escrowAddress, escrowAddress], [skuA, skuB])).to.deep.equal([3n, 4n]);
      expect(await inventory.totalSupply(skuA)).to.equal(100n);
    });

    it("reverts with NotSkuMerchant when an order reserves another merchant's SKU", async function () {
      const f = await loadFixture(twoMerchantsFixture);
      const { escrow, inventory, merchant, skuA, otherSku } = f;
      const items = [
        { skuId: skuA, quantity: 1n },
        { skuId: otherSku, quantity: 1n },
      ];

      await expect(escrow.connect(merchant).createOrder(await terms(f, {}, items), items))
        .to.be.revertedWithCustomError(inventory, "NotSkuMerchant")
        .withArgs(otherSku, merchant.address);
    });

    it("reverts with ERC1155InsufficientBalance when an order needs more than the merchant holds", async function () {
      const f = await loadFixture(twoMerchantsFixture);
      const { escrow, inventory, merchant, skuA } = f;

      const items = [{ skuId: skuA, quantity: 101n }];
      await expect(escrow.connect(merchant).createOrder(await terms(f, {}, items), items))
        .to.be.revertedWithCustomError(inventory, "ERC1155InsufficientBalance")
        .withArgs(merchant.address, 100n, 101n, skuA);
    });
  });

  describe("release", function () {
    it("reverts with NotEscrow for the merchant, an operator, the escrow admin and a stranger", async function () {
      const { inventory, admin, merchant, operator, stranger, skuA } = await loadFixture(twoMerchantsFixture);

      for (const caller of [merchant, operator, admin, stranger]) {
        await expect(inventory.connect(caller).release(stranger.address, [skuA], [1n]))
          .to.be.revertedWithCustomError(inventory, "NotEscrow")
          .withArgs(caller.address);
      }
    });

    it("moves reserved stock back out of the escrow's custody when the escrow cancels an order", async function () {
      const f = await loadFixture(twoMerchantsFixture);
      const { escrow, inventory, merchant, skuA } = f;
      const escrowAddress = await escrow.getAddress();
      const book = new OrderBook(escrow);
      const items = [{ skuId: skuA, quantity: 3n }];
      const t = await terms(f, {}, items);
      const orderId = await idOf(escrow, t, items);
      await book.send(escrow.connect(merchant).createOrder(t, items));

      await expect(escrow.connect(merchant).cancel(t, items))
        .to.emit(inventory, "TransferSingle")
        .withArgs(escrowAddress, escrowAddress, merchant.address, skuA, 3n);
      expect(await inventory.balanceOf(escrowAddress, skuA)).to.equal(0n);
      expect(await inventory.balanceOf(merchant.address, skuA)).to.equal(100n);
      expect((await escrow.statusOf(orderId)).state).to.equal(OrderState.Cancelled);
    });
  });
});
