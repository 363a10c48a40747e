import { expect } from "chai";
import type { FastifyRequest } from "fastify";
import { requestHash } from "../../../relayer/src/api/idempotency";
import { startRelayer } from "../../../relayer/src/relayer";
import { purgeExpiredIdempotencyKeys } from "../../../relayer/src/store/idempotency";
import { freePort, relayerConfig } from "../harness";
import { ADMIN_KEY, callApp, errorOf, startApiEnv, type ApiEnv, type Merchant } from "./support";

describe("relayer API: Idempotency-Key and concurrent duplicates", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let url: string;

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Idempotent Inc");
    url = await env.relayer.listen();
  });
  after(async () => env?.stop());

  const count = async (table: "orders" | "skus" | "api_keys" | "audit_log") =>
    Number((await env.relayer.db.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0].n);
  /** Commands an API call wrote (the keepers enqueue their own for unpaid orders past their deadline). */
  const apiCommands = async () =>
    Number(
      (await env.relayer.db.query<{ n: string }>(`select count(*) as n from commands where api_key_id is not null`))
        .rows[0].n,
    );
  const counts = async () => ({
    orders: await count("orders"),
    commands: await apiCommands(),
    skus: await count("skus"),
    keys: await count("api_keys"),
    audit: await count("audit_log"),
  });
  const newOrder = (reference: string) => ({ reference, amount: "777", token: "native" });

  it("replays the first status and body with idempotent-replayed: true and creates nothing new", async () => {
    const body = newOrder("ID-1");
    const first = await env.call("POST", "/v1/orders", m.key, body, { "idempotency-key": "order-ID-1" });
    expect(first.status).to.equal(202);
    expect(first.headers["idempotent-replayed"]).to.equal(undefined);
    const before = await counts();
    for (let i = 0; i < 3; i++) {
      const again = await env.call("POST", "/v1/orders", m.key, { ...body }, { "idempotency-key": "order-ID-1" });
      expect(again.status).to.equal(202);
      expect(again.headers["idempotent-replayed"]).to.equal("true");
      expect(again.body).to.deep.equal(first.body);
    }
    expect(await counts()).to.deep.equal(before);
  });

  it("replays an order's first response even once the same request would be refused", async () => {
    // A payment deadline 33 s ahead is accepted now; a few seconds later it is inside the 30 s minimum.
    const body = { ...newOrder("ID-LATE"), paymentDeadline: new Date(Date.now() + 33_000).toISOString() };
    const first = await env.call("POST", "/v1/orders", m.key, body, { "idempotency-key": "order-late" });
    expect(first.status).to.equal(202);
    await new Promise((r) => setTimeout(r, 3500));
    const fresh = await env.call("POST", "/v1/orders", m.key, { ...body, reference: "ID-LATE-2" });
    expect(fresh.status).to.equal(400);
    expect(errorOf(fresh).details).to.deep.include({ field: "paymentDeadline" });
    const before = await counts();
    const again = await env.call("POST", "/v1/orders", m.key, body, { "idempotency-key": "order-late" });
    expect(again.status).to.equal(202);
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(again.body).to.deep.equal(first.body);
    // The same key with another (now also refused) body is still a conflict, not the validation error.
    const other = await env.call(
      "POST",
      "/v1/orders",
      m.key,
      { ...body, amount: "778" },
      { "idempotency-key": "order-late" },
    );
    expect(other.status).to.equal(409);
    expect(errorOf(other).code).to.equal("idempotency_key_reused");
    expect(await counts()).to.deep.equal(before);
  });

  it("replays a stored order from a process that cannot reach the chain, and answers 503 for a new one", async () => {
    // A process whose RPC endpoint is down and that never learned whether the escrow accepts the stablecoin.
    const offline = await startRelayer({
      config: relayerConfig(env.node, {
        DATABASE_URL: env.databaseUrl,
        RPC_URL: `http://127.0.0.1:${await freePort()}`,
        LOG_LEVEL: "silent",
      }),
      chainId: env.deployed.chainId,
      addresses: env.deployed,
      workers: false,
    });
    try {
      const body = { reference: "ID-OFF", amount: "5", token: env.deployed.stablecoin };
      // The first request was answered earlier, by a process that could reach the chain: its stored answer is
      // written here directly (an answer of the live process, so that this process's token check stays unknown).
      const live = await env.call("POST", "/v1/orders", m.key, newOrder("ID-OFF-SRC"));
      expect(live.status).to.equal(202);
      const stored = live.body;
      const hash = requestHash({
        method: "POST",
        url: "/v1/orders",
        routeOptions: { url: "/v1/orders" },
        params: {},
        body,
      } as unknown as FastifyRequest);
      await env.relayer.db.query(
        `insert into idempotency_keys (scope, key, request_hash, status_code, response, api_key_id)
         values ($1, $2, $3, 202, $4, $5)`,
        [m.id, "offline-1", hash, JSON.stringify(stored), m.keyId],
      );
      const before = await counts();
      const again = await callApp(offline, "POST", "/v1/orders", m.key, body, { "idempotency-key": "offline-1" });
      expect(again.status, again.text).to.equal(202);
      expect(again.headers["idempotent-replayed"]).to.equal("true");
      expect(again.body).to.deep.equal(stored);
      const fresh = await callApp(offline, "POST", "/v1/orders", m.key, { ...body, reference: "ID-OFF-2" });
      expect(fresh.status, fresh.text).to.equal(503);
      expect(errorOf(fresh).code).to.equal("not_ready");
      expect(await counts()).to.deep.equal(before);
    } finally {
      await offline.stop();
    }
  });

  it("replays every kind of POST: SKU, stock, key, ship-free cancel", async () => {
    const sku = await env.call(
      "POST",
      "/v1/skus",
      m.key,
      { reference: "ID-SKU", name: "n" },
      { "idempotency-key": "s1" },
    );
    const o = await env.call("POST", "/v1/orders", m.key, newOrder("ID-C"), { "idempotency-key": "o-c" });
    const requests: [string, unknown][] = [
      ["/v1/skus", { reference: "ID-SKU", name: "n" }],
      [`/v1/skus/${sku.body.id}/stock`, { quantity: "2" }],
      [`/v1/skus/${sku.body.id}/write-offs`, { quantity: "1" }],
      ["/v1/keys", { name: "k", scopes: ["read"] }],
      [`/v1/orders/${o.body.id}/cancel`, undefined],
    ];
    for (const [path, body] of requests) {
      const key = `replay-${path}`;
      const first = path === "/v1/skus" ? sku : await env.call("POST", path, m.key, body, { "idempotency-key": key });
      const before = await counts();
      const again = await env.call("POST", path, m.key, body, { "idempotency-key": path === "/v1/skus" ? "s1" : key });
      expect(again.status, path).to.equal(first.status);
      expect(again.body, path).to.deep.equal(first.body);
      expect(again.headers["idempotent-replayed"], path).to.equal("true");
      expect(await counts(), path).to.deep.equal(before);
    }
  });

  it("refuses the same key with a different body or route with 409 idempotency_key_reused", async () => {
    const first = await env.call("POST", "/v1/orders", m.key, newOrder("ID-2"), { "idempotency-key": "k-2" });
    expect(first.status).to.equal(202);
    const before = await counts();
    const other = await env.call(
      "POST",
      "/v1/orders",
      m.key,
      { ...newOrder("ID-2"), amount: "778" },
      {
        "idempotency-key": "k-2",
      },
    );
    expect(other.status).to.equal(409);
    expect(errorOf(other)).to.deep.include({ code: "idempotency_key_reused", details: { idempotencyKey: "k-2" } });
    const route = await env.call(
      "POST",
      "/v1/skus",
      m.key,
      { reference: "ID-2", name: "x" },
      { "idempotency-key": "k-2" },
    );
    expect(route.status).to.equal(409);
    expect(errorOf(route).code).to.equal("idempotency_key_reused");
    expect(await counts()).to.deep.equal(before);
  });

  it("treats the body's key order as the same request", async () => {
    const a = await env.call(
      "POST",
      "/v1/orders",
      m.key,
      { reference: "ID-3", amount: "5", token: "native" },
      {
        "idempotency-key": "k-3",
      },
    );
    const b = await env.call(
      "POST",
      "/v1/orders",
      m.key,
      { token: "native", amount: "5", reference: "ID-3" },
      {
        "idempotency-key": "k-3",
      },
    );
    expect(b.status).to.equal(202);
    expect(b.headers["idempotent-replayed"]).to.equal("true");
    expect(b.body).to.deep.equal(a.body);
  });

  it("a staff key replaying the owner's Idempotency-Key executes nothing: the key belongs to the merchant (409)", async () => {
    const staff = (await env.call("POST", "/v1/keys", m.key, { name: "second", scopes: ["read", "orders"] })).body;
    const a = await env.call("POST", "/v1/orders", m.key, newOrder("ID-4a"), { "idempotency-key": "shared" });
    expect(a.status).to.equal(202);
    const before = await counts();
    const other = await env.call("POST", "/v1/orders", staff.secret, newOrder("ID-4b"), {
      "idempotency-key": "shared",
    });
    expect(other.status, other.text).to.equal(409);
    expect(errorOf(other).code).to.equal("idempotency_key_reused");
    // The same request from another key is refused too: a replay would hand it the owner's response (which, for a
    // new key or webhook, holds a secret the staff key could not obtain itself).
    const same = await env.call("POST", "/v1/orders", staff.secret, newOrder("ID-4a"), { "idempotency-key": "shared" });
    expect(same.status, same.text).to.equal(409);
    expect(errorOf(same).code).to.equal("idempotency_key_reused");
    expect(await counts()).to.deep.equal(before);
  });

  it("keeps the admin's and each merchant's Idempotency-Keys apart: the same value in another scope is a new request", async () => {
    const admin = await env.call(
      "POST",
      "/v1/admin/merchants",
      ADMIN_KEY,
      { name: "Scoped" },
      { "idempotency-key": "scope-1" },
    );
    expect(admin.status).to.equal(201);
    const mine = await env.call("POST", "/v1/orders", m.key, newOrder("ID-SC-1"), { "idempotency-key": "scope-1" });
    expect(mine.status, mine.text).to.equal(202);
    expect(mine.headers["idempotent-replayed"]).to.equal(undefined);
    const n = await env.newMerchant("Neighbour");
    const theirs = await env.call("POST", "/v1/orders", n.key, newOrder("ID-SC-1"), { "idempotency-key": "scope-1" });
    expect(theirs.status, theirs.text).to.equal(202);
    expect(theirs.body.id).to.not.equal(mine.body.id);
  });

  it("a client retrying a day later with the key of a forgotten request is served anew: keys expire after 24 h", async () => {
    const first = await env.call("POST", "/v1/orders", m.key, newOrder("ID-OLD-1"), { "idempotency-key": "old-1" });
    expect(first.status).to.equal(202);
    const fresh = await env.call("POST", "/v1/orders", m.key, newOrder("ID-OLD-2"), { "idempotency-key": "old-1" });
    expect(fresh.status, "within 24 h the key still holds").to.equal(409);
    await env.relayer.db.query(
      `update idempotency_keys set created_at = now() - interval '24 hours 1 minute' where key = 'old-1'`,
    );
    const later = await env.call("POST", "/v1/orders", m.key, newOrder("ID-OLD-2"), { "idempotency-key": "old-1" });
    expect(later.status, later.text).to.equal(202);
    expect(later.headers["idempotent-replayed"]).to.equal(undefined);
    const again = await env.call("POST", "/v1/orders", m.key, newOrder("ID-OLD-2"), { "idempotency-key": "old-1" });
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(again.body).to.deep.equal(later.body);
    // The same for a route that stores its answer in a transaction of its own.
    const k1 = await env.call(
      "POST",
      "/v1/keys",
      m.key,
      { name: "a", scopes: ["read"] },
      { "idempotency-key": "old-2" },
    );
    await env.relayer.db.query(
      `update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-2'`,
    );
    const k2 = await env.call(
      "POST",
      "/v1/keys",
      m.key,
      { name: "b", scopes: ["read"] },
      { "idempotency-key": "old-2" },
    );
    expect(k2.status, k2.text).to.equal(201);
    expect(k2.body.id).to.not.equal(k1.body.id);
  });

  it("purges keys older than 24 h and keeps the rest", async () => {
    await env.call("POST", "/v1/orders", m.key, newOrder("ID-PURGE-1"), { "idempotency-key": "purge-old" });
    await env.call("POST", "/v1/orders", m.key, newOrder("ID-PURGE-2"), { "idempotency-key": "purge-new" });
    await env.relayer.db.query(
      `update idempotency_keys set created_at = now() - interval '25 hours' where key = 'purge-old'`,
    );
    expect(await purgeExpiredIdempotencyKeys(env.relayer.db, 24 * 3600)).to.be.at.least(1);
    const left = await env.relayer.db.query<{ key: string }>(
      `select key from idempotency_keys where key in ('purge-old', 'purge-new')`,
    );
    expect(left.rows.map((r) => r.key)).to.deep.equal(["purge-new"]);
  });

  it("does not store a refused request: the same key succeeds once the request is valid", async () => {
    const bad = await env.call(
      "POST",
      "/v1/orders",
      m.key,
      { ...newOrder("ID-5"), token: "0x000000000000000000000000000000000000dEaD" },
      {
        "idempotency-key": "k-5",
      },
    );
    expect(bad.status).to.equal(422);
    const ok = await env.call("POST", "/v1/orders", m.key, newOrder("ID-5"), { "idempotency-key": "k-5" });
    expect(ok.status, ok.text).to.equal(202);
    expect(ok.headers["idempotent-replayed"]).to.equal(undefined);
  });

  it("refuses an invalid Idempotency-Key header with 400 invalid_idempotency_key", async () => {
    const before = await counts();
    for (const key of ["x".repeat(256), "has space", "tab\there", "ключ", ""]) {
      const r = await env.call("POST", "/v1/orders", m.key, newOrder(`ID-6-${key.length}`), { "idempotency-key": key });
      expect(r.status, JSON.stringify(key)).to.equal(400);
      expect(errorOf(r).code).to.equal("invalid_idempotency_key");
    }
    expect(await counts()).to.deep.equal(before);
    const max = await env.call("POST", "/v1/orders", m.key, newOrder("ID-6-ok"), {
      "idempotency-key": "y".repeat(255),
    });
    expect(max.status).to.equal(202);
  });

  async function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), replayed: res.headers.get("idempotent-replayed") };
  }

  it("creates exactly one order for 10 concurrent identical requests with one key, and answers all alike", async () => {
    const before = await counts();
    const body = newOrder("ID-PAR");
    const rs = await Promise.all(
      Array.from({ length: 10 }, () => post("/v1/orders", m.key, body, { "idempotency-key": "parallel-1" })),
    );
    expect(rs.map((r) => r.status)).to.deep.equal(Array(10).fill(202));
    for (const r of rs) expect(r.body).to.deep.equal(rs[0].body);
    expect(rs.filter((r) => r.replayed === "true")).to.have.length(9);
    const after = await counts();
    expect(after.orders - before.orders).to.equal(1);
    expect(after.commands - before.commands).to.equal(1);
    const rows = await env.relayer.db.query("select id from orders where reference = $1", ["ID-PAR"]);
    expect(rows.rows).to.deep.equal([{ id: rs[0].body.id }]);
    await env.waitOrder(m.key, rs[0].body.id, "created");
  });

  it("answers 10 concurrent orders with the same reference and no key with one 202 and nine 409s, never a 500", async () => {
    const before = await counts();
    const rs = await Promise.all(Array.from({ length: 10 }, () => post("/v1/orders", m.key, newOrder("ID-RACE"))));
    const statuses = rs.map((r) => r.status).sort();
    expect(statuses).to.deep.equal([202, ...Array(9).fill(409)]);
    for (const r of rs.filter((x) => x.status === 409)) expect(r.body.error.code).to.equal("reference_already_used");
    const after = await counts();
    expect(after.orders - before.orders).to.equal(1);
    expect(after.commands - before.commands).to.equal(1);
    const carried = await env.relayer.db.query(
      `select c.kind from commands c join orders o on o.id = c.order_id where o.reference = 'ID-RACE'`,
    );
    expect(carried.rows).to.deep.equal([{ kind: "create_order" }]);
  });

  it("answers 10 concurrent SKUs with the same reference with one 202 and nine 409s, never a 500", async () => {
    const before = await counts();
    const rs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post("/v1/skus", m.key, { reference: "SKU-RACE", name: "n" }, { "idempotency-key": `sku-race-${i}` }),
      ),
    );
    expect(rs.map((r) => r.status).sort()).to.deep.equal([202, ...Array(9).fill(409)]);
    for (const r of rs.filter((x) => x.status === 409)) expect(r.body.error.code).to.equal("reference_already_used");
    expect((await counts()).skus - before.skus).to.equal(1);
  });
  it("stores a new key's secret encrypted, yet replays it exactly", async () => {
    const first = await env.call(
      "POST",
      "/v1/keys",
      m.key,
      { name: "support", scopes: ["read"] },
      { "idempotency-key": "secret-1" },
    );
    expect(first.status).to.equal(201);
    const secret = first.body.secret as string;
    const stored = await env.relayer.db.query<{ response: unknown }>(
      `select response from idempotency_keys where key = 'secret-1'`,
    );
    expect(JSON.stringify(stored.rows[0].response)).not.to.contain(secret);
    const again = await env.call(
      "POST",
      "/v1/keys",
      m.key,
      { name: "support", scopes: ["read"] },
      { "idempotency-key": "secret-1" },
    );
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    expect(again.body).to.deep.equal(first.body);
    const use = await env.call("GET", "/v1/orders", secret);
    expect(use.status).to.equal(200);
  });
});
