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

describe("relayer API: rate limits per API key and per client IP", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let a: Merchant;
  let b: Merchant;
  let chainOrderId: string;

  before(async () => {
    env = await startApiEnv({
      overrides: { RATE_LIMIT_PER_KEY_PER_MINUTE: String(PER_KEY), RATE_LIMIT_PER_IP_PER_MINUTE: String(PER_IP) },
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
