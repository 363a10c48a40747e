import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  idOf,
  OrderBook,
  OrderState,
  signOffer,
  signPermit,
  terms,
  USD,
} from "../helpers/fixtures";

/** Someone who copies a pending transaction from the mempool and gets it mined first. */
describe("security: front-running", function () {
  describe("a checkout offer", function () {
    it("lets a front-runner that takes an open offer first win, and reverts the later taker without taking its funds", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, { buyer: ethers.ZeroAddress, amount: USD(40) }, items);
      const orderId = await idOf(f.escrow, offer, items);
      const signature = await signOffer(f.escrow, f.merchant, offer, items);
      const book = new OrderBook(f.escrow);

      // The front-runner copies the offer and pays for it first: it becomes the buyer and owns what it paid.
      await book.send(f.escrow.connect(f.otherBuyer).checkout(offer, items, signature));
      const victimBefore = await f.usd.balanceOf(f.buyer.address);

      await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature))
        .to.be.revertedWithCustomError(f.escrow, "OrderAlreadyExists")
        .withArgs(orderId);
      expect(await f.usd.balanceOf(f.buyer.address)).to.equal(victimBefore);
      const record = book.get(orderId);
      expect(record.buyer).to.equal(f.otherBuyer.address);
      expect(record.state).to.equal(OrderState.Paid);
      expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(40));
    });

    it("reverts a front-runner taking an offer bound to a buyer with NotBuyer, and the buyer still checks out", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const items = [{ skuId: f.skuB, quantity: 2n }];
      const offer = await terms(f, { amount: USD(40) }, items);
      const signature = await signOffer(f.escrow, f.merchant, offer, items);

      await expect(f.escrow.connect(f.otherBuyer).checkout(offer, items, signature))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(await idOf(f.escrow, offer, items), f.otherBuyer.address);
      await expect(f.escrow.connect(f.buyer).checkout(offer, items, signature)).to.changeTokenBalances(
        f.usd,
        [f.buyer, f.otherBuyer, f.escrow],
        [-USD(40), 0n, USD(40)],
      );
    });

    it("reverts a front-runner paying an unpaid order created for a buyer with NotBuyer", async function () {
      const f = await loadFixture(deployEscrowFixture);
      const book = new OrderBook(f.escrow);
      const t = await terms(f);
      const orderId = await idOf(f.escrow, t);
      await book.send(f.escrow.connect(f.merchant).createOrder(t, []));

      await expect(f.escrow.connect(f.otherBuyer).pay(t))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(orderId, f.otherBuyer.address);
      await book.send(f.escrow.connect(f.buyer).pay(t));
      expect(book.get(orderId).buyer).to.equal(f.buyer.address);
    });
  });

  describe("a permit", function () {
    async function permitFixture() {
      const f = await loadFixture(deployEscrowFixture);
      const escrowAddress = await f.escrow.getAddress();
      // The buyer pays gaslessly: no standing allowance, only the permit it signs.
      await f.usd.connect(f.buyer).approve(escrowAddress, 0n);
      return { ...f, escrowAddress };
    }

    it("still lets payWithPermit pay after a front-runner submitted the permit first", async function () {
      const f = await permitFixture();
      const book = new OrderBook(f.escrow);
      const t = await terms(f);
      const orderId = await idOf(f.escrow, t);
      await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      const latest = await ethers.provider.getBlock("latest");
      const permit = await signPermit(f.usd, f.buyer, f.escrowAddress, USD(100), BigInt(latest!.timestamp) + 600n);

      // Copied from the mempool and mined first: the permit nonce is now used.
      await f.usd
        .connect(f.stranger)
        .permit(f.buyer.address, f.escrowAddress, USD(100), permit.deadline, permit.v, permit.r, permit.s);
      expect(await f.usd.allowance(f.buyer.address, f.escrowAddress)).to.equal(USD(100));

      const tx = f.escrow.connect(f.buyer).payWithPermit(t, permit);
      await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow, f.stranger], [-USD(100), USD(100), 0n]);
      await book.send(tx);
      expect(book.get(orderId).state).to.equal(OrderState.Paid);
      expect(await f.usd.allowance(f.buyer.address, f.escrowAddress)).to.equal(0n);
    });

    it("still lets checkoutWithPermit pay after a front-runner submitted the permit first", async function () {
      const f = await permitFixture();
      const items = [{ skuId: f.skuA, quantity: 1n }];
      const offer = await terms(f, { amount: USD(60) }, items);
      const signature = await signOffer(f.escrow, f.merchant, offer, items);
      const latest = await ethers.provider.getBlock("latest");
      const permit = await signPermit(f.usd, f.buyer, f.escrowAddress, USD(60), BigInt(latest!.timestamp) + 600n);
      await f.usd
        .connect(f.stranger)
        .permit(f.buyer.address, f.escrowAddress, USD(60), permit.deadline, permit.v, permit.r, permit.s);

      await expect(
        f.escrow.connect(f.buyer).checkoutWithPermit(offer, items, signature, permit),
      ).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(60), USD(60)]);
    });

    it("reverts with ERC20InsufficientAllowance when a front-runner used the permit and no allowance is left, and moves nothing", async function () {
      const f = await permitFixture();
      const book = new OrderBook(f.escrow);
      const t = await terms(f);
      const orderId = await idOf(f.escrow, t);
      await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
      const latest = await ethers.provider.getBlock("latest");
      const permit = await signPermit(f.usd, f.buyer, f.escrowAddress, USD(100), BigInt(latest!.timestamp) + 600n);
      await f.usd
        .connect(f.stranger)
        .permit(f.buyer.address, f.escrowAddress, USD(100), permit.deadline, permit.v, permit.r, permit.s);
      // The buyer spends the allowance elsewhere (here: withdraws it), then the stale permit is useless.
      await f.usd.connect(f.buyer).approve(f.escrowAddress, 0n);

      await expect(f.escrow.connect(f.buyer).payWithPermit(t, permit))
        .to.be.revertedWithCustomError(f.usd, "ERC20InsufficientAllowance")
        .withArgs(f.escrowAddress, 0n, USD(100));
      expect(await f.usd.balanceOf(f.escrowAddress)).to.equal(0n);
      expect((await f.escrow.statusOf(orderId)).state).to.equal(OrderState.Created);
    });
  });
});
