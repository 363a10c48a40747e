import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Log } from "ethers";
import { applyOrderLogs } from "../../sdk/orderRecord";
import { ADMIN_DELAY, FEE_BPS, idOf, OrderState, terms, type OrderView } from "../helpers/fixtures";
import { createPaidOrder, deployCreationFixture } from "../helpers/creation";

const AMOUNT = ethers.parseEther("1");
const EVIDENCE = ethers.id("evidence");

/**
 * An order id is the struct hash of the terms alone, so another deployment of the escrow computes the very same
 * id for the same terms. Anyone can deploy the genuine PaymentEscrow bytecode (a code-hash check would pass),
 * make itself that copy's trusted forwarder, act there as the real merchant and buyer, and emit a full set of
 * order events naming a real order's id and parties. The sdk fold (`applyOrderLogs`) takes the real escrow's
 * address and ignores every log of any other contract, so none of it reaches the views clients, the relayer and
 * the tests build.
 */
describe("security: a stranger's copy of the escrow emitting events for a real order's id", function () {
  async function fixture() {
    const f = await deployCreationFixture();
    // A real native order, paid: 1 ETH escrowed.
    const order = await createPaidOrder(f, { token: ethers.ZeroAddress, amount: AMOUNT });
    const attacker = f.stranger;
    const fake = await (
      await ethers.getContractFactory("PaymentEscrow")
    )
      .connect(attacker)
      .deploy(attacker.address, ADMIN_DELAY, attacker.address, attacker.address, attacker.address, FEE_BPS);
    return { ...f, order, attacker, fake, realAddress: await f.escrow.getAddress() };
  }

  type F = Awaited<ReturnType<typeof fixture>>;

  /** A call on the copy as `as` (the attacker is its trusted forwarder: the last 20 bytes name the sender). */
  async function onFake(f: F, as: HardhatEthersSigner | string, data: string, value = 0n): Promise<readonly Log[]> {
    const sender = typeof as === "string" ? as : as.address;
    const tx = await f.attacker.sendTransaction({ to: f.fake.target, data: ethers.concat([data, sender]), value });
    const receipt = await tx.wait();
    return receipt!.logs;
  }

  const call = (f: F, name: string, args: unknown[]) =>
    f.fake.interface.encodeFunctionData(name as never, args as never);

  /** The copy's events for the real order's terms: created, paid by the attacker's ether "as the buyer", ... */
  async function fakeCreatedAndPaid(f: F): Promise<Log[]> {
    const t = f.order.terms;
    expect(await f.fake.orderIdOf(t)).to.equal(f.order.id);
    return [
      ...(await onFake(f, t.merchant, call(f, "createOrder", [t, []]))),
      ...(await onFake(f, t.buyer, call(f, "pay", [t]), t.amount)),
    ];
  }

  /** Folds `logs` into a copy of the book's views, as the real escrow's client does. */
  function fold(f: F, logs: readonly Log[], address = f.realAddress): Map<string, OrderView> {
    const views = new Map([...f.book.views].map(([id, v]) => [id, structuredClone(v)]));
    return applyOrderLogs(f.escrow.interface, address, logs, views);
  }

  it("ignores a stranger's OrderCreated and OrderCancelled for a real paid order's id: the view stays Paid with the payment escrowed", async function () {
    const f = await loadFixture(fixture);
    const before = structuredClone(f.book.get(f.order.id));
    const logs = [
      ...(await onFake(f, f.order.terms.merchant, call(f, "createOrder", [f.order.terms, []]))),
      ...(await onFake(f, f.order.terms.merchant, call(f, "cancel", [f.order.terms, []]))),
    ];
    // The forged events name the real order's id and merchant ...
    const names = logs.map((l) => f.fake.interface.parseLog(l)).filter((e) => e?.args.orderId === f.order.id);
    expect(names.map((e) => e!.name)).to.deep.equal(["OrderCreated", "OrderCancelled"]);
    // ... and a fold that took them would show the real order cancelled:
    expect(fold(f, logs, await f.fake.getAddress()).get(f.order.id)!.state).to.equal(OrderState.Cancelled);
    // Folded as logs of the real escrow's chain, they change nothing.
    const view = fold(f, logs).get(f.order.id)!;
    expect(view).to.deep.equal(before);
    expect(view.state).to.equal(OrderState.Paid);
    expect(view.escrowed).to.equal(AMOUNT);
    expect((await f.escrow.statusOf(f.order.id)).state).to.equal(OrderState.Paid);
  });

  it("follows only the real escrow when a stranger's forged completion is interleaved with the merchant's real shipment in one batch of logs", async function () {
    const f = await loadFixture(fixture);
    const t = f.order.terms;
    const forged = [
      ...(await fakeCreatedAndPaid(f)),
      ...(await onFake(f, t.merchant, call(f, "ship", [t, ethers.ZeroHash]))),
    ];
    const real = (await (await f.escrow.connect(f.merchant).ship(t, ethers.id("tracking"))).wait())!.logs;
    forged.push(...(await onFake(f, t.buyer, call(f, "confirmReceipt", [t, []]))));
    // Taken as the copy's own logs, they complete the order; interleaved with the real escrow's, they are ignored.
    expect(fold(f, forged, await f.fake.getAddress()).get(f.order.id)!.state).to.equal(OrderState.Completed);
    const view = fold(f, [...forged.slice(0, 3), ...real, ...forged.slice(3)]).get(f.order.id)!;
    const s = await f.escrow.statusOf(f.order.id);
    expect(s.state).to.equal(OrderState.Shipped);
    expect([view.state, view.deadline, view.escrowed, view.buyer]).to.deep.equal([
      OrderState.Shipped,
      s.deadline,
      AMOUNT,
      f.buyer.address,
    ]);
  });

  it("creates no view for an order a stranger's copy created in the real merchant's name", async function () {
    const f = await loadFixture(fixture);
    const forgedTerms = await terms(f, { token: ethers.ZeroAddress, amount: AMOUNT });
    const forgedId = await idOf(f.escrow, forgedTerms);
    const logs = await onFake(f, f.merchant, call(f, "createOrder", [forgedTerms, []]));
    expect(fold(f, logs, await f.fake.getAddress()).has(forgedId)).to.equal(true);
    const views = fold(f, logs);
    expect(views.has(forgedId)).to.equal(false);
    expect(views.size).to.equal(f.book.views.size);
    expect((await f.escrow.statusOf(forgedId)).state).to.equal(OrderState.None);
  });

  it("shows no proposal a stranger's copy forged for a real dispute: the real order's view has none until a side proposes on the escrow", async function () {
    const f = await loadFixture(fixture);
    const t = f.order.terms;
    await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
    const forged = [
      ...(await fakeCreatedAndPaid(f)),
      ...(await onFake(f, t.buyer, call(f, "dispute", [t, EVIDENCE]))),
      // "The merchant" offers the buyer nothing back; a buyer trusting the view might dispute no further.
      ...(await onFake(f, t.merchant, call(f, "proposeSettlement", [t, 0n]))),
    ];
    const view = fold(f, forged).get(f.order.id)!;
    expect(view.proposal).to.equal(undefined);
    expect(view).to.deep.equal(f.book.get(f.order.id));
    expect((await f.escrow.proposalOf(f.order.id)).by).to.equal(0n);
  });

  it("drops the pending proposal from the view when the merchant refunds the disputed order in full, and a stranger's copy cannot put one back", async function () {
    const f = await loadFixture(fixture);
    const t = f.order.terms;
    await f.book.send(f.escrow.connect(f.buyer).dispute(t, EVIDENCE));
    await f.book.send(f.escrow.connect(f.buyer).proposeSettlement(t, ethers.parseEther("0.6")));
    expect(f.book.get(f.order.id).proposal).to.deep.equal({ by: 1n, buyerTotal: ethers.parseEther("0.6") });

    await f.book.send(f.escrow.connect(f.merchant).refund(t, AMOUNT, []));
    const refunded = f.book.get(f.order.id);
    expect(refunded.proposal).to.equal(undefined);
    expect([refunded.state, refunded.escrowed]).to.deep.equal([OrderState.Refunded, 0n]);
    // The view agrees with the escrow: no proposal is pending on a refunded order.
    const p = await f.escrow.proposalOf(f.order.id);
    expect([p.by, p.buyerTotal]).to.deep.equal([0n, 0n]);
    expect((await f.escrow.statusOf(f.order.id)).state).to.equal(OrderState.Refunded);

    // The stranger's copy re-opens "the dispute" and proposes again; the view keeps the refunded order.
    const forged = [
      ...(await fakeCreatedAndPaid(f)),
      ...(await onFake(f, t.buyer, call(f, "dispute", [t, EVIDENCE]))),
      ...(await onFake(f, t.buyer, call(f, "proposeSettlement", [t, ethers.parseEther("0.6")]))),
    ];
    expect(fold(f, forged).get(f.order.id)).to.deep.equal(refunded);
  });
});
