import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { expect } from "chai";
import type { Client } from "pg";
import {
  createTestDatabase,
  deployContracts,
  devWallet,
  startNode,
  waitFor,
  writeDeploymentRecord,
  type Deployed,
  type LocalNode,
} from "../harness";
import {
  commandCounts,
  expectApiMatchesChain,
  http,
  dbStatuses,
  getOrders,
  pgClient,
  pool,
  setupMerchant,
  spawnRelayer,
  startRpcProxy,
  type RelayerProcess,
  type RpcProxy,
} from "./support";

const OUTAGE_MS = 8000;
/** Orders sent before the outage, during it, and after it (OUTAGE_ORDERS: each of the first two; a third after). */
const EACH = Number(process.env.OUTAGE_ORDERS ?? 150);
const AFTER = Math.ceil(EACH / 3);

describe("relayer resilience: the RPC endpoint goes away and comes back", function () {
  this.timeout(240_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let proxy: RpcProxy;
  let relayer: RelayerProcess;

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = await pgClient(db.url);
    proxy = await startRpcProxy(node.port);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-outage-"));
    writeDeploymentRecord(dir, deployed);
    relayer = await spawnRelayer("relayer", node, dir, { DATABASE_URL: db.url, RPC_URL: proxy.url, BATCH_SIZE: "50" });
  });

  after(async () => {
    await relayer?.kill();
    await proxy?.close();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  it("keeps accepting orders during the outage, reports the chain unreachable, and creates every order once after", async () => {
    const base = () => relayer.url;
    const m = await setupMerchant(base, "acme", 200n);
    let accepted = 0;
    const post = (refs: string[]) =>
      pool(refs, 6, async (reference, i) => {
        const r = await http(
          relayer.url,
          "POST",
          "/v1/orders",
          m.key,
          {
            reference,
            amount: "1000",
            token: "native",
            buyer: devWallet(10).address,
            items: i % 3 === 0 ? [{ sku: m.skuId!, quantity: 1 }] : undefined,
          },
          { "idempotency-key": `order-${reference}` },
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        accepted++;
      });

    // Orders in flight when the endpoint goes away.
    const before = post(Array.from({ length: EACH }, (_, i) => `B-${i}`));
    // The cut comes once the relayer has accepted orders (it knows the escrow's fee), however slow the machine.
    await waitFor("the first orders accepted", async () => accepted >= Math.min(6, EACH), 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    await proxy.cut();
    const cutAt = Date.now();
    await before;

    // The API stays up: it accepts orders, and readiness says the chain is unreachable.
    const dRefs = Array.from({ length: EACH }, (_, i) => `D-${i}`);
    await post(dRefs);
    const ready = await http(relayer.url, "GET", "/readyz", "");
    expect(ready.status).to.equal(503);
    expect(String(ready.body.checks.chain)).to.match(/^unreachable/);
    expect(ready.body.checks.database).to.equal("ok");
    const during = await getOrders(base, m.key, dRefs);
    expect(during.every((o) => o.status === "pending")).to.equal(true);
    const health = await http(relayer.url, "GET", "/healthz", "");
    expect(health.status).to.equal(200);

    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
    await proxy.restore();
    await post(Array.from({ length: AFTER }, (_, i) => `A-${i}`));

    await waitFor(
      "all commands confirmed",
      async () => {
        const c = await commandCounts(pg);
        return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0 ? c : null;
      },
      120_000,
      250,
    );
    expect((await commandCounts(pg)).failed ?? 0).to.equal(0);
    await waitFor(
      "every order created in the API",
      async () => {
        const st = await dbStatuses(pg);
        return st.size === 2 * EACH + AFTER && [...st.values()].every((s) => s === "created");
      },
      60_000,
      250,
    );
    await waitFor("ready again", async () => (await http(relayer.url, "GET", "/readyz", "")).status === 200, 30_000);
    const orders = await getOrders(base, m.key, [
      ...Array.from({ length: EACH }, (_, i) => `B-${i}`),
      ...dRefs,
      ...Array.from({ length: AFTER }, (_, i) => `A-${i}`),
    ]);
    expect(orders.every((o) => o.status === "created")).to.equal(true);
    expect(orders.length).to.equal(2 * EACH + AFTER);
    await expectApiMatchesChain(node.provider, deployed, orders);
    const txs = await pg.query<{ status: string; n: string }>(
      `select status, count(*) as n from chain_txs group by status`,
    );
    const warnings = relayer.lines.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg));
    console.log(
      `      txs: ${JSON.stringify(Object.fromEntries(txs.rows.map((r) => [r.status, Number(r.n)])))}; warnings: ${JSON.stringify(
        Object.fromEntries([...new Set(warnings)].map((w) => [w, warnings.filter((x) => x === w).length])),
      )}`,
    );
  });
});
