/**
 * The gas budget at scale, on PostgreSQL: a merchant's check reads running totals, never its queue (a tenant
 * flooding the queue made every acceptance of its own walk thousands of commands, 84,000 index entries for 3,000
 * queued after their status changes, under a lock that serialised its acceptances: 72 accepts/s), and acceptances
 * racing each other from several relayer processes at the budget's edge never queue more than the budget holds.
 */
import { expect } from "chai";
import { openDb, type Db, type Queryable } from "../../../relayer/src/store/db";
import { migrate } from "../../../relayer/src/store/migrate";
import { insertOrderWithCommand, type TermsJson } from "../../../relayer/src/store/orders";
import { enqueueCommand } from "../../../relayer/src/store/commands";
import { assertGasBudgetOf, FIRST_COMMAND_RESERVE_WEI, gasBudgetTerms } from "../../../relayer/src/services/gasBudget";
import { createTestDatabase } from "../harness";

const ADDRESS = `0x${"1".repeat(40)}`;

describe("relayer store: the gas budget against a tenant flooding its queue", function () {
  this.timeout(180_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;
  /** A second pool on the same database: another relayer process. */
  let other: Db;

  before(async () => {
    database = await createTestDatabase();
    db = await openDb({ databaseUrl: database.url, poolSize: 20 });
    other = await openDb({ databaseUrl: database.url, poolSize: 20 });
    await migrate(db);
  });
  after(async () => {
    await other?.close();
    await db?.close();
    await database?.drop();
  });

  let merchants = 0;
  /** A merchant with its own budget; returns its address. */
  async function newMerchant(id: string, budgetWei: bigint): Promise<string> {
    const address = `0x${(++merchants).toString(16).padStart(40, "0")}`;
    await db.query(
      `insert into merchants (id, name, address, encrypted_key, status, gas_budget_wei) values ($1, $1, $2, 'k', 'active', $3)`,
      [id, address, budgetWei.toString()],
    );
    return address;
  }

  /** The shared buffers PostgreSQL touched running the statements `fn` sends, as EXPLAIN (ANALYZE, BUFFERS) counts them. */
  async function buffersOf(fn: (q: Queryable) => Promise<unknown>): Promise<number> {
    let hits = 0;
    await db.tx(async (tq) => {
      const q: Queryable = {
        async query<T>(sql: string, params?: unknown[]) {
          const plan = await tq.query<{ "QUERY PLAN": string }>(
            `explain (analyze, buffers, format text) ${sql}`,
            params,
          );
          const top = plan.rows.map((r) => r["QUERY PLAN"]).find((l) => /^\s*Buffers: shared/.test(l));
          hits += Number(/hit=(\d+)/.exec(top ?? "")?.[1] ?? 0) + Number(/read=(\d+)/.exec(top ?? "")?.[1] ?? 0);
          return tq.query<T>(sql, params);
        },
        exec: (sql) => tq.exec(sql),
      };
      await fn(q);
    });
    return hits;
  }

  it("a tenant with thousands of queued commands, each moved through the queue, costs each budget check what an empty queue costs", async () => {
    await newMerchant("mch_flood", 10n ** 24n);
    await newMerchant("mch_quiet", 10n ** 24n);
    const check = (m: string) => buffersOf((q) => assertGasBudgetOf(q, m, 10n ** 18n));
    await check("mch_quiet");
    const quiet = await check("mch_quiet");
    await db.query(
      `insert into commands (kind, merchant_id, payload) select 'create_sku', 'mch_flood', '{}' from generate_series(1, 4000)`,
    );
    // As the writer moves them: each status change leaves the previous row version behind until a vacuum.
    await db.query(`update commands set status = 'claimed' where merchant_id = 'mch_flood'`);
    await db.query(`update commands set status = 'submitted' where merchant_id = 'mch_flood'`);
    await db.query(`update commands set status = 'pending' where merchant_id = 'mch_flood'`);
    const flood = await check("mch_flood");
    expect(flood, `buffers: flooded queue ${flood}, empty queue ${quiet}`).to.be.at.most(quiet + 10);
  });

  it("acceptances racing each other from two relayer processes at the budget's edge queue exactly what the budget holds", async () => {
    // Room for exactly 7 commands at what a command reserves before the merchant's first one is metered.
    const room = 7;
    const address = await newMerchant("mch_edge", BigInt(room) * FIRST_COMMAND_RESERVE_WEI);
    const terms = { merchant: address, payee: address } as TermsJson;
    const accept = (pool: Db, i: number) =>
      insertOrderWithCommand(
        pool,
        {
          id: `ord_edge_${i}`,
          merchantId: "mch_edge",
          reference: `EDGE-${i}`,
          chainOrderId: `0x${i.toString(16).padStart(64, "0")}`,
          buyer: null,
          token: ADDRESS,
          amount: "1",
          items: [],
          paymentDeadline: 0,
          shipWithin: 0,
          protectionPeriod: 0,
          terms,
        },
        { payload: {}, apiKeyId: null },
        { action: "order.created", details: {} },
        gasBudgetTerms(10n ** 18n),
      );
    // Other commands of the merchant (a SKU, a shipment) checked and queued in a transaction of their own.
    const queueOther = (pool: Db) =>
      pool.tx(async (q) => {
        await assertGasBudgetOf(q, "mch_edge", 10n ** 18n);
        await enqueueCommand(q, { kind: "create_sku", merchantId: "mch_edge", payload: {} });
        return "queued";
      });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const pool = i % 2 === 0 ? db : other;
        return i % 5 === 4
          ? queueOther(pool).catch((e: { code?: string }) => e.code ?? String(e))
          : accept(pool, i).then((r) => r.outcome);
      }),
    );
    const admitted = results.filter((r) => r === "accepted" || r === "queued").length;
    expect(admitted, results.join(",")).to.equal(room);
    expect(results.filter((r) => r === "over_budget" || r === "gas_budget_exhausted").length).to.equal(60 - room);
    const open = await db.query<{ n: number; running: string }>(
      `select (select count(*)::int from commands where merchant_id = $1 and status = 'pending') as n,
              (select (q.opened - r.released)::text from merchant_gas_queue q join merchant_gas_released r using (merchant_id)
               where merchant_id = $1) as running`,
      ["mch_edge"],
    );
    expect(open.rows[0]).to.deep.equal({ n: room, running: String(room) });
  });
});
