import { expect } from "chai";
import { Client } from "pg";
import { id as keccakText } from "ethers";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { toTerms } from "../../../sdk/orderRecord";
import type { Queryable } from "../../../relayer/src/store/db";
import { listMerchants } from "../../../relayer/src/store/merchants";
import { listPage } from "../../../relayer/src/services/listPage";
import { ARBITER_KEY } from "../harness";
import { ADMIN_KEY, errorOf, startApiEnv, waitFor, type ApiEnv, type ApiResponse, type Merchant } from "./support";

/**
 * The lists that grow with a tenant's history page as the order list does: `cursor` and `limit` in, `data` and
 * `nextCursor` out (null on the last page), and a cursor the API did not issue is a 400 validation_failed naming
 * the cursor. Revoked keys and disabled endpoints stay out unless asked for.
 */
describe("relayer API: paging merchants, API keys, webhook endpoints and open disputes", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let m: Merchant;
  let buyerIndex = 10;

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Pager");
  });
  after(async () => env?.stop());

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const withQuery = (url: string, query: string) => `${url}${url.includes("?") ? "&" : "?"}${query}`;

  /** Every page of `url` with `limit`, following nextCursor: the ids in the order listed, and the pages' sizes. */
  async function walk(url: string, key: string, limit: number) {
    const ids: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const q: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const r: ApiResponse = await env.call("GET", withQuery(url, q), key);
      expect(r.status, r.text).to.equal(200);
      ids.push(...r.body.data.map((x: { id: string }) => x.id));
      sizes.push(r.body.data.length);
      cursor = r.body.nextCursor;
      if (cursor === null) return { ids, sizes };
    }
    throw new Error(`${url} did not end within 100 pages`);
  }

  it("pages the merchants in creation order, each once, the last page saying nextCursor null", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: `Paged ${i}` });
      expect(r.status, r.text).to.equal(201);
    }
    const all = await env.relayer.db.query<{ id: string }>(`select id from merchants order by created_at, id`);
    expect(all.rows.length).to.be.at.least(5);
    const { ids, sizes } = await walk("/v1/admin/merchants", ADMIN_KEY, 2);
    expect(ids).to.deep.equal(all.rows.map((r) => r.id));
    expect(sizes.slice(0, -1).every((n) => n === 2)).to.equal(true);
    const first = await env.call("GET", "/v1/admin/merchants", ADMIN_KEY);
    expect(first.body.data.map((x: { id: string }) => x.id)).to.deep.equal(ids.slice(0, 50));
    expect(first.body.nextCursor).to.equal(null);
  });

  /** A connection of the test's own, as the store reads through it. */
  const asQueryable = (c: Client): Queryable => ({
    query: async <T>(sql: string, params?: unknown[]) => {
      const r = await c.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    exec: async (sql: string) => void (await c.query(sql)),
  });

  it("issues the same cursors whatever the database session's DateStyle and TimeZone (a server set to 'SQL, DMY' in another zone)", async () => {
    const ours = new Client({ connectionString: env.databaseUrl });
    await ours.connect();
    try {
      await ours.query(`set datestyle = 'SQL, DMY'; set timezone = 'Asia/Kolkata'`);
      for (let i = 0; i < 3; i++) {
        const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: `Zoned ${i}` });
        expect(r.status, r.text).to.equal(201);
      }
      const all = await env.relayer.db.query<{ id: string }>(`select id from merchants order by created_at, id`);
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await listPage(
          { cursor, limit: 2 },
          (after, limit) => listMerchants(asQueryable(ours), { after, limit }),
          (row) => row.id,
        );
        ids.push(...r.data);
        if (r.nextCursor === null) break;
        cursor = r.nextCursor;
        // The cursor's time is in one form: the API's own session reads it back to the same page.
        const viaApi = await env.call("GET", `/v1/admin/merchants?limit=2&cursor=${cursor}`, ADMIN_KEY);
        expect(viaApi.status, viaApi.text).to.equal(200);
      }
      expect(ids).to.deep.equal(all.rows.map((r) => r.id));
    } finally {
      await ours.end();
    }
  });

  it("leaves revoked keys out of GET /v1/keys unless include_revoked=true, and pages both", async () => {
    const issued: string[] = [];
    for (let i = 0; i < 3; i++) {
      const k = await env.call("POST", "/v1/keys", m.key, { name: `staff ${i}` });
      expect(k.status, k.text).to.equal(201);
      issued.push(k.body.id);
    }
    const revoked = await env.call("POST", `/v1/keys/${issued[1]}/revoke`, m.key);
    expect(revoked.status, revoked.text).to.equal(200);

    const usable = await walk("/v1/keys", m.key, 1);
    expect(usable.ids).to.deep.equal([m.keyId, issued[0], issued[2]]);
    const everyKey = await walk("/v1/keys?include_revoked=true", m.key, 2);
    expect(everyKey.ids).to.deep.equal([m.keyId, ...issued]);
    const listed = await env.call("GET", "/v1/keys?include_revoked=true", m.key);
    const row = listed.body.data.find((k: { id: string }) => k.id === issued[1]);
    expect(row.revokedAt).to.be.a("string");
    const plain = await env.call("GET", "/v1/keys?include_revoked=false", m.key);
    expect(plain.body.data.map((k: { id: string }) => k.id)).to.not.include(issued[1]);
  });

  it("leaves disabled endpoints out of GET /v1/webhooks unless include_disabled=true, and pages both", async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await env.call("POST", "/v1/webhooks", m.key, { url: `http://127.0.0.1:9/hook-${i}` });
      expect(e.status, e.text).to.equal(201);
      created.push(e.body.id);
    }
    const disabled = await env.call("POST", `/v1/webhooks/${created[0]}/disable`, m.key);
    expect(disabled.status, disabled.text).to.equal(200);

    expect((await walk("/v1/webhooks", m.key, 1)).ids).to.deep.equal(created.slice(1));
    const every = await walk("/v1/webhooks?include_disabled=true", m.key, 2);
    expect(every.ids).to.deep.equal(created);
    expect(every.sizes).to.deep.equal([2, 1]);
  });

  it("pages the open disputes oldest change first; one that changes while paged comes again later, never skipped", async () => {
    const disputed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const buyer = await env.fundedBuyer(buyerIndex++);
      const r = await env.call("POST", "/v1/orders", m.key, {
        reference: `PD-${i}`,
        amount: "5000000",
        token: env.deployed.stablecoin,
        buyer: buyer.address,
      });
      expect(r.status, r.text).to.equal(202);
      await env.pay(buyer, await env.waitOrder(m.key, r.body.id, "created"));
      const paid = await env.waitOrder(m.key, r.body.id, "paid");
      const escrow = PaymentEscrow__factory.connect(env.deployed.escrow, buyer);
      await (await escrow.dispute(toTerms(paid.terms), keccakText("parcel arrived empty"))).wait();
      await env.waitOrder(m.key, r.body.id, "disputed");
      disputed.push(r.body.id);
    }
    const whole = await walk("/v1/arbiter/disputes", ARBITER_KEY, 2);
    expect([...whole.ids].sort()).to.deep.equal([...disputed].sort());
    expect(whole.sizes).to.deep.equal([2, 1]);

    // The first page is read; then the first dispute on it changes (the merchant proposes a split).
    const page1 = await env.call("GET", "/v1/arbiter/disputes?limit=2", ARBITER_KEY);
    const [a, b] = page1.body.data.map((d: { id: string }) => d.id);
    const proposed = await env.call("POST", `/v1/orders/${a}/settlement/propose`, m.key, { buyerTotal: "2500000" });
    expect(proposed.status, proposed.text).to.equal(202);
    await waitFor("the proposal on the order", async () => {
      const o = await env.call("GET", `/v1/orders/${a}`, m.key);
      return o.body.settlementProposal?.buyerTotal === "2500000";
    });
    const rest = await walk(`/v1/arbiter/disputes?cursor=${encodeURIComponent(page1.body.nextCursor)}`, ARBITER_KEY, 2);
    const c = disputed.find((id) => id !== a && id !== b)!;
    expect(rest.ids).to.deep.equal([c, a]);
  });

  it("refuses a cursor it did not issue (garbage, another shape, an impossible time) on every list with 400 validation_failed", async () => {
    const lists: [string, string][] = [
      ["/v1/admin/merchants", ADMIN_KEY],
      ["/v1/keys", m.key],
      ["/v1/webhooks", m.key],
      ["/v1/arbiter/disputes", ARBITER_KEY],
    ];
    const forged = [
      "not-a-cursor!",
      b64(["created_at", "desc", "2026-01-01 00:00:00+00", "ord_1"]),
      b64({ at: "2026-01-01 00:00:00+00", id: "mch_1" }),
      b64(["yesterday", "mch_1"]),
      b64(["2026-02-31 00:00:00+00", "mch_1"]),
      b64(["2026-01-01 00:00:00+00", ""]),
    ];
    for (const [url, key] of lists) {
      for (const cursor of forged) {
        const r = await env.call("GET", `${url}?cursor=${encodeURIComponent(cursor)}`, key);
        expect(r.status, `${url} ${cursor}: ${r.text}`).to.equal(400);
        expect(errorOf(r).code).to.equal("validation_failed");
        expect(errorOf(r).details.field, `${url} ${cursor}`).to.equal("cursor");
      }
      for (const limit of ["0", "201", "x"]) {
        const r = await env.call("GET", `${url}?limit=${limit}`, key);
        expect(r.status, `${url} limit=${limit}`).to.equal(400);
        expect(errorOf(r).code).to.equal("validation_failed");
      }
    }
  });
});
