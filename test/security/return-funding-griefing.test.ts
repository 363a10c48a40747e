import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  HOUR,
  OrderBook,
  OrderState,
  deployEscrowFixture,
  signPermit,
  type EscrowFixture,
  type OrderTerms,
} from "../helpers/fixtures";
import { signForwardRequest } from "../helpers/metaTx";
import { AMOUNT, NATIVE_AMOUNT, feeOf, placeOrder, statusOf } from "../helpers/settlement";

const WINDOW = 7n * 24n * HOUR;

interface GriefFixture extends EscrowFixture {
  /** Merchant A's payout wallet: registered, approved the escrow for A's returns and agreed to fund them. */
  payout: HardhatEthersSigner;
  /** A rogue merchant (any address can be a merchant of its own orders). */
  rogue: HardhatEthersSigner;
  /** The rogue merchant's accomplice, who pays its orders. */
  accomplice: HardhatEthersSigner;
}

async function griefFixture(): Promise<GriefFixture> {
  const f = await deployEscrowFixture();
  const signers = await ethers.getSigners();
  const [payout, rogue] = [signers[10], signers[11]];
  const escrowAddress = await f.escrow.getAddress();
  await f.escrow.connect(f.merchant).setPayoutAddress(payout.address);
  await f.usd.mint(payout.address, AMOUNT);
  await f.usd.connect(payout).approve(escrowAddress, ethers.MaxUint256);
  await f.escrow.connect(payout).setReturnFunding(f.merchant.address, true);
  return { ...f, payout, rogue, accomplice: f.otherBuyer };
}

/** The rogue merchant's completed order naming `victim` as payee, paid by the accomplice. */
async function rogueOrder(f: GriefFixture, victim: string, token?: string): Promise<OrderTerms> {
  const book = new OrderBook(f.escrow);
  const native = token === ethers.ZeroAddress;
  const placed = await placeOrder(f, book, "Shipped", {
    terms: {
      merchant: f.rogue.address,
      payee: victim,
      buyer: f.accomplice.address,
      amount: native ? NATIVE_AMOUNT : AMOUNT,
      refundWindow: WINDOW,
      ...(token === undefined ? {} : { token }),
    },
    payer: f.accomplice,
    seller: f.rogue,
  });
  await f.escrow.connect(f.accomplice).confirmReceipt(placed.terms, []);
  return placed.terms;
}

/** Merchant A's own completed order paying its payout wallet (created by its operator). */
async function merchantOrder(f: GriefFixture): Promise<OrderTerms> {
  const book = new OrderBook(f.escrow);
  const placed = await placeOrder(f, book, "Shipped", {
    terms: { payee: f.payout.address, amount: AMOUNT, refundWindow: WINDOW },
    seller: f.operator,
  });
  await f.escrow.connect(f.buyer).confirmReceipt(placed.terms, []);
  return placed.terms;
}

async function balances(f: GriefFixture, who: string[]): Promise<bigint[]> {
  return Promise.all(who.map((a) => f.usd.balanceOf(a)));
}

describe("security: returns pull only from a payee that agreed to fund them", function () {
  describe("a rogue merchant naming a victim with a standing allowance as payee", function () {
    for (const [name, victimOf] of [
      ["a buyer that approved the maximum", (f: GriefFixture) => f.buyer],
      ["another merchant's payout wallet that pre-approved for its returns", (f: GriefFixture) => f.payout],
    ] as const) {
      it(`reverts with ReturnFundingNotAllowed and moves nothing when the victim is ${name}`, async function () {
        const f = await loadFixture(griefFixture);
        const victim = victimOf(f);
        const t = await rogueOrder(f, victim.address);
        const orderId = await f.escrow.orderIdOf(t);
        // The sale paid the victim: the round would cost it the fee and that much of its allowance.
        const who = [victim.address, f.accomplice.address, await f.escrow.getAddress()];
        const before = await balances(f, who);
        const allowance = await f.usd.allowance(victim.address, await f.escrow.getAddress());
        await expect(f.escrow.connect(f.rogue).refundCompleted(t, AMOUNT))
          .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
          .withArgs(victim.address, f.rogue.address);
        expect(await balances(f, who)).to.deep.equal(before);
        expect(await f.usd.allowance(victim.address, await f.escrow.getAddress())).to.equal(allowance);
        const s = await statusOf(f.escrow, orderId);
        expect(s.state).to.equal(OrderState.Completed);
        expect(s.refunded).to.equal(0n);
      });
    }

    it("reverts with ReturnFundingNotAllowed when the rogue merchant front-runs a permit the victim signed for its own merchant's return; the permit stays usable", async function () {
      const f = await loadFixture(griefFixture);
      const escrowAddress = await f.escrow.getAddress();
      await f.usd.connect(f.payout).approve(escrowAddress, 0n);
      const own = await merchantOrder(f);
      const stolen = await rogueOrder(f, f.payout.address);
      const permit = await signPermit(f.usd, f.payout, escrowAddress, AMOUNT, BigInt(await time.latest()) + HOUR);
      const nonce = await f.usd.nonces(f.payout.address);
      const before = await balances(f, [f.payout.address, f.accomplice.address]);

      await expect(f.escrow.connect(f.rogue).refundCompletedWithPermit(stolen, AMOUNT, permit))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.payout.address, f.rogue.address);
      expect(await balances(f, [f.payout.address, f.accomplice.address])).to.deep.equal(before);
      expect(await f.usd.nonces(f.payout.address)).to.equal(nonce);
      expect(await f.usd.allowance(f.payout.address, escrowAddress)).to.equal(0n);

      // The victim's own merchant still returns with it (a permit is for the exact amount returned).
      await expect(f.escrow.connect(f.operator).refundCompletedWithPermit(own, AMOUNT, permit)).to.changeTokenBalances(
        f.usd,
        [f.payout, f.buyer],
        [-AMOUNT, AMOUNT],
      );
    });

    it("reverts with ReturnFundingNotAllowed for the rogue merchant's operator too, and inside its batch", async function () {
      const f = await loadFixture(griefFixture);
      const t = await rogueOrder(f, f.payout.address);
      await f.escrow.connect(f.rogue).setOperatorApproval(f.operator.address, true);
      await expect(f.escrow.connect(f.operator).refundCompleted(t, 1n))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.payout.address, f.rogue.address);
      const reason = f.escrow.interface.encodeErrorResult("ReturnFundingNotAllowed", [
        f.payout.address,
        f.rogue.address,
      ]);
      await expect(
        f.escrow.connect(f.operator).batch([f.escrow.interface.encodeFunctionData("refundCompleted", [t, 1n])], false),
      )
        .to.emit(f.escrow, "BatchItemFailed")
        .withArgs(0n, reason);
    });

    it("applies the same rule to a native-currency return: ReturnFundingNotAllowed without the payee's consent", async function () {
      const f = await loadFixture(griefFixture);
      const t = await rogueOrder(f, f.buyer.address, ethers.ZeroAddress);
      await expect(f.escrow.connect(f.rogue).refundCompleted(t, NATIVE_AMOUNT, { value: NATIVE_AMOUNT }))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.buyer.address, f.rogue.address);
    });
  });

  describe("consent", function () {
    it("lets a consenting payee fund its merchant's return; the merchant as its own payee needs no consent", async function () {
      const f = await loadFixture(griefFixture);
      expect(await f.escrow.fundsReturnsOf(f.payout.address, f.merchant.address)).to.equal(true);
      expect(await f.escrow.fundsReturnsOf(f.merchant.address, f.merchant.address)).to.equal(true);
      const t = await merchantOrder(f);
      const share = AMOUNT - feeOf(AMOUNT);
      await expect(f.escrow.connect(f.operator).refundCompleted(t, share)).to.changeTokenBalances(
        f.usd,
        [f.payout, f.merchant, f.buyer],
        [-share, 0n, share],
      );
    });

    it("stops returns once the payee revokes its consent (ReturnFundingSet false)", async function () {
      const f = await loadFixture(griefFixture);
      const t = await merchantOrder(f);
      await expect(f.escrow.connect(f.payout).setReturnFunding(f.merchant.address, false))
        .to.emit(f.escrow, "ReturnFundingSet")
        .withArgs(f.payout.address, f.merchant.address, false);
      expect(await f.escrow.fundsReturnsOf(f.payout.address, f.merchant.address)).to.equal(false);
      await expect(f.escrow.connect(f.operator).refundCompleted(t, 1n))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.payout.address, f.merchant.address);
    });

    it("keys consent by the caller: a stranger (or the rogue merchant) cannot agree on a victim's behalf", async function () {
      const f = await loadFixture(griefFixture);
      const t = await rogueOrder(f, f.buyer.address);
      for (const adversary of [f.stranger, f.rogue]) {
        await expect(f.escrow.connect(adversary).setReturnFunding(f.rogue.address, true))
          .to.emit(f.escrow, "ReturnFundingSet")
          .withArgs(adversary.address, f.rogue.address, true);
      }
      expect(await f.escrow.fundsReturnsOf(f.buyer.address, f.rogue.address)).to.equal(false);
      await expect(f.escrow.connect(f.rogue).refundCompleted(t, AMOUNT))
        .to.be.revertedWithCustomError(f.escrow, "ReturnFundingNotAllowed")
        .withArgs(f.buyer.address, f.rogue.address);
    });

    it("accepts consent signed by the payout wallet and relayed through the trusted forwarder (no native currency needed)", async function () {
      const f = await loadFixture(griefFixture);
      const t = await merchantOrder(f);
      await f.escrow.connect(f.payout).setReturnFunding(f.merchant.address, false);
      const request = await signForwardRequest(f.forwarder, f.payout, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("setReturnFunding", [f.merchant.address, true]),
      });
      const tx = f.forwarder.connect(f.stranger).execute(request);
      await expect(tx).to.emit(f.escrow, "ReturnFundingSet").withArgs(f.payout.address, f.merchant.address, true);
      await expect(tx).to.changeEtherBalance(f.payout, 0n);
      expect(await f.escrow.fundsReturnsOf(f.payout.address, f.merchant.address)).to.equal(true);
      await expect(f.escrow.connect(f.operator).refundCompleted(t, 1n)).to.emit(f.escrow, "OrderReturned");
    });

    it("ignores a forged forward request: the relayer cannot claim to be the payee", async function () {
      const f = await loadFixture(griefFixture);
      await f.escrow.connect(f.payout).setReturnFunding(f.merchant.address, false);
      const forged = await signForwardRequest(f.forwarder, f.stranger, {
        to: await f.escrow.getAddress(),
        data: f.escrow.interface.encodeFunctionData("setReturnFunding", [f.merchant.address, true]),
        from: f.payout.address,
      });
      await expect(f.forwarder.connect(f.stranger).execute(forged)).to.be.revertedWithCustomError(
        f.forwarder,
        "ERC2771ForwarderInvalidSigner",
      );
      expect(await f.escrow.fundsReturnsOf(f.payout.address, f.merchant.address)).to.equal(false);
    });
  });
});
