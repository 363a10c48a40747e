import { expect } from "chai";
import { InventoryToken__factory, MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { OrderState } from "../../helpers/fixtures";
import { toTerms } from "../../../sdk/orderRecord";
import { errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

describe("relayer API: order state transitions and their effect on chain", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let buyerIndex = 10;

  before(async () => {
    env = await startApiEnv();
  });
  after(async () => env?.stop());

  const escrow = () => PaymentEscrow__factory.connect(env.deployed.escrow, env.node.provider);
  const inventory = () => InventoryToken__factory.connect(env.deployed.inventory, env.node.provider);
  const usdBalance = (a: string) =>
    MockStablecoin__factory.connect(env.deployed.stablecoin, env.node.provider).balanceOf(a);

  async function placeOrder(m: Merchant, skuId: string | null, quantity: number, extra: Record<string, unknown> = {}) {
    const buyer = await env.fundedBuyer(buyerIndex++);
    const r = await env.call("POST", "/v1/orders", m.key, {
      reference: `T-${Math.random().toString(36).slice(2, 10)}`,
      amount: "5000000",
      token: env.deployed.stablecoin,
      buyer: buyer.address,
      ...(skuId ? { items: [{ sku: skuId, quantity }] } : {}),
      ...extra,
    });
    expect(r.status, r.text).to.equal(202);
    return { buyer, id: r.body.id as string };
  }

  it("reports a created order whose chainProof is the OrderCreated log of its receipt", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-1", 5);
    const { id } = await placeOrder(m, sku.id, 2);
    const o = await env.waitOrder(m.key, id, "created");
    const receipt = (await env.node.provider.getTransactionReceipt(o.chainProof.txHash))!;
    expect(receipt.status).to.equal(1);
    expect(receipt.blockNumber).to.equal(o.chainProof.blockNumber);
    const log = receipt.logs.find((l) => l.index === o.chainProof.logIndex)!;
    expect(log.address).to.equal(env.deployed.escrow);
    const parsed = escrow().interface.parseLog(log)!;
    expect(parsed.name).to.equal("OrderCreated");
    expect(parsed.args.orderId).to.equal(o.chainOrderId);
    expect(parsed.args.merchant).to.equal(m.address);
    const created = o.events.find((e: { name: string }) => e.name === "OrderCreated");
    expect(created).to.deep.include({
      txHash: o.chainProof.txHash,
      blockNumber: o.chainProof.blockNumber,
      logIndex: o.chainProof.logIndex,
    });
    const s = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
    expect(s.body.stock).to.deep.equal({ available: "3", reserved: "2", delivered: "0", totalSupply: "5" });
  });

  it("moves created -> paid when the buyer pays on chain, then -> shipped through the API", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-2", 5);
    const { buyer, id } = await placeOrder(m, sku.id, 1);
    const created = await env.waitOrder(m.key, id, "created");
    await env.pay(buyer, created);
    expect(created.allowedActions).to.deep.equal({ merchant: ["cancel"], buyer: ["pay"], arbiter: [] });
    const paid = await env.waitOrder(m.key, id, "paid");
    expect(paid.escrowed).to.equal("5000000");
    expect(paid.allowedActions).to.deep.equal({ merchant: ["ship", "refund"], buyer: ["dispute"], arbiter: [] });
    expect(paid.events.map((e: { name: string }) => e.name)).to.deep.equal(["OrderCreated", "OrderPaid"]);

    const ship = await env.call("POST", `/v1/orders/${id}/ship`, m.key, { trackingReference: "UPS-42" });
    expect(ship.status).to.equal(202);
    expect(ship.body.command).to.deep.include({ kind: "ship_order", status: "pending" });
    expect(ship.body.order.status).to.equal("paid");
    const shipped = await env.waitOrder(m.key, id, "shipped");
    expect(shipped.allowedActions).to.deep.equal({ merchant: ["refund"], buyer: ["confirm", "dispute"], arbiter: [] });
    expect(await escrow().orderIdOf(toTerms(shipped.terms))).to.equal(shipped.chainOrderId);
    expect((await escrow().statusOf(shipped.chainOrderId)).state).to.equal(BigInt(OrderState.Shipped));
    expect(shipped.commands.map((c: { kind: string; status: string }) => `${c.kind}:${c.status}`)).to.deep.equal([
      "create_order:confirmed",
      "ship_order:confirmed",
    ]);
    expect(Number(shipped.record.state)).to.equal(OrderState.Shipped);
  });

  it("refunds part of a paid order (escrowed lowered, still paid) and then all of it (refunded, buyer whole)", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-3", 4);
    const { buyer, id } = await placeOrder(m, sku.id, 3);
    const before = await usdBalance(buyer.address);
    await env.pay(buyer, await env.waitOrder(m.key, id, "created"));
    await env.waitOrder(m.key, id, "paid");
    expect(await usdBalance(buyer.address)).to.equal(before - 5_000_000n);

    const tooMuch = await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "5000001" });
    expect(tooMuch.status).to.equal(422);
    expect(errorOf(tooMuch).code).to.equal("unprocessable");

    const part = await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "1500000" });
    expect(part.status).to.equal(202);
    const partly = await waitFor("partial refund indexed", async () => {
      const r = await env.call("GET", `/v1/orders/${id}`, m.key);
      return r.body.escrowed === "3500000" ? r.body : null;
    });
    expect(partly.status).to.equal("paid");
    expect(await usdBalance(buyer.address)).to.equal(before - 3_500_000n);

    const full = await env.call("POST", `/v1/orders/${id}/refund`, m.key, {});
    expect(full.status).to.equal(202);
    const refunded = await env.waitOrder(m.key, id, "refunded");
    expect(refunded.escrowed).to.equal("0");
    expect((await escrow().statusOf(refunded.chainOrderId)).state).to.equal(BigInt(OrderState.Refunded));
    expect(await usdBalance(buyer.address)).to.equal(before);
    const s = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
    expect(s.body.stock).to.deep.equal({ available: "4", reserved: "0", delivered: "0", totalSupply: "4" });
  });

  it("cancels a created order (cancelled) and returns its reserved stock to the merchant", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-4", 6);
    const { id } = await placeOrder(m, sku.id, 4);
    await env.waitOrder(m.key, id, "created");
    const reserved = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
    expect(reserved.body.stock).to.deep.include({ available: "2", reserved: "4" });
    const c = await env.call("POST", `/v1/orders/${id}/cancel`, m.key);
    expect(c.status).to.equal(202);
    expect(c.body.command).to.deep.include({ kind: "cancel_order", status: "pending" });
    const cancelled = await env.waitOrder(m.key, id, "cancelled");
    expect(cancelled.events.map((e: { name: string }) => e.name)).to.include("OrderCancelled");
    const s = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
    expect(s.body.stock).to.deep.equal({ available: "6", reserved: "0", delivered: "0", totalSupply: "6" });
    expect(await inventory().balanceOf(m.address, BigInt(sku.chainSkuId))).to.equal(6n);
  });

  it("refuses ship, refund and cancel in a state that does not allow them with 409 invalid_order_state", async () => {
    const m = await env.newMerchant();
    const { buyer, id } = await placeOrder(m, null, 0);
    const created = await env.waitOrder(m.key, id, "created");
    for (const [action, body] of [
      ["ship", { trackingReference: "T" }],
      ["refund", {}],
    ] as const) {
      const r = await env.call("POST", `/v1/orders/${id}/${action}`, m.key, body);
      expect(r.status, action).to.equal(409);
      expect(errorOf(r)).to.deep.include({ code: "invalid_order_state" });
      expect(errorOf(r).details.status).to.equal("created");
    }
    await env.pay(buyer, created);
    await env.waitOrder(m.key, id, "paid");
    const cancel = await env.call("POST", `/v1/orders/${id}/cancel`, m.key);
    expect(cancel.status).to.equal(409);
    expect(errorOf(cancel).details).to.deep.equal({ status: "paid", allowed: ["pending", "created"] });

    expect((await env.call("POST", `/v1/orders/${id}/refund`, m.key, {})).status).to.equal(202);
    await env.waitOrder(m.key, id, "refunded");
    for (const [action, body] of [
      ["ship", { trackingReference: "T" }],
      ["refund", { amount: "1" }],
      ["cancel", undefined],
    ] as const) {
      const r = await env.call("POST", `/v1/orders/${id}/${action}`, m.key, body);
      expect(r.status, action).to.equal(409);
      expect(errorOf(r).code).to.equal("invalid_order_state");
      expect(errorOf(r).details.status).to.equal("refunded");
    }
  });

  it("fails an order whose creation reverts on chain with the decoded error, and later orders still go through", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-6", 2);
    const { id: tooMany } = await placeOrder(m, sku.id, 3);
    const { id: fine } = await placeOrder(m, sku.id, 2);
    const failed = await env.waitOrder(m.key, tooMany, "failed");
    expect(failed.error.code).to.equal("ERC1155InsufficientBalance");
    expect(failed.error.message).to.include("ERC1155InsufficientBalance");
    expect(failed.chainProof).to.equal(null);
    expect(failed.commands).to.have.length(1);
    expect(failed.commands[0]).to.deep.include({ kind: "create_order", status: "failed" });
    expect(failed.commands[0].error.code).to.equal("ERC1155InsufficientBalance");
    expect((await escrow().statusOf(failed.chainOrderId)).state).to.equal(BigInt(OrderState.None));

    await env.waitOrder(m.key, fine, "created");
    const { id: after } = await placeOrder(m, null, 0);
    await env.waitOrder(m.key, after, "created");
    const s = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
    expect(s.body.stock).to.deep.include({ available: "0", reserved: "2" });
  });

  it("adds stock and writes it off on chain, as GET /v1/skus/:id then reports", async () => {
    const m = await env.newMerchant();
    const sku = await env.newSku(m.key, "TR-7");
    const add = await env.call("POST", `/v1/skus/${sku.id}/stock`, m.key, { quantity: "12" });
    expect(add.status).to.equal(202);
    await waitFor("stock added", async () => {
      const r = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
      return r.body.stock.available === "12";
    });
    expect(await inventory().balanceOf(m.address, BigInt(sku.chainSkuId))).to.equal(12n);
    const off = await env.call("POST", `/v1/skus/${sku.id}/write-offs`, m.key, { quantity: "5" });
    expect(off.status).to.equal(202);
    const after = await waitFor("stock written off", async () => {
      const r = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
      return r.body.stock.available === "7" ? r.body : null;
    });
    expect(after.stock).to.deep.equal({ available: "7", reserved: "0", delivered: "0", totalSupply: "7" });
    expect(await inventory().totalSupply(BigInt(sku.chainSkuId))).to.equal(7n);
  });
});
