import { expect } from "chai";
import http from "node:http";
import { Wallet } from "ethers";
import { MockStablecoin__factory } from "../../typechain-types";
import { startRelayer, type Relayer } from "../../relayer/src/relayer";
import { BuyerClient } from "../../sdk/buyerClient";
import { verifyWebhook } from "../../sdk/webhooks";
import {
  ADMIN_KEY,
  ARBITER_KEY,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "./harness";

describe("relayer: gasless buyers, disputes, webhooks and the ledger", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let relayer: Relayer;
  let base: string;
  let hook: http.Server;
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    relayer = await startRelayer({
      config: relayerConfig(node, {
        DATABASE_URL: db.url,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
        WEBHOOK_RETRY_BASE_MS: "100",
      }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
    base = await relayer.listen();
    hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
  });

  after(async () => {
    await relayer?.stop();
    hook?.close();
    await db?.drop();
    await node?.stop();
  });

  const api = async (method: string, path: string, key: string | null, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith("{") ? JSON.parse(text) : text };
  };

  it("a buyer without ETH pays with a permit and confirms; another disputes and the arbiter splits; everything reconciles", async () => {
    const m = await api("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Gasless shop" });
    await waitFor(
      "merchant active",
      async () => (await api("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    );
    const key = (await api("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" })).body
      .secret as string;
    const port = (hook.address() as { port: number }).port;
    const endpoint = await api("POST", "/v1/webhooks", key, { url: `http://127.0.0.1:${port}/hooks` });
    expect(endpoint.status).to.equal(201);
    const secret = endpoint.body.secret as string;

    const usdAdmin = MockStablecoin__factory.connect(deployed.stablecoin, devWallet(0, node.provider));
    const buyers = [Wallet.createRandom(node.provider), Wallet.createRandom(node.provider)];
    for (const b of buyers) await (await usdAdmin.mint(b.address, 1_000_000_000n)).wait();
    for (const b of buyers) expect(await node.provider.getBalance(b.address)).to.equal(0n);

    const orders: { id: string; chainOrderId: string }[] = [];
    for (const [i, b] of buyers.entries()) {
      const o = await api("POST", "/v1/orders", key, {
        reference: `G-${i}`,
        amount: "100000000",
        token: deployed.stablecoin,
        buyer: b.address,
      });
      expect(o.status).to.equal(202);
      orders.push(o.body);
    }
    for (const o of orders)
      await waitFor("created", async () => (await api("GET", `/v1/orders/${o.id}`, key)).body.status === "created");

    const c0 = new BuyerClient(base, buyers[0]);
    const c1 = new BuyerClient(base, buyers[1]);
    await c0.pay(orders[0].chainOrderId);
    await c1.pay(orders[1].chainOrderId);
    for (const o of orders)
      await waitFor("paid", async () => (await api("GET", `/v1/orders/${o.id}`, key)).body.status === "paid", 60_000);

    await api("POST", `/v1/orders/${orders[0].id}/ship`, key, { trackingReference: "T-1" });
    await waitFor(
      "shipped",
      async () => (await api("GET", `/v1/orders/${orders[0].id}`, key)).body.status === "shipped",
    );
    await c0.confirmReceipt(orders[0].chainOrderId);
    await waitFor(
      "completed",
      async () => (await api("GET", `/v1/orders/${orders[0].id}`, key)).body.status === "completed",
    );

    await c1.openDispute(orders[1].chainOrderId, "item never arrived");
    await waitFor(
      "disputed",
      async () => (await api("GET", `/v1/orders/${orders[1].id}`, key)).body.status === "disputed",
    );
    const disputes = await api("GET", "/v1/arbiter/disputes", ARBITER_KEY);
    expect(disputes.body.data.map((d: { chainOrderId: string }) => d.chainOrderId)).to.include(orders[1].chainOrderId);
    expect(disputes.body.data[0].evidence.text).to.equal("item never arrived");
    const res = await api("POST", `/v1/arbiter/disputes/${orders[1].chainOrderId}/resolve`, ARBITER_KEY, {
      buyerAmount: "40000000",
    });
    expect(res.status).to.equal(202);
    await waitFor(
      "resolved",
      async () => (await api("GET", `/v1/orders/${orders[1].id}`, key)).body.status === "resolved",
      60_000,
    );

    const merchantAddr = m.body.address as string;
    // Order 0: 100 USD, 1% fee -> merchant 99, fee 1. Order 1: buyer 40 back; merchant share 60, fee 0.6.
    expect(await usdAdmin.balanceOf(merchantAddr)).to.equal(99_000_000n + 59_400_000n);
    expect(await usdAdmin.balanceOf(devWallet(1).address)).to.equal(1_000_000n + 600_000n);
    expect(await usdAdmin.balanceOf(buyers[0].address)).to.equal(900_000_000n);
    expect(await usdAdmin.balanceOf(buyers[1].address)).to.equal(940_000_000n);
    for (const b of buyers) expect(await node.provider.getBalance(b.address)).to.equal(0n);

    const rec = await api("GET", "/v1/ledger/reconciliation", key);
    expect(rec.body.differences).to.deep.equal([]);
    expect(rec.body.ok).to.equal(true);
    const balances =
      (await api("GET", "/v1/ledger/balances", key)).body.balances[deployed.stablecoin.toLowerCase()] ??
      (await api("GET", "/v1/ledger/balances", key)).body.balances[deployed.stablecoin];
    expect(balances.merchant_payouts).to.equal("158400000");
    expect(balances.escrow).to.equal("0");
    const csv = (await api("GET", "/v1/ledger/export.csv", key)).body as string;
    const lines = csv
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(","));
    const sum = (acct: string) =>
      lines.filter((l) => l[6] === acct).reduce((s, l) => s + BigInt(l[7]) - BigInt(l[8]), 0n);
    expect(sum("merchant_payouts").toString()).to.equal(balances.merchant_payouts);
    expect(sum("escrow").toString()).to.equal(balances.escrow);

    await waitFor(
      "webhooks",
      async () =>
        received.filter((r) => r.body.includes(orders[1].chainOrderId) && r.body.includes("order.resolved")).length > 0,
      30_000,
    );
    for (const r of received) {
      const ev = verifyWebhook({ secret, header: r.headers["orderchain-signature"], body: r.body });
      expect(ev.type).to.match(/^order\./);
    }
    const types0 = received
      .map((r) => JSON.parse(r.body))
      .filter((e) => e.data.chainOrderId === orders[0].chainOrderId)
      .sort((a, b) => a.data.sequence - b.data.sequence)
      .map((e) => e.type);
    expect(types0).to.deep.equal(["order.created", "order.paid", "order.shipped", "order.completed"]);
  });
});
