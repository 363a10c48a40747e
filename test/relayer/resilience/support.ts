/**
 * Shared pieces of the relayer's resilience tests: relayer child processes, a small HTTP client with retries,
 * merchant setup through the API, and the check that every order the API knows equals the chain's state.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { expect } from "chai";
import { Client } from "pg";
import { ZeroHash, type JsonRpcProvider, type Log } from "ethers";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { applyOrderLogs, OrderStateName } from "../../../sdk/orderRecord";
import { newestMtime } from "../../../web/build";
import { ADMIN_KEY, ROOT, relayerEnv, waitFor, type Deployed, type LocalNode } from "../harness";

export interface RelayerProcess {
  name: string;
  proc: ChildProcess;
  url: string;
  pid: number;
  /** Every JSON log line the process printed, parsed. */
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/**
 * Starts the compiled relayer (`dist/relayer/src/main.js`, as `npm run relayer` runs it with plain node) as a
 * child process and waits for its "relayer listening" line. `npm test` builds dist/ first.
 */
let buildChecked = false;
/** The compiled relayer must be the sources' (a targeted `hardhat test` after an edit would test old code). */
function assertBuildFresh(): void {
  if (buildChecked) return;
  const stamp = path.join(ROOT, "dist", "BUILD");
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  const newest = Math.max(...["relayer/src", "sdk"].map((d) => newestMtime(path.join(ROOT, d))));
  if (newest > built) {
    throw new Error("dist/ is older than relayer/src or sdk/: run `npm run build` (npm test does it first)");
  }
  buildChecked = true;
}

export async function spawnRelayer(
  name: string,
  node: LocalNode,
  deploymentsDir: string,
  extra: Record<string, string>,
  sink?: Record<string, unknown>[],
): Promise<RelayerProcess> {
  assertBuildFresh();
  const proc = spawn(
    process.execPath,
    [
      // e.g. RELAYER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the relayer
      ...(process.env.RELAYER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      path.join(ROOT, "dist", "relayer", "src", "main.js"),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...relayerEnv(node, deploymentsDir, extra) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  const lines: Record<string, unknown>[] = sink ?? [];
  let stderr = "";
  let buf = "";
  let resolveUrl: (u: string) => void = () => undefined;
  const urlP = new Promise<string>((r) => (resolveUrl = r));
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        j.process = name;
        lines.push(j);
        if (j.msg === "relayer listening") resolveUrl(String(j.url));
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const url = await Promise.race([
    urlP,
    exited.then((code) => {
      throw new Error(`relayer ${name} exited (${code}) before listening: ${stderr}`);
    }),
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`relayer ${name} did not start: ${stderr}`)), 180_000),
    ),
  ]);
  return {
    name,
    proc,
    url,
    pid: proc.pid!,
    lines,
    exited,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exited;
    },
  };
}

export interface ApiResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP call; throws on a connection failure (the process may be down). */
export async function http(
  base: string,
  method: "GET" | "POST",
  url: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<ApiResult> {
  const res = await fetch(base + url, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Calls `base()` (the current relayer's address) until it answers; the same Idempotency-Key makes a retry of a
 * request whose answer was lost return the first answer instead of acting twice.
 */
export async function httpRetry(
  base: () => string | null,
  method: "GET" | "POST",
  url: string,
  key: string,
  body?: unknown,
  idempotencyKey?: string,
  timeoutMs = 120_000,
): Promise<ApiResult> {
  const started = Date.now();
  let last = "no relayer running";
  for (;;) {
    const b = base();
    if (b) {
      try {
        const r = await http(b, method, url, key, body, idempotencyKey ? { "idempotency-key": idempotencyKey } : {});
        if (r.status < 500) return r;
        last = `${r.status} ${JSON.stringify(r.body)}`;
      } catch (err) {
        // down or restarting
        last = String(err);
      }
    } else {
      last = "no relayer running";
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${method} ${url} did not succeed in ${timeoutMs} ms; last answer: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates an active merchant with an API key; with `stock`, also a SKU holding that much stock. */
export async function setupMerchant(
  base: () => string | null,
  name: string,
  stock?: bigint,
): Promise<{ merchantId: string; key: string; skuId?: string }> {
  const m = await httpRetry(base, "POST", "/v1/admin/merchants", ADMIN_KEY, { name }, `m-${name}`);
  expect(m.status, JSON.stringify(m.body)).to.equal(201);
  const merchantId = m.body.id as string;
  await waitFor(
    `merchant ${name} active`,
    async () => (await httpRetry(base, "GET", `/v1/admin/merchants/${merchantId}`, ADMIN_KEY)).body.status === "active",
    120_000,
    200,
  );
  const k = await httpRetry(
    base,
    "POST",
    `/v1/admin/merchants/${merchantId}/keys`,
    ADMIN_KEY,
    { name: "ops" },
    `k-${name}`,
  );
  expect(k.status).to.equal(201);
  const key = k.body.secret as string;
  if (stock === undefined) return { merchantId, key };
  const sku = await httpRetry(base, "POST", "/v1/skus", key, { reference: `sku-${name}`, name: "Tee" }, `s-${name}`);
  expect(sku.status).to.equal(202);
  const skuId = sku.body.id as string;
  const mint = await httpRetry(base, "POST", `/v1/skus/${skuId}/stock`, key, { quantity: String(stock) }, `st-${name}`);
  expect(mint.status).to.equal(202);
  await waitFor(
    `stock of ${name}`,
    async () => (await httpRetry(base, "GET", `/v1/skus/${skuId}`, key)).body.stock?.available === String(stock),
    120_000,
    200,
  );
  return { merchantId, key, skuId };
}

/**
 * The given orders (by reference) as the API shows them, one GET each. (Listing pages is not used: its cursor
 * keeps created_at to the millisecond, so orders accepted within the same millisecond can fall between pages.)
 */
export async function getOrders(base: () => string | null, key: string, references: string[]): Promise<any[]> {
  const out: any[] = new Array(references.length); // eslint-disable-line @typescript-eslint/no-explicit-any
  await pool(references, 8, async (ref, i) => {
    const r = await httpRetry(base, "GET", `/v1/orders/${encodeURIComponent(ref)}`, key);
    expect(r.status, `GET order ${ref}`).to.equal(200);
    out[i] = r.body;
  });
  return out;
}

/** Every order of the merchant as the API lists it. */
export async function listAllOrders(base: () => string | null, key: string): Promise<any[]> {
  const out: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let cursor: string | null = null;
  do {
    const q: string = `/v1/orders?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const r = await httpRetry(base, "GET", q, key);
    expect(r.status).to.equal(200);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

export async function escrowLogs(provider: JsonRpcProvider, deployed: Deployed): Promise<Log[]> {
  const head = await provider.getBlockNumber();
  const logs: Log[] = [];
  for (let from = deployed.startBlock; from <= head; from += 5000) {
    logs.push(
      ...(await provider.getLogs({ address: deployed.escrow, fromBlock: from, toBlock: Math.min(head, from + 4999) })),
    );
  }
  return logs;
}

/**
 * The chain is the truth: each order the API knows was created on chain exactly once, the chain holds no other
 * order, and each API status equals the state rebuilt from the chain's logs, which the escrow confirms current.
 */
export async function expectApiMatchesChain(
  provider: JsonRpcProvider,
  deployed: Deployed,
  apiOrders: { chainOrderId: string; status: string; reference: string }[],
): Promise<{ created: number; byStatus: Record<string, number> }> {
  const escrow = PaymentEscrow__factory.connect(deployed.escrow, provider);
  const logs = await escrowLogs(provider, deployed);
  const createdTopic = escrow.interface.getEvent("OrderCreated").topicHash;
  const createdCount = new Map<string, number>();
  for (const l of logs) {
    if (l.topics[0] === createdTopic) createdCount.set(l.topics[1], (createdCount.get(l.topics[1]) ?? 0) + 1);
  }
  const ids = new Set(apiOrders.map((o) => o.chainOrderId));
  expect(ids.size, "API order ids are distinct").to.equal(apiOrders.length);
  const extra = [...createdCount.keys()].filter((id) => !ids.has(id));
  expect(extra, "orders on chain the API does not know").to.deep.equal([]);
  const notOnce = apiOrders.filter((o) => createdCount.get(o.chainOrderId) !== 1);
  expect(
    notOnce.map((o) => `${o.reference}: ${createdCount.get(o.chainOrderId) ?? 0}`),
    "orders not created exactly once",
  ).to.deep.equal([]);
  const records = applyOrderLogs(escrow.interface, await escrow.getAddress(), logs);
  const byStatus: Record<string, number> = {};
  const mismatches: string[] = [];
  const queue = [...apiOrders];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let o = queue.shift(); o; o = queue.shift()) {
        const rec = records.get(o.chainOrderId)!;
        const chainStatus = OrderStateName[Number(rec.state)].toLowerCase();
        byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
        if (chainStatus !== o.status) mismatches.push(`${o.reference}: api ${o.status}, chain ${chainStatus}`);
        const status = await escrow.statusOf(o.chainOrderId);
        if (status.state !== rec.state)
          mismatches.push(`${o.reference}: chain state ${status.state}, logs ${rec.state}`);
        if ((await escrow.orderIdOf(rec.terms)) !== o.chainOrderId)
          mismatches.push(`${o.reference}: terms do not give the order id`);
      }
    }),
  );
  expect(mismatches, "API statuses that differ from the chain").to.deep.equal([]);
  return { created: createdCount.size, byStatus };
}

/** A direct connection to the relayer's database, for the checks the API does not expose. */
export async function pgClient(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

export async function commandCounts(c: Client): Promise<Record<string, number>> {
  const r = await c.query<{ status: string; n: string }>(`select status, count(*) as n from commands group by status`);
  return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
}

/** Order statuses by reference, read from the relayer's database (cheap enough to poll). */
export async function dbStatuses(c: Client): Promise<Map<string, string>> {
  const r = await c.query<{ reference: string; status: string }>(`select reference, status from orders`);
  return new Map(r.rows.map((x) => [x.reference, x.status]));
}

/** Runs `fn` over `items` with `n` workers. */
export async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** A TCP proxy in front of the node that can be cut (connections dropped, new ones refused) and restored. */
export interface RpcProxy {
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startRpcProxy(targetPort: number): Promise<RpcProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  let up = true;
  return {
    url: `http://127.0.0.1:${port}`,
    async cut() {
      if (!up) return;
      up = false;
      await stop();
    },
    async restore() {
      if (up) return;
      await listen(port);
      up = true;
    },
    async close() {
      if (up) await stop();
      up = false;
    },
  };
}
