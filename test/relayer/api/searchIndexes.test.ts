/**
 * The list filters on their new indexes (issue "Search and books at a million orders", item 1): the statement
 * that accepts an order writes its line items, the SKU, status and buyer filters return the same rows in the
 * same order, page by page, as the filters on the orders themselves, and the relay's admission checks count a
 * buyer whatever the letter case of its address.
 */
import { expect } from "chai";
import { Client } from "pg";
import { listFilterQuery, listOrdersPage, type ListFilters } from "../../../relayer/src/services/orderSearch";
import { searchStatement } from "../../../relayer/src/store/orderSearch";
import { DEFAULT_GAS_BUDGET_WEI, gasBudgetTerms } from "../../../relayer/src/services/gasBudget";
import { insertOrder, insertOrderWithCommand, type TermsJson } from "../../../relayer/src/store/orders";
import { relayForwardQueued, relayUsage } from "../../../relayer/src/store/relayPolicy";
import { startApiEnv, type ApiEnv, type Merchant } from "./support";

const STATUSES = ["pending", "created", "paid", "shipped", "completed"];
const SKUS = ["sku_a", "sku_b", "sku_c", "sku_d", "sku_rare"];
const BUYERS = [
  "0x1111111111111111111111111111111111111111",
  "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01",
  "0x2222222222222222222222222222222222222222",
];
/** Terms of the right form (the API documents each field's Solidity type and checks it when serialising). */
const ZERO_ADDRESS = `0x${"0".repeat(40)}`;
const ZERO_WORD = `0x${"0".repeat(64)}`;
const TERMS = {
  ...Object.fromEntries(["merchant", "payee", "buyer", "token"].map((k) => [k, ZERO_ADDRESS])),
  ...Object.fromEntries(
    ["amount", "maxFeeBps", "paymentDeadline", "shipWithin", "protectionPeriod", "refundWindow"].map((k) => [k, "0"]),
  ),
  itemsHash: ZERO_WORD,
  salt: ZERO_WORD,
} as TermsJson;

describe("relayer API: list filters on their indexes", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let m: Merchant;
  let pg: Client;

  before(async () => {
    env = await startApiEnv();
    pg = new Client({ connectionString: env.databaseUrl });
    await pg.connect();
    m = await env.newMerchant("Indexed shop");
    // 90 orders through the acceptance statement and 10 through insertOrder; the rare SKU in 3 of them, some
    // SKUs named twice in one order, buyers in several letter cases.
    for (let i = 0; i < 100; i++) {
      const sku = (k: number) => ({ sku: SKUS[(i * 7 + k) % 4], skuId: String(k + 1), quantity: String(1 + (i % 3)) });
      const items = [sku(0), ...(i % 4 === 0 ? [sku(0)] : []), ...(i % 3 === 0 ? [sku(1)] : [])];
      if (i % 33 === 5) items.push({ sku: "sku_rare", skuId: "9", quantity: "1" });
      const buyer = i % 5 === 4 ? null : BUYERS[i % 3][i % 2 ? "toLowerCase" : "toString"]();
      const o = {
        id: `ord_idx_${String(i).padStart(3, "0")}`,
        merchantId: m.id,
        reference: `IDX-${i}`,
        chainOrderId: `0x${(0xabc000 + i).toString(16).padStart(64, "0")}`,
        buyer,
        token: "0x0000000000000000000000000000000000000000",
        amount: String(1000 + i),
        items,
        paymentDeadline: 0,
        shipWithin: 0,
        protectionPeriod: 0,
        terms: TERMS,
      };
      if (i % 10 === 9) await insertOrder(env.relayer.db, o);
      else
        await insertOrderWithCommand(
          env.relayer.db,
          o,
          { payload: {}, apiKeyId: null },
          { action: "order.create", details: {} },
          gasBudgetTerms(DEFAULT_GAS_BUDGET_WEI),
        );
    }
    // Statuses as the indexer sets them; the command it would have run is not wanted here.
    await pg.query(
      `update orders set status = (array['pending','created','paid','shipped','completed'])[1 + (substr(id, 9)::int % 5)]
       where merchant_id = $1`,
      [m.id],
    );
    await pg.query(`delete from commands where order_id like 'ord_idx_%'`);
  });
  after(async () => {
    await pg?.end();
    await env?.stop();
  });

  it("writes each accepted order's line items in the same statement: one row per SKU, quantities added", async () => {
    const r = await pg.query<{ order_id: string; sku_id: string; quantity: string; same_time: boolean }>(
      `select i.order_id, i.sku_id, i.quantity::text, i.created_at = o.created_at and i.merchant_id = o.merchant_id as same_time
       from order_items i join orders o on o.id = i.order_id where o.merchant_id = $1 order by 1, 2`,
      [m.id],
    );
    const expected = await pg.query<{ order_id: string; sku_id: string; quantity: string }>(
      `select o.id as order_id, x->>'sku' as sku_id, sum((x->>'quantity')::numeric)::text as quantity
       from orders o cross join jsonb_array_elements(o.items) x where o.merchant_id = $1 group by 1, 2 order by 1, 2`,
      [m.id],
    );
    expect(r.rows.map(({ order_id, sku_id, quantity }) => ({ order_id, sku_id, quantity }))).to.deep.equal(
      expected.rows,
    );
    expect(r.rows.every((row) => row.same_time)).to.equal(true);
    expect(r.rows.filter((row) => row.order_id === "ord_idx_000")[0].quantity, "a SKU named twice").to.equal("2");
  });

  it("a reused reference inserts no line items either (the statement is atomic)", async () => {
    const before = (await pg.query(`select count(*)::int as n from order_items`)).rows[0].n;
    const dup = insertOrderWithCommand(
      env.relayer.db,
      {
        id: "ord_idx_dup",
        merchantId: m.id,
        reference: "IDX-1",
        chainOrderId: `0x${"f".repeat(64)}`,
        buyer: null,
        token: "0x0000000000000000000000000000000000000000",
        amount: "1",
        items: [{ sku: "sku_a", skuId: "1", quantity: "1" }],
        paymentDeadline: 0,
        shipWithin: 0,
        protectionPeriod: 0,
        terms: TERMS,
      },
      { payload: {}, apiKeyId: null },
      { action: "order.create", details: {} },
      gasBudgetTerms(DEFAULT_GAS_BUDGET_WEI),
    );
    const err = await dup.then(
      () => null,
      (e: { constraint?: string }) => e,
    );
    expect(err?.constraint).to.equal("orders_merchant_id_reference_key");
    expect((await pg.query(`select count(*)::int as n from order_items`)).rows[0].n).to.equal(before);
  });

  /** The reference: the filter on the orders' own columns, newest first. */
  async function referenceIds(where: string, param: unknown): Promise<string[]> {
    const r = await pg.query<{ id: string }>(
      `select id from orders o where merchant_id = $1 and ${where} order by created_at desc, id desc`,
      [m.id, param],
    );
    return r.rows.map((row) => row.id);
  }

  /** Every page of the list service (services/orderSearch.ts, what `GET /v1/orders` calls) with `filter`. */
  async function servicePages(filter: { status?: string[]; buyer?: string; sku?: string }, limit: number) {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 200; n++) {
      const page = await listOrdersPage(env.relayer.db, m.id, { ...filter, cursor, limit });
      ids.push(...page.data.map((o) => o.id));
      if (!page.nextCursor) return ids;
      cursor = page.nextCursor;
    }
    throw new Error("the walk did not end");
  }

  /** Every page of `GET /v1/orders` with `query`, `limit` at a time. */
  async function apiPages(query: string, limit: number) {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 200; n++) {
      const r = await env.call(
        "GET",
        `/v1/orders?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        m.key,
      );
      expect(r.status, r.text.slice(0, 300)).to.equal(200);
      ids.push(...r.body.data.map((o: { id: string }) => o.id));
      cursor = r.body.nextCursor;
      if (!cursor) return ids;
    }
    throw new Error("the walk did not end");
  }

  for (const sku of SKUS)
    it(`SKU ${sku}: the same orders in the same order, page by page, as the items themselves say`, async () => {
      const expected = await referenceIds("items @> $2::jsonb", JSON.stringify([{ sku }]));
      expect(expected.length, "seeded").to.be.greaterThan(sku === "sku_rare" ? 2 : 10);
      expect(await servicePages({ sku }, 7)).to.deep.equal(expected);
      expect(await apiPages(`sku=${sku}`, 7)).to.deep.equal(expected);
    });

  for (const status of STATUSES)
    it(`status ${status}: the same orders in the same order, page by page`, async () => {
      const expected = await referenceIds("status = $2", status);
      expect(expected.length).to.be.greaterThan(0);
      expect(await servicePages({ status: [status] }, 6)).to.deep.equal(expected);
      expect(await apiPages(`status=${status}`, 6)).to.deep.equal(expected);
    });

  for (const buyer of BUYERS)
    it(`buyer ${buyer} in any letter case: the same orders in the same order, page by page`, async () => {
      const expected = await referenceIds("lower(buyer) = lower($2)", buyer);
      expect(expected.length).to.be.greaterThan(0);
      expect(await servicePages({ buyer: buyer.toUpperCase().replace("0X", "0x") }, 5)).to.deep.equal(expected);
      expect(await apiPages(`buyer=${buyer.toLowerCase()}`, 5)).to.deep.equal(expected);
    });

  it("SKU, status and buyer together: the intersection, in order", async () => {
    const r = await pg.query<{ id: string }>(
      `select id from orders where merchant_id = $1 and items @> '[{"sku":"sku_a"}]' and status = 'paid'
         and lower(buyer) = lower($2) order by created_at desc, id desc`,
      [m.id, BUYERS[1]],
    );
    const expected = r.rows.map((row) => row.id);
    expect(await servicePages({ sku: "sku_a", status: ["paid"], buyer: BUYERS[1] }, 2)).to.deep.equal(expected);
  });

  it("a buyer flooding gasless requests in mixed letter case and by both methods is counted as one buyer, and its replayed nonce is seen", async () => {
    const buyer = "0x3333333333333333333333333333333333333AbC";
    const order = "ord_idx_001";
    for (const [i, b] of [buyer, buyer.toLowerCase(), buyer.toUpperCase().replace("0X", "0x")].entries())
      await pg.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('relay_forward', $1, $2, $3::jsonb)`,
        [m.id, order, JSON.stringify({ buyer: b, request: { nonce: String(i) } })],
      );
    // An ERC-3009 payment counts towards the same limits.
    await pg.query(
      `insert into commands (kind, merchant_id, order_id, payload) values ('relay_authorization', $1, $2, $3::jsonb)`,
      [m.id, order, JSON.stringify({ buyer: buyer.toLowerCase(), nonce: "0x01" })],
    );
    const usage = await relayUsage(env.relayer.db, m.id, buyer.toLowerCase());
    expect(Number(usage.buyer_n)).to.equal(4);
    expect(Number(usage.merchant_n)).to.be.at.least(4);
    expect(await relayForwardQueued(env.relayer.db, buyer.toLowerCase(), "1")).to.equal(true);
    expect(await relayForwardQueued(env.relayer.db, buyer, "2")).to.equal(true);
    expect(await relayForwardQueued(env.relayer.db, buyer, "3")).to.equal(false);
    await pg.query(`delete from commands where kind in ('relay_forward', 'relay_authorization') and order_id = $1`, [
      order,
    ]);
  });

  describe("at scale: a page reads a page of rows, not every match", () => {
    const N = 4000;
    const LIMIT = 50;
    let big: Merchant;

    before(async () => {
      big = await env.newMerchant("Busy shop");
      // 4,000 orders a minute apart: one in ten sold at the till (metadata channel pos), one with a rare
      // email; a tenth disputed or resolved; each with an OrderCreated event of its own transaction.
      await pg.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within,
                             protection_period, status, metadata, created_at, updated_at)
         select 'ord_scale_' || g, $1, 'SCALE-' || g, '0x' || lpad(to_hex(${0xbeef0000} + g), 64, '0'),
                '0x0000000000000000000000000000000000000000', 1000 + g, 0, 0, 0,
                case g % 20 when 0 then 'disputed' when 1 then 'resolved' else 'completed' end,
                case when g = 77 then '{"channel": "pos", "email": "rare@shop.example"}'::jsonb
                     when g % 10 = 3 then '{"channel": "pos"}'::jsonb else '{}'::jsonb end,
                now() - g * interval '1 minute', now() - g * interval '1 minute'
         from generate_series(1, ${N}) g`,
        [big.id],
      );
      await pg.query(
        `insert into chain_events (block_number, block_hash, tx_hash, log_index, contract, name, order_id, args, block_time)
         select 50000000 + g, 'scale' || g, '0x' || md5('scale' || g) || md5('tx' || g), 0, 'PaymentEscrow',
                'OrderCreated', '0x' || lpad(to_hex(${0xbeef0000} + g), 64, '0'), '{}'::jsonb, 0
         from generate_series(1, ${N}) g`,
      );
      await pg.query(`analyze orders`);
      await pg.query(`analyze order_metadata`);
      await pg.query(`analyze chain_events`);
    });

    /**
     * The rows the statement of `GET /v1/orders` with `filters` (its first page) reads from tables: every scan's
     * rows, those its filter removed included, times its loops. EXPLAIN ANALYZE of the statement itself.
     */
    async function rowsRead(filters: ListFilters & Record<string, unknown>) {
      const { text, values } = await searchStatement(env.relayer.db, {
        merchantId: big.id,
        query: listFilterQuery(filters),
        sort: "created_at",
        direction: "desc",
        limit: LIMIT + 1,
      });
      const r = await pg.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(
        `explain (analyze, format json) ${text}`,
        values,
      );
      let read = 0;
      const walk = (n: PlanNode) => {
        if (n["Relation Name"])
          read +=
            (n["Actual Rows"] + (n["Rows Removed by Filter"] ?? 0) + (n["Rows Removed by Index Recheck"] ?? 0)) *
            n["Actual Loops"];
        for (const c of n.Plans ?? []) walk(c);
      };
      walk(r.rows[0]["QUERY PLAN"][0].Plan);
      const rows = (await pg.query<{ id: string }>(text, values)).rows.map((x) => x.id);
      return { read, rows };
    }
    interface PlanNode {
      "Relation Name"?: string;
      "Actual Rows": number;
      "Actual Loops": number;
      "Rows Removed by Filter"?: number;
      "Rows Removed by Index Recheck"?: number;
      Plans?: PlanNode[];
    }

    /** The first page by the orders' own columns, newest first. */
    async function expected(where: string, ...params: unknown[]) {
      const r = await pg.query<{ id: string }>(
        `select id from orders o where merchant_id = $1 and ${where} order by created_at desc, id desc limit ${LIMIT + 1}`,
        [big.id, ...params],
      );
      return r.rows.map((x) => x.id);
    }

    it("a sales channel on one order in ten: the metadata filter reads about a page of rows, not its 400 matches or more", async () => {
      const { read, rows } = await rowsRead({ "metadata[channel]": "pos" });
      expect(rows).to.deep.equal(await expected(`metadata @> '{"channel": "pos"}'`));
      expect(read, "rows read").to.be.at.most(3 * (LIMIT + 1));
    });

    it("a reference prefix of the oldest orders (SCALE-39*): its 111 matches are read and sorted, not 3,900 newer orders walked", async () => {
      // At 4,000 orders a scan of the whole table is as cheap as any index for the planner; at a million it is
      // not (npm run bench:search -- --explain): the plan is compared with table scans ruled out.
      await pg.query(`set enable_seqscan = off`);
      const { read, rows } = await rowsRead({ reference: "SCALE-39*" }).finally(() => pg.query(`reset enable_seqscan`));
      expect(rows).to.deep.equal(await expected(`reference like 'SCALE-39%'`));
      expect(rows.length).to.equal(LIMIT + 1);
      expect(read, "rows read").to.be.at.most(300);
    });

    it("a reference prefix with a status and a cursor pages exactly as the orders' own columns say", async () => {
      const all = await pg.query<{ id: string }>(
        `select id from orders where merchant_id = $1 and reference like 'SCALE-1%' and status <> 'completed'
         order by created_at desc, id desc`,
        [big.id],
      );
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 100; n++) {
        const page = await listOrdersPage(env.relayer.db, big.id, {
          reference: "SCALE-1*",
          status: ["disputed", "resolved"],
          cursor,
          limit: 7,
        });
        ids.push(...page.data.map((o) => o.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(ids).to.deep.equal(all.rows.map((r) => r.id));
    });

    it("a rare metadata value combined with a status still finds its one order", async () => {
      const { rows } = await rowsRead({ "metadata[email]": "rare@shop.example", status: ["resolved", "completed"] });
      expect(rows).to.deep.equal(["ord_scale_77"]);
    });

    it("two rare statuses at once (a tenth of the orders): one page per status is read, not a walk of every order", async () => {
      const { read, rows } = await rowsRead({ status: ["disputed", "resolved"] });
      expect(rows).to.deep.equal(await expected(`status in ('disputed', 'resolved')`));
      expect(read, "rows read").to.be.at.most(2 * (LIMIT + 1));
    });

    it("the same status named twice in the query language returns each order once", async () => {
      const page = await env.call(
        "GET",
        `/v1/orders/search?query=${encodeURIComponent("status:'disputed' OR status:'disputed'")}&limit=${LIMIT}`,
        big.key,
      );
      expect(page.status, page.text.slice(0, 300)).to.equal(200);
      const ids = page.body.data.map((o: { id: string }) => o.id);
      expect(ids).to.deep.equal((await expected(`status = 'disputed'`)).slice(0, LIMIT));
    });

    it("a transaction hash: its order is found by index, not by testing each of the merchant's 4,000 orders", async () => {
      const hash = (await pg.query<{ h: string }>(`select '0x' || md5('scale1234') || md5('tx1234') as h`)).rows[0].h;
      const { read, rows } = await rowsRead({ tx: hash });
      expect(rows).to.deep.equal(["ord_scale_1234"]);
      expect(read, "rows read").to.be.at.most(10);
    });

    it("a transaction hash negated in the query language leaves out exactly its order", async () => {
      const hash = (await pg.query<{ h: string }>(`select '0x' || md5('scale1') || md5('tx1') as h`)).rows[0].h;
      const r = await env.call(
        "GET",
        `/v1/orders/search?query=${encodeURIComponent(`-tx:'${hash}' AND status:'completed'`)}&limit=5`,
        big.key,
      );
      expect(r.status, r.text.slice(0, 300)).to.equal(200);
      expect(r.body.data.map((o: { id: string }) => o.id)).to.deep.equal(
        (await expected(`status = 'completed' and id <> 'ord_scale_1'`)).slice(0, 5),
      );
    });

    it("keeps the metadata rows equal to every order's metadata through creation, PATCH (set, change, delete) and SQL", async () => {
      const id = "ord_scale_8";
      const patch = async (metadata: Record<string, string>) => {
        const r = await env.call("PATCH", `/v1/orders/${id}`, big.key, { metadata });
        expect(r.status, r.text.slice(0, 300)).to.equal(200);
      };
      await patch({ channel: "web", email: "eight@shop.example" });
      await patch({ email: "" });
      await pg.query(`update orders set metadata = metadata || '{"note": "by hand"}'::jsonb where id = 'ord_scale_9'`);
      await pg.query(`update orders set status = 'paid' where id = 'ord_scale_10'`);
      const diff = await pg.query(
        `(select o.id, m.key, m.value, o.merchant_id, o.created_at from orders o cross join jsonb_each_text(o.metadata) m
          except select order_id, key, value, merchant_id, created_at from order_metadata)
         union all
         (select order_id, key, value, merchant_id, created_at from order_metadata
          except select o.id, m.key, m.value, o.merchant_id, o.created_at from orders o cross join jsonb_each_text(o.metadata) m)`,
      );
      expect(diff.rows).to.deep.equal([]);
      const rows = await pg.query(`select key, value from order_metadata where order_id = $1 order by key`, [id]);
      expect(rows.rows).to.deep.equal([{ key: "channel", value: "web" }]);
      expect((await rowsRead({ "metadata[channel]": "web" })).rows).to.deep.equal([id]);
    });
  });
});
