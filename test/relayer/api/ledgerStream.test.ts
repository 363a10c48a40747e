/**
 * The ledger at scale (issue "Search and books at a million orders", items 1 and 2): the exports stream from a
 * server-side cursor and equal the ledger, a client that leaves mid-export leaves no cursor, transaction or
 * connection behind, and the running balances equal the sum of the lines, after a randomized run and after a
 * reorg rollback.
 *
 * The escrow events are stored and posted by the indexer's own store functions (insertChainEvents, postLedger,
 * the rollback's retractLedgerAfter and deleteEventsAfter) at block numbers far above the test chain's, so the
 * running indexer never reaches them.
 */
import http from "node:http";
import { expect } from "chai";
import { Client } from "pg";
import { ACCOUNTS, postLedger } from "../../../relayer/src/ledger/ledger";
import { deleteEventsAfter, insertChainEvents, type NewChainEvent } from "../../../relayer/src/store/chainEvents";
import { retractLedgerAfter } from "../../../relayer/src/store/ledger";
import { errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

const BASE_BLOCK = 50_000_000;
const ZERO = "0x0000000000000000000000000000000000000000";
const USD = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/** A small deterministic generator (mulberry32): a failing run is replayed from the seed in its message. */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const hex = (n: number | bigint, bytes: number) => "0x" + n.toString(16).padStart(bytes * 2, "0");

interface Entry {
  id: string;
  token: string;
  account: string;
  debit: string;
  credit: string;
}

describe("relayer API: the ledger's streamed exports and running balances", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let m: Merchant;
  let pg: Client;
  const seed = Number(process.env.LEDGER_SEED ?? Date.now() % 1_000_000);
  const rand = rng(seed);
  let orderCounter = 0;

  /** Orders of `m` stored as the API stores them (only what the ledger reads: merchant, chain id, token). */
  async function newOrders(n: number): Promise<{ chainId: string; amount: bigint }[]> {
    const out = [];
    for (let i = 0; i < n; i++) {
      orderCounter += 1;
      const chainId = hex(BigInt(seed) * 1_000_000n + BigInt(orderCounter), 32);
      const token = rand(2) === 0 ? ZERO : USD;
      const amount = BigInt(1 + rand(1_000_000)) * 1000n;
      await pg.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within, protection_period)
         values ($1, $2, $3, $4, $5, $6, 0, 0, 0)`,
        [`ord_ledger_${seed}_${orderCounter}`, m.id, `LEDGER-${orderCounter}`, chainId, token, amount.toString()],
      );
      out.push({ chainId, amount });
    }
    return out;
  }

  /**
   * Random escrow events of `orders` in blocks from `fromBlock` (several per block, a block every few minutes
   * over the last 20 days), posted to the ledger as the indexer posts them; returns the last block.
   */
  async function postRandomEvents(orders: { chainId: string; amount: bigint }[], fromBlock: number): Promise<number> {
    const events: NewChainEvent[] = [];
    let block = fromBlock;
    let logIndex = 0;
    const t0 = Math.floor(Date.now() / 1000) - 20 * 86_400 + (fromBlock - BASE_BLOCK) * 300;
    const push = (name: string, orderId: string, args: Record<string, string>) => {
      if (rand(3) === 0) {
        block += 1;
        logIndex = 0;
      }
      events.push({
        blockNumber: block,
        blockHash: hex(block, 32),
        txHash: hex(block * 1000 + logIndex, 32),
        logIndex: logIndex++,
        contract: "PaymentEscrow",
        name,
        orderId,
        merchant: m.address.toLowerCase(),
        args: JSON.stringify(args),
        blockTime: t0 + (block - fromBlock) * 300,
      });
    };
    for (const o of orders) {
      push("OrderPaid", o.chainId, { amount: o.amount.toString() });
      const fee = o.amount / 100n;
      switch (rand(4)) {
        case 0:
          push("OrderRefunded", o.chainId, { amount: o.amount.toString() });
          break;
        case 1:
          push("OrderCompleted", o.chainId, { payeeAmount: (o.amount - fee).toString(), fee: fee.toString() });
          break;
        case 2: {
          const b = BigInt(rand(Number(o.amount)));
          push("DisputeResolved", o.chainId, {
            buyerAmount: b.toString(),
            payeeAmount: (o.amount - b - fee > 0n ? o.amount - b - fee : 0n).toString(),
            fee: (o.amount - b - fee > 0n ? fee : o.amount - b).toString(),
          });
          break;
        }
        default: // still escrowed
      }
    }
    await env.relayer.db.tx(async (q) => {
      await insertChainEvents(q, events);
      await postLedger(q, fromBlock, block);
    });
    return block;
  }

  /** Every ledger entry through the API, page by page (pages of `limit`). */
  async function walkEntries(key: string, limit: number): Promise<Entry[]> {
    const all: Entry[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const r = await env.call(
        "GET",
        `/v1/ledger/entries?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        key,
      );
      expect(r.status, r.text.slice(0, 300)).to.equal(200);
      all.push(...r.body.data);
      cursor = r.body.nextCursor;
      if (!cursor) return all;
    }
    throw new Error("the cursor walk did not end");
  }

  /** Per token and account, debits minus credits of `entries` (every account shown, as the endpoint does). */
  function sums(entries: Entry[]): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, bigint>> = {};
    for (const e of entries) {
      out[e.token] ??= Object.fromEntries(ACCOUNTS.map((a) => [a, 0n]));
      out[e.token][e.account] += BigInt(e.debit) - BigInt(e.credit);
    }
    return Object.fromEntries(
      Object.entries(out).map(([t, a]) => [t, Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v)]))]),
    );
  }

  async function balances(key: string) {
    const r = await env.call("GET", "/v1/ledger/balances", key);
    expect(r.status, r.text).to.equal(200);
    return r.body.balances;
  }

  /** The entry ids in the ledger's (block time, id) order, read straight from the table. */
  async function idsInTimeOrder(merchantId: string): Promise<string[]> {
    const r = await pg.query<{ id: string }>(
      `select id from ledger_entries where merchant_id = $1 order by coalesce(block_time, 0), id`,
      [merchantId],
    );
    return r.rows.map((row) => row.id);
  }

  before(async () => {
    env = await startApiEnv();
    pg = new Client({ connectionString: env.databaseUrl });
    await pg.connect();
    m = await env.newMerchant("Streamed books");
    await postRandomEvents(await newOrders(40), BASE_BLOCK);
  });
  after(async () => {
    await pg?.end();
    await env?.stop();
  });

  it(`walks the entries in block time order with its cursor, and the CSV and JSON-lines exports equal them (seed ${seed})`, async () => {
    const walked = await walkEntries(m.key, 7);
    expect(walked.length, "lines posted").to.be.greaterThan(40);
    expect(walked.map((e) => e.id)).to.deep.equal(await idsInTimeOrder(m.id));
    const whole = await env.call("GET", "/v1/ledger/entries?limit=1000", m.key);
    expect(whole.body.data).to.deep.equal(walked);

    const csv = await env.call("GET", "/v1/ledger/export.csv", m.key);
    expect(csv.status, csv.text.slice(0, 300)).to.equal(200);
    const lines = csv.text.trimEnd().split("\n");
    expect(lines[0]).to.equal("id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit");
    type Full = Entry & { at: string; blockNumber: number; txHash: string; chainOrderId: string };
    expect(lines.slice(1)).to.deep.equal(
      (walked as Full[]).map((e) =>
        [e.id, e.at, e.blockNumber, e.txHash, e.chainOrderId, e.token, e.account, e.debit, e.credit].join(","),
      ),
    );

    const jsonl = await env.call("GET", "/v1/ledger/export.jsonl", m.key);
    expect(jsonl.status, jsonl.text.slice(0, 300)).to.equal(200);
    expect(String(jsonl.headers["content-type"])).to.match(/^application\/jsonl/);
    expect(String(jsonl.headers["content-disposition"])).to.match(/filename="ledger-\d{8}-\d{8}\.jsonl"$/);
    expect(
      jsonl.text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).to.deep.equal(walked);
  });

  it("a tenant replaying another merchant's cursor, or a forged one, gets its own lines or 400, never another's", async () => {
    const other = await env.newMerchant("Streamed books bystander");
    const theirs = await walkEntries(m.key, 5);
    const forged = await env.call("GET", `/v1/ledger/entries?cursor=${theirs[2].id}`, other.key);
    expect(forged.status).to.equal(400);
    expect(errorOf(forged).code).to.equal("validation_failed");
    const replayed = await env.call("GET", `/v1/ledger/entries?cursor=0.0`, other.key);
    expect(replayed.status).to.equal(200);
    expect(replayed.body.data).to.deep.equal([]);
    const jsonl = await env.call("GET", "/v1/ledger/export.jsonl", other.key);
    expect(jsonl.status).to.equal(200);
    expect(jsonl.text).to.equal("");
    const csv = await env.call("GET", "/v1/ledger/export.csv", other.key);
    expect(csv.text).to.equal("id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit\n");
  });

  it(`keeps the running balances equal to the sum of the lines after a randomized run (seed ${seed})`, async () => {
    const entries = await walkEntries(m.key, 1000);
    expect(await balances(m.key)).to.deep.equal(sums(entries));
    const usdOnly = await env.call("GET", `/v1/ledger/balances?token=${USD.toLowerCase()}`, m.key);
    const expected = sums(entries.filter((e) => e.token === USD));
    expect(usdOnly.body.balances).to.deep.equal(expected);
  });

  it(`takes a reorg's removed lines out of the balances in the rollback's transaction, and adds the new fork's (seed ${seed})`, async () => {
    const before = await walkEntries(m.key, 1000);
    const lastBlock = Math.max(...(before as (Entry & { blockNumber: number })[]).map((e) => e.blockNumber));
    const ancestor = BASE_BLOCK + Math.floor((lastBlock - BASE_BLOCK) / 2);
    // The follower's rollback: the lines leave the totals, then the events (and their lines) go.
    await env.relayer.db.tx(async (q) => {
      await retractLedgerAfter(q, ancestor);
      await deleteEventsAfter(q, ancestor);
    });
    const kept = await walkEntries(m.key, 1000);
    expect(kept.length).to.be.lessThan(before.length);
    expect(kept.every((e) => (e as Entry & { blockNumber: number }).blockNumber <= ancestor)).to.equal(true);
    expect(await balances(m.key)).to.deep.equal(sums(kept));
    const direct = await pg.query(
      `select b.token, b.account from ledger_balances b
       cross join lateral (
         select coalesce(sum(l.debit), 0) as debit, coalesce(sum(l.credit), 0) as credit from ledger_entries l
         where l.merchant_id = b.merchant_id and l.token = b.token and l.account = b.account
       ) s
       where b.merchant_id = $1 and (b.debit <> s.debit or b.credit <> s.credit or b.balance <> s.debit - s.credit)`,
      [m.id],
    );
    expect(direct.rows, "every account's totals").to.deep.equal([]);

    // The new fork's blocks carry other events, of new orders and of the old ones.
    await postRandomEvents([...(await newOrders(15))], ancestor + 1);
    const after = await walkEntries(m.key, 1000);
    expect(await balances(m.key)).to.deep.equal(sums(after));
  });

  describe("a client that leaves mid-export", () => {
    let big: Merchant;
    let url: string;

    before(async () => {
      big = await env.newMerchant("Streamed books, large");
      // 60,000 lines (some 12 MB of CSV), written straight in SQL: more than the sockets buffer.
      await pg.query(
        `with o as (
           insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within, protection_period)
           values ('ord_ledger_big', $1, 'LEDGER-BIG', $2, $3, 1000, 0, 0, 0) returning chain_order_id
         ), e as (
           insert into chain_events (block_number, block_hash, tx_hash, log_index, contract, name, order_id, args, block_time)
           select $4::bigint + g, 'h' || g, 't' || g, 0, 'PaymentEscrow', 'OrderPaid', (select chain_order_id from o),
                  '{"amount":"1000"}', extract(epoch from now())::bigint - 86400 + g
           from generate_series(1, 30000) g
           returning id, block_number, block_time, tx_hash, order_id
         )
         insert into ledger_entries (event_id, merchant_id, order_id, token, account, debit, credit, block_number, block_time, tx_hash)
         select e.id, $1, e.order_id, $3, a.account, a.debit, a.credit, e.block_number, e.block_time, e.tx_hash
         from e cross join (values ('escrow', 1000, 0), ('buyers', 0, 1000)) as a(account, debit, credit)`,
        [big.id, hex(BigInt(seed) * 1_000_000n + 999_999n, 32), ZERO, BASE_BLOCK + 5_000_000],
      );
      url = env.relayer.url ?? (await env.relayer.listen());
    });

    /** The database sessions (other than this test's) reading ledger lines or holding a transaction open. */
    async function exportSessions(): Promise<{ state: string; query: string }[]> {
      const r = await pg.query<{ state: string; query: string }>(
        `select state, query from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and (state like 'idle in transaction%' or (state = 'active' and query like '%from ledger_entries%'))`,
      );
      return r.rows;
    }

    /** Starts an export, reads its first bytes, stops reading, and returns the socket to cut. */
    function startExport(path: string): Promise<{ first: string; cut(): void }> {
      return new Promise((resolve, reject) => {
        const req = http.get(`${url}${path}`, { headers: { authorization: `Bearer ${big.key}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
          res.once("data", (chunk: Buffer) => {
            res.pause();
            resolve({ first: chunk.toString("utf8"), cut: () => req.destroy() });
          });
        });
        req.on("error", () => undefined);
      });
    }

    it("holds one cursor while the client does not read (backpressure), and none once it hangs up", async () => {
      const x = await startExport("/v1/ledger/export.csv");
      expect(x.first.startsWith("id,at,block_number")).to.equal(true);
      await waitFor(
        "the export's cursor open while the client waits",
        async () => (await exportSessions()).length === 1,
      );
      x.cut();
      await waitFor("no cursor, transaction or query left", async () => (await exportSessions()).length === 0);
    });

    it("a slow reader holding two exports gets 429 for a third (it would hold a third connection); served again once it hangs up", async () => {
      const held = [await startExport("/v1/ledger/export.csv"), await startExport("/v1/ledger/export.jsonl")];
      const third = await env.call("GET", "/v1/ledger/export.csv", big.key);
      expect(third.status, third.text).to.equal(429);
      expect(errorOf(third).code).to.equal("rate_limited");
      expect(errorOf(third).details).to.deep.include({ limitPerMerchant: 2 });
      for (const x of held) x.cut();
      await waitFor("no cursor, transaction or query left", async () => (await exportSessions()).length === 0);
      const after = await env.call(
        "GET",
        "/v1/ledger/export.csv?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
        big.key,
      );
      expect(after.status, after.text).to.equal(200);
    });

    it("a client hanging up a dozen exports (more than the pool's connections) leaves the relayer serving", async () => {
      for (let i = 0; i < 12; i++) {
        const x = await startExport(i % 2 ? "/v1/ledger/export.csv" : "/v1/ledger/export.jsonl");
        x.cut();
        // The next one once this one let its connection go (a merchant streams at most two at once).
        await waitFor("the export's cursor closed", async () => (await exportSessions()).length === 0);
      }
      await waitFor("no cursor, transaction or query left", async () => (await exportSessions()).length === 0);
      const started = Date.now();
      const r = await env.call("GET", "/v1/ledger/balances", big.key);
      expect(r.status).to.equal(200);
      expect(Date.now() - started, "a pool connection was free at once").to.be.lessThan(2000);
      const full = await env.call("GET", "/v1/ledger/export.csv", big.key);
      expect(full.text.trimEnd().split("\n").length, "header and 60,000 lines").to.equal(60_001);
    });
  });
});
