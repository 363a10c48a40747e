import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { deployContracts, relayerConfig, startNode, type Deployed, type LocalNode } from "../harness";
import { ADMIN_KEY, callApp, waitFor } from "./support";

describe("relayer API on embedded PGlite (no DATABASE_URL)", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let deployed: Deployed;
  let dataDir: string;
  let relayer: Relayer | undefined;

  const start = async () =>
    startRelayer({
      config: relayerConfig(node, { DATABASE_URL: undefined, DATA_DIR: dataDir, LOG_LEVEL: "silent" }),
      chainId: deployed.chainId,
      addresses: deployed,
    });

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-pglite-"));
  });
  after(async () => {
    await relayer?.stop();
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let merchantId: string;
  let key: string;
  let orderIds: string[] = [];

  it("runs the migrations and the core flow: merchant, key, SKU with stock, orders created on chain, list", async () => {
    relayer = await start();
    expect(relayer.db.kind).to.equal("pglite");
    const call = (method: "GET" | "POST", url: string, k: string, body?: unknown) =>
      callApp(relayer!, method, url, k, body);

    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Embedded" });
    expect(m.status).to.equal(201);
    merchantId = m.body.id;
    await waitFor(
      "merchant active",
      async () => (await call("GET", `/v1/admin/merchants/${merchantId}`, ADMIN_KEY)).body.status === "active",
    );
    const k = await call("POST", `/v1/admin/merchants/${merchantId}/keys`, ADMIN_KEY, { name: "owner" });
    expect(k.status).to.equal(201);
    key = k.body.secret;

    const sku = await call("POST", "/v1/skus", key, { reference: "PG-SKU", name: "Embedded tee" });
    expect(sku.status).to.equal(202);
    expect((await call("POST", `/v1/skus/${sku.body.id}/stock`, key, { quantity: "9" })).status).to.equal(202);
    await waitFor(
      "stock on chain",
      async () => (await call("GET", `/v1/skus/${sku.body.id}`, key)).body.stock?.available === "9",
    );

    for (let i = 0; i < 3; i++) {
      const o = await call("POST", "/v1/orders", key, {
        reference: `PG-${i}`,
        amount: "1000",
        token: deployed.stablecoin,
        items: [{ sku: sku.body.id, quantity: 2 }],
      });
      expect(o.status, o.text).to.equal(202);
      orderIds.push(o.body.id);
    }
    const replay = await callApp(relayer, "POST", "/v1/orders", key, {
      reference: "PG-0",
      amount: "1",
      token: "native",
    });
    expect(replay.status).to.equal(409);
    await waitFor("orders created on chain", async () => {
      const r = await call("GET", "/v1/orders?status=created", key);
      return r.body.data.length === 3;
    });
    const first = await call("GET", `/v1/orders/${orderIds[0]}`, key);
    expect(first.body.chainProof.txHash).to.match(/^0x[0-9a-f]{64}$/);
    const receipt = await node.provider.getTransactionReceipt(first.body.chainProof.txHash);
    expect(receipt!.blockNumber).to.equal(first.body.chainProof.blockNumber);

    const page1 = await call("GET", "/v1/orders?limit=2", key);
    const page2 = await call("GET", `/v1/orders?limit=2&cursor=${page1.body.nextCursor}`, key);
    expect([...page1.body.data, ...page2.body.data].map((o: { id: string }) => o.id)).to.deep.equal(
      [...orderIds].reverse(),
    );
    expect(page2.body.nextCursor).to.equal(null);
    const stock = await call("GET", `/v1/skus/${sku.body.id}`, key);
    expect(stock.body.stock).to.deep.include({ available: "3", reserved: "6" });
    const ready = await call("GET", "/readyz", key);
    expect(ready.body.checks.database).to.equal("ok");
  });

  it("keeps every record across a restart on the same DATA_DIR and keeps working", async () => {
    await relayer!.stop();
    relayer = await start();
    const call = (method: "GET" | "POST", url: string, k: string, body?: unknown) =>
      callApp(relayer!, method, url, k, body);
    const m = await call("GET", `/v1/admin/merchants/${merchantId}`, ADMIN_KEY);
    expect(m.status).to.equal(200);
    expect(m.body.status).to.equal("active");
    const list = await call("GET", "/v1/orders", key);
    expect(list.status).to.equal(200);
    expect(list.body.data.map((o: { id: string }) => o.id)).to.deep.equal([...orderIds].reverse());
    expect(list.body.data.every((o: { status: string }) => o.status === "created")).to.equal(true);
    const audit = await call("GET", "/v1/audit?limit=200", key);
    expect(audit.body.data.filter((e: { action: string }) => e.action === "order.created")).to.have.length(3);

    const cancel = await call("POST", `/v1/orders/${orderIds[1]}/cancel`, key);
    expect(cancel.status).to.equal(202);
    await waitFor("cancelled after restart", async () => {
      const r = await call("GET", `/v1/orders/${orderIds[1]}`, key);
      return r.body.status === "cancelled";
    });
    const again = await call("POST", "/v1/orders", key, { reference: "PG-after", amount: "5", token: "native" });
    expect(again.status).to.equal(202);
    await waitFor("order after restart created", async () => {
      const r = await call("GET", `/v1/orders/${again.body.id}`, key);
      return r.body.status === "created";
    });
  });
});
