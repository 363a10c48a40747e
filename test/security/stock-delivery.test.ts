import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deployEscrowFixture, HOUR, idOf, OrderBook, OrderState, terms } from "../helpers/fixtures";

/**
 * Stock leaves escrow custody with ERC-1155's receiver check when it goes to a contract: a contract buyer that
 * accepts ERC-1155 gets it; one that does not (no hook, a refusing, wrong or gas-burning hook) can neither block
 * the settlement nor lose the goods: they stay in custody, held for it to claim wherever it chooses.
 */
describe("security: stock delivered to contracts", function () {
  const PRICE = ethers.parseEther("1");
  const Mode = { Accept: 0, Refuse: 1, WrongSelector: 2, BurnGas: 3 } as const;

  async function contractBuyerShippedOrder() {
    const f = await loadFixture(deployEscrowFixture);
    const receiver = await (await ethers.getContractFactory("StockReceiver")).deploy();
    const receiverAddress = await receiver.getAddress();
    const escrowAddress = await f.escrow.getAddress();
    const book = new OrderBook(f.escrow);
    const items = [
      { skuId: f.skuA, quantity: 3n },
      { skuId: f.skuB, quantity: 2n },
    ];
    const t = await terms(f, { buyer: receiverAddress, token: ethers.ZeroAddress, amount: PRICE }, items);
    const orderId = await idOf(f.escrow, t, items);
    await book.send(f.escrow.connect(f.merchant).createOrder(t, items));
    const pay = f.escrow.interface.encodeFunctionData("pay", [t]);
    await book.send(receiver.execute(escrowAddress, PRICE, pay, { value: PRICE }));
    await book.send(f.escrow.connect(f.merchant).ship(t, ethers.ZeroHash));
    return { ...f, receiver, receiverAddress, escrowAddress, book, items, t, orderId };
  }

  it("delivers to a contract buyer that accepts ERC-1155, through its hook", async function () {
    const f = await contractBuyerShippedOrder();
    const confirm = f.escrow.interface.encodeFunctionData("confirmReceipt", [f.t, f.items]);
    const tx = f.receiver.execute(f.escrowAddress, 0n, confirm);
    await expect(tx).to.not.emit(f.inventory, "StockHeld");
    await f.book.send(tx);
    expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);
    expect(await f.receiver.accepted()).to.equal(1n);
    expect(await f.inventory.balanceOfBatch([f.receiverAddress, f.receiverAddress], [f.skuA, f.skuB])).to.deep.equal([
      3n,
      2n,
    ]);
  });

  for (const [name, mode] of [
    ["refuses with a revert", Mode.Refuse],
    ["answers with the wrong selector", Mode.WrongSelector],
    ["burns all the gas it is given", Mode.BurnGas],
  ] as const) {
    it(`completes the order and holds the stock when a hostile buyer's hook ${name}; a stranger cannot claim it, the buyer claims it elsewhere`, async function () {
      const f = await contractBuyerShippedOrder();
      await f.receiver.setMode(mode);
      await time.increase(72n * HOUR + 1n);
      // Anyone may release after the protection period: the merchant is paid whatever the buyer's hook does.
      const tx = f.escrow.connect(f.stranger).autoRelease(f.t, f.items);
      await expect(tx).to.emit(f.inventory, "StockHeld").withArgs(f.receiverAddress, [f.skuA, f.skuB], [3n, 2n]);
      await expect(tx).to.changeEtherBalance(f.merchant, PRICE - (PRICE * 100n) / 10_000n);
      await f.book.send(tx);
      expect(f.book.get(f.orderId).state).to.equal(OrderState.Completed);
      expect(await f.inventory.balanceOf(f.receiverAddress, f.skuA)).to.equal(0n);
      expect(await f.inventory.balanceOf(f.escrowAddress, f.skuA)).to.equal(3n);
      expect(await f.inventory.heldStock(f.receiverAddress, f.skuA)).to.equal(3n);
      expect(await f.inventory.heldStock(f.receiverAddress, f.skuB)).to.equal(2n);
      expect(await f.inventory.heldTotal(f.skuA)).to.equal(3n);

      // A stranger has nothing held; the owner claims to an account without code.
      await expect(f.inventory.connect(f.stranger).claimStock([f.skuA], f.stranger.address))
        .to.be.revertedWithCustomError(f.inventory, "NothingHeld")
        .withArgs(f.stranger.address, f.skuA);
      const wallet = ethers.Wallet.createRandom().address;
      const claim = f.inventory.interface.encodeFunctionData("claimStock", [[f.skuA, f.skuB], wallet]);
      await expect(f.receiver.execute(await f.inventory.getAddress(), 0n, claim))
        .to.emit(f.inventory, "StockClaimed")
        .withArgs(f.receiverAddress, wallet, [f.skuA, f.skuB], [3n, 2n]);
      expect(await f.inventory.balanceOfBatch([wallet, wallet], [f.skuA, f.skuB])).to.deep.equal([3n, 2n]);
      expect(await f.inventory.balanceOf(f.escrowAddress, f.skuA)).to.equal(0n);
      expect(await f.inventory.heldTotal(f.skuA)).to.equal(0n);
      // Claimed once: a second claim finds nothing.
      await expect(f.receiver.execute(await f.inventory.getAddress(), 0n, claim))
        .to.be.revertedWithCustomError(f.inventory, "NothingHeld")
        .withArgs(f.receiverAddress, f.skuA);
    });
  }

  it("keeps held stock when a refusing buyer contract claims it to itself or to the zero address", async function () {
    const f = await contractBuyerShippedOrder();
    await f.receiver.setMode(Mode.Refuse);
    await time.increase(72n * HOUR + 1n);
    await f.book.send(f.escrow.connect(f.stranger).autoRelease(f.t, f.items));
    const inventory = await f.inventory.getAddress();
    const toSelf = f.inventory.interface.encodeFunctionData("claimStock", [[f.skuA], f.receiverAddress]);
    await expect(f.receiver.execute(inventory, 0n, toSelf)).to.be.revertedWithCustomError(f.receiver, "StockRefused");
    const toZero = f.inventory.interface.encodeFunctionData("claimStock", [[f.skuA], ethers.ZeroAddress]);
    await expect(f.receiver.execute(inventory, 0n, toZero)).to.be.revertedWithCustomError(f.inventory, "ZeroAddress");
    expect(await f.inventory.heldStock(f.receiverAddress, f.skuA)).to.equal(3n);
    // Accepting again, it can take the stock itself.
    await f.receiver.setMode(Mode.Accept);
    await f.receiver.execute(inventory, 0n, toSelf);
    expect(await f.inventory.balanceOf(f.receiverAddress, f.skuA)).to.equal(3n);
  });

  it("reverts with DeliveryGasTooLow rather than hold the stock when a stranger releases with too little gas", async function () {
    const f = await contractBuyerShippedOrder();
    await time.increase(72n * HOUR + 1n);
    // Enough for the escrow's own work but not for a full delivery attempt: the settlement must not go through
    // with the buyer's goods held as if it had refused them.
    const tx = f.escrow.connect(f.stranger).autoRelease(f.t, f.items, { gasLimit: 250_000 });
    await expect(tx).to.be.revertedWithCustomError(f.inventory, "DeliveryGasTooLow");
    expect(await f.inventory.heldStock(f.receiverAddress, f.skuA)).to.equal(0n);
  });

  it("settles with the held path on a gas limit estimated while a hostile buyer's hook accepted, when it refuses when mined", async function () {
    const f = await contractBuyerShippedOrder();
    await time.increase(72n * HOUR + 1n);
    const args = [f.t, f.items] as const;
    const estimate = await f.escrow.connect(f.stranger).autoRelease.estimateGas(...args);
    await f.receiver.setMode(Mode.Refuse);
    const tx = f.escrow.connect(f.stranger).autoRelease(...args, { gasLimit: estimate });
    await expect(tx).to.emit(f.inventory, "StockHeld").withArgs(f.receiverAddress, [f.skuA, f.skuB], [3n, 2n]);
  });

  it("returns stock to a refusing merchant contract at once, so it can sell it again", async function () {
    const f = await loadFixture(deployEscrowFixture);
    const merchant = await (await ethers.getContractFactory("StockReceiver")).deploy();
    const merchantAddress = await merchant.getAddress();
    await merchant.setMode(Mode.Refuse); // refuses every ERC-1155 delivery through its hook
    const inventory = await f.inventory.getAddress();
    const escrowAddress = await f.escrow.getAddress();
    await merchant.execute(
      inventory,
      0n,
      f.inventory.interface.encodeFunctionData("createSku", [merchantAddress, "ipfs://m"]),
    );
    const sku = await f.inventory.skuId(merchantAddress, 1);
    await merchant.execute(inventory, 0n, f.inventory.interface.encodeFunctionData("mintStock", [[sku], [10n]]));
    const book = new OrderBook(f.escrow);
    const items = [{ skuId: sku, quantity: 4n }];
    const t = await terms(f, { merchant: merchantAddress, token: ethers.ZeroAddress, amount: PRICE }, items);
    await book.send(
      merchant.execute(escrowAddress, 0n, f.escrow.interface.encodeFunctionData("createOrder", [t, items])),
    );
    expect(await f.inventory.balanceOf(merchantAddress, sku)).to.equal(6n);

    const orderId = await idOf(f.escrow, t, items);
    const cancel = f.escrow.interface.encodeFunctionData("cancel", [t, items]);
    const tx = merchant.execute(escrowAddress, 0n, cancel);
    await expect(tx).to.not.emit(f.inventory, "StockHeld");
    await book.send(tx);
    expect(book.get(orderId).state).to.equal(OrderState.Cancelled);
    expect(await f.inventory.balanceOf(merchantAddress, sku)).to.equal(10n);
    expect(await f.inventory.heldStock(merchantAddress, sku)).to.equal(0n);
    // And it sells all of it again.
    const all = [{ skuId: sku, quantity: 10n }];
    const again = await terms(f, { merchant: merchantAddress, token: ethers.ZeroAddress, amount: PRICE }, all);
    await book.send(
      merchant.execute(escrowAddress, 0n, f.escrow.interface.encodeFunctionData("createOrder", [again, all])),
    );
    expect(await f.inventory.balanceOf(escrowAddress, sku)).to.equal(10n);
  });

  it("reverts a stranger's empty claim with LengthMismatch (no event, no hook called on anyone)", async function () {
    const f = await contractBuyerShippedOrder();
    await expect(f.inventory.connect(f.stranger).claimStock([], f.receiverAddress))
      .to.be.revertedWithCustomError(f.inventory, "LengthMismatch")
      .withArgs(0n, 0n);
    expect(await f.receiver.accepted()).to.equal(0n);
  });

  it("reverts a stranger calling deliverChecked with NotSelf, also through multicall", async function () {
    const f = await loadFixture(deployEscrowFixture);
    await expect(f.inventory.connect(f.stranger).deliverChecked(f.stranger.address, [f.skuA], [1n]))
      .to.be.revertedWithCustomError(f.inventory, "NotSelf")
      .withArgs(f.stranger.address);
    const call = f.inventory.interface.encodeFunctionData("deliverChecked", [f.stranger.address, [f.skuA], [1n]]);
    await expect(f.inventory.connect(f.stranger).multicall([call]))
      .to.be.revertedWithCustomError(f.inventory, "NotSelf")
      .withArgs(f.stranger.address);
  });
});
