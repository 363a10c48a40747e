import { expect } from "chai";
import { Wallet } from "ethers";
import { errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

describe("relayer API: listing and searching orders", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let sku: { id: string };
  const buyer = Wallet.createRandom().address;
  /** Ids in creation order. */
  const early: string[] = [];
  const late: string[] = [];
  let between: string;

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Lister");
    sku = await env.newSku(m.key, "L-SKU", 50);
    for (let i = 0; i < 10; i++) {
      const r = await env.call("POST", "/v1/orders", m.key, {
        reference: `L-early-${i}`,
        amount: String(1000 + i),
        token: "native",
        ...(i % 2 === 0 ? { buyer } : {}),
        ...(i % 3 === 0 ? { items: [{ sku: sku.id, quantity: 1 }] } : {}),
      });
      expect(r.status).to.equal(202);
      early.push(r.body.id);
    }
    await sleep(30);
    between = new Date().toISOString();
    await sleep(30);
    for (let i = 0; i < 15; i++) {
      const r = await env.call("POST", "/v1/orders", m.key, {
        reference: `L-late-${i}`,
        amount: String(2000 + i),
        token: "native",
      });
      late.push(r.body.id);
    }
    await waitFor("all 25 orders created on chain", async () => {
      const r = await env.call("GET", "/v1/orders?status=created&limit=200", m.key);
      return r.body.data.length === 25;
    });
  });
  after(async () => env?.stop());

  async function walk(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await env.call(
        "GET",
        `/v1/orders?limit=${limit}${query ? `&${query}` : ""}${cursor ? `&cursor=${cursor}` : ""}`,
        m.key,
      );
      expect(r.status, r.text).to.equal(200);
      expect(r.body.data.length).to.be.at.most(limit);
      ids.push(...r.body.data.map((o: { id: string }) => o.id));
      cursor = r.body.nextCursor;
      pages += 1;
    } while (cursor);
    return { ids, pages };
  }

  it("walks 25 orders 10 at a time: every id exactly once, newest first, three pages", async () => {
    const { ids, pages } = await walk("", 10);
    expect(pages).to.equal(3);
    expect(ids).to.deep.equal([...early, ...late].reverse());
  });

  it("walks every page size to the same sequence", async () => {
    const expected = [...early, ...late].reverse();
    for (const limit of [1, 7, 25, 200]) {
      const { ids, pages } = await walk("", limit);
      expect(ids, `limit ${limit}`).to.deep.equal(expected);
      expect(pages).to.equal(Math.max(1, Math.ceil(25 / limit)));
    }
  });

  it("filters by buyer (any letter case), by SKU and by creation time", async () => {
    const byBuyer = await walk(`buyer=${buyer.toLowerCase()}`, 3);
    expect(byBuyer.ids).to.deep.equal(early.filter((_, i) => i % 2 === 0).reverse());
    const bySku = await walk(`sku=${sku.id}`, 2);
    expect(bySku.ids).to.deep.equal(early.filter((_, i) => i % 3 === 0).reverse());
    const from = await walk(`from=${encodeURIComponent(between)}`, 4);
    expect(from.ids).to.deep.equal([...late].reverse());
    const to = await walk(`to=${encodeURIComponent(between)}`, 4);
    expect(to.ids).to.deep.equal([...early].reverse());
    const none = await env.call("GET", `/v1/orders?sku=sku_nobody&buyer=${buyer}`, m.key);
    expect(none.body).to.deep.equal({ data: [], nextCursor: null });
  });

  it("filters by status, combined with the other filters", async () => {
    const cancelled = [late[0], late[5], early[2]];
    for (const id of cancelled) expect((await env.call("POST", `/v1/orders/${id}/cancel`, m.key)).status).to.equal(202);
    await waitFor("three orders cancelled", async () => {
      const r = await env.call("GET", "/v1/orders?status=cancelled", m.key);
      return r.body.data.length === 3;
    });
    const c = await walk("status=cancelled", 2);
    expect(c.ids).to.deep.equal([late[5], late[0], early[2]]);
    const created = await walk("status=created", 10);
    expect(created.ids).to.have.length(22);
    expect(created.ids).to.not.include.members(cancelled);
    const combo = await walk(`status=cancelled&buyer=${buyer}&to=${encodeURIComponent(between)}`, 10);
    expect(combo.ids).to.deep.equal([early[2]]);
  });

  it("pages exactly through orders accepted concurrently within the same millisecond", async () => {
    const other = await env.newMerchant("Burst");
    const rs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        env.call("POST", "/v1/orders", other.key, { reference: `B-${i}`, amount: "1", token: "native" }),
      ),
    );
    expect(rs.every((r) => r.status === 202)).to.equal(true);
    const expected = rs.map((r) => r.body.id).sort();
    for (const limit of [1, 3, 7]) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { status: number; body: { data: { id: string }[]; nextCursor: string | null } } = await env.call(
          "GET",
          `/v1/orders?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
          other.key,
        );
        ids.push(...r.body.data.map((o) => o.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect([...ids].sort(), `limit ${limit}`).to.deep.equal(expected);
    }
  });

  it("refuses a cursor that is not one the API issued (400)", async () => {
    const r = await env.call("GET", "/v1/orders?cursor=bm90LWEtY3Vyc29y", m.key);
    expect(r.status).to.equal(400);
    expect(errorOf(r).details).to.deep.equal({ field: "cursor" });
  });
});
