/**
 * Order search: the list filters of GET /v1/orders and the query language of GET /v1/orders/search return
 * exactly the expected orders, in order, across cursor pages; another merchant never sees them; metadata
 * limits and PATCH semantics; every refusal with its stable code. Real node, real PostgreSQL.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

interface View {
  id: string;
  reference: string;
  status: string;
  buyer: string | null;
  token: string;
  amount: string;
  items: { sku: string }[];
  chainProof: { txHash: string } | null;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

describe("relayer API: order search, filters and metadata", function () {
  // About 40 s on an idle 2-core machine; the margin is for a machine running other suites at once.
  this.timeout(180_000);
  let env: ApiEnv;
  let a: Merchant;
  let b: Merchant;
  let sku: { id: string };
  const buyer = Wallet.createRandom().address;
  /** Merchant A's orders, newest first (the default order). */
  let all: View[] = [];
  const bIds = new Set<string>();
  const cancelled: string[] = [];

  /** Every order of `url` (a list or search URL without cursor) walked `limit` at a time. */
  async function walk(url: string, limit: number, key = a.key): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = url.includes("?") ? "&" : "?";
      const r = await env.call("GET", `${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, key);
      expect(r.status, r.text).to.equal(200);
      expect(r.body.data.length).to.be.at.most(limit);
      ids.push(...r.body.data.map((o: View) => o.id));
      cursor = r.body.nextCursor;
      pages += 1;
      expect(pages).to.be.below(100);
    } while (cursor);
    return ids;
  }

  const ids = (views: View[]) => views.map((o) => o.id);
  const where = (p: (o: View) => boolean) => ids(all.filter(p));
  const search = (query: string, extra = "") => `/v1/orders/search?query=${encodeURIComponent(query)}${extra}`;
  const byAmountAsc = (x: View, y: View) =>
    BigInt(x.amount) === BigInt(y.amount) ? (x.id < y.id ? -1 : 1) : BigInt(x.amount) < BigInt(y.amount) ? -1 : 1;

  async function refresh(): Promise<void> {
    const r = await env.call("GET", "/v1/orders?limit=200", a.key);
    all = r.body.data;
  }

  before(async () => {
    env = await startApiEnv();
    [a, b] = await Promise.all([env.newMerchant("Searcher A"), env.newMerchant("Searcher B")]);
    sku = await env.newSku(a.key, "SEARCH-SKU", 50);
    for (let i = 0; i < 12; i++) {
      const r = await env.call("POST", "/v1/orders", a.key, {
        reference: i < 8 ? `INV-2024-${i}` : `REF_${i}`,
        // Two orders share an amount: ties are ordered by id across pages.
        amount: String(i === 5 ? 300 : 100 * (i + 1)),
        token: i % 3 === 2 ? env.deployed.stablecoin : "native",
        ...(i % 2 === 0 ? { buyer } : {}),
        ...(i % 4 === 0 ? { items: [{ sku: sku.id, quantity: 1 }] } : {}),
        metadata: { email: i % 3 === 0 ? "a@b.c" : "z@y.x", idx: String(i), empty: "" },
      });
      expect(r.status, r.text).to.equal(202);
    }
    await waitFor("A's 12 orders created on chain", async () => {
      const r = await env.call("GET", "/v1/orders?status=created&limit=200", a.key);
      return r.body.data.length === 12;
    });
    // Merchant B: the same references and metadata, created afterwards (in other chain transactions).
    for (let i = 0; i < 4; i++) {
      const r = await env.call("POST", "/v1/orders", b.key, {
        reference: `INV-2024-${i}`,
        amount: String(100 * (i + 1)),
        token: "native",
        buyer,
        metadata: { email: "a@b.c", idx: String(i) },
      });
      expect(r.status, r.text).to.equal(202);
      bIds.add(r.body.id);
    }
    await waitFor("B's orders created on chain", async () => {
      const r = await env.call("GET", "/v1/orders?status=created", b.key);
      return r.body.data.length === 4;
    });
    await refresh();
    cancelled.push(all[1].id, all[6].id);
    for (const id of cancelled) expect((await env.call("POST", `/v1/orders/${id}/cancel`, a.key)).status).to.equal(202);
    await waitFor("two orders cancelled", async () => {
      const r = await env.call("GET", "/v1/orders?status=cancelled", a.key);
      return r.body.data.length === 2;
    });
    await refresh();
    expect(all).to.have.length(12);
  });
  after(async () => env?.stop());

  it("stores metadata at creation without its empty values, and shows it in the order view", async () => {
    const first = all.find((o) => o.reference === "INV-2024-0")!;
    expect(first.metadata).to.deep.equal({ email: "a@b.c", idx: "0" });
  });

  it("filters the list by each filter, exactly and in order across pages", async () => {
    const txHash = all[3].chainProof!.txHash;
    const cases: [string, string[]][] = [
      ["", ids(all)],
      ["reference=INV-2024-3", where((o) => o.reference === "INV-2024-3")],
      ["reference=INV-2024-*", where((o) => o.reference.startsWith("INV-2024-"))],
      ["reference=REF_1*", where((o) => o.reference.startsWith("REF_1"))],
      ["status=cancelled", where((o) => o.status === "cancelled")],
      ["status=created,cancelled", where((o) => ["created", "cancelled"].includes(o.status))],
      ["status=cancelled&status=paid", where((o) => o.status === "cancelled")],
      [`buyer=${buyer.toLowerCase()}`, where((o) => o.buyer === buyer)],
      [`token=${env.deployed.stablecoin.toLowerCase()}`, where((o) => o.token === env.deployed.stablecoin)],
      ["token=native", where((o) => o.token === "native")],
      [`sku=${sku.id}`, where((o) => o.items.some((i) => i.sku === sku.id))],
      ["amount_gte=300&amount_lte=700", where((o) => BigInt(o.amount) >= 300n && BigInt(o.amount) <= 700n)],
      [`tx=${txHash}`, where((o) => o.chainProof?.txHash === txHash)],
      [`tx=${txHash.toUpperCase().replace("0X", "0x")}`, where((o) => o.chainProof?.txHash === txHash)],
      ["metadata[email]=a@b.c", where((o) => o.metadata.email === "a@b.c")],
      ["metadata[email]=a@b.c&metadata[idx]=3", where((o) => o.metadata.idx === "3")],
      [`from=${encodeURIComponent(all[4].createdAt)}`, where((o) => o.createdAt >= all[4].createdAt)],
      [
        `status=created&metadata[email]=z@y.x&amount_gte=200&buyer=${buyer}`,
        where(
          (o) =>
            o.status === "created" && o.metadata.email === "z@y.x" && BigInt(o.amount) >= 200n && o.buyer === buyer,
        ),
      ],
    ];
    for (const [query, expected] of cases) {
      expect(expected.length, `${query} matches something`).to.be.greaterThan(0);
      for (const limit of [2, 5]) {
        expect(await walk(`/v1/orders?${query}`, limit), `${query} limit ${limit}`).to.deep.equal(expected);
      }
    }
    expect(await walk("/v1/orders?metadata[email]=nobody", 5)).to.deep.equal([]);
  });

  it("sorts by amount and by updated_at, both directions, with a cursor that follows the sort (ties by id)", async () => {
    const asc = [...all].sort(byAmountAsc);
    for (const limit of [1, 4]) {
      expect(await walk("/v1/orders?sort=amount&direction=asc", limit)).to.deep.equal(ids(asc));
      expect(await walk("/v1/orders?sort=amount", limit)).to.deep.equal(ids([...asc].reverse()));
      expect(await walk("/v1/orders?sort=created_at&direction=asc", limit)).to.deep.equal(ids([...all].reverse()));
    }
    const updatedAsc = await walk("/v1/orders?sort=updated_at&direction=asc", 3);
    const updatedDesc = await walk("/v1/orders?sort=updated_at", 3);
    expect(updatedDesc).to.deep.equal([...updatedAsc].reverse());
    expect(new Set(updatedAsc).size).to.equal(12);
    const at = new Map(all.map((o) => [o.id, o.updatedAt]));
    for (let i = 1; i < updatedAsc.length; i++)
      expect(at.get(updatedAsc[i])! >= at.get(updatedAsc[i - 1])!).to.equal(true);
    // The cancelled orders changed last.
    expect(updatedAsc.slice(-2)).to.have.members(cancelled);
  });

  it("answers the query language with the same orders as the filters, paged, with negation, OR and comparisons", async () => {
    const txHash = all[3].chainProof!.txHash;
    const cases: [string, string[]][] = [
      ["status:'cancelled'", where((o) => o.status === "cancelled")],
      ["status:created OR status:cancelled", ids(all)],
      ["-status:'cancelled'", where((o) => o.status !== "cancelled")],
      [
        "reference:'INV-2024-*' AND amount>300",
        where((o) => o.reference.startsWith("INV-2024-") && BigInt(o.amount) > 300n),
      ],
      ["reference:REF_10", where((o) => o.reference === "REF_10")],
      ["amount>=300 AND amount<=500", where((o) => BigInt(o.amount) >= 300n && BigInt(o.amount) <= 500n)],
      ["amount:300", where((o) => o.amount === "300")],
      ["amount<200 OR amount>1000", where((o) => BigInt(o.amount) < 200n || BigInt(o.amount) > 1000n)],
      [`buyer:'${buyer}'`, where((o) => o.buyer === buyer)],
      [`-buyer:'${buyer}'`, where((o) => o.buyer !== buyer)],
      [`token:'${env.deployed.stablecoin}'`, where((o) => o.token === env.deployed.stablecoin)],
      [`sku:'${sku.id}'`, where((o) => o.items.some((i) => i.sku === sku.id))],
      [`-sku:'${sku.id}'`, where((o) => !o.items.some((i) => i.sku === sku.id))],
      [`tx:'${txHash}'`, where((o) => o.chainProof?.txHash === txHash)],
      ["metadata['email']:'a@b.c'", where((o) => o.metadata.email === "a@b.c")],
      ["metadata['idx']:'1' OR metadata['idx']:'2'", where((o) => ["1", "2"].includes(o.metadata.idx))],
      [
        "-metadata['email']:'a@b.c' AND status:created",
        where((o) => o.metadata.email !== "a@b.c" && o.status === "created"),
      ],
      [
        `created>=${Math.floor(Date.parse(all[4].createdAt) / 1000)}`,
        where((o) => Math.floor(Date.parse(o.createdAt) / 1000) >= Math.floor(Date.parse(all[4].createdAt) / 1000)),
      ],
      [`created:${all[0].createdAt.slice(0, 10)}`, ids(all)],
      ["created<2000-01-01", []],
      ["status:'paid' AND amount>1000 AND metadata['email']:'a@b.c'", []],
    ];
    for (const [query, expected] of cases) {
      for (const limit of [2, 50]) {
        expect(await walk(search(query), limit), `${query} limit ${limit}`).to.deep.equal(expected);
      }
    }
    const asc = ids(all.filter((o) => BigInt(o.amount) > 200n).sort(byAmountAsc));
    expect(await walk(search("amount>200", "&sort=amount&direction=asc"), 3)).to.deep.equal(asc);
  });

  it("counts the matches with total=true, and leaves the count out without it", async () => {
    const r = await env.call("GET", search("metadata['email']:'a@b.c'", "&total=true&limit=1"), a.key);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.total).to.equal(where((o) => o.metadata.email === "a@b.c").length);
    expect(r.body.totalIsLowerBound).to.equal(false);
    const plain = await env.call("GET", search("metadata['email']:'a@b.c'"), a.key);
    expect(plain.body).to.not.have.property("total");
  });

  it("never shows merchant A's orders to merchant B, through any filter or query (metadata included)", async () => {
    const txHash = all[3].chainProof!.txHash;
    const urls = [
      "/v1/orders",
      "/v1/orders?reference=INV-2024-*",
      "/v1/orders?reference=REF_10",
      "/v1/orders?metadata[email]=a@b.c",
      "/v1/orders?metadata[email]=z@y.x",
      `/v1/orders?tx=${txHash}`,
      `/v1/orders?sku=${sku.id}`,
      `/v1/orders?buyer=${buyer}`,
      "/v1/orders?sort=amount&direction=asc",
      "/v1/orders?updated_since=2000-01-01T00:00:00Z&sort=updated_at",
      search("metadata['email']:'a@b.c'"),
      search("metadata['email']:'z@y.x'"),
      search("reference:'INV-*'"),
      search("-status:'pending'"),
      search(`tx:'${txHash}'`),
      search(`sku:'${sku.id}'`),
      search("amount>0", "&sort=amount"),
    ];
    for (const url of urls) {
      const seen = await walk(url, 50, b.key);
      for (const id of seen) expect(bIds.has(id), `${url} showed ${id} to B`).to.equal(true);
    }
    expect(await walk(search("metadata['email']:'a@b.c'"), 50, b.key)).to.have.members([...bIds]);
    expect(await walk(search("metadata['email']:'z@y.x'"), 50, b.key)).to.deep.equal([]);
    const r = await env.call("GET", search("metadata['email']:'a@b.c'", "&total=true"), b.key);
    expect(r.body.total).to.equal(4);
    // A cursor from A's pages only positions B in B's own orders.
    const page = await env.call("GET", "/v1/orders?limit=1", a.key);
    for (const id of await walk(`/v1/orders?cursor=${page.body.nextCursor}`, 50, b.key))
      expect(bIds.has(id)).to.equal(true);
    // B can neither read nor change A's order's metadata.
    const patched = await env.call("PATCH", `/v1/orders/${all[0].id}`, b.key, { metadata: { email: "x" } });
    expect(patched.status).to.equal(404);
    expect(errorOf(patched).code).to.equal("not_found");
  });

  it("PATCH sets keys, deletes a key given an empty string, moves updatedAt, is audited and found by updated_since", async () => {
    const target = all.find((o) => o.reference === "INV-2024-2")!;
    const before = new Date().toISOString();
    const r = await env.call("PATCH", `/v1/orders/${target.reference}`, a.key, {
      metadata: { email: "", note: "gift wrap", idx: "two" },
    });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.metadata).to.deep.equal({ idx: "two", note: "gift wrap" });
    expect(r.body.updatedAt > target.updatedAt).to.equal(true);
    const got = await env.call("GET", `/v1/orders/${target.id}`, a.key);
    expect(got.body.metadata).to.deep.equal({ idx: "two", note: "gift wrap" });
    expect(
      await walk(`/v1/orders?updated_since=${encodeURIComponent(before)}&sort=updated_at&direction=asc`, 5),
    ).to.deep.equal([target.id]);
    expect(await walk(search("metadata['note']:'gift wrap'"), 5)).to.deep.equal([target.id]);
    expect(await walk(search("metadata['email']:'a@b.c'"), 50)).to.not.include(target.id);
    const audit = await env.call("GET", "/v1/audit?limit=5", a.key);
    const entry = audit.body.data.find((e: { action: string }) => e.action === "order.metadata_updated");
    expect(entry, audit.text).to.not.equal(undefined);
    expect(entry.resourceId).to.equal(target.id);
    // Deleting a key the order does not have changes nothing...
    const again = await env.call("PATCH", `/v1/orders/${target.id}`, a.key, { metadata: { missing: "" } });
    expect(again.status).to.equal(200);
    expect(again.body.metadata).to.deep.equal({ idx: "two", note: "gift wrap" });
    // ...not even updatedAt: updated_since shows only real changes.
    expect(again.body.updatedAt).to.equal(r.body.updatedAt);
    await refresh();
  });

  it("refuses metadata beyond Stripe's limits with a code per violation, at creation and on PATCH", async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, "v"]));
    const bad: [unknown, string][] = [
      [{ ...fifty, k50: "v" }, "metadata_too_many_keys"],
      [{ ["k".repeat(41)]: "v" }, "metadata_key_invalid"],
      [{ "": "v" }, "metadata_key_invalid"],
      [{ k: "v".repeat(501) }, "metadata_value_too_long"],
      [{ k: { nested: "object" } }, "metadata_value_invalid"],
      [{ k: 5 }, "metadata_value_invalid"],
      [{ k: null }, "metadata_value_invalid"],
      [{ k: ["a"] }, "metadata_value_invalid"],
    ];
    for (const [metadata, code] of bad) {
      const c = await env.call("POST", "/v1/orders", a.key, {
        reference: "META-BAD",
        amount: "1",
        token: "native",
        metadata,
      });
      expect(c.status, JSON.stringify(metadata).slice(0, 80)).to.equal(400);
      expect(errorOf(c).code).to.equal(code);
      const p = await env.call("PATCH", `/v1/orders/${all[0].id}`, a.key, { metadata });
      expect(p.status).to.equal(400);
      expect(errorOf(p).code).to.equal(code);
    }
    const notObject = await env.call("PATCH", `/v1/orders/${all[0].id}`, a.key, { metadata: "text" });
    expect(notObject.status).to.equal(400);
    // At the limit: 50 keys and the longest key and value are taken.
    const max = { ...fifty };
    delete max.k49;
    max["k".repeat(40)] = "v".repeat(500);
    const ok = await env.call("POST", "/v1/orders", a.key, {
      reference: "META-MAX",
      amount: "1",
      token: "native",
      metadata: max,
    });
    expect(ok.status, ok.text).to.equal(202);
    expect(Object.keys(ok.body.metadata)).to.have.length(50);
    // A merge that would hold 51 keys is refused and changes nothing; deleting one while adding one is taken.
    const over = await env.call("PATCH", `/v1/orders/${ok.body.id}`, a.key, { metadata: { extra: "v" } });
    expect(errorOf(over).code).to.equal("metadata_too_many_keys");
    const swap = await env.call("PATCH", `/v1/orders/${ok.body.id}`, a.key, { metadata: { extra: "v", k0: "" } });
    expect(swap.status, swap.text).to.equal(200);
    expect(swap.body.metadata).to.have.property("extra");
    expect(swap.body.metadata).to.not.have.property("k0");
    const unknownField = await env.call("PATCH", `/v1/orders/${ok.body.id}`, a.key, { status: "paid" });
    expect(errorOf(unknownField).code).to.equal("validation_failed");
  });

  it("refuses a bad query with 400 invalid_query, its position and what was expected", async () => {
    const cases: [string, number, string][] = [
      [
        "colour:'red'",
        0,
        "a field: status, reference, buyer, token, sku, amount, created, updated, tx, metadata['key']",
      ],
      ["reference:'x'' OR 1=1 --'", 13, "a space, then AND, OR or the end of the query"],
      [
        "status:'paid' OR amount>5",
        17,
        "a clause on status (OR joins clauses of the same field; use AND across fields)",
      ],
      ["amount>1.5", 7, "an amount: an unsigned integer in base units (at most a uint256)"],
    ];
    for (const [query, position, expected] of cases) {
      const r = await env.call("GET", search(query), a.key);
      expect(r.status).to.equal(400);
      const e = errorOf(r);
      expect(e.code).to.equal("invalid_query");
      expect(e.details).to.deep.equal({ position, expected });
    }
  });

  it("refuses bad filters, sorts and cursors with their stable codes", async () => {
    const refusals: [string, string][] = [
      ["/v1/orders?status=lost", "validation_failed"],
      ["/v1/orders?status=created,lost", "validation_failed"],
      [`/v1/orders?amount_gte=${2n ** 256n}`, "value_out_of_range"],
      ["/v1/orders?amount_lte=-1", "validation_failed"],
      ["/v1/orders?tx=0x1234", "validation_failed"],
      ["/v1/orders?reference=a%20b", "validation_failed"],
      ["/v1/orders?token=usd", "validation_failed"],
      ["/v1/orders?sort=buyer", "validation_failed"],
      ["/v1/orders?updated_since=yesterday", "validation_failed"],
      [`/v1/orders?metadata[${"k".repeat(41)}]=v`, "validation_failed"],
      ["/v1/orders?cursor=bm90LWEtY3Vyc29y", "validation_failed"],
      [
        `/v1/orders?cursor=${Buffer.from(JSON.stringify(["created_at", "desc", "2024-02-31 00:00:00+00", "ord_x"])).toString("base64url")}`,
        "validation_failed",
      ],
      ["/v1/orders/search", "validation_failed"],
      [search("x".repeat(1001)), "validation_failed"],
    ];
    for (const [url, code] of refusals) {
      const r = await env.call("GET", url, a.key);
      expect(r.status, url).to.equal(400);
      expect(errorOf(r).code, url).to.equal(code);
    }
    // A cursor of one sort is refused under another.
    const page = await env.call("GET", "/v1/orders?limit=1&sort=amount", a.key);
    const r = await env.call("GET", `/v1/orders?limit=1&cursor=${page.body.nextCursor}`, a.key);
    expect(r.status).to.equal(400);
    expect(errorOf(r).details).to.deep.equal({ field: "cursor" });
  });
});
