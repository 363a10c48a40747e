import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, FEE_BPS, idOf, OrderState, terms, USD } from "../helpers/fixtures";

const AMOUNT = USD(100);
const FEE = (AMOUNT * FEE_BPS) / 10_000n;

/**
 * A stablecoin issuer's blocklist (like USDC's) is the token's own rule: a payout the token refuses to a blocked
 * address is credited in the escrow, and an ERC-20 credit can only be withdrawn to the credited account itself.
 * Otherwise a blocked address could keep receiving the token through escrow orders and move it out to a clean
 * wallet, turning the escrow into a channel around the issuer's freeze.
 */
describe("security: a blocklisted payee withdrawing its credit around the issuer's freeze", function () {
  async function blockedPayeeFixture() {
    const f = await deployEscrowFixture();
    // Deployed by the admin account, which therefore manages the token's blocklist (the issuer).
    const token = await (await ethers.getContractFactory("BlocklistStablecoin")).connect(f.admin).deploy();
    const tokenAddress = await token.getAddress();
    const escrowAddress = await f.escrow.getAddress();
    await f.escrow.connect(f.admin).setTokenAllowed(tokenAddress, true);
    await token.mint(f.buyer.address, USD(1_000));
    await token.connect(f.buyer).approve(escrowAddress, ethers.MaxUint256);
    // The merchant's payout wallet (say, a sanctioned treasury) is frozen by the issuer ...
    const blockedPayee = f.otherMerchant;
    await token.setBlocked(blockedPayee.address, true);
    // ... and an order created AFTER the freeze names it as payee, is paid and is settled.
    const t = await terms(f, { token: tokenAddress, amount: AMOUNT, payee: blockedPayee.address });
    await f.escrow.connect(f.merchant).createOrder(t, []);
    await f.escrow.connect(f.buyer).pay(t);
    await f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash);
    await f.escrow.connect(f.buyer).confirmReceipt(t, []);
    return { ...f, token, tokenAddress, escrowAddress, blockedPayee, t, id: await idOf(f.escrow, t) };
  }

  type F = Awaited<ReturnType<typeof blockedPayeeFixture>>;

  async function observe(f: F, wallet: string) {
    return {
      credit: await f.escrow.credited(f.blockedPayee.address, f.tokenAddress),
      escrow: await f.token.balanceOf(f.escrowAddress),
      wallet: await f.token.balanceOf(wallet),
      payee: await f.token.balanceOf(f.blockedPayee.address),
    };
  }

  it("credits the blocked payee's share (the freeze holds on the token) and still pays the fee", async function () {
    const f = await loadFixture(blockedPayeeFixture);
    await expect(f.token.connect(f.buyer).transfer(f.blockedPayee.address, 1n))
      .to.be.revertedWithCustomError(f.token, "AccountBlocked")
      .withArgs(f.blockedPayee.address);
    expect((await f.escrow.statusOf(f.id)).state).to.equal(OrderState.Completed);
    expect(await f.escrow.credited(f.blockedPayee.address, f.tokenAddress)).to.equal(AMOUNT - FEE);
    expect(await f.token.balanceOf(f.feeRecipient.address)).to.equal(FEE);
    expect(await f.token.balanceOf(f.escrowAddress)).to.equal(AMOUNT - FEE);
  });

  it("reverts the blocked payee's withdrawal of its stablecoin credit to a clean wallet with CreditNotTransferable; nothing moves", async function () {
    const f = await loadFixture(blockedPayeeFixture);
    const clean = ethers.Wallet.createRandom().address;
    const before = await observe(f, clean);
    await expect(f.escrow.connect(f.blockedPayee).withdraw(f.tokenAddress, clean))
      .to.be.revertedWithCustomError(f.escrow, "CreditNotTransferable")
      .withArgs(f.blockedPayee.address, clean);
    expect(await observe(f, clean)).to.deep.equal(before);
    expect(before).to.deep.equal({ credit: AMOUNT - FEE, escrow: AMOUNT - FEE, wallet: 0n, payee: 0n });
  });

  it("reverts the blocked payee's withdrawal to an accomplice's known wallet or to the merchant with CreditNotTransferable", async function () {
    const f = await loadFixture(blockedPayeeFixture);
    for (const to of [f.stranger.address, f.merchant.address, f.escrowAddress]) {
      const before = await observe(f, to);
      await expect(f.escrow.connect(f.blockedPayee).withdraw(f.tokenAddress, to))
        .to.be.revertedWithCustomError(f.escrow, "CreditNotTransferable")
        .withArgs(f.blockedPayee.address, to);
      expect(await observe(f, to)).to.deep.equal(before);
    }
    await expect(
      f.escrow.connect(f.blockedPayee).withdraw(f.tokenAddress, ethers.ZeroAddress),
    ).to.be.revertedWithCustomError(f.escrow, "ZeroAddress");
  });

  it("keeps the credit when the blocked payee withdraws to itself: the token refuses it (WithdrawFailed) until the issuer unblocks it", async function () {
    const f = await loadFixture(blockedPayeeFixture);
    const before = await observe(f, f.blockedPayee.address);
    await expect(f.escrow.connect(f.blockedPayee).withdraw(f.tokenAddress, f.blockedPayee.address))
      .to.be.revertedWithCustomError(f.escrow, "WithdrawFailed")
      .withArgs(f.blockedPayee.address, f.tokenAddress, AMOUNT - FEE);
    expect(await observe(f, f.blockedPayee.address)).to.deep.equal(before);

    await f.token.setBlocked(f.blockedPayee.address, false);
    await expect(f.escrow.connect(f.blockedPayee).withdraw(f.tokenAddress, f.blockedPayee.address))
      .to.emit(f.escrow, "PayoutWithdrawn")
      .withArgs(f.blockedPayee.address, f.tokenAddress, f.blockedPayee.address, AMOUNT - FEE);
    expect(await observe(f, f.blockedPayee.address)).to.deep.equal({
      credit: 0n,
      escrow: 0n,
      wallet: AMOUNT - FEE,
      payee: AMOUNT - FEE,
    });
  });

  it("reverts a stranger's (the clean wallet's) attempt to withdraw the blocked payee's credit with NothingToWithdraw: a credit is only its account's", async function () {
    const f = await loadFixture(blockedPayeeFixture);
    const before = await observe(f, f.stranger.address);
    await expect(f.escrow.connect(f.stranger).withdraw(f.tokenAddress, f.stranger.address))
      .to.be.revertedWithCustomError(f.escrow, "NothingToWithdraw")
      .withArgs(f.stranger.address, f.tokenAddress);
    expect(await observe(f, f.stranger.address)).to.deep.equal(before);
  });
});
