import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, idOf, OrderBook, OrderState, terms, USD } from "../helpers/fixtures";
import { recoverForwardSigner, signForwardRequest } from "../helpers/attacks";

/** A gasless (ERC-2771) request runs once, on the chain and forwarder it was signed for. */
describe("security: forward request replay", function () {
  async function forwardedPaymentFixture() {
    const f = await loadFixture(deployEscrowFixture);
    const book = new OrderBook(f.escrow);
    const t = await terms(f);
    const orderId = await idOf(f.escrow, t);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, []));
    const data = f.escrow.interface.encodeFunctionData("pay", [t]);
    return { ...f, book, orderId, data };
  }

  it("pays as the signer, then reverts a relaying stranger's replay of the request with ERC2771ForwarderInvalidSigner", async function () {
    const f = await forwardedPaymentFixture();
    const request = await signForwardRequest(f.forwarder, f.buyer, { to: await f.escrow.getAddress(), data: f.data });

    // The relayer (stranger) pays the gas; the escrow sees the buyer.
    const tx = f.forwarder.connect(f.stranger).execute(request);
    await expect(tx).to.changeTokenBalances(f.usd, [f.buyer, f.escrow], [-USD(100), USD(100)]);
    await f.book.send(tx);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Paid);
    expect(f.book.get(f.orderId).buyer).to.equal(f.buyer.address);
    expect(await f.forwarder.nonces(f.buyer.address)).to.equal(1n);

    const recovered = await recoverForwardSigner(f.forwarder, request, 1n);
    await expect(f.forwarder.connect(f.stranger).execute(request))
      .to.be.revertedWithCustomError(f.forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(recovered, f.buyer.address);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(USD(100));
  });

  it("reverts a stranger relaying a request signed with a stale nonce with ERC2771ForwarderInvalidSigner", async function () {
    const f = await forwardedPaymentFixture();
    const to = await f.escrow.getAddress();
    const first = await signForwardRequest(f.forwarder, f.buyer, {
      to,
      data: f.escrow.interface.encodeFunctionData("setOperatorApproval", [f.operator.address, false]),
    });
    await f.forwarder.connect(f.stranger).execute(first);
    // Signed for nonce 0 again, after nonce 0 was consumed.
    const stale = await signForwardRequest(f.forwarder, f.buyer, { to, data: f.data }, { nonce: 0n });

    await expect(f.forwarder.connect(f.stranger).execute(stale))
      .to.be.revertedWithCustomError(f.forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(await recoverForwardSigner(f.forwarder, stale, 1n), f.buyer.address);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Created);
    expect((await f.escrow.statusOf(f.orderId)).state).to.equal(OrderState.Created);
  });

  it("reverts a stranger relaying a request signed for another chain id with ERC2771ForwarderInvalidSigner", async function () {
    const f = await forwardedPaymentFixture();
    const request = await signForwardRequest(
      f.forwarder,
      f.buyer,
      { to: await f.escrow.getAddress(), data: f.data },
      { chainId: 1n },
    );

    await expect(f.forwarder.connect(f.stranger).execute(request))
      .to.be.revertedWithCustomError(f.forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(await recoverForwardSigner(f.forwarder, request, 0n), f.buyer.address);
    expect(await f.forwarder.nonces(f.buyer.address)).to.equal(0n);
    expect(await f.usd.balanceOf(await f.escrow.getAddress())).to.equal(0n);
  });

  it("reverts a stranger relaying a request signed for another forwarder with ERC2771ForwarderInvalidSigner", async function () {
    const f = await forwardedPaymentFixture();
    const otherForwarder = await (await ethers.getContractFactory("Forwarder")).deploy();
    const request = await signForwardRequest(
      f.forwarder,
      f.buyer,
      { to: await f.escrow.getAddress(), data: f.data },
      { verifyingContract: await otherForwarder.getAddress() },
    );

    await expect(f.forwarder.connect(f.stranger).execute(request))
      .to.be.revertedWithCustomError(f.forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(await recoverForwardSigner(f.forwarder, request, 0n), f.buyer.address);
  });

  it("ignores a sender suffix a stranger appends to a direct call (it is not the trusted forwarder)", async function () {
    const f = await forwardedPaymentFixture();
    // The stranger appends the buyer's address to pay(), as the forwarder would: the escrow must not believe it.
    const spoofed = ethers.concat([f.data, f.buyer.address]);
    await expect(f.stranger.sendTransaction({ to: await f.escrow.getAddress(), data: spoofed }))
      .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
      .withArgs(f.orderId, f.stranger.address);
  });
});
