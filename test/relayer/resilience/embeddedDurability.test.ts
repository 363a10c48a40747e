/**
 * The embedded default (no DATABASE_URL) keeps the relayer's promises as a PostgreSQL server does: an order
 * answered with 202 survives a SIGKILL of the relayer right after the answer and goes on chain exactly once after
 * the restart, and a second relayer process on the same DATA_DIR refuses to start instead of sharing it.
 * Runs the compiled relayer (dist/), as `npm run relayer` does.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import {
  deployContracts,
  waitFor,
  relayerEnv,
  ROOT,
  startNode,
  writeDeploymentRecord,
  type Deployed,
  type LocalNode,
} from "../harness";
import {
  expectApiMatchesChain,
  http,
  listAllOrders,
  setupMerchant,
  spawnRelayer,
  type RelayerProcess,
} from "./support";

/** Processes of a PostgreSQL server whose data directory is `pgdata`. */
function serverPids(pgdata: string): number[] {
  const r = spawnSync("pgrep", ["-f", `postgres -D ${pgdata}`], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

describe("relayer on its embedded PostgreSQL: durability and one process per DATA_DIR", function () {
  this.timeout(240_000);
  let node: LocalNode;
  let deployed: Deployed;
  let deploymentsDir: string;
  let dataDir: string;
  let current: RelayerProcess | null = null;

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    deploymentsDir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-durable-deploy-"));
    writeDeploymentRecord(deploymentsDir, deployed);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-durable-"));
    // Run as root, the server runs as another OS user, which must be able to enter the folder.
    fs.chmodSync(dataDir, 0o755);
  });
  after(async () => {
    await current?.kill("SIGTERM");
    await node?.stop();
    for (const pid of serverPids(path.join(dataDir, "postgres"))) process.kill(pid, "SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(deploymentsDir, { recursive: true, force: true });
  });

  // Blank DATABASE_URL counts as unset: whatever the environment holds, the relayer uses its own server.
  const start = () => spawnRelayer("embedded", node, deploymentsDir, { DATABASE_URL: "", DATA_DIR: dataDir });

  it("keeps an order answered 202 through a SIGKILL right after the answer; it goes on chain once after the restart", async () => {
    current = await start();
    const base = () => current?.url ?? null;
    const m = await setupMerchant(base, "durable");
    const order = await http(current.url, "POST", "/v1/orders", m.key, {
      reference: "KILLED-1",
      amount: "1000",
      token: "native",
    });
    expect(order.status, JSON.stringify(order.body)).to.equal(202);
    // Killed at once: the order may or may not have been broadcast yet; either way it must reach the chain once.
    await current.kill("SIGKILL");
    const killedPid = current.pid;
    current = null;
    // The server the killed relayer started is still running; the next start stops it and starts it anew.
    expect(serverPids(path.join(dataDir, "postgres")), "server left by the killed relayer").to.not.deep.equal([]);

    current = await start();
    expect(current.pid).to.not.equal(killedPid);
    const after = await waitFor(
      "the accepted order created on chain after the restart",
      async () => {
        const r = await http(current!.url, "GET", `/v1/orders/${order.body.id}`, m.key);
        return r.status === 200 && r.body.status === "created" ? r.body : null;
      },
      60_000,
      200,
    );
    expect(after.reference).to.equal("KILLED-1");
    const all = await listAllOrders(() => current?.url ?? null, m.key);
    expect(all.map((o: { reference: string }) => o.reference)).to.deep.equal(["KILLED-1"]);
    const { created } = await expectApiMatchesChain(node.provider, deployed, all);
    expect(created).to.equal(1);
  });

  it("refuses a second relayer process on the same DATA_DIR with a clear message and exit code 2", async () => {
    const env = { ...process.env, ...relayerEnv(node, deploymentsDir, { DATABASE_URL: "", DATA_DIR: dataDir }) };
    const second = spawn(process.execPath, [path.join(ROOT, "dist", "relayer", "src", "main.js")], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    second.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => second.once("close", resolve));
    expect(code, stderr).to.equal(2);
    expect(stderr).to.match(
      new RegExp(
        `DATA_DIR ${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is in use by another process \\(pid ${current!.pid}\\)`,
      ),
    );
    expect(stderr).to.not.match(/\n\s+at /); // a message, not a stack trace
    // The first one goes on serving.
    expect((await http(current!.url, "GET", "/readyz", "")).status).to.equal(200);
  });

  it("stops its server when it shuts down on SIGTERM", async () => {
    const pgdata = path.join(dataDir, "postgres");
    expect(serverPids(pgdata)).to.not.deep.equal([]);
    await current!.kill("SIGTERM");
    expect(await current!.exited).to.equal(0);
    current = null;
    expect(serverPids(pgdata)).to.deep.equal([]);
  });
});
