import { expect } from "chai";
import pino from "pino";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { DataDirInUseError } from "../../../relayer/src/store/dataDirLock";
import { EmbeddedPostgresError } from "../../../relayer/src/store/embeddedPostgres";
import { deployContracts, relayerConfig, startNode, type Deployed, type LocalNode } from "../harness";
import { ADMIN_KEY, callApp, waitFor } from "./support";

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

describe("relayer API on its embedded PostgreSQL server (no DATABASE_URL)", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let deployed: Deployed;
  let dataDir: string;
  let relayer: Relayer | undefined;

  // The production default: the workers in a thread of their own, on a second pool of the same server.
  const start = async () =>
    startRelayer({
      config: relayerConfig(node, { DATABASE_URL: undefined, DATA_DIR: dataDir, LOG_LEVEL: "silent" }),
      chainId: deployed.chainId,
      addresses: deployed,
      workers: "thread",
    });

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-embedded-"));
    // Run as root, the server runs as another OS user, which must be able to enter the folder.
    fs.chmodSync(dataDir, 0o755);
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
    expect(relayer.database).to.equal("embedded");
    expect(relayer.workerMode).to.equal("thread");
    // Durable as production: an acknowledged commit is on disk.
    const settings = await relayer.db.query<{ name: string; setting: string }>(
      "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses') order by name",
    );
    expect(settings.rows).to.deep.equal([
      { name: "fsync", setting: "on" },
      { name: "full_page_writes", setting: "on" },
      { name: "listen_addresses", setting: "127.0.0.1" },
      { name: "synchronous_commit", setting: "on" },
    ]);
    const version = await relayer.db.query<{ v: string }>("select current_setting('server_version_num') as v");
    expect(Number(version.rows[0].v)).to.be.at.least(180000);
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

  it("as root, keeps the cluster of a DATA_DIR its OS user cannot enter outside it, and says where", async function () {
    if (process.getuid?.() !== 0) this.skip(); // only root hands the server to another OS user
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-closed-")); // mode 0700, like a home folder
    const inside = path.join(closed, "data");
    const messages: string[] = [];
    const logger = { info: (_o: unknown, m: string) => messages.push(m) };
    let outside = "";
    try {
      const start = () =>
        startRelayer({
          config: relayerConfig(node, { DATABASE_URL: undefined, DATA_DIR: inside, LOG_LEVEL: "silent" }),
          chainId: deployed.chainId,
          addresses: deployed,
          logger: Object.assign(pino({ level: "silent" }), logger),
        });
      let r = await start();
      outside = fs.readFileSync(path.join(inside, "postgres.location"), "utf8").trim();
      expect(outside).to.match(/^\/var\/lib\/orderchain-postgres\/[0-9a-f]{16}\/postgres$/);
      expect(fs.existsSync(path.join(outside, "PG_VERSION"))).to.equal(true);
      expect(messages.join("\n")).to.include(`cannot enter ${closed}: the cluster of ${inside} is kept in ${outside}`);
      expect(fs.statSync(closed).mode & 0o777, "the user's folder is left as it was").to.equal(0o700);
      await r.db.query("create table kept (v int)");
      await r.db.query("insert into kept values (7)");
      await r.stop();
      // The next start finds it again through the recorded location.
      r = await start();
      expect((await r.db.query<{ v: number }>("select v from kept")).rows).to.deep.equal([{ v: 7 }]);
      await r.stop();
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
      if (outside) fs.rmSync(path.dirname(outside), { recursive: true, force: true });
    }
  });

  it("leaves no server, pool or lock behind when a start fails after the database started (RPC on another chain)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-failed-start-"));
    fs.chmodSync(dir, 0o755);
    try {
      const err = await startRelayer({
        config: relayerConfig(node, { DATABASE_URL: undefined, DATA_DIR: dir, LOG_LEVEL: "silent" }),
        chainId: 999n,
        addresses: deployed,
        workers: "thread",
      }).then(
        async (r) => {
          await r.stop();
          return null;
        },
        (e: Error) => e,
      );
      expect(err?.message).to.match(/RPC_URL serves chain 31337, but the deployment is for chain 999/);
      expect(fs.existsSync(path.join(dir, ".lock")), "lock released").to.equal(false);
      const server = spawnSync("pgrep", ["-f", `postgres -D ${path.join(dir, "postgres")}`], { encoding: "utf8" });
      expect(server.stdout.trim(), "server stopped").to.equal("");
      expect(fs.existsSync(path.join(dir, "postgres", "PG_VERSION")), "cluster kept for the next start").to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a DATA_DIR whose name a shell would expand (pg_ctl runs the server through one) and runs nothing", async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-shell-"));
    const marker = path.join(parent, "ran");
    try {
      for (const name of ["x$(touch ran)y", "x`touch ran`y", 'x"y', "x\\y"]) {
        const dir = path.join(parent, name);
        const err = await startRelayer({
          config: relayerConfig(node, { DATABASE_URL: undefined, DATA_DIR: dir, LOG_LEVEL: "silent" }),
          chainId: deployed.chainId,
          addresses: deployed,
        }).then(
          async (r) => {
            await r.stop();
            return null;
          },
          (e: Error) => e,
        );
        expect(err, name).to.be.instanceOf(EmbeddedPostgresError);
        expect(err!.message).to.include("choose a folder without it");
        expect(fs.existsSync(dir), `${name} not created`).to.equal(false);
      }
      expect(fs.existsSync(marker)).to.equal(false);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it("connects as the database's owner role, not as a superuser", async () => {
    const who = await relayer!.db.query<{ u: string; su: string }>(
      "select current_user as u, (select rolsuper::text from pg_roles where rolname = current_user) as su",
    );
    expect(who.rows[0]).to.deep.equal({ u: "orderchain", su: "false" });
    const err = await relayer!.db.query("copy (select 1) to program 'true'").then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/permission denied|must be superuser|pg_execute_server_program/);
  });

  it("refuses a second relayer on the same DATA_DIR while the first runs, and changes nothing", async () => {
    const before = await relayer!.db.query<{ n: string }>("select count(*) as n from orders");
    let second: Relayer | undefined;
    try {
      second = await start();
      expect.fail("a second relayer started on the same DATA_DIR");
    } catch (err) {
      expect(err).to.be.instanceOf(DataDirInUseError);
      expect((err as Error).message).to.match(/DATA_DIR .* is in use by another process \(pid \d+\)/);
    } finally {
      await second?.stop();
    }
    // The first one's server and data are untouched.
    const after = await relayer!.db.query<{ n: string }>("select count(*) as n from orders");
    expect(after.rows[0].n).to.equal(before.rows[0].n);
    expect((await callApp(relayer!, "GET", "/readyz", key)).status).to.equal(200);
  });

  it("stops its server with the relayer: the port refuses connections afterwards", async () => {
    const port = Number((await relayer!.db.query<{ p: number }>("select inet_server_port() as p")).rows[0].p);
    expect(await connects(port)).to.equal(true);
    await relayer!.stop();
    relayer = undefined;
    expect(await connects(port)).to.equal(false);
  });

  it("keeps every record across a restart on the same DATA_DIR and keeps working", async () => {
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
