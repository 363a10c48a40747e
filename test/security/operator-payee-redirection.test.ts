import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  deployEscrowFixture,
  FEE_BPS,
  idOf,
  OrderState,
  signOffer,
  signPermit,
  terms,
  USD,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
} from "../helpers/fixtures";

const AMOUNT = USD(100);
const FEE = (AMOUNT * FEE_BPS) / 10_000n;

/**
 * An operator the merchant approved (on the escrow and on the inventory) acts for the merchant, but the money of
 * the merchant's sales is the merchant's: terms an operator creates or signs must name the merchant as payee.
 * A dishonest operator (or a thief holding its key) that names itself, or a wallet of its own, is refused with
 * PayeeNotAuthorized before anything moves: no order, no reserved stock, no payment taken.
 */
describe("security: a dishonest operator redirecting the merchant's sales proceeds to itself", function () {
  /** The review's scenario: ten units of the merchant's stock, the operator as payee. */
  async function redirectionFixture() {
    const f = await deployEscrowFixture();
    const items: LineItem[] = [{ skuId: f.skuA, quantity: 10n }];
    const offer = await terms(f, { amount: AMOUNT, payee: f.operator.address }, items);
    const id = await idOf(f.escrow, offer, items);
    return { ...f, items, offer, id, escrowAddress: await f.escrow.getAddress() };
  }

  type F = Awaited<ReturnType<typeof redirectionFixture>>;

  /** Everything the redirection could move or write. */
  async function observe(f: F, id: string = f.id) {
    const usd = f.usd;
    return {
      merchantStock: await f.inventory.balanceOf(f.merchant.address, f.skuA),
      escrowStock: await f.inventory.balanceOf(f.escrowAddress, f.skuA),
      buyerStock: await f.inventory.balanceOf(f.buyer.address, f.skuA),
      buyerUsd: await usd.balanceOf(f.buyer.address),
      escrowUsd: await usd.balanceOf(f.escrowAddress),
      operatorUsd: await usd.balanceOf(f.operator.address),
      merchantUsd: await usd.balanceOf(f.merchant.address),
      status: [...(await f.escrow.statusOf(id))],
      payer: await f.escrow.payerOf(id),
    };
  }

  async function expectNoOrder(f: EscrowFixture, id: string) {
    const s = await f.escrow.statusOf(id);
    expect([s.state, s.feeBps, s.deadline, s.refunded]).to.deep.equal([OrderState.None, 0n, 0n, 0n]);
  }

  it("reverts a dishonest operator's createOrder naming itself payee of the merchant's stock with PayeeNotAuthorized; nothing moves and the buyer has nothing to pay", async function () {
    const f = await loadFixture(redirectionFixture);
    const before = await observe(f);
    await expect(f.escrow.connect(f.operator).createOrder(f.offer, f.items))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect(await observe(f)).to.deep.equal(before);
    await expectNoOrder(f, f.id);
    await expect(f.escrow.connect(f.buyer).pay(f.offer))
      .to.be.revertedWithCustomError(f.escrow, "OrderNotFound")
      .withArgs(f.id);
  });

  it("reverts a buyer's checkout of a checkout offer a dishonest operator signed naming itself payee with PayeeNotAuthorized; the buyer keeps its money, the merchant its stock", async function () {
    const f = await loadFixture(redirectionFixture);
    const signature = await signOffer(f.escrow, f.operator, f.offer, f.items);
    const before = await observe(f);
    await expect(f.escrow.connect(f.buyer).checkout(f.offer, f.items, signature))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect(await observe(f)).to.deep.equal(before);
    await expectNoOrder(f, f.id);
  });

  it("reverts a checkoutWithPermit of a dishonest operator's self-paying offer with PayeeNotAuthorized; the permit moves nothing", async function () {
    const f = await loadFixture(redirectionFixture);
    const signature = await signOffer(f.escrow, f.operator, f.offer, f.items);
    const permit = await signPermit(f.usd, f.buyer, f.escrowAddress, AMOUNT, BigInt(await time.latest()) + 600n);
    const before = await observe(f);
    await expect(f.escrow.connect(f.buyer).checkoutWithPermit(f.offer, f.items, signature, permit))
      .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
      .withArgs(f.merchant.address, f.operator.address, f.operator.address);
    expect(await observe(f)).to.deep.equal(before);
    await expectNoOrder(f, f.id);
  });

  it("reverts a dishonest operator naming a wallet of its own as payee, in createOrder and in a signed offer, without items too (PayeeNotAuthorized)", async function () {
    const f = await loadFixture(redirectionFixture);
    const ownWallet = f.otherBuyer.address;
    for (const items of [f.items, []] as LineItem[][]) {
      const t = await terms(f, { amount: AMOUNT, payee: ownWallet }, items);
      const id = await idOf(f.escrow, t, items);
      const before = await observe(f, id);
      await expect(f.escrow.connect(f.operator).createOrder(t, items))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, ownWallet, f.operator.address);
      const signature = await signOffer(f.escrow, f.operator, t, items);
      await expect(f.escrow.connect(f.buyer).checkout(t, items, signature))
        .to.be.revertedWithCustomError(f.escrow, "PayeeNotAuthorized")
        .withArgs(f.merchant.address, ownWallet, f.operator.address);
      expect(await observe(f, id)).to.deep.equal(before);
      await expectNoOrder(f, id);
    }
  });

  it("reverts a dishonest operator's self-paying createOrder inside its batch: BatchCallFailed carries PayeeNotAuthorized, and a non-atomic batch creates nothing", async function () {
    const f = await loadFixture(redirectionFixture);
    const call = f.escrow.interface.encodeFunctionData("createOrder", [f.offer, f.items]);
    const reason = f.escrow.interface.encodeErrorResult("PayeeNotAuthorized", [
      f.merchant.address,
      f.operator.address,
      f.operator.address,
    ]);
    const before = await observe(f);
    await expect(f.escrow.connect(f.operator).batch([call], true))
      .to.be.revertedWithCustomError(f.escrow, "BatchCallFailed")
      .withArgs(0n, reason);
    await expect(f.escrow.connect(f.operator).batch([call], false))
      .to.emit(f.escrow, "BatchItemFailed")
      .withArgs(0n, reason);
    expect(await observe(f)).to.deep.equal(before);
    await expectNoOrder(f, f.id);
  });

  it("still pays the merchant for the same sale once the dishonest operator's terms name the merchant as payee", async function () {
    const f = await loadFixture(redirectionFixture);
    const honest: OrderTerms = { ...f.offer, payee: f.merchant.address };
    const signature = await signOffer(f.escrow, f.operator, honest, f.items);
    await f.escrow.connect(f.buyer).checkout(honest, f.items, signature);
    await f.escrow.connect(f.operator).ship(honest, ethers.ZeroHash);
    await expect(f.escrow.connect(f.buyer).confirmReceipt(honest, f.items)).to.changeTokenBalances(
      f.usd,
      [f.merchant, f.operator, f.feeRecipient],
      [AMOUNT - FEE, 0n, FEE],
    );
    expect(await f.inventory.balanceOf(f.buyer.address, f.skuA)).to.equal(10n);
  });
});
