import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  idOf,
  OrderState,
  signOffer,
  signPermit,
  terms,
  USD,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";

const AMOUNT = USD(100);

/**
 * Money paid to the escrow itself or to its inventory would be owed to nobody: no order, credit or call could
 * ever move it again. Terms naming either as payee are refused with InvalidPayee at creation and at checkout,
 * before the buyer pays or any stock is reserved, whoever created or signed them.
 */
describe("security: a griefing merchant naming the escrow or its inventory as payee to lock the buyer's payment", function () {
  async function fixture() {
    const f = await deployEscrowFixture();
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 1n }];
    const targets = { escrow: await f.escrow.getAddress(), inventory: await f.inventory.getAddress() };
    return { ...f, items, targets };
  }

  type F = Awaited<ReturnType<typeof fixture>>;

  async function observe(f: F, t: OrderTerms) {
    return {
      buyerUsd: await f.usd.balanceOf(f.buyer.address),
      escrowUsd: await f.usd.balanceOf(f.targets.escrow),
      inventoryUsd: await f.usd.balanceOf(f.targets.inventory),
      merchantStock: await f.inventory.balanceOf(f.merchant.address, f.skuA),
      escrowStock: await f.inventory.balanceOf(f.targets.escrow, f.skuA),
      state: (await f.escrow.statusOf(await idOf(f.escrow, t, f.items))).state,
    };
  }

  for (const target of ["escrow", "inventory"] as const) {
    describe(`the ${target} as payee`, function () {
      it(`reverts a griefing merchant's createOrder naming the ${target} as payee with InvalidPayee; nothing is created or reserved`, async function () {
        const f = await loadFixture(fixture);
        const t = await terms(f, { amount: AMOUNT, payee: f.targets[target] }, f.items);
        const before = await observe(f, t);
        await expect(f.escrow.connect(f.merchant).createOrder(t, f.items))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(f.targets[target]);
        expect(await observe(f, t)).to.deep.equal(before);
        expect(before.state).to.equal(OrderState.None);
        await expect(f.escrow.connect(f.buyer).pay(t))
          .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
          .withArgs(await idOf(f.escrow, t, f.items));
      });

      it(`reverts a buyer's checkout of an offer a griefing merchant signed naming the ${target} as payee with InvalidPayee; the buyer keeps its money`, async function () {
        const f = await loadFixture(fixture);
        const offer = await terms(f, { amount: AMOUNT, payee: f.targets[target] }, f.items);
        const signature = await signOffer(f.escrow, f.merchant, offer, f.items);
        const permit = await signPermit(f.usd, f.buyer, f.targets.escrow, AMOUNT, BigInt(await time.latest()) + 600n);
        const before = await observe(f, offer);
        await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(f.targets[target]);
        await expect(f.escrow.connect(f.buyer).checkoutWithPermit(offer, f.items, signature, permit))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(f.targets[target]);
        expect(await observe(f, offer)).to.deep.equal(before);
        expect(before.state).to.equal(OrderState.None);
      });

      it(`reverts a buyer's checkout of an offer a griefing operator signed naming the ${target} as payee with InvalidPayee`, async function () {
        const f = await loadFixture(fixture);
        const offer = await terms(f, { amount: AMOUNT, payee: f.targets[target] }, f.items);
        const signature = await signOffer(f.escrow, f.operator, offer, f.items);
        const before = await observe(f, offer);
        await expect(f.escrow.connect(f.buyer).checkout(offer, f.items, signature))
          .to.be.revertedWithCustomError(f.escrow, "InvalidPayee")
          .withArgs(f.targets[target]);
        // Created by the operator itself, the payee is refused as not the merchant first.
        await expect(f.escrow.connect(f.operator).createOrder(offer, f.items))
          .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
          .withArgs(f.merchant.address, f.targets[target], f.operator.address);
        expect(await observe(f, offer)).to.deep.equal(before);
      });
    });
  }

  it("still lets the merchant name another payee of its own (its payout wallet), which is paid at settlement", async function () {
    const f = await loadFixture(fixture);
    const wallet = f.otherMerchant.address;
    const t = await terms(f, { amount: AMOUNT, payee: wallet }, f.items);
    await f.escrow.connect(f.merchant).createOrder(t, f.items);
    await f.escrow.connect(f.buyer).pay(t);
    await f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash);
    const fee = (AMOUNT * (await f.escrow.feeBps())) / 10_000n;
    await expect(f.escrow.connect(f.buyer).confirmReceipt(t, f.items)).to.changeTokenBalances(
      f.usd,
      [f.otherMerchant, f.merchant, f.escrow],
      [AMOUNT - fee, 0n, -AMOUNT],
    );
  });
});
