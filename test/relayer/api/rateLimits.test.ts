/**
 * Rate limits (issue "Relayer: exactly once on real chains and against hostile tenants", item 14): every merchant
 * API key has its own allowance (RATE_LIMIT_PER_KEY_PER_MINUTE), every client IP its own on the routes that need
 * no key (RATE_LIMIT_PER_IP_PER_MINUTE), and a request beyond is answered 429 rate_limited with Retry-After.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { ADMIN_KEY, errorOf, startApiEnv, type ApiEnv, type Merchant, type Method } from "./support";

const PER_KEY = 8;
const PER_IP = 6;
const PER_MERCHANT = 12;
const MAX_KEYS = 4;

describe("relayer API: rate limits per API key and per client IP", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let a: Merchant;
  let b: Merchant;
  let chainOrderId: string;

  before(async () => {
    env = await startApiEnv({
      overrides: {
        RATE_LIMIT_PER_KEY_PER_MINUTE: String(PER_KEY),
        RATE_LIMIT_PER_IP_PER_MINUTE: String(PER_IP),
        RATE_LIMIT_PER_MERCHANT_PER_MINUTE: String(PER_MERCHANT),
        MAX_API_KEYS_PER_MERCHANT: String(MAX_KEYS),
      },
    });
    [a, b] = [await env.newMerchant("Flooder"), await env.newMerchant("Bystander")];
    const o = await env.call("POST", "/v1/orders", b.key, { reference: "RL-1", amount: "1000", token: "native" });
    expect(o.status, o.text).to.equal(202);
    chainOrderId = o.body.chainOrderId;
  });
  after(async () => env?.stop());

  /** A request from client address `ip` (what fastify sees as the peer). */
  async function from(ip: string, method: Method, url: string, key?: string, body?: unknown) {
    const res = await env.relayer.app.inject({
      method,
      url,
      remoteAddress: ip,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: JSON.parse(res.body || "null"), text: res.body };
  }

  function expectLimited(r: { status: number; headers: Record<string, unknown>; text: string }, what: string) {
    expect(r.status, `${what}: ${r.text}`).to.equal(429);
    expect(errorOf(r as never).code).to.equal("rate_limited");
    const retryAfter = Number(r.headers["retry-after"]);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`).to.equal(
      true,
    );
  }

  it("a flooding tenant's API key gets 429 rate_limited with Retry-After beyond its allowance; another merchant's key is unaffected", async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < PER_KEY + 3; i++) {
      last = await from("198.51.100.7", "GET", "/v1/orders?limit=1", a.key);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, PER_KEY), "the allowance").to.deep.equal(Array(PER_KEY).fill(200));
    expect(statuses.slice(PER_KEY), "beyond it").to.deep.equal([429, 429, 429]);
    expectLimited(last!, "GET /v1/orders");
    expect(errorOf(last as never).details).to.deep.include({ limitPerMinute: PER_KEY });
    // The same key from another address is the same key; another merchant's key has its own allowance.
    expect((await from("198.51.100.8", "GET", "/v1/orders", a.key)).status).to.equal(429);
    expect(
      (await from("198.51.100.7", "POST", "/v1/orders", a.key, { reference: "X", amount: "1", token: "native" }))
        .status,
    ).to.equal(429);
    expect((await from("198.51.100.7", "GET", "/v1/orders", b.key)).status).to.equal(200);
    // The operator's keys are not a tenant's.
    expect((await from("198.51.100.7", "GET", "/v1/admin/merchants", ADMIN_KEY)).status).to.equal(200);
  });

  it("an anonymous flooder gets 429 with Retry-After per client IP on checkout, intents, actions, tokens and introspect; another IP is unaffected", async () => {
    const buyer = Wallet.createRandom().address;
    const anonymous: [Method, string, unknown?][] = [
      ["GET", `/v1/checkout/${chainOrderId}`],
      ["POST", `/v1/checkout/${chainOrderId}/intents`, { action: "pay", buyer }],
      ["POST", `/v1/checkout/${chainOrderId}/actions`, { action: "pay", buyer }],
      ["GET", "/v1/tokens/native"],
      ["POST", "/v1/introspect", { apiKey: "ock_guess" }],
    ];
    for (const [i, [method, url, body]] of anonymous.entries()) {
      const ip = `203.0.113.${10 + i}`;
      const statuses: number[] = [];
      let last;
      for (let n = 0; n < PER_IP + 2; n++) {
        last = await from(ip, method, url, undefined, body);
        statuses.push(last.status);
      }
      expect(
        statuses.slice(0, PER_IP).every((s) => s !== 429),
        `${method} ${url}: ${statuses}`,
      ).to.equal(true);
      expect(statuses.slice(PER_IP), `${method} ${url}: ${statuses}`).to.deep.equal([429, 429]);
      expectLimited(last!, `${method} ${url}`);
      expect((await from(`203.0.113.${100 + i}`, method, url, undefined, body)).status).to.not.equal(429);
    }
  });

  it("a key guesser's refused keys count against its IP: 401 for the first, then 429", async () => {
    const statuses: number[] = [];
    for (let n = 0; n < PER_IP + 2; n++)
      statuses.push((await from("192.0.2.77", "GET", "/v1/orders", `ock_guess_${n}`)).status);
    expect(statuses).to.deep.equal([...Array(PER_IP).fill(401), 429, 429]);
    // A valid key from that address is still served (its own allowance).
    expect((await from("192.0.2.77", "GET", "/v1/orders", b.key)).status).to.equal(200);
  });

  it("a tenant that mints API keys to multiply its allowance is held to its merchant's allowance: all its keys together get 429 beyond it", async () => {
    const c = await env.newMerchant("Key Minter");
    const keys = [c.key];
    for (let i = 0; i < MAX_KEYS - 1; i++) {
      const k = await from("198.51.100.20", "POST", "/v1/keys", c.key, { name: `minted ${i}`, scopes: ["read"] });
      expect(k.status, k.text).to.equal(201);
      keys.push(k.body.secret);
    }
    // Each key alone is under its own allowance; together they pass the merchant's.
    const statuses: number[] = [];
    let last;
    for (let round = 0; round < PER_KEY - 1; round++) {
      for (const k of keys) {
        last = await from("198.51.100.20", "GET", "/v1/orders?limit=1", k);
        statuses.push(last.status);
      }
    }
    const served = statuses.filter((s) => s === 200).length;
    expect(served, `${statuses}`).to.equal(PER_MERCHANT - (MAX_KEYS - 1));
    expect(
      statuses.filter((s) => s !== 200 && s !== 429),
      `${statuses}`,
    ).to.deep.equal([]);
    expectLimited(last!, "GET /v1/orders with a minted key");
    expect(errorOf(last as never).details).to.deep.include({ limitPerMinute: PER_MERCHANT });
    // Another merchant is unaffected.
    expect((await from("198.51.100.20", "GET", "/v1/orders?limit=1", b.key)).status).to.equal(200);
  });

  it(`a tenant cannot hold more than ${MAX_KEYS} active API keys: 409 api_key_limit_reached, nothing created, the admin can still issue a rescue key, and room again once one is revoked`, async () => {
    const d = await env.newMerchant("Key Hoarder");
    const made: string[] = [];
    for (let i = 0; i < MAX_KEYS - 1; i++) {
      const k = await from("198.51.100.21", "POST", "/v1/keys", d.key, { name: `k${i}`, scopes: ["read"] });
      expect(k.status, k.text).to.equal(201);
      made.push(k.body.id);
    }
    const count = async () =>
      Number(
        (await env.relayer.db.query<{ n: string }>(`select count(*) as n from api_keys where merchant_id = $1`, [d.id]))
          .rows[0].n,
      );
    const before = await count();
    const refused = await from("198.51.100.21", "POST", "/v1/keys", d.key, { name: "one too many", scopes: ["read"] });
    expect(refused.status, refused.text).to.equal(409);
    expect(errorOf(refused as never)).to.deep.include({ code: "api_key_limit_reached" });
    expect(errorOf(refused as never).details).to.deep.equal({ activeKeys: MAX_KEYS, maxActiveKeys: MAX_KEYS });
    expect(await count()).to.equal(before);
    // The admin is not held to it: a merchant whose staff filled the cap still gets a rescue key.
    const byAdmin = await env.call("POST", `/v1/admin/merchants/${d.id}/keys`, ADMIN_KEY, { name: "rescue" });
    expect(byAdmin.status, byAdmin.text).to.equal(201);
    const rescueRevoked = await env.call(
      "POST",
      `/v1/admin/merchants/${d.id}/keys/${byAdmin.body.id}/revoke`,
      ADMIN_KEY,
    );
    expect(rescueRevoked.status, rescueRevoked.text).to.equal(200);

    const revoked = await from("198.51.100.21", "POST", `/v1/keys/${made[0]}/revoke`, d.key);
    expect(revoked.status, revoked.text).to.equal(200);
    const again = await from("198.51.100.21", "POST", "/v1/keys", d.key, { name: "replacement", scopes: ["read"] });
    expect(again.status, again.text).to.equal(201);
  });

  it("the limits are documented in the API: 429 is a response of the routes they guard", async () => {
    const doc = (await env.call("GET", "/openapi.json")).body;
    for (const [path, method] of [
      ["/v1/orders", "get"],
      ["/v1/orders", "post"],
      ["/v1/checkout/{chainOrderId}", "get"],
      ["/v1/tokens/{token}", "get"],
      ["/v1/introspect", "post"],
    ])
      expect(doc.paths[path][method].responses, `${method} ${path}`).to.have.property("429");
  });
});
