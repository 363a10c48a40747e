/**
 * A relayer process killed (SIGKILL) while it records a return's confirmation: the restock that the return
 * queues must not be lost with it, nor done twice after the restart.
 */
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { expect } from "chai";
import { NonceManager } from "ethers";
import type { Client } from "pg";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { toTerms } from "../../../sdk/orderRecord";
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
import { httpRetry, pgClient, setupMerchant, spawnRelayer, type RelayerProcess } from "./support";

/** The advisory lock the test holds while the relayer is made to wait inside the restock's queuing. */
const HOLD = 4242;

describe("relayer resilience: a crash while a return's confirmation is recorded", function () {
  this.timeout(300_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let holder: Client;
  let dir: string;
  let current: RelayerProcess | null = null;
  const env = { LEASE_TTL_MS: "2000" };

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = await pgClient(db.url);
    holder = await pgClient(db.url);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-restock-crash-"));
    writeDeploymentRecord(dir, deployed);
  });

  after(async () => {
    await current?.kill("SIGKILL");
    await holder?.end();
    await pg?.end();
    await db?.drop();
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("SIGKILLed while the restock is being queued, the restarted relayer restocks the returned goods exactly once", async () => {
    const start = () => spawnRelayer("relayer", node, dir, { ...env, DATABASE_URL: db.url });
    current = await start();
    const base = () => current?.url ?? null;
    const acme = await setupMerchant(base, "acme", 5n);
    const key = acme.key;
    const available = async () =>
      (await httpRetry(base, "GET", `/v1/skus/${acme.skuId}`, key)).body.stock?.available as string;
    const statusOf = async (id: string) => (await httpRetry(base, "GET", `/v1/orders/${id}`, key)).body;
    const waitStatus = (id: string, status: string) =>
      waitFor(`order ${status}`, async () => (await statusOf(id)).status === status, 60_000, 200);

    const order = await httpRetry(
      base,
      "POST",
      "/v1/orders",
      key,
      {
        reference: "R-1",
        amount: "1000000",
        token: deployed.stablecoin,
        refundWindowSeconds: 3600,
        items: [{ sku: acme.skuId, quantity: 2 }],
      },
      "order-R-1",
    );
    expect(order.status, JSON.stringify(order.body)).to.equal(202);
    const id = order.body.id as string;
    await waitStatus(id, "created");
    const o = await statusOf(id);
    const buyer = new NonceManager(devWallet(10, node.provider));
    const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer);
    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);
    await (await usd.mint(await buyer.getAddress(), 1_000_000n)).wait();
    await (await usd.approve(deployed.escrow, 1_000_000n)).wait();
    await (await escrow.pay(toTerms(o.terms))).wait();
    await waitStatus(id, "paid");
    const ship = await httpRetry(base, "POST", `/v1/orders/${id}/ship`, key, { trackingReference: "T" }, "ship-R-1");
    expect(ship.status).to.equal(202);
    await waitStatus(id, "shipped");
    const items = o.record.items as { skuId: string; quantity: string }[];
    await (
      await escrow.confirmReceipt(
        toTerms(o.terms),
        items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) })),
      )
    ).wait();
    await waitStatus(id, "completed");
    expect(await available()).to.equal("3");

    // Queuing a mint_stock command waits on a lock the test holds: the relayer is stopped right inside it.
    await holder.query(`select pg_advisory_lock($1)`, [HOLD]);
    await pg.query(`create function hold_restock() returns trigger language plpgsql as $$
      begin perform pg_advisory_xact_lock_shared(${HOLD}); return new; end $$`);
    await pg.query(`create trigger hold_restock before insert on commands for each row
      when (new.kind = 'mint_stock') execute function hold_restock()`);
    const ret = await httpRetry(
      base,
      "POST",
      `/v1/orders/${id}/return`,
      key,
      { amount: "300000", restock: [{ sku: acme.skuId, quantity: 1 }] },
      "return-R-1",
    );
    expect(ret.status, JSON.stringify(ret.body)).to.equal(202);
    const waiting = async () =>
      (
        await pg.query<{ pid: number }>(
          `select pid from pg_locks where locktype = 'advisory' and classid = 0 and objid = $1 and not granted`,
          [HOLD],
        )
      ).rows.map((r) => r.pid);
    await waitFor("the relayer queuing the restock", async () => (await waiting()).length > 0, 60_000, 50);

    await current.kill("SIGKILL");
    current = null;
    // The server would drop the dead client's session once it noticed; here it is ended at once.
    for (const pid of await waiting()) await pg.query(`select pg_terminate_backend($1)`, [pid]);
    await pg.query(`drop trigger hold_restock on commands`);
    await pg.query(`drop function hold_restock()`);
    await holder.query(`select pg_advisory_unlock($1)`, [HOLD]);

    current = await start();
    await waitFor("the returned unit restocked", async () => (await available()) === "4", 90_000, 200);
    await waitFor(
      "nothing left to send",
      async () =>
        Number(
          (
            await pg.query<{ n: string }>(
              `select count(*) as n from commands where status in ('pending', 'claimed', 'submitted')`,
            )
          ).rows[0].n,
        ) === 0,
      60_000,
      200,
    );
    const cmds = await pg.query<{ kind: string; status: string }>(
      `select kind, status from commands where (kind = 'return_order' and order_id = $1)
         or (kind = 'mint_stock' and payload->>'returnOf' = $1) order by id`,
      [id],
    );
    expect(cmds.rows).to.deep.equal([
      { kind: "return_order", status: "confirmed" },
      { kind: "mint_stock", status: "confirmed" },
    ]);
    expect(await available()).to.equal("4");
    expect((await statusOf(id)).returnedAmount).to.equal("300000");
  });
});
