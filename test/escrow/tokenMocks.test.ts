import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { UsdcLike, UsdtLike } from "../../typechain-types";
import { HOUR, OrderState, USD, authorizationNonce, signAuthorization } from "../helpers/fixtures";
import { createOrder, deployCreationFixture, type CreatedOrder, type CreationFixture } from "../helpers/creation";

/** The escrow fixture plus the local chain's USDC-shaped and USDT-shaped tokens, both allowlisted. */
async function tokenMocksFixture(): Promise<CreationFixture & { usdc: UsdcLike; usdt: UsdtLike }> {
  const f = await deployCreationFixture();
  const usdc = await (await ethers.getContractFactory("UsdcLike")).connect(f.admin).deploy();
  const usdt = await (await ethers.getContractFactory("UsdtLike")).deploy();
  await f.escrow.setTokenAllowed(await usdc.getAddress(), true);
  await f.escrow.setTokenAllowed(await usdt.getAddress(), true);
  for (const b of [f.buyer, f.stranger]) {
    await usdc.mint(b.address, USD(1_000));
    await usdt.mint(b.address, USD(1_000));
  }
  return { ...f, usdc, usdt };
}

async function usdcAuthorization(f: Awaited<ReturnType<typeof tokenMocksFixture>>, o: CreatedOrder) {
  const nonce = await authorizationNonce(f.escrow, o.terms, o.items);
  const validBefore = BigInt(await time.latest()) + HOUR;
  return signAuthorization(f.usdc, f.buyer, await f.escrow.getAddress(), o.terms.amount, nonce, validBefore);
}

describe("token mocks: UsdcLike (permit, ERC-3009, blocklist) and UsdtLike (no return values)", function () {
  describe("UsdcLike", function () {
    it("has 6 decimals, EIP-2612 and ERC-3009, and pays an order by authorization without allowance", async function () {
      const f = await loadFixture(tokenMocksFixture);
      expect(await f.usdc.decimals()).to.equal(6n);
      expect(await f.usdc.nonces(f.buyer.address)).to.equal(0n);
      const o = await createOrder(f, { token: await f.usdc.getAddress() });
      const auth = await usdcAuthorization(f, o);
      const tx = f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth);
      await expect(tx).to.changeTokenBalances(f.usdc, [f.buyer, f.escrow], [-USD(100), USD(100)]);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });

    it("a front-runner who calls receiveWithAuthorization itself with the copied signature is refused: CallerMustBePayee", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const o = await createOrder(f, { token: await f.usdc.getAddress() });
      const auth = await usdcAuthorization(f, o);
      const nonce = await authorizationNonce(f.escrow, o.terms, o.items);
      const escrow = await f.escrow.getAddress();
      // As signed (to = the escrow): only the escrow may submit it.
      await expect(
        f.usdc
          .connect(f.stranger)
          .receiveWithAuthorization(
            f.buyer.address,
            escrow,
            o.terms.amount,
            auth.validAfter,
            auth.validBefore,
            nonce,
            auth.v,
            auth.r,
            auth.s,
          ),
      )
        .to.be.revertedWithCustomError(f.usdc, "CallerMustBePayee")
        .withArgs(f.stranger.address, escrow);
      // Redirected to itself: the signature no longer matches.
      await expect(
        f.usdc
          .connect(f.stranger)
          .receiveWithAuthorization(
            f.buyer.address,
            f.stranger.address,
            o.terms.amount,
            auth.validAfter,
            auth.validBefore,
            nonce,
            auth.v,
            auth.r,
            auth.s,
          ),
      ).to.be.revertedWithCustomError(f.usdc, "InvalidAuthorizationSignature");
      // Nor by transferWithAuthorization, whose type differs.
      await expect(
        f.usdc
          .connect(f.stranger)
          .transferWithAuthorization(
            f.buyer.address,
            f.stranger.address,
            o.terms.amount,
            auth.validAfter,
            auth.validBefore,
            nonce,
            auth.v,
            auth.r,
            auth.s,
          ),
      ).to.be.revertedWithCustomError(f.usdc, "InvalidAuthorizationSignature");
      expect(await f.usdc.balanceOf(f.stranger.address)).to.equal(USD(1_000));
      // The buyer's authorization still pays the order it was signed for.
      await f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Paid);
    });

    it("a front-runner who submits the copied signature for another order of the same amount gains nothing", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const token = await f.usdc.getAddress();
      const meant = await createOrder(f, { token });
      const theirs = await createOrder(f, { token, buyer: f.buyer.address });
      const auth = await usdcAuthorization(f, meant);
      await expect(f.escrow.connect(f.stranger).payWithAuthorization(theirs.terms, auth)).to.be.revertedWithCustomError(
        f.usdc,
        "InvalidAuthorizationSignature",
      );
      expect((await f.escrow.statusOf(theirs.id)).state).to.equal(OrderState.Created);
      await f.escrow.connect(f.stranger).payWithAuthorization(meant.terms, auth);
      // Used once: a replay of the same authorization is refused by the escrow's order state.
      await expect(f.escrow.connect(f.stranger).payWithAuthorization(meant.terms, auth))
        .to.be.revertedWithCustomError(f.escrow, "InvalidState")
        .withArgs(meant.id, OrderState.Paid);
      expect(await f.usdc.balanceOf(f.buyer.address)).to.equal(USD(900));
    });

    it("a blocklisted buyer's authorization reverts with AccountBlocked and the order stays unpaid", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const o = await createOrder(f, { token: await f.usdc.getAddress() });
      const auth = await usdcAuthorization(f, o);
      await expect(f.usdc.setBlocked(f.buyer.address, true))
        .to.emit(f.usdc, "BlockedSet")
        .withArgs(f.buyer.address, true);
      await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
        .to.be.revertedWithCustomError(f.usdc, "AccountBlocked")
        .withArgs(f.buyer.address);
      expect((await f.escrow.statusOf(o.id)).state).to.equal(OrderState.Created);
      expect(await f.usdc.authorizationState(f.buyer.address, await authorizationNonce(f.escrow, o.terms))).to.equal(
        false,
      );
    });

    it("refuses a blocklist change by anyone but the deployer: NotBlocklister", async function () {
      const f = await loadFixture(tokenMocksFixture);
      await expect(f.usdc.connect(f.stranger).setBlocked(f.stranger.address, false))
        .to.be.revertedWithCustomError(f.usdc, "NotBlocklister")
        .withArgs(f.stranger.address);
      expect(await f.usdc.isBlocked(f.stranger.address)).to.equal(false);
    });
  });

  describe("UsdtLike", function () {
    it("returns no value from transfer, transferFrom and approve, like USDT", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const token = await f.usdt.getAddress();
      const iface = f.usdt.interface;
      const ret = async (data: string) => ethers.provider.call({ from: f.buyer.address, to: token, data });
      expect(await ret(iface.encodeFunctionData("transfer", [f.stranger.address, 1n]))).to.equal("0x");
      expect(await ret(iface.encodeFunctionData("approve", [f.stranger.address, 1n]))).to.equal("0x");
      expect(await f.usdt.decimals()).to.equal(6n);
    });

    it("refuses to change a non-zero allowance to another non-zero one: ApproveFromNonZero", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const escrow = await f.escrow.getAddress();
      await f.usdt.connect(f.buyer).approve(escrow, USD(1));
      await expect(f.usdt.connect(f.buyer).approve(escrow, USD(2)))
        .to.be.revertedWithCustomError(f.usdt, "ApproveFromNonZero")
        .withArgs(f.buyer.address, escrow, USD(1));
      await f.usdt.connect(f.buyer).approve(escrow, 0n);
      await f.usdt.connect(f.buyer).approve(escrow, USD(2));
      expect(await f.usdt.allowance(f.buyer.address, escrow)).to.equal(USD(2));
    });

    it("refuses a transferFrom over the allowance and a transfer over the balance", async function () {
      const f = await loadFixture(tokenMocksFixture);
      await expect(f.usdt.connect(f.stranger).transferFrom(f.buyer.address, f.stranger.address, 1n))
        .to.be.revertedWithCustomError(f.usdt, "InsufficientAllowance")
        .withArgs(f.buyer.address, f.stranger.address, 0n, 1n);
      await expect(f.usdt.connect(f.buyer).transfer(f.stranger.address, USD(1_001)))
        .to.be.revertedWithCustomError(f.usdt, "InsufficientBalance")
        .withArgs(f.buyer.address, USD(1_000), USD(1_001));
    });

    it("pays an order after an approval and releases it to the merchant despite the missing return values", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const o = await createOrder(f, { token: await f.usdt.getAddress() });
      await f.usdt.connect(f.buyer).approve(await f.escrow.getAddress(), o.terms.amount);
      await expect(f.escrow.connect(f.buyer).pay(o.terms)).to.changeTokenBalances(
        f.usdt,
        [f.buyer, f.escrow],
        [-USD(100), USD(100)],
      );
      await f.escrow.connect(f.merchant).ship(o.terms, ethers.ZeroHash);
      await expect(f.escrow.connect(f.buyer).confirmReceipt(o.terms, [])).to.changeTokenBalances(
        f.usdt,
        [f.escrow, f.merchant, f.feeRecipient],
        [-USD(100), USD(99), USD(1)],
      );
    });

    it("is refused by payWithAuthorization: AuthorizationNotSupported", async function () {
      const f = await loadFixture(tokenMocksFixture);
      const token = await f.usdt.getAddress();
      const o = await createOrder(f, { token });
      const auth = {
        from: f.buyer.address,
        validAfter: 0n,
        validBefore: 2n ** 40n,
        v: 27,
        r: ethers.ZeroHash,
        s: ethers.ZeroHash,
      };
      await expect(f.escrow.connect(f.operator).payWithAuthorization(o.terms, auth))
        .to.be.revertedWithCustomError(f.escrow, "AuthorizationNotSupported")
        .withArgs(token);
    });
  });
});
