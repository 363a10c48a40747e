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
  httpRetry,
  dbStatuses,
  getOrders,
  pgClient,
  pool,
  setupMerchant,
  spawnRelayer,
  type RelayerProcess,
} from "./support";

const ORDERS = Number(process.env.SCALE_ORDERS ?? 500);
const LEASE_TTL_MS = 3000;

/** Signers a process holds according to its own log: acquired and not released since. */
function heldBy(p: RelayerProcess): Set<string> {
  const held = new Set<string>();
  for (const l of p.lines) {
    if (l.msg === "signer lease acquired") held.add(String(l.signer));
    if (l.msg === "signer lease released") held.delete(String(l.signer));
  }
  return held;
}

function signersThatSent(p: RelayerProcess): Set<string> {
  return new Set(p.lines.filter((l) => l.msg === "transaction sent").map((l) => String(l.signer)));
}

describe("relayer resilience: two relayer processes on one database", function () {
  this.timeout(300_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let a: RelayerProcess;
  let b: RelayerProcess;
  let merchant: { key: string; skuId?: string };

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = await pgClient(db.url);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-scale-"));
    writeDeploymentRecord(dir, deployed);
    const env = { DATABASE_URL: db.url, LOG_LEVEL: "debug", LEASE_TTL_MS: String(LEASE_TTL_MS), BATCH_SIZE: "50" };
    [a, b] = await Promise.all([
      spawnRelayer("a", node, dir, { ...env, INSTANCE_ID: "relayer-a" }),
      spawnRelayer("b", node, dir, { ...env, INSTANCE_ID: "relayer-b" }),
    ]);
    merchant = await setupMerchant(() => a.url, "acme", 500n);
  });

  after(async () => {
    await a?.kill();
    await b?.kill();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  const submit = async (via: RelayerProcess[], refs: string[], skuId?: string) =>
    pool(refs, 8, async (reference, i) => {
      const p = via[i % via.length];
      const r = await httpRetry(
        () => p.url,
        "POST",
        "/v1/orders",
        merchant.key,
        {
          reference,
          amount: "1000",
          token: "native",
          buyer: devWallet(10).address,
          items: skuId && i % 4 === 0 ? [{ sku: skuId, quantity: 1 }] : undefined,
        },
        `order-${reference}`,
      );
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
    });

  const allCommandsDone = () =>
    waitFor(
      "all commands confirmed",
      async () => {
        const c = await commandCounts(pg);
        return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0 ? c : null;
      },
      120_000,
      250,
    );

  it("shares the signers, sends from both processes without a nonce clash and creates each order once", async () => {
    await waitFor("both processes hold signers", async () => heldBy(a).size > 0 && heldBy(b).size > 0, 30_000);
    const skuId = merchant.skuId!;
    const started = Date.now();
    await submit(
      [a, b],
      Array.from({ length: ORDERS }, (_, i) => `S-${i}`),
      skuId,
    );
    const counts = await allCommandsDone();
    expect(counts.failed ?? 0).to.equal(0);
    const elapsed = (Date.now() - started) / 1000;
    const dropped = await pg.query(`select signer, nonce, hash from chain_txs where status = 'dropped'`);
    expect(dropped.rows, "transactions refused or dropped").to.deep.equal([]);
    const sentA = signersThatSent(a);
    const sentB = signersThatSent(b);
    expect(sentA.size, "process a sent transactions").to.be.greaterThan(0);
    expect(sentB.size, "process b sent transactions").to.be.greaterThan(0);
    const perSigner = await pg.query<{ signer: string; n: string; nonces: string; distinct_nonces: string }>(
      `select signer, count(*) as n, max(nonce) - min(nonce) + 1 as nonces, count(distinct nonce) as distinct_nonces
       from chain_txs where status = 'confirmed' group by signer order by signer`,
    );
    for (const r of perSigner.rows) expect(r.distinct_nonces, `nonces of ${r.signer} contiguous`).to.equal(r.nonces);
    await waitFor(
      "all orders created in the API",
      async () => [...(await dbStatuses(pg)).values()].every((s) => s === "created"),
      60_000,
      250,
    );
    expect((await dbStatuses(pg)).size).to.equal(ORDERS);
    const orders = await getOrders(
      () => a.url,
      merchant.key,
      Array.from({ length: ORDERS }, (_, i) => `S-${i}`),
    );
    expect(orders.every((o) => o.status === "created")).to.equal(true);
    await expectApiMatchesChain(node.provider, deployed, orders);
    console.log(
      `      ${ORDERS} orders in ${elapsed.toFixed(1)} s; signers a: ${[...sentA].length}, b: ${[...sentB].length}; txs per signer: ${perSigner.rows
        .map((r) => r.n)
        .join(", ")}`,
    );
  });

  it("hands a killed process's signers to the survivor after the lease TTL and keeps creating orders", async () => {
    const orphaned = heldBy(a);
    expect(orphaned.size).to.be.greaterThan(0);
    const mark = b.lines.length;
    const killedAt = Date.now();
    await a.kill("SIGKILL");
    await submit(
      [b],
      Array.from({ length: 50 }, (_, i) => `K-${i}`),
    );
    await waitFor(
      "survivor took over the dead process's signers",
      async () => {
        const taken = new Set(
          b.lines
            .slice(mark)
            .filter((l) => l.msg === "signer lease acquired")
            .map((l) => String(l.signer)),
        );
        return [...orphaned].every((s) => taken.has(s));
      },
      LEASE_TTL_MS * 5,
      100,
    );
    const takeover = Date.now() - killedAt;
    expect(takeover).to.be.at.least(LEASE_TTL_MS - 1000);
    const counts = await allCommandsDone();
    expect(counts.failed ?? 0).to.equal(0);
    await waitFor(
      "new orders created",
      async () => [...(await dbStatuses(pg)).values()].every((s) => s === "created"),
      60_000,
      250,
    );
    expect((await dbStatuses(pg)).size).to.equal(ORDERS + 50);
    const orders = await getOrders(() => b.url, merchant.key, [
      ...Array.from({ length: ORDERS }, (_, i) => `S-${i}`),
      ...Array.from({ length: 50 }, (_, i) => `K-${i}`),
    ]);
    expect(orders.every((o) => o.status === "created")).to.equal(true);
    await expectApiMatchesChain(node.provider, deployed, orders);
    const dropped = await pg.query(`select 1 from chain_txs where status = 'dropped'`);
    expect(dropped.rowCount).to.equal(0);
    console.log(`      takeover of ${orphaned.size} signers after ${takeover} ms`);
  });
});
