/**
 * Search and books benchmark: a merchant-scale database generated in SQL, then every list, search, read and
 * ledger shape measured through the relayer's HTTP API.
 *
 * Seeds a dedicated database (BENCH_DB, `orderchain_bench_search` by default, on the server of BENCH_DATABASE_URL,
 * else DATABASE_URL, else the local server; dropped and created again, never a user's database, and kept
 * afterwards): BENCH_ORDERS orders (1,000,000 by default) for 20 merchants (60% for one), line items over 5,000
 * SKUs (a few busy, most rare), ~200,000 buyers, every status, 12 months of timestamps, metadata on half of them,
 * and the chain events, commands (one create per order and one relayed request per order: 2M at full size),
 * ledger lines, running balances and audit rows that go with them. Starts the relayer in this process (API only:
 * no writer or indexer, on a local Hardhat node with the contracts deployed), and measures p50/p99 at
 * concurrency 1 and 8 over HTTP. Prints EXPLAIN ANALYZE of the gasless relay's admission checks, prints the table
 * and writes it to docs/BENCHMARKS.md ("Search and books").
 *
 *   npm run bench:search                                  # seed 1,000,000 orders, then measure
 *   npm run bench:search -- --seed-only                   # seed only (the database is kept)
 *   npm run bench:search -- --reuse                       # measure the seeded database (same BENCH_ORDERS)
 *   npm run bench:search -- --reuse --explain             # and print EXPLAIN (ANALYZE, BUFFERS) of every shape
 *   npm run bench:search -- --reuse --shapes='sku|tx'     # only the shapes whose name matches (nothing written)
 *   npm run bench:search -- --reuse --explain-only        # the plans only: nothing measured or written
 *   BENCH_ORDERS=100000 npm run bench:search              # a quick run
 *   BENCH_REQUESTS=100 (requests per shape at concurrency 1; 4x that at 8)   BENCH_NO_WRITE=1 (print only)
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { startRelayer, type Relayer } from "../relayer/src/relayer";
import { relayForwardQueued, relayUsage } from "../relayer/src/store/relayPolicy";
import { merchantGasSpend } from "../relayer/src/store/relaySpend";
import { DEFAULT_GAS_BUDGET_WEI, gasBudgetTerms } from "../relayer/src/services/gasBudget";
import { ledgerEntries } from "../relayer/src/ledger/ledger";
import type { Queryable } from "../relayer/src/store/db";
import { getCreateAddress } from "ethers";
import {
  ADMIN_KEY,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  type LocalNode,
} from "../test/relayer/harness";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100);
const MERCHANTS = 20;
const SKUS = 5000;
const BUYERS = Math.max(1000, Math.round(ORDERS / 5));
const DB_NAME = process.env.BENCH_DB ?? "orderchain_bench_search";
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(DB_NAME)) throw new Error(`BENCH_DB must be a plain database name: ${DB_NAME}`);
const argv = process.argv.slice(2);
for (const a of argv)
  if (!/^--(seed-only|reuse|explain|explain-only|shapes=.+)$/.test(a))
    throw new Error(`unknown argument ${a} (known: --seed-only, --reuse, --shapes=<regex>, --explain, --explain-only)`);
const SEED_ONLY = argv.includes("--seed-only");
const REUSE = argv.includes("--reuse");
if (SEED_ONLY && REUSE) throw new Error("--seed-only and --reuse exclude each other");
/** --explain-only: the plans and nothing measured or written. */
const EXPLAIN_ONLY = argv.includes("--explain-only");
const EXPLAIN = EXPLAIN_ONLY || argv.includes("--explain");
const SHAPES = (() => {
  const a = argv.find((x) => x.startsWith("--shapes="));
  return a ? new RegExp(a.slice("--shapes=".length), "i") : undefined;
})();
const NATIVE = "0x0000000000000000000000000000000000000000";
const BARS = { listC1: 50, listC8: 150, balances: 10, exportMiB: 100, policyMs: 5 };

const serverUrl = (() => {
  const u = new URL(
    process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
  );
  u.pathname = "/postgres";
  return u;
})();
const benchUrl = (() => {
  const u = new URL(serverUrl.toString());
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const log = (s: string) => process.stdout.write(`${s}\n`);

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await fn();
  log(`  ${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

/** A fresh bench database with the relayer's schema (migrations run by the relayer's start). */
async function recreateDatabase(): Promise<void> {
  const admin = new Client({ connectionString: serverUrl.toString() });
  await admin.connect();
  await admin.query(`drop database if exists ${DB_NAME} with (force)`);
  await admin.query(`create database ${DB_NAME}`);
  await admin.end();
}

/** How the benchmark is run: the first paragraphs of the section it writes. */
const HOW_TO = [
  "How to run it: `npm run bench:search` seeds a database in SQL (BENCH_DB, `orderchain_bench_search` by default:",
  "dropped and created again, then kept) and measures it. The phases apart, so that a quiet moment is spent measuring:",
  "",
  "```",
  "npm run bench:search -- --seed-only                # seed BENCH_ORDERS orders (1,000,000 by default), progress per 100,000",
  "npm run bench:search -- --reuse --explain          # measure it (its order count must equal BENCH_ORDERS), with the plans",
  "npm run bench:search -- --reuse --shapes='sku|tx'  # only the shapes whose name matches; nothing written",
  "npm run bench:search -- --reuse --explain-only     # the plans only: nothing measured or written",
  "```",
  "",
  "`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of every statement each shape's request runs (watched on the",
  "relayer's connection), for the big and the smallest merchant. At 1,000,000 orders the seed took 31 minutes on",
  "these two cores shared with other runs (load average 10 to 23) and the database takes 7.3 GB; `--reuse` applies",
  "the migrations added since the seed (then ANALYZE) before measuring.",
];

/** Orders generated per step of the seed (each step writes them and everything that goes with them). */
const SEED_STEP = 100_000;

/**
 * The data, generated in SQL, SEED_STEP orders at a time with the rows that go with them (line items, chain
 * events, ledger lines, commands, audit rows), each step's rows and time printed. Merchant 0 holds 60% of the
 * orders; SKU and buyer indexes are skewed (a power of random()) so that a few are busy and most are rare, as in a
 * real shop. Half the orders carry metadata (an email per buyer and a sales channel), a few the email a@b.c.
 */
async function seed(pg: Client, merchantIds: string[]): Promise<void> {
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  await pg.query(`create temporary table bench_merchants (n int primary key, id text not null)`);
  await pg.query(`insert into bench_merchants select n - 1, id from unnest($1::text[]) with ordinality as u(id, n)`, [
    merchantIds,
  ]);
  await pg.query(`update merchants set status = 'active'`);
  await timed("SKUs", () =>
    pg.query(
      `insert into skus (id, merchant_id, reference, name, metadata_uri, sku_number, chain_sku_id, status)
       select 'sku_' || s, m.id, 'SKU-' || s, 'SKU ' || s, 'ipfs://sku/' || s, s, 1000000 + s, 'created'
       from generate_series(0, ${SKUS - 1}) s join bench_merchants m on m.n = s % ${MERCHANTS}`,
    ),
  );
  // Each step's orders and events, kept while the step writes what goes with them.
  await pg.query(
    `create temporary table bench_step as
     select id, merchant_id, chain_order_id, buyer, token, amount, items, status, created_at from orders limit 0`,
  );
  await pg.query(`create temporary table bench_events as select * from chain_events limit 0`);
  for (let lo = 1; lo <= ORDERS; lo += SEED_STEP) {
    const hi = Math.min(ORDERS, lo + SEED_STEP - 1);
    const stepStarted = performance.now();
    const counts: string[] = [];
    const run = async (what: string, sql: string) => {
      const r = await pg.query(sql);
      counts.push(`${what} ${(r.rowCount ?? 0).toLocaleString("en")}`);
    };
    await pg.query(`truncate bench_step, bench_events`);
    await run(
      "orders",
      `with o as (
         insert into orders (id, merchant_id, reference, chain_order_id, buyer, token, amount, items, payment_deadline,
                             ship_within, protection_period, status, metadata, created_at, updated_at)
         select 'ord_' || g, m.id, 'ord-' || g, '0x' || lpad(to_hex(g), 64, '0'),
                case when x.st = 'pending' then null else '0x' || lpad(to_hex(x.buyer), 40, '0') end,
                case when g % 4 = 0 then '0x0000000000000000000000000000000000000000' else '0x5fbdb2315678afecb367f032d93f642f64180aa3' end,
                x.amount, x.items, 0, 86400, 604800, x.st,
                case when g % 50000 = 7 then jsonb_build_object('email', 'a@b.c', 'channel', 'web')
                     when g % 2 = 0 then jsonb_build_object('email', 'b' || x.buyer || '@shop.example',
                                                            'channel', (array['web','web','web','pos','app'])[1 + g % 5])
                     else '{}'::jsonb end,
                x.at,
                -- An order that moved on after its creation was last updated up to 20 days later (not in the future).
                case when x.st in ('pending', 'created') then x.at
                     else least(now(), x.at + interval '1 day' * (random() * 20)) end
         from generate_series(${lo}, ${hi}) g
         cross join lateral (
           select case when g % 10 < 6 then 0 else 1 + g % ${MERCHANTS - 1} end as mi,
                  1 + floor(${BUYERS} * power(random(), 3))::int as buyer,
                  (100 + floor(random() * 100000)::int) * 1000 as amount,
                  now() - interval '365 days' * ((${ORDERS} - g)::float8 / ${ORDERS}) as at,
                  (select jsonb_agg(jsonb_build_object('sku', 'sku_' || floor(${SKUS} * power(random() + 0 * g + 0 * k, 3))::int,
                                                       'skuId', '1', 'quantity', (1 + k)::text))
                   from generate_series(0, g % 3) k) as items,
                  (array['completed','completed','completed','completed','completed','completed','completed','completed',
                         'paid','paid','paid','shipped','shipped','shipped','created','pending','refunded','cancelled',
                         'disputed','resolved'])[1 + floor(random() * 20)::int] as st
         ) x
         join bench_merchants m on m.n = x.mi
         returning id, merchant_id, chain_order_id, buyer, token, amount, items, status, created_at
       )
       insert into bench_step select * from o`,
    );
    await pg.query(`analyze bench_step`);
    await run(
      "line items",
      `insert into order_items (order_id, merchant_id, sku_id, created_at, quantity)
       select o.id, o.merchant_id, i->>'sku', o.created_at, sum((i->>'quantity')::numeric)
       from bench_step o cross join lateral jsonb_array_elements(o.items) as i
       group by o.id, o.merchant_id, o.created_at, i->>'sku'`,
    );
    // Escrow events per status: created, paid, shipped, then how it ended; 10 blocks per order, 12 s apart.
    await run(
      "chain events",
      `with e as (
         insert into chain_events (block_number, block_hash, tx_hash, log_index, contract, name, order_id, merchant, args, block_time)
         select 10 * substr(o.id, 5)::bigint + e.k, 'b' || o.id || e.k, '0x' || md5(o.id || e.k) || md5(o.id), 0,
                'PaymentEscrow', e.name, o.chain_order_id, null, e.args,
                extract(epoch from o.created_at)::bigint + 12 * e.k
         from bench_step o
         cross join lateral (values
           (1, 'OrderCreated', '{}'::jsonb, o.status <> 'pending'),
           (2, 'OrderPaid', jsonb_build_object('amount', o.amount::text), o.status in ('paid','shipped','completed','refunded','disputed','resolved')),
           (3, 'OrderShipped', '{}'::jsonb, o.status in ('shipped','completed')),
           (4, 'OrderCompleted', jsonb_build_object('payeeAmount', (o.amount * 99 / 100)::text, 'fee', (o.amount / 100)::text), o.status = 'completed'),
           (4, 'OrderRefunded', jsonb_build_object('amount', o.amount::text), o.status = 'refunded'),
           (4, 'DisputeResolved', jsonb_build_object('buyerAmount', (o.amount / 2)::text, 'payeeAmount', (o.amount / 2 - o.amount / 100)::text, 'fee', (o.amount / 100)::text), o.status = 'resolved')
         ) as e(k, name, args, happened)
         where e.happened
         order by 1
         returning *
       )
       insert into bench_events select * from e`,
    );
    await pg.query(`analyze bench_events`);
    // The ledger's lines as linesFor posts them.
    await run(
      "ledger lines",
      `insert into ledger_entries (event_id, merchant_id, order_id, token, account, debit, credit, block_number, block_time, tx_hash)
       select e.id, o.merchant_id, e.order_id, o.token, l.account, l.debit, l.credit, e.block_number, e.block_time, e.tx_hash
       from bench_events e join bench_step o on o.chain_order_id = e.order_id
       cross join lateral (
         select * from (values
           ('OrderPaid', 'escrow', (e.args->>'amount')::numeric, 0::numeric),
           ('OrderPaid', 'buyers', 0, (e.args->>'amount')::numeric),
           ('OrderRefunded', 'buyers', (e.args->>'amount')::numeric, 0),
           ('OrderRefunded', 'escrow', 0, (e.args->>'amount')::numeric),
           ('OrderCompleted', 'merchant_payouts', (e.args->>'payeeAmount')::numeric, 0),
           ('OrderCompleted', 'platform_fees', (e.args->>'fee')::numeric, 0),
           ('OrderCompleted', 'escrow', 0, (e.args->>'payeeAmount')::numeric + (e.args->>'fee')::numeric),
           ('DisputeResolved', 'buyers', (e.args->>'buyerAmount')::numeric, 0),
           ('DisputeResolved', 'merchant_payouts', (e.args->>'payeeAmount')::numeric, 0),
           ('DisputeResolved', 'platform_fees', (e.args->>'fee')::numeric, 0),
           ('DisputeResolved', 'escrow', 0, (e.args->>'buyerAmount')::numeric + (e.args->>'payeeAmount')::numeric + (e.args->>'fee')::numeric)
         ) v(name, account, debit, credit) where v.name = e.name
       ) l
       order by e.id`,
    );
    await run(
      "commands",
      `insert into commands (kind, merchant_id, order_id, payload, status, created_at, updated_at)
       select 'create_order', o.merchant_id, o.id, '{}'::jsonb, 'confirmed', o.created_at, o.created_at from bench_step o
       union all
       select 'relay_forward', o.merchant_id, o.id,
              jsonb_build_object('action', 'pay', 'buyer', coalesce(o.buyer, '0x' || lpad(to_hex(substr(o.id, 5)::int), 40, '0')),
                                 'request', jsonb_build_object('nonce', (substr(o.id, 5)::int % 97)::text)),
              'confirmed', o.created_at + interval '1 minute', o.created_at + interval '1 minute'
       from bench_step o`,
    );
    await run(
      "audit rows",
      `insert into audit_log (merchant_id, action, resource_type, resource_id, details, created_at)
       select merchant_id, 'order.create', 'order', id, '{}'::jsonb, created_at from bench_step`,
    );
    log(
      `  orders ${lo.toLocaleString("en")}..${hi.toLocaleString("en")}: ${counts.join(", ")} ` +
        `in ${((performance.now() - stepStarted) / 1000).toFixed(1)} s (${elapsed()} in all)`,
    );
  }
  await timed("running balances", () =>
    pg.query(
      `insert into ledger_balances (merchant_id, token, account, debit, credit, balance)
       select merchant_id, token, account, sum(debit), sum(credit), sum(debit) - sum(credit) from ledger_entries group by 1, 2, 3`,
    ),
  );
  await timed("vacuum analyze", () => pg.query(`vacuum analyze`));
}

interface Shape {
  name: string;
  /** Paths of the requests, taken in turn (several values spread the cache). */
  paths: string[];
  key: string;
  /** A list or read shape (the 50/150 ms bars) or the balances (10 ms). */
  bar: "list" | "balances" | "none";
}

/** A keep-alive HTTP GET returning status, body size and milliseconds. */
function makeClient(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  return (p: string, key: string) =>
    new Promise<{ status: number; bytes: number; ms: number; body: string }>((resolve, reject) => {
      const t = performance.now();
      const req = http.get(`${base}${p}`, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          if (bytes < 1_000_000) chunks.push(c);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            ms: performance.now() - t,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
    });
}

type Get = ReturnType<typeof makeClient>;

async function measure(get: Get, s: Shape, concurrency: number, n: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const r = await get(s.paths[i % s.paths.length], s.key);
        if (r.status !== 200)
          throw new Error(`${s.name}: ${s.paths[i % s.paths.length]} answered ${r.status} ${r.body.slice(0, 300)}`);
        times.push(r.ms);
      }
    }),
  );
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

/** The paths of a 50-page walk (each page's cursor from the one before), read once. */
async function cursorWalk(get: Get, key: string, pages: number): Promise<string[]> {
  const paths = ["/v1/orders?limit=50"];
  for (let i = 1; i < pages; i++) {
    const r = JSON.parse((await get(paths[i - 1], key)).body) as { nextCursor: string | null };
    if (!r.nextCursor) break;
    paths.push(`/v1/orders?limit=50&cursor=${encodeURIComponent(r.nextCursor)}`);
  }
  return paths;
}

/** EXPLAIN ANALYZE of the statements `fn` runs (through a Queryable that explains instead of running). */
async function explain(pg: Client, fn: (q: Queryable) => Promise<unknown>): Promise<{ plan: string; ms: number }[]> {
  const out: { plan: string; ms: number }[] = [];
  const q: Queryable = {
    async query<T>(sql: string, params: unknown[] = []) {
      const r = await pg.query<{ "QUERY PLAN": string }>(`explain (analyze, buffers, costs off) ${sql}`, params);
      const lines = r.rows.map((row) => row["QUERY PLAN"]);
      const exec = lines.find((l) => l.startsWith("Execution Time"));
      out.push({ plan: lines.join("\n"), ms: Number(exec?.match(/([\d.]+) ms/)?.[1] ?? NaN) });
      return { rows: [{}] as T[], rowCount: 0 };
    },
    async exec() {},
  };
  await fn(q).catch(() => undefined);
  return out;
}

/**
 * The statements the relayer runs for one request (node-postgres's `Client.prototype.query`, watched while the
 * request is the only one in flight), each explained on `pg` with its parameters: EXPLAIN (ANALYZE, BUFFERS) of
 * every read. Statements that write (none on these routes) are listed, not run again.
 */
async function explainRequest(pg: Client, request: () => Promise<{ status: number }>): Promise<string> {
  const seen: { text: string; values: unknown[] }[] = [];
  const proto = Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    const [first, second] = a;
    const text = typeof first === "string" ? first : (first as { text?: unknown } | undefined)?.text;
    const values = Array.isArray(second) ? second : ((first as { values?: unknown[] } | undefined)?.values ?? []);
    if (typeof text === "string") seen.push({ text, values });
    return original.apply(this, a);
  };
  let status: number;
  try {
    status = (await request()).status;
  } finally {
    proto.query = original;
  }
  const out = [`(answered ${status})`];
  const done = new Set<string>();
  for (const { text, values } of seen) {
    const key = text + JSON.stringify(values);
    if (done.has(key) || /^\s*(begin|commit|rollback|set|select pg_advisory)/i.test(text)) continue;
    done.add(key);
    out.push(`-- ${text.replace(/\s+/g, " ").trim()}`, `-- parameters: ${JSON.stringify(values).slice(0, 400)}`);
    if (!/^\s*(select|with)\b/i.test(text) || /\b(insert|update|delete)\b/i.test(text)) {
      out.push("(writes: not explained)");
      continue;
    }
    const plan = await pg.query<{ "QUERY PLAN": string }>(`explain (analyze, buffers) ${text}`, values);
    out.push(...plan.rows.map((r) => r["QUERY PLAN"]));
  }
  return out.join("\n");
}

/** The relayer's resident set, sampled every 10 ms while `fn` runs: its peak growth in MiB. */
async function rssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growthMiB: number }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthMiB: (peak - base) / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * With --reuse: the bench database holds what a seed of BENCH_ORDERS orders wrote (its own record of the seed and
 * the rows themselves), or the run stops here with what to do instead.
 */
async function checkSeeded(): Promise<{ orders: number; seconds: number; migrations: number }> {
  const pg = new Client({ connectionString: benchUrl });
  try {
    await pg.connect();
  } catch (err) {
    throw new Error(
      `--reuse: cannot open database ${DB_NAME} (${(err as Error).message}); seed it first: npm run bench:search -- --seed-only`,
    );
  }
  try {
    const seeded = await pg
      .query<{ orders: string; seconds: string }>(`select orders, seconds from bench_seed`)
      .catch(() => ({ rows: [] }));
    if (seeded.rows.length !== 1)
      throw new Error(
        `--reuse: ${DB_NAME} holds no finished seed (an interrupted --seed-only?); seed it again: npm run bench:search -- --seed-only`,
      );
    const counted = Number((await pg.query<{ n: string }>(`select count(*) as n from orders`)).rows[0].n);
    const recorded = Number(seeded.rows[0].orders);
    if (recorded !== ORDERS || counted !== ORDERS)
      throw new Error(
        `--reuse: ${DB_NAME} holds ${counted.toLocaleString("en")} orders (seeded with ${recorded.toLocaleString("en")}), ` +
          `BENCH_ORDERS is ${ORDERS.toLocaleString("en")}: run with BENCH_ORDERS=${recorded}, or seed again with --seed-only`,
      );
    const migrations = Number((await pg.query<{ n: string }>(`select count(*) as n from schema_migrations`)).rows[0].n);
    return { orders: counted, seconds: Number(seeded.rows[0].seconds), migrations };
  } finally {
    await pg.end();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const mode = SEED_ONLY ? " (seed only)" : REUSE ? " (reusing the seeded database)" : "";
  log(`bench:search: ${ORDERS.toLocaleString("en")} orders in ${DB_NAME} on ${serverUrl.host}${mode}`);
  const reused = REUSE ? await checkSeeded() : undefined;
  if (!reused) await recreateDatabase();
  let node: LocalNode | undefined;
  let relayer: Relayer | undefined;
  const pg = new Client({ connectionString: benchUrl });
  try {
    // Interrupted (Ctrl-C), the node and the relayer are stopped as at the end.
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        void Promise.allSettled([relayer?.stop(), node?.stop()]).then(() => process.exit(130));
      });
    node = await startNode();
    // The measured routes read the database only: when the contracts cannot be deployed on this checkout, the
    // relayer starts with the addresses they would have (no code there) and the run says so.
    const deployed = await deployContracts(node.provider).catch(async (err: Error) => {
      log(
        `note: contracts not deployed (${err.message.split("\n")[0].slice(0, 160)}); the measured routes do not call the chain`,
      );
      const from = devWallet(0).address;
      const nonce = await node!.provider.getTransactionCount(from);
      return {
        chainId: (await node!.provider.getNetwork()).chainId,
        forwarder: getCreateAddress({ from, nonce }),
        escrow: getCreateAddress({ from, nonce: nonce + 1 }),
        inventory: getCreateAddress({ from: getCreateAddress({ from, nonce: nonce + 1 }), nonce: 1 }),
        stablecoin: getCreateAddress({ from, nonce: nonce + 2 }),
        startBlock: (await node!.provider.getBlockNumber()) + 1,
      };
    });
    relayer = await startRelayer({
      config: relayerConfig(node, {
        DATABASE_URL: benchUrl,
        LOG_LEVEL: "silent",
        RATE_LIMIT_PER_KEY_PER_MINUTE: "0",
        RATE_LIMIT_PER_IP_PER_MINUTE: "0",
        RATE_LIMIT_PER_MERCHANT_PER_MINUTE: "0",
      }),
      chainId: deployed.chainId,
      addresses: deployed,
      workers: false,
    });
    const base = await relayer.listen();
    const get = makeClient(base);
    const post = async (p: string, key: string, body: unknown) => {
      const r = await relayer!.app.inject({
        method: "POST",
        url: p,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        payload: JSON.stringify(body),
      });
      return JSON.parse(r.body) as { id: string; secret: string };
    };
    const keys: string[] = [];
    const merchantIds: string[] = [];
    await pg.connect();
    if (reused) {
      // The seeded merchants, in the order they were created; a new key for each (the secrets are not stored).
      const r = await pg.query<{ id: string }>(
        `select id from merchants where name ~ '^Bench merchant [0-9]+$' order by substr(name, 16)::int`,
      );
      if (r.rows.length !== MERCHANTS)
        throw new Error(`--reuse: ${DB_NAME} has ${r.rows.length} bench merchants, not ${MERCHANTS}: seed it again`);
      for (const { id } of r.rows) {
        merchantIds.push(id);
        keys.push((await post(`/v1/admin/merchants/${id}/keys`, ADMIN_KEY, { name: "bench" })).secret);
      }
      // Migrations added since the seed (new indexes) have no statistics of their expressions yet.
      const migrations = Number(
        (await pg.query<{ n: string }>(`select count(*) as n from schema_migrations`)).rows[0].n,
      );
      if (migrations !== reused.migrations) await timed("analyze after new migrations", () => pg.query(`analyze`));
    } else {
      for (let i = 0; i < MERCHANTS; i++) {
        const m = await post("/v1/admin/merchants", ADMIN_KEY, { name: `Bench merchant ${i}` });
        merchantIds.push(m.id);
        keys.push((await post(`/v1/admin/merchants/${m.id}/keys`, ADMIN_KEY, { name: "bench" })).secret);
      }
      log("seeding (SQL):");
      const seedStarted = Date.now();
      await seed(pg, merchantIds);
      await pg.query(
        `create table bench_seed (orders bigint not null, seconds numeric not null, at timestamptz not null default now())`,
      );
      await pg.query(`insert into bench_seed (orders, seconds) values ($1, $2)`, [
        ORDERS,
        (Date.now() - seedStarted) / 1000,
      ]);
    }
    const seedSeconds = reused
      ? reused.seconds
      : Number((await pg.query<{ s: string }>(`select seconds as s from bench_seed`)).rows[0].s);
    const one = async (sql: string, params: unknown[] = []) =>
      Object.values((await pg.query(sql, params)).rows[0] ?? {})[0] as string;
    const counts = (
      await pg.query<Record<string, string>>(
        `select (select count(*) from orders) as orders, (select count(*) from order_items) as items,
                (select count(*) from chain_events) as events, (select count(*) from ledger_entries) as ledger,
                (select count(*) from commands) as commands, (select count(*) from audit_log) as audit,
                (select count(*) from orders where merchant_id = $1) as big,
                (select count(*) from ledger_entries where merchant_id = $1) as big_ledger`,
        [merchantIds[0]],
      )
    ).rows[0];
    log(`${reused ? "seeded earlier" : "seeded"} in ${seedSeconds.toFixed(0)} s: ${JSON.stringify(counts)}`);
    if (SEED_ONLY) {
      const size = await one(`select pg_size_pretty(pg_database_size(current_database()))`);
      log(`${DB_NAME} kept (${size}); measure it with: BENCH_ORDERS=${ORDERS} npm run bench:search -- --reuse`);
      return;
    }

    // Query values from the data: the busiest and a rare SKU and buyer of the big merchant, a day and a month.
    const big = merchantIds[0];
    const small = merchantIds[MERCHANTS - 1];
    const busySku = await one(
      `select sku_id from order_items where merchant_id = $1 group by 1 order by count(*) desc limit 1`,
      [big],
    );
    const rareSku = await one(
      `select sku_id from order_items where merchant_id = $1 group by 1 order by count(*), 1 limit 1`,
      [big],
    );
    const busyBuyer = await one(
      `select buyer from orders where merchant_id = $1 and buyer is not null group by 1 order by count(*) desc limit 1`,
      [big],
    );
    const someBuyers = (
      await pg.query<{ buyer: string }>(
        `select buyer from orders where merchant_id = $1 and buyer is not null order by id desc limit 20`,
        [big],
      )
    ).rows.map((r) => r.buyer);
    const someIds = (
      await pg.query<{ id: string }>(`select id from orders where merchant_id = $1 order by random() limit 50`, [big])
    ).rows.map((r) => r.id);
    const someRefs = someIds.map((id) => id.replace("ord_", "ord-"));
    const iso = (d: Date) => d.toISOString();
    const now = Date.now();
    const DAY = 86_400_000;
    const monthFrom = iso(new Date(now - 60 * DAY));
    const monthTo = iso(new Date(now - 29 * DAY));
    const days = Array.from({ length: 10 }, (_, i) => [
      iso(new Date(now - (40 + i) * DAY)),
      iso(new Date(now - (39 + i) * DAY)),
    ]);
    const busyEmail = await one(
      `select metadata->>'email' from orders where merchant_id = $1 and metadata ? 'email' and buyer = $2 limit 1`,
      [big, busyBuyer],
    );
    const txHashes = (
      await pg.query<{ tx_hash: string }>(
        `select e.tx_hash from orders o join chain_events e on e.order_id = o.chain_order_id where o.id = any($1) limit 20`,
        [someIds],
      )
    ).rows.map((r) => r.tx_hash);
    const bigKey = keys[0];
    const smallKey = keys[MERCHANTS - 1];
    const walk = await cursorWalk(get, bigKey, 50);

    const shapes: Shape[] = [
      { name: "first page", paths: ["/v1/orders?limit=50"], key: bigKey, bar: "list" },
      { name: `cursor walk (${walk.length} pages, per page)`, paths: walk, key: bigKey, bar: "list" },
      { name: "status=paid", paths: ["/v1/orders?status=paid&limit=50"], key: bigKey, bar: "list" },
      { name: "status=disputed (rare)", paths: ["/v1/orders?status=disputed&limit=50"], key: bigKey, bar: "list" },
      { name: "status=paid,shipped", paths: ["/v1/orders?status=paid,shipped&limit=50"], key: bigKey, bar: "list" },
      { name: "buyer (busiest)", paths: [`/v1/orders?buyer=${busyBuyer}&limit=50`], key: bigKey, bar: "list" },
      {
        name: "buyer (various)",
        paths: someBuyers.map((b) => `/v1/orders?buyer=${b}&limit=50`),
        key: bigKey,
        bar: "list",
      },
      { name: `sku busy (${busySku})`, paths: [`/v1/orders?sku=${busySku}&limit=50`], key: bigKey, bar: "list" },
      { name: `sku rare (${rareSku})`, paths: [`/v1/orders?sku=${rareSku}&limit=50`], key: bigKey, bar: "list" },
      {
        name: "time range (a day)",
        paths: days.map(([f, t]) => `/v1/orders?from=${f}&to=${t}&limit=50`),
        key: bigKey,
        bar: "list",
      },
      { name: "reference exact", paths: someRefs.map((r) => `/v1/orders?reference=${r}`), key: bigKey, bar: "list" },
      { name: "reference prefix ord-12*", paths: ["/v1/orders?reference=ord-12*&limit=50"], key: bigKey, bar: "list" },
      {
        name: "status + sku busy",
        paths: [`/v1/orders?status=completed&sku=${busySku}&limit=50`],
        key: bigKey,
        bar: "list",
      },
      {
        name: "status + buyer",
        paths: [`/v1/orders?status=completed&buyer=${busyBuyer}&limit=50`],
        key: bigKey,
        bar: "list",
      },
      {
        name: "status + time range",
        paths: days.map(([f, t]) => `/v1/orders?status=paid&from=${f}&to=${t}&limit=50`),
        key: bigKey,
        bar: "list",
      },
      { name: "single read", paths: someIds.map((id) => `/v1/orders/${id}`), key: bigKey, bar: "list" },
      {
        name: "status=paid,shipped,refunded,disputed",
        paths: ["/v1/orders?status=paid,shipped,refunded,disputed&limit=50"],
        key: bigKey,
        bar: "list",
      },
      {
        name: "status=disputed,resolved (rare pair)",
        paths: ["/v1/orders?status=disputed,resolved&limit=50"],
        key: bigKey,
        bar: "list",
      },
      {
        name: "amount range, sorted by amount",
        paths: [`/v1/orders?amount_gte=20000000&amount_lte=30000000&sort=amount&limit=50`],
        key: bigKey,
        bar: "list",
      },
      {
        name: "amount range, newest first",
        paths: [`/v1/orders?amount_gte=20000000&amount_lte=20100000&limit=50`],
        key: bigKey,
        bar: "list",
      },
      { name: "token (native)", paths: ["/v1/orders?token=native&limit=50"], key: bigKey, bar: "list" },
      {
        name: "metadata email (busiest)",
        paths: [`/v1/orders?metadata[email]=${encodeURIComponent(busyEmail)}&limit=50`],
        key: bigKey,
        bar: "list",
      },
      { name: "metadata email (rare)", paths: ["/v1/orders?metadata[email]=a@b.c&limit=50"], key: bigKey, bar: "list" },
      {
        name: "metadata channel (common)",
        paths: ["/v1/orders?metadata[channel]=web&limit=50"],
        key: bigKey,
        bar: "list",
      },
      {
        name: "metadata channel (none of this merchant's)",
        paths: ["/v1/orders?metadata[channel]=pos&limit=50"],
        key: bigKey,
        bar: "list",
      },
      {
        name: "updated_since (3 days), by updated_at",
        paths: [`/v1/orders?updated_since=${iso(new Date(now - 3 * DAY))}&sort=updated_at&direction=asc&limit=50`],
        key: bigKey,
        bar: "list",
      },
      {
        name: "updated_since (3 days), newest first",
        paths: [`/v1/orders?updated_since=${iso(new Date(now - 3 * DAY))}&limit=50`],
        key: bigKey,
        bar: "list",
      },
      { name: "tx hash", paths: txHashes.map((h) => `/v1/orders?tx=${h}`), key: bigKey, bar: "list" },
      {
        name: "ledger entries, a day (big)",
        paths: days.map(([f, t]) => `/v1/ledger/entries?from=${f}&to=${t}&limit=200`),
        key: bigKey,
        bar: "list",
      },
      {
        name: "ledger entries, a month (big)",
        paths: [`/v1/ledger/entries?from=${monthFrom}&to=${monthTo}&limit=200`],
        key: bigKey,
        bar: "list",
      },
      {
        name: "ledger entries, a day (smallest)",
        paths: days.map(([f, t]) => `/v1/ledger/entries?from=${f}&to=${t}&limit=200`),
        key: smallKey,
        bar: "list",
      },
      { name: "balances (big)", paths: ["/v1/ledger/balances"], key: bigKey, bar: "balances" },
      { name: "balances (smallest)", paths: ["/v1/ledger/balances"], key: smallKey, bar: "balances" },
    ];
    const searchProbe = await get(`/v1/orders/search?query=${encodeURIComponent("status:'paid'")}`, bigKey);
    if (searchProbe.status === 404) log("note: GET /v1/orders/search answers 404 here: the search shapes are skipped");
    else
      for (const q of [
        "status:'paid' AND amount>1000",
        "metadata['email']:'a@b.c'",
        "reference:'ord-12*'",
        `sku:'${busySku}' AND status:'completed'`,
        `buyer:'${busyBuyer}'`,
        `status:'paid' OR status:'shipped'`,
        `-status:'completed' AND token:'${NATIVE}'`,
      ])
        shapes.push({
          name: `search ${q}`,
          paths: [`/v1/orders/search?query=${encodeURIComponent(q)}&limit=50`],
          key: bigKey,
          bar: "list",
        });

    const chosen = SHAPES ? shapes.filter((x) => SHAPES.test(x.name)) : shapes;
    if (SHAPES) log(`--shapes=${SHAPES.source}: ${chosen.length} of ${shapes.length} shapes`);
    if (EXPLAIN) {
      log(`\nEXPLAIN (ANALYZE, BUFFERS) of the statements each shape runs (its first request):`);
      for (const x of chosen) {
        log(`\n=== ${x.name}: GET ${x.paths[0]}`);
        log(await explainRequest(pg, () => get(x.paths[0], x.key)));
        // The same request of the smallest merchant (ids, references and hashes of the big one find nothing).
        if (x.key === bigKey) {
          log(`\n=== ${x.name} (smallest merchant): GET ${x.paths[0]}`);
          log(await explainRequest(pg, () => get(x.paths[0], smallKey)));
        }
      }
    }
    const rows: {
      name: string;
      c1: { p50: number; p99: number };
      c8: { p50: number; p99: number };
      bar: Shape["bar"];
    }[] = [];
    log("\nmeasuring:");
    for (const s of EXPLAIN_ONLY ? [] : chosen) {
      // Warm, as a relayer in production is: the plans cached, and the pool holding its eight connections (the
      // first concurrent burst would otherwise time the connections' set-up, not the query).
      await measure(get, s, 1, Math.min(10, REQUESTS));
      await measure(get, s, 8, Math.min(16, REQUESTS));
      const c1 = await measure(get, s, 1, REQUESTS);
      const c8 = await measure(get, s, 8, REQUESTS * 4);
      rows.push({ name: s.name, c1, c8, bar: s.bar });
      log(`  ${s.name}: c1 p50 ${ms(c1.p50)} p99 ${ms(c1.p99)} | c8 p50 ${ms(c8.p50)} p99 ${ms(c8.p99)} ms`);
    }

    // A month of the big merchant's ledger as CSV, three times, with the process's RSS growth (unless --shapes
    // leaves it out: its name is "export").
    const measureExport = async () => {
      const exportPath = `/v1/ledger/export.csv?from=${monthFrom}&to=${monthTo}`;
      const exportRuns: { ms: number; bytes: number; growthMiB: number }[] = [];
      for (let i = 0; i < 3; i++) {
        const { result, growthMiB } = await rssGrowth(() => get(exportPath, bigKey));
        if (result.status !== 200) throw new Error(`export answered ${result.status}`);
        exportRuns.push({ ms: result.ms, bytes: result.bytes, growthMiB });
      }
      const exportLines = Number(
        await one(
          `select count(*) from ledger_entries where merchant_id = $1 and block_time >= $2 and block_time < $3`,
          [big, Math.floor(Date.parse(monthFrom) / 1000), Math.floor(Date.parse(monthTo) / 1000)],
        ),
      );
      const exportMs = exportRuns.map((r) => r.ms).sort((a, b) => a - b);
      const exportGrowth = Math.max(...exportRuns.map((r) => r.growthMiB));
      const eight = await rssGrowth(() => Promise.all(Array.from({ length: 8 }, () => get(exportPath, bigKey))));
      const eightMs = Math.max(...eight.result.map((r) => r.ms));
      // A merchant streams at most EXPORTS_PER_MERCHANT exports at once: the others are refused (429) at once.
      const streamed = eight.result.filter((r) => r.status === 200).length;
      const eightWhat = `eight at once (${streamed} streamed, ${8 - streamed} refused with 429)`;
      log(
        `  export a month (${exportLines.toLocaleString("en")} lines, ${(exportRuns[0].bytes / 2 ** 20).toFixed(0)} MiB): ` +
          `p50 ${ms(pct(exportMs, 50))} ms, RSS growth ${exportGrowth.toFixed(0)} MiB; ${eightWhat}: ${ms(eightMs)} ms, RSS growth ${eight.growthMiB.toFixed(0)} MiB`,
      );
      return `One month of the big merchant's ledger as CSV (${exportLines.toLocaleString("en")} lines, ${(exportRuns[0].bytes / 2 ** 20).toFixed(0)} MiB), streamed from a server-side cursor: p50 ${ms(pct(exportMs, 50))} ms, peak RSS growth ${exportGrowth.toFixed(0)} MiB (bar < ${BARS.exportMiB} MiB: ${exportGrowth < BARS.exportMiB ? "met" : "**missed**"}); ${eightWhat} ${ms(eightMs)} ms, RSS growth ${eight.growthMiB.toFixed(0)} MiB.`;
    };
    const exportSentence = !EXPLAIN_ONLY && (!SHAPES || SHAPES.test("export")) ? await measureExport() : "";

    // The gasless relay's admission checks at this many commands.
    const commandCount = Number(await one(`select count(*) from commands`));
    const relayMerchant = big;
    const relayBuyer = busyBuyer;
    const usagePlans = await explain(pg, (q) => relayUsage(q, relayMerchant, relayBuyer));
    const replayPlans = await explain(pg, (q) => relayForwardQueued(q, relayBuyer, "5"));
    const budgetPlans = await explain(pg, (q) =>
      merchantGasSpend(q, relayMerchant, gasBudgetTerms(DEFAULT_GAS_BUDGET_WEI)),
    );
    const policyMs = [...usagePlans, ...replayPlans, ...budgetPlans].map((p) => p.ms);
    log(`\nEXPLAIN ANALYZE of the relay's admission checks at ${commandCount.toLocaleString("en")} commands:`);
    log(`-- relayUsage (buyer and merchant counts of the last minute)\n${usagePlans[0]?.plan}`);
    log(`-- relayForwardQueued (a queued request with the same nonce)\n${replayPlans[0]?.plan}`);
    log(`-- merchantGasSpend (budget, spend, queued commands and their recent cost)\n${budgetPlans[0]?.plan}`);

    // The SKU filter's plan (the list builder's) and the same page from the line items' index.
    const skuPlans = await explain(pg, (q) =>
      q.query(
        `select o.* from order_items i join orders o on o.id = i.order_id
         where i.merchant_id = $1 and i.sku_id = $2 order by i.created_at desc, i.order_id desc limit 50`,
        [big, rareSku],
      ),
    );
    log(`-- a rare SKU's page from order_items\n${skuPlans[0]?.plan}`);
    const ledgerPlans = await explain(pg, (q) =>
      ledgerEntries(q, { merchantId: small, from: new Date(days[0][0]), to: new Date(days[0][1]), limit: 201 }),
    );
    log(`-- ledger entries of a day, smallest merchant\n${ledgerPlans[0]?.plan}`);

    if (EXPLAIN_ONLY) return;
    const load = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ");
    const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, load average at the end ${load}; PostgreSQL ${(await one("show server_version")).split(" ")[0]} with default settings`;
    const table = [
      "| shape | c1 p50 | c1 p99 | c8 p50 | c8 p99 | bar |",
      "| --- | ---: | ---: | ---: | ---: | --- |",
      ...rows.map((r) => {
        const bar =
          r.bar === "list"
            ? `p99 < ${BARS.listC1} / ${BARS.listC8} ms: ${r.c1.p99 < BARS.listC1 && r.c8.p99 < BARS.listC8 ? "met" : "**missed**"}`
            : r.bar === "balances"
              ? `p99 < ${BARS.balances} ms: ${r.c1.p99 < BARS.balances ? "met" : "**missed**"} (c1)`
              : "";
        return `| ${r.name.replace(/\|/g, "\\|")} | ${ms(r.c1.p50)} | ${ms(r.c1.p99)} | ${ms(r.c8.p50)} | ${ms(r.c8.p99)} | ${bar} |`;
      }),
    ].join("\n");
    const section = [
      "## Search and books",
      "",
      ...HOW_TO,
      "",
      `\`npm run bench:search\` (scripts/bench-search.ts), ${new Date().toISOString().slice(0, 10)}: ${Number(counts.orders).toLocaleString("en")} orders for ${MERCHANTS} merchants (${Number(counts.big).toLocaleString("en")} for one), ${Number(counts.items).toLocaleString("en")} line items over ${SKUS.toLocaleString("en")} SKUs, ~${BUYERS.toLocaleString("en")} buyers, 12 months; ${Number(counts.events).toLocaleString("en")} chain events, ${Number(counts.ledger).toLocaleString("en")} ledger lines (${Number(counts.big_ledger).toLocaleString("en")} for the big merchant), ${Number(counts.commands).toLocaleString("en")} commands, ${Number(counts.audit).toLocaleString("en")} audit rows, generated in SQL in ${seedSeconds.toFixed(0)} s. Milliseconds through HTTP (keep-alive) to the relayer's API in the script's process, ${REQUESTS} requests per shape at concurrency 1 and ${REQUESTS * 4} at 8. The big merchant unless said.`,
      "",
      `Machine: ${machine}.${
        os.loadavg()[0] > os.cpus().length
          ? " Other processes shared the cores during this run (load average above the core count): the latencies are upper bounds, the plans and the memory figures are not affected."
          : ""
      }${ORDERS < 1_000_000 ? ` A reduced run (BENCH_ORDERS=${ORDERS}); the issue's size is the default, 1,000,000.` : ""}`,
      "",
      table,
      "",
      exportSentence,
      "",
      `The gasless relay's admission checks at ${commandCount.toLocaleString("en")} commands (EXPLAIN ANALYZE in the script's output): ${policyMs.map((x) => `${x.toFixed(2)} ms`).join(", ")} (bar < ${BARS.policyMs} ms: ${policyMs.every((x) => x < BARS.policyMs) ? "met" : "**missed**"}).`,
      "",
    ].join("\n");
    log(`\n${section}`);
    if (SHAPES) log("(--shapes: a partial run, docs/BENCHMARKS.md left as it is)");
    else if (!process.env.BENCH_NO_WRITE) {
      const file = path.join(__dirname, "..", "docs", "BENCHMARKS.md");
      const doc = fs.readFileSync(file, "utf8");
      const at = doc.indexOf("## Search and books");
      const end = at < 0 ? -1 : doc.indexOf("\n## ", at + 5);
      const next =
        at < 0 ? `${doc.trimEnd()}\n\n${section}` : doc.slice(0, at) + section + (end < 0 ? "" : doc.slice(end + 1));
      fs.writeFileSync(file, next.endsWith("\n") ? next : `${next}\n`);
      log(`written to docs/BENCHMARKS.md (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
    }
  } finally {
    await pg.end().catch(() => undefined);
    await relayer?.stop().catch(() => undefined);
    await node?.stop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
