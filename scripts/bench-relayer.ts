/**
 * Relayer benchmark: a real `hardhat node`, the contracts deployed to it, the relayer as a child process on a
 * fresh PostgreSQL database, orders sent through the HTTP API. Measures, in one run:
 *  - throughput: orders/s from the first accepted order to the last one created on chain and listed as
 *    "created" by the API (orders sent as fast as the API takes them);
 *  - accept latency p50/p99 at a steady request rate (open loop);
 *  - the relayer's peak RSS (VmHWM) and the gas per order on chain;
 *  - the same number of orders through a naive submitter (one createOrder transaction per order, awaiting each
 *    receipt) on the same node, for the ratio.
 * Then the same run (without the naive submitter, which would take one block per order) against Anvil mining a
 * block every `--anvil-block-time` seconds (1 by default), as a testnet does: orders/s and the latency from the
 * 202 to the order shown as created, beside the Hardhat node's, and their ratio.
 * Prints the figures and writes docs/BENCHMARKS.md.
 *
 *   npm run bench:relayer -- --orders 2000 --rate 200 [--anvil-block-time 1] [--no-anvil]
 */
import fs from "node:fs";
import nodeHttp from "node:http";
import os from "node:os";
import path from "node:path";
import { NonceManager, ZeroAddress, type JsonRpcProvider } from "ethers";
import type { Client } from "pg";
import { PaymentEscrow__factory } from "../typechain-types";
import {
  createTestDatabase,
  deployContracts,
  devWallet,
  startNode,
  writeDeploymentRecord,
  type Deployed,
  type NodeOptions,
} from "../test/relayer/harness";
import {
  httpRetry,
  getOrders,
  pgClient,
  setupMerchant,
  spawnRelayer,
  type RelayerProcess,
} from "../test/relayer/resilience/support";
import { orderSalt } from "../relayer/src/domain/model";
import { NO_ITEMS_HASH } from "../sdk/orderRecord";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const ORDERS = arg("orders", 2000);
const RATE = arg("rate", 200);
const CONCURRENCY = arg("concurrency", 32);
const LATENCY_ORDERS = arg("latency-orders", Math.min(ORDERS, 2000));
const NAIVE_ORDERS = arg("naive-orders", ORDERS);
const ANVIL_BLOCK_TIME = arg("anvil-block-time", 1);
const RUN_ANVIL = !process.argv.includes("--no-anvil");
const ANVIL_VERSION = (require("@foundry-rs/anvil/package.json") as { version: string }).version;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const CLK_TCK = 100;
/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL process on the machine (the benchmark's database is the only busy one). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, "utf8").trim() === "postgres") total += cpuSeconds(Number(d));
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU seconds used by each party since the last call. */
function cpuMeter(pids: { relayer: () => number[]; node: number }) {
  const read = () => ({
    relayer: pids.relayer().reduce((a, p) => a + cpuSeconds(p), 0),
    node: cpuSeconds(pids.node),
    postgres: postgresCpuSeconds(),
    client: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  });
  let last = read();
  return () => {
    const now = read();
    const d = {
      relayer: now.relayer - last.relayer,
      node: now.node - last.node,
      postgres: now.postgres - last.postgres,
      client: now.client - last.client,
    };
    last = now;
    return d;
  };
}

/**
 * The load generator's own client: node's http with keep-alive connections, so the client spends as little of
 * the shared CPU as it can (fetch costs it about twice as much per request). Resolves with the status.
 */
const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 256 });
function post(base: string, url: string, key: string, payload: unknown, idempotencyKey: string): Promise<number> {
  const data = JSON.stringify(payload);
  const target = new URL(url, base);
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          "idempotency-key": idempotencyKey,
        },
        timeout: 120_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(data);
  });
}

function body(reference: string) {
  return { reference, amount: "1000", token: "native" };
}

/** Sends `n` orders with `concurrency` requests in flight; returns when all were accepted. */
async function sendClosedLoop(r: RelayerProcess, key: string, prefix: string, n: number, concurrency: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const status = await post(r.url, "/v1/orders", key, body(`${prefix}-${i}`), `${prefix}-${i}`);
        if (status !== 202) {
          // Show why, with the same request (the Idempotency-Key replays the answer).
          const res = await httpRetry(() => r.url, "POST", "/v1/orders", key, body(`${prefix}-${i}`), `${prefix}-${i}`);
          throw new Error(`order refused: ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    }),
  );
}

/** Sends `n` orders at `rate` per second regardless of answers (open loop); returns each accept latency (ms). */
async function sendOpenLoop(r: RelayerProcess, key: string, prefix: string, n: number, rate: number) {
  const latencies: number[] = [];
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(
      (async () => {
        const s = performance.now();
        const status = await post(r.url, "/v1/orders", key, body(`${prefix}-${i}`), `${prefix}-${i}`);
        latencies.push(performance.now() - s);
        if (status !== 202) throw new Error(`order ${prefix}-${i} refused with ${status}`);
      })(),
    );
  }
  await Promise.all(inflight);
  const achieved = n / ((performance.now() - t0) / 1000);
  return { latencies: latencies.sort((a, b) => a - b), achieved };
}

/**
 * Milliseconds from each order's acceptance to its creation indexed, for the orders whose reference starts with
 * `prefix`: `created_at` is set as the order is accepted (its 202 follows the commit by about a millisecond), and
 * `updated_at` by the indexer's projection of OrderCreated, the last write of an order nothing else happens to.
 */
async function acceptToCreatedMs(pg: Client, prefix: string): Promise<number[]> {
  const r = await pg.query<{ ms: string }>(
    `select extract(epoch from (updated_at - created_at)) * 1000 as ms from orders
      where status = 'created' and reference like $1 order by 1`,
    [`${prefix}-%`],
  );
  return r.rows.map((x) => Number(x.ms));
}

async function naive(provider: JsonRpcProvider, d: Deployed, n: number) {
  // A merchant that creates its own orders, one transaction each, waiting for each receipt.
  const merchant = new NonceManager(devWallet(9, provider));
  const escrow = PaymentEscrow__factory.connect(d.escrow, merchant);
  const address = await merchant.getAddress();
  const now = Math.floor(Date.now() / 1000);
  const maxFeeBps = await escrow.feeBps();
  let gas = 0n;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const tx = await escrow.createOrder(
      {
        merchant: address,
        payee: address,
        buyer: ZeroAddress,
        token: ZeroAddress,
        amount: 1000n,
        maxFeeBps,
        paymentDeadline: BigInt(now + 86_400),
        shipWithin: 172_800n,
        protectionPeriod: 259_200n,
        refundWindow: 0n,
        itemsHash: NO_ITEMS_HASH,
        salt: orderSalt(address, `naive-${i}`),
      },
      [],
    );
    const rc = await tx.wait();
    gas += rc!.gasUsed;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: n / seconds, seconds, gasPerOrder: Number(gas / BigInt(n)) };
}

interface RunFigures {
  /** The node's name in the report: "hardhat node" or "anvil". */
  nodeName: string;
  acceptedIn: number;
  seconds: number;
  throughput: number;
  txs: number;
  cpuLine: string;
  p50: number;
  p99: number;
  achieved: number;
  /** Acceptance to creation indexed, at the steady rate. */
  created: { p50: number; p99: number };
  peakRss: number;
  gasPerOrder: number;
  /** The naive submitter on the same node (Hardhat only). */
  naive?: { perSecond: number; seconds: number; gasPerOrder: number };
}

/**
 * One run on a fresh node, database and relayer: warm-up, throughput, latency at a steady rate, and the naive
 * submitter when asked. `label` prefixes the progress line ("" for the Hardhat run, whose output is unchanged).
 */
async function benchRun(nodeOptions: NodeOptions, label: string, withNaive: boolean): Promise<RunFigures> {
  const nodeName = nodeOptions.implementation === "anvil" ? "anvil" : "hardhat node";
  const node = await startNode(nodeOptions);
  const deployed = await deployContracts(node.provider);
  const db = await createTestDatabase();
  const pg = await pgClient(db.url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-bench-"));
  writeDeploymentRecord(dir, deployed);
  const relayer = await spawnRelayer("relayer", node, dir, {
    DATABASE_URL: db.url,
    // RELAYER_LOG_LEVEL=debug shows each batch's and each indexer step's timings.
    LOG_LEVEL: process.env.RELAYER_LOG_LEVEL ?? "info",
    POLL_INTERVAL_MS: process.env.POLL_INTERVAL_MS ?? "100",
    BATCH_SIZE: process.env.BATCH_SIZE ?? "200",
  });
  if (process.env.BENCH_LOG)
    process.on("exit", () =>
      fs.writeFileSync(
        process.env.BENCH_LOG! + (label ? `.${nodeOptions.implementation}` : ""),
        relayer.lines.map((l) => JSON.stringify(l)).join("\n"),
      ),
    );
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, vmHwmKb(relayer.pid))), 200);
  try {
    const m = await setupMerchant(() => relayer.url, "bench");
    // Warm-up: connections, caches, JIT.
    await sendClosedLoop(relayer, m.key, "warm", 50, 8);
    const created = async () =>
      Number((await pg.query<{ n: string }>(`select count(*) as n from orders where status = 'created'`)).rows[0].n);
    while ((await created()) < 50) await sleep(50);

    // Throughput: as fast as the API accepts, until every order is created on chain and indexed.
    const cpu = cpuMeter({ relayer: () => [relayer.pid], node: node.proc.pid! });
    const t0 = performance.now();
    await sendClosedLoop(relayer, m.key, "tp", ORDERS, CONCURRENCY);
    const acceptedIn = (performance.now() - t0) / 1000;
    while ((await created()) < 50 + ORDERS) await sleep(40);
    const seconds = (performance.now() - t0) / 1000;
    const throughput = ORDERS / seconds;
    const cpuUsed = cpu();
    const cpuLine = `relayer ${cpuUsed.relayer.toFixed(1)} s, ${nodeName} ${cpuUsed.node.toFixed(1)} s, PostgreSQL ${cpuUsed.postgres.toFixed(1)} s, load client ${cpuUsed.client.toFixed(1)} s`;
    const listed = await getOrders(
      () => relayer.url,
      m.key,
      Array.from({ length: ORDERS }, (_, i) => `tp-${i}`),
    );
    if (listed.some((o) => o.status !== "created")) throw new Error("the API does not show every order as created");
    const gas = await pg.query<{ gas: string; txs: string }>(
      `select sum(gas_used) as gas, count(*) as txs from chain_txs where kind = 'batch' and status = 'confirmed'`,
    );
    const gasPerOrder = Number(BigInt(gas.rows[0].gas) / BigInt(ORDERS + 50));
    const txs = Number(gas.rows[0].txs);

    console.log(
      `${label}throughput: ${ORDERS} accepted in ${acceptedIn.toFixed(2)} s, created in ${seconds.toFixed(2)} s: ${throughput.toFixed(0)} orders/s`,
    );
    // Accept latency at a steady rate.
    const lat = await sendOpenLoop(relayer, m.key, "lat", LATENCY_ORDERS, RATE);
    const p50 = pct(lat.latencies, 50);
    const p99 = pct(lat.latencies, 99);
    while ((await created()) < 50 + ORDERS + LATENCY_ORDERS) await sleep(50);
    peakRss = Math.max(peakRss, vmHwmKb(relayer.pid));
    const toCreated = await acceptToCreatedMs(pg, "lat");

    // The naive submitter on the same node, right after.
    const nv = withNaive ? await naive(node.provider, deployed, NAIVE_ORDERS) : undefined;
    return {
      nodeName,
      acceptedIn,
      seconds,
      throughput,
      txs,
      cpuLine,
      p50,
      p99,
      achieved: lat.achieved,
      created: { p50: pct(toCreated, 50), p99: pct(toCreated, 99) },
      peakRss,
      gasPerOrder,
      naive: nv,
    };
  } finally {
    clearInterval(rssTimer);
    await relayer.kill("SIGTERM");
    await pg.end();
    await db.drop();
    await node.stop();
  }
}

async function main() {
  const loadAtStart = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" / ");
  console.log(`relayer benchmark: ${ORDERS} orders (throughput), ${LATENCY_ORDERS} at ${RATE}/s (latency)`);
  const hh = await benchRun({ implementation: "hardhat" }, "", true);
  const { throughput, seconds, acceptedIn, txs, cpuLine, p50, p99, peakRss, gasPerOrder } = hh;
  const nv = hh.naive!;
  const ratio = throughput / nv.perSecond;

  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}; load average at start ${loadAtStart}`;
  const bars = [
    { name: `>= 10x the naive orders/s`, ok: ratio >= 10, value: `${ratio.toFixed(1)}x` },
    { name: `>= 300 orders/s end to end`, ok: throughput >= 300, value: `${throughput.toFixed(0)} orders/s` },
    { name: `accept p99 < 25 ms at ${RATE} req/s`, ok: p99 < 25, value: `${p99.toFixed(1)} ms` },
  ];
  const lines = [
    `orders (throughput run)        ${ORDERS}`,
    `accepted in                    ${acceptedIn.toFixed(2)} s (${(ORDERS / acceptedIn).toFixed(0)} accepts/s, ${CONCURRENCY} in flight)`,
    `created on chain + indexed in  ${seconds.toFixed(2)} s`,
    `throughput end to end          ${throughput.toFixed(0)} orders/s (${txs} batch transactions)`,
    `CPU during the throughput run  ${cpuLine} (${seconds.toFixed(1)} s on ${os.cpus().length} cores)`,
    `accept latency at ${RATE} req/s   p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (achieved ${hh.achieved.toFixed(0)} req/s, ${LATENCY_ORDERS} orders)`,
    `relayer peak RSS (VmHWM)       ${(peakRss / 1024).toFixed(0)} MiB`,
    `gas per order (relayer)        ${gasPerOrder}`,
    `naive submitter                ${nv.perSecond.toFixed(1)} orders/s (${NAIVE_ORDERS} in ${nv.seconds.toFixed(1)} s), gas per order ${nv.gasPerOrder}`,
    `ratio                          ${ratio.toFixed(1)}x`,
  ];
  console.log(lines.join("\n"));
  for (const b of bars) console.log(`${b.ok ? "PASS" : "MISS"}  ${b.name}: ${b.value}`);

  // The same run against Anvil mining a block every ANVIL_BLOCK_TIME seconds, beside the Hardhat node's.
  let anvilMd = "";
  if (RUN_ANVIL) {
    const blocks = `${ANVIL_BLOCK_TIME} s blocks`;
    console.log(`\nthe same run against Anvil (${blocks}, interval mining)`);
    const av = await benchRun({ implementation: "anvil", blockTime: ANVIL_BLOCK_TIME }, "anvil: ", false);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const rows: [string, string, string, string][] = [
      [
        "throughput end to end (orders/s)",
        throughput.toFixed(0),
        av.throughput.toFixed(0),
        `${(av.throughput / throughput).toFixed(2)}x`,
      ],
      [
        `202 to created at ${RATE} req/s, p50`,
        s(hh.created.p50),
        s(av.created.p50),
        `${(av.created.p50 / hh.created.p50).toFixed(1)}x`,
      ],
      [
        `202 to created at ${RATE} req/s, p99`,
        s(hh.created.p99),
        s(av.created.p99),
        `${(av.created.p99 / hh.created.p99).toFixed(1)}x`,
      ],
      [
        `accept latency at ${RATE} req/s, p99`,
        `${p99.toFixed(1)} ms`,
        `${av.p99.toFixed(1)} ms`,
        `${(av.p99 / p99).toFixed(1)}x`,
      ],
    ];
    console.log(
      [
        `anvil: ${ORDERS} orders created on chain + indexed in ${av.seconds.toFixed(2)} s (${av.txs} batch transactions)`,
        `anvil: CPU during the throughput run  ${av.cpuLine} (${av.seconds.toFixed(1)} s)`,
        `${"".padEnd(38)}${"hardhat (automine)".padEnd(20)}${`anvil (${blocks})`.padEnd(20)}anvil / hardhat`,
        ...rows.map((r) => `${r[0].padEnd(38)}${r[1].padEnd(20)}${r[2].padEnd(20)}${r[3]}`),
      ].join("\n"),
    );
    anvilMd = `
## Against Anvil with ${blocks}

The same run (the same relayer settings, ${ORDERS} orders for throughput, ${LATENCY_ORDERS} at ${RATE} requests/s; no naive submitter,
which would wait one block per order) against Anvil ${ANVIL_VERSION} mining a block every ${ANVIL_BLOCK_TIME} s with a mempool between
blocks, as a testnet does, started as the tests start it (\`startNode({ implementation: "anvil", blockTime })\`).
"202 to created" is, for each order of the steady-rate run, the time from its acceptance to its creation indexed
(the order's \`created_at\` to the indexer's update of it); the Hardhat node mines each transaction as it arrives.

| Figure | Hardhat node (automine) | Anvil (${blocks}) | Anvil / Hardhat |
| --- | --- | --- | --- |
${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}
| CPU during the throughput run | ${cpuLine} | ${av.cpuLine} | |
| Batch transactions in the throughput run | ${txs} | ${av.txs} | |
`;
  }

  const md = `# Relayer benchmark

Measured by \`npm run bench:relayer\` (\`scripts/bench-relayer.ts\`): a local \`hardhat node\`, the relayer as a
child process on a fresh PostgreSQL database (the API in its main thread, the writer, indexer and webhooks in
its worker thread), orders (native token, no line items) sent through the HTTP API on the same machine. The naive submitter creates the same number of orders on the same node right after, one
\`createOrder\` transaction per order, awaiting each receipt.

- Date: ${new Date().toISOString()}
- Machine: ${machine}
- Settings: ${ORDERS} orders for throughput (${CONCURRENCY} requests in flight), ${LATENCY_ORDERS} orders at ${RATE} requests/s for
  latency, relayer \`BATCH_SIZE=${process.env.BATCH_SIZE ?? "200"}\`, \`POLL_INTERVAL_MS=${process.env.POLL_INTERVAL_MS ?? "100"}\`, 4 signers, \`CONFIRMATIONS=1\`.

| Figure | Value |
| --- | --- |
| Throughput, first accept to last order created on chain and shown as created by the API | **${throughput.toFixed(0)} orders/s** (${ORDERS} in ${seconds.toFixed(2)} s, ${txs} batch transactions) |
| CPU used during the throughput run | ${cpuLine} |
| Accept rate of the API (closed loop) | ${(ORDERS / acceptedIn).toFixed(0)} orders/s |
| Accept latency at ${RATE} requests/s | p50 **${p50.toFixed(1)} ms**, p99 **${p99.toFixed(1)} ms** |
| Relayer peak RSS (VmHWM) | ${(peakRss / 1024).toFixed(0)} MiB |
| Gas per order, relayer (batched) | ${gasPerOrder} |
| Naive submitter | ${nv.perSecond.toFixed(1)} orders/s, gas per order ${nv.gasPerOrder} |
| Ratio relayer / naive | **${ratio.toFixed(1)}x** |

| Bar | Result |
| --- | --- |
${bars.map((b) => `| ${b.name} | ${b.ok ? "met" : "missed"}: ${b.value} |`).join("\n")}

The client, the node, PostgreSQL and the relayer share the machine's cores; figures vary between runs (see
the spread under Findings).
${anvilMd}`;
  if (!process.argv.includes("--no-write")) {
    // Findings written by hand below the figures are kept across runs.
    const file = path.join(__dirname, "..", "docs", "BENCHMARKS.md");
    const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const at = old.indexOf("\n## Findings");
    fs.writeFileSync(file, md + (at >= 0 ? old.slice(at) : ""));
    console.log("wrote docs/BENCHMARKS.md");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
