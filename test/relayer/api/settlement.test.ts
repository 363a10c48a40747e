import { expect } from "chai";
import { id as keccakText, Wallet, type Signer } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { BuyerClient, RelayerError } from "../../../sdk/buyerClient";
import { OrderState, toTerms } from "../../../sdk/orderRecord";
import { callApp, errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

const DISPUTE_PERIOD_S = 14 * 24 * 3600;

/**
 * Disputes end without the arbiter: the merchant proposes a split or accepts the buyer's through the API, the
 * buyer does the same gaslessly through the checkout intents, and after the dispute period anyone applies the
 * default. The order views, webhooks and ledger follow the new events.
 */
describe("relayer API: dispute settlements between merchant and buyer", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let buyerIndex = 10;

  before(async () => {
    env = await startApiEnv();
  });
  after(async () => env?.stop());

  const escrow = () => PaymentEscrow__factory.connect(env.deployed.escrow, env.node.provider);
  const usd = () => MockStablecoin__factory.connect(env.deployed.stablecoin, env.node.provider);

  /** The SDK's client, talking to the in-process relayer. */
  function client(buyer: Signer) {
    return new BuyerClient("http://relayer.test", buyer, async (input: RequestInfo | URL, init?: RequestInit) => {
      // The client passes a Request; one Request holds the method, URL and body whichever way it was called.
      const req = new Request(input, init);
      const url = new URL(req.url);
      const body = await req.text();
      const r = await callApp(
        env.relayer,
        req.method as "GET" | "POST",
        url.pathname + url.search,
        null,
        body ? JSON.parse(body) : undefined,
      );
      return new Response(r.text, { status: r.status, headers: { "content-type": "application/json" } });
    });
  }

  /** An order paid by a fresh buyer and disputed by it on chain. */
  async function disputedOrder(m: Merchant) {
    const buyer = await env.fundedBuyer(buyerIndex++);
    const r = await env.call("POST", "/v1/orders", m.key, {
      reference: `D-${Math.random().toString(36).slice(2, 10)}`,
      amount: "5000000",
      token: env.deployed.stablecoin,
      buyer: buyer.address,
    });
    expect(r.status, r.text).to.equal(202);
    const id = r.body.id as string;
    await env.pay(buyer, await env.waitOrder(m.key, id, "created"));
    const paid = await env.waitOrder(m.key, id, "paid");
    const tx = await PaymentEscrow__factory.connect(env.deployed.escrow, buyer).dispute(
      toTerms(paid.terms),
      keccakText("parcel arrived empty"),
    );
    const block = await env.node.provider.getBlock((await tx.wait())!.blockNumber);
    const disputed = await env.waitOrder(m.key, id, "disputed");
    return { id, buyer, disputed, disputedAt: block!.timestamp };
  }

  const post = (m: Merchant, id: string, action: string, body: unknown, headers?: Record<string, string>) =>
    env.call("POST", `/v1/orders/${id}/settlement/${action}`, m.key, body, headers);

  async function waitProposal(m: Merchant, id: string, by: string, buyerTotal: string) {
    return waitFor(`proposal by ${by} of ${buyerTotal}`, async () => {
      const r = await env.call("GET", `/v1/orders/${id}`, m.key);
      const p = r.body.settlementProposal;
      return p && p.by === by && p.buyerTotal === buyerTotal ? r.body : null;
    });
  }

  async function hookTypes(orderId: string) {
    const r = await env.relayer.db.query<{ type: string; data: Record<string, unknown> }>(
      `select type, payload->'data' as data from webhook_events where order_id = $1 order by sequence`,
      [orderId],
    );
    return r.rows;
  }

  /** Every ledger event of the order posts balanced lines; returns the order's account balances. */
  async function ledgerOf(m: Merchant, chainOrderId: string) {
    const r = await env.call("GET", `/v1/ledger/entries?order=${chainOrderId}&limit=1000`, m.key);
    const byTx = new Map<string, bigint>();
    const balance: Record<string, bigint> = {};
    for (const e of r.body.data as { txHash: string; account: string; debit: string; credit: string }[]) {
      byTx.set(e.txHash, (byTx.get(e.txHash) ?? 0n) + BigInt(e.debit) - BigInt(e.credit));
      balance[e.account] = (balance[e.account] ?? 0n) + BigInt(e.debit) - BigInt(e.credit);
    }
    for (const [tx, sum] of byTx) expect(sum, `ledger lines of ${tx} balance`).to.equal(0n);
    return balance;
  }

  it("reports a dispute's default time, and refuses settlement calls in a wrong state with stable codes", async () => {
    const m = await env.newMerchant();
    const { id, disputed, disputedAt } = await disputedOrder(m);
    expect(disputed.disputeDefaultAfter).to.equal(new Date((disputedAt + DISPUTE_PERIOD_S) * 1000).toISOString());
    expect(disputed.settlementProposal).to.equal(null);
    expect(disputed.payee).to.equal(m.address);

    const none = await post(m, id, "accept", { buyerTotal: "1" });
    expect(none.status).to.equal(409);
    expect(errorOf(none).code).to.equal("no_settlement_proposal");
    const tooMuch = await post(m, id, "propose", { buyerTotal: "5000001" });
    expect(tooMuch.status).to.equal(422);
    expect(errorOf(tooMuch).code).to.equal("unprocessable");
    const bad = await post(m, id, "propose", { buyerTotal: "-1" });
    expect(bad.status).to.equal(400);

    // An order that is not disputed.
    const buyer = await env.fundedBuyer(buyerIndex++);
    const o = await env.call("POST", "/v1/orders", m.key, {
      reference: "NOT-DISPUTED",
      amount: "5000000",
      token: env.deployed.stablecoin,
      buyer: buyer.address,
    });
    await env.waitOrder(m.key, o.body.id, "created");
    for (const action of ["propose", "accept"]) {
      const r = await post(m, o.body.id, action, { buyerTotal: "0" });
      expect(r.status, action).to.equal(409);
      expect(errorOf(r).code).to.equal("invalid_order_state");
      expect(errorOf(r).details).to.deep.equal({ status: "created", allowed: ["disputed"] });
    }

    // A staff key without the refunds scope may not settle.
    const staff = await env.call("POST", "/v1/keys", m.key, { name: "packer", scopes: ["read", "orders"] });
    expect(staff.status, staff.text).to.equal(201);
    const denied = await env.call("POST", `/v1/orders/${id}/settlement/propose`, staff.body.secret, {
      buyerTotal: "1",
    });
    expect(denied.status).to.equal(403);
    expect(errorOf(denied).code).to.equal("insufficient_scope");
  });

  it("the merchant accepts the buyer's proposal: the buyer gets its share, the payee the rest minus the fee", async () => {
    const m = await env.newMerchant();
    const { id, buyer, disputed } = await disputedOrder(m);
    const buyerBefore = await usd().balanceOf(buyer.address);
    const payeeBefore = await usd().balanceOf(m.address);

    // The merchant proposes first (idempotently), then the buyer counter-proposes without gas.
    const key = { "idempotency-key": `propose-${id}` };
    const proposed = await post(m, id, "propose", { buyerTotal: "2000000" }, key);
    expect(proposed.status, proposed.text).to.equal(202);
    expect(proposed.body.command).to.deep.include({ kind: "propose_settlement", status: "pending" });
    const replay = await post(m, id, "propose", { buyerTotal: "2000000" }, key);
    expect(replay.status).to.equal(202);
    expect(replay.body.command.id).to.equal(proposed.body.command.id);
    await waitProposal(m, id, "merchant", "2000000");

    await client(buyer).proposeSettlement(disputed.chainOrderId, 3_000_000n);
    const counter = await waitProposal(m, id, "buyer", "3000000");
    expect(counter.status).to.equal("disputed");
    // The buyer proposed last: only the merchant may accept, and the arbiter may still rule.
    expect(counter.allowedActions).to.deep.equal({
      merchant: ["refund", "propose_settlement", "accept_settlement"],
      buyer: ["propose_settlement"],
      arbiter: ["resolve"],
    });

    const wrong = await post(m, id, "accept", { buyerTotal: "2000000" });
    expect(wrong.status).to.equal(409);
    expect(errorOf(wrong).code).to.equal("settlement_proposal_mismatch");
    expect(errorOf(wrong).details).to.deep.equal({ proposed: "3000000", buyerTotal: "2000000" });

    const accepted = await post(m, id, "accept", { buyerTotal: "3000000" });
    expect(accepted.status, accepted.text).to.equal(202);
    expect(accepted.body.command).to.deep.include({ kind: "accept_settlement", status: "pending" });
    const resolved = await env.waitOrder(m.key, id, "resolved");
    expect(resolved).to.deep.include({ escrowed: "0", settlementProposal: null, disputeDefaultAfter: null });
    const ev = resolved.events.find((e: { name: string }) => e.name === "DisputeResolved");
    expect(ev.args).to.deep.include({ buyerAmount: "3000000", payeeAmount: "1980000", fee: "20000", resolution: "1" });
    expect((await escrow().statusOf(disputed.chainOrderId)).state).to.equal(BigInt(OrderState.Resolved));
    expect(await usd().balanceOf(buyer.address)).to.equal(buyerBefore + 3_000_000n);
    expect(await usd().balanceOf(m.address)).to.equal(payeeBefore + 1_980_000n);

    const hooks = await hookTypes(id);
    expect(hooks.map((h) => h.type)).to.deep.equal([
      "order.created",
      "order.paid",
      "order.disputed",
      "order.settlement_proposed",
      "order.settlement_proposed",
      "order.resolved",
    ]);
    expect(hooks[3].data).to.deep.include({ proposedBy: "merchant", buyerTotal: "2000000" });
    expect(hooks[4].data).to.deep.include({ proposedBy: "buyer", buyerTotal: "3000000" });
    expect(hooks[5].data).to.deep.include({
      resolution: "settlement",
      buyerAmount: "3000000",
      payeeAmount: "1980000",
      fee: "20000",
      escrowed: "0",
    });
    expect(await ledgerOf(m, disputed.chainOrderId)).to.deep.equal({
      escrow: 0n,
      buyers: -2_000_000n,
      merchant_payouts: 1_980_000n,
      platform_fees: 20_000n,
    });
    const rec = await env.call("GET", "/v1/ledger/reconciliation", m.key);
    expect(rec.body.differences).to.deep.equal([]);
  });

  it("the buyer accepts the merchant's proposal (a share of the whole order, partial refunds included) without gas; a different split is refused before any gas", async () => {
    const m = await env.newMerchant();
    const { id, buyer, disputed } = await disputedOrder(m);
    const c = client(buyer);
    const early = await c.acceptSettlement(disputed.chainOrderId, 1_000_000n).catch((e) => e);
    expect(early).to.be.instanceOf(RelayerError);
    expect(early.code).to.equal("no_settlement_proposal");

    // A partial refund of 400000 first: the split is of the whole order, so the buyer gets 1000000 in all.
    expect((await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "400000" })).status).to.equal(202);
    await waitFor("partial refund indexed", async () => {
      const r = await env.call("GET", `/v1/orders/${id}`, m.key);
      return r.body.refunded === "400000" ? r.body : null;
    });
    expect((await post(m, id, "propose", { buyerTotal: "1000000" })).status).to.equal(202);
    await waitProposal(m, id, "merchant", "1000000");
    const mismatch = await c.acceptSettlement(disputed.chainOrderId, 1_500_000n).catch((e) => e);
    expect(mismatch).to.be.instanceOf(RelayerError);
    expect(mismatch.status).to.equal(409);
    expect(mismatch.code).to.equal("settlement_proposal_mismatch");
    const stranger = Wallet.createRandom();
    const notBuyer = await client(stranger)
      .acceptSettlement(disputed.chainOrderId, 1_000_000n)
      .catch((e) => e);
    expect(notBuyer.code).to.equal("wrong_signer");

    const buyerBefore = await usd().balanceOf(buyer.address);
    await c.acceptSettlement(disputed.chainOrderId, 1_000_000n);
    const resolved = await env.waitOrder(m.key, id, "resolved");
    expect(resolved.events.find((e: { name: string }) => e.name === "DisputeResolved").args).to.deep.include({
      buyerAmount: "600000",
      payeeAmount: "3960000",
      fee: "40000",
      resolution: "1",
    });
    expect(await usd().balanceOf(buyer.address)).to.equal(buyerBefore + 600_000n);
    expect(await ledgerOf(m, disputed.chainOrderId)).to.deep.equal({
      escrow: 0n,
      buyers: -4_000_000n,
      merchant_payouts: 3_960_000n,
      platform_fees: 40_000n,
    });
  });

  it("after the dispute period anyone applies the default: the buyer gets everything escrowed, webhooks and ledger follow", async () => {
    const m = await env.newMerchant();
    const { id, buyer, disputed } = await disputedOrder(m);
    // A partial refund first: the default returns what is still escrowed.
    expect((await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "500000" })).status).to.equal(202);
    await waitFor("partial refund indexed", async () => {
      const r = await env.call("GET", `/v1/orders/${id}`, m.key);
      return r.body.escrowed === "4500000" && r.body.refunded === "500000" ? r.body : null;
    });
    const bystander = PaymentEscrow__factory.connect(env.deployed.escrow, Wallet.createRandom(env.node.provider));
    await expect(bystander.settleExpiredDispute.staticCall(toTerms(disputed.terms), [])).to.be.revertedWithCustomError(
      escrow(),
      "DisputePeriodActive",
    );
    await env.node.provider.send("evm_increaseTime", [DISPUTE_PERIOD_S + 1]);
    await env.node.provider.send("evm_mine", []);
    const buyerBefore = await usd().balanceOf(buyer.address);
    const anyone = PaymentEscrow__factory.connect(env.deployed.escrow, await env.fundedBuyer(buyerIndex++));
    await (await anyone.settleExpiredDispute(toTerms(disputed.terms), [])).wait();
    const resolved = await env.waitOrder(m.key, id, "resolved");
    expect(resolved.escrowed).to.equal("0");
    expect(await usd().balanceOf(buyer.address)).to.equal(buyerBefore + 4_500_000n);
    const hooks = await hookTypes(id);
    expect(hooks.map((h) => h.type)).to.deep.equal([
      "order.created",
      "order.paid",
      "order.disputed",
      "order.partially_refunded",
      "order.resolved",
    ]);
    expect(hooks[4].data).to.deep.include({ resolution: "default", buyerAmount: "4500000", payeeAmount: "0" });
    // Nothing reached the payee or the fee recipient: no lines for them (a zero line is never posted).
    expect(await ledgerOf(m, disputed.chainOrderId)).to.deep.equal({ escrow: 0n, buyers: 0n });
  });
});
