import { expect } from "chai";
import { startRelayer } from "../../../relayer/src/relayer";
import { freePort, relayerConfig } from "../harness";
import { callApp, startApiEnv, waitFor, type ApiEnv } from "./support";

describe("relayer API: health, readiness, metrics and the API description", function () {
  this.timeout(120_000);
  let env: ApiEnv;

  before(async () => {
    env = await startApiEnv();
  });
  after(async () => env?.stop());

  it("answers /healthz with 200 ok", async () => {
    const r = await env.call("GET", "/healthz");
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ status: "ok" });
  });

  it("answers /readyz with 200 and the database, chain head and indexer lag checks", async () => {
    const r = await waitFor("ready", async () => {
      const x = await env.call("GET", "/readyz");
      return x.status === 200 ? x : null;
    });
    const head = await env.node.provider.getBlockNumber();
    expect(r.body.status).to.equal("ready");
    expect(r.body.checks.database).to.equal("ok");
    expect(r.body.checks.chain.status).to.equal("ok");
    expect(r.body.checks.chain.head).to.be.within(head - 1, head);
    expect(r.body.checks.indexer.lastBlock).to.be.a("number");
    expect(r.body.checks.indexer.lagBlocks).to.be.within(0, 50);
  });

  it("answers /readyz with 503 when the chain is unreachable", async () => {
    const closed = await freePort();
    const config = relayerConfig(env.node, {
      DATABASE_URL: env.databaseUrl,
      RPC_URL: `http://127.0.0.1:${closed}`,
      LOG_LEVEL: "silent",
    });
    const offline = await startRelayer({
      config,
      chainId: env.deployed.chainId,
      addresses: env.deployed,
      workers: false,
    });
    try {
      const r = await callApp(offline, "GET", "/readyz");
      expect(r.status).to.equal(503);
      expect(r.body.status).to.equal("not_ready");
      expect(r.body.checks.database).to.equal("ok");
      expect(r.body.checks.chain)
        .to.be.a("string")
        .and.match(/^unreachable/);
      const h = await callApp(offline, "GET", "/healthz");
      expect(h.status).to.equal(200);
    } finally {
      await offline.stop();
    }
  });

  it("exposes Prometheus metrics: queue depth, indexer lag, submit latency and API errors by code", async () => {
    const m = await env.newMerchant();
    await env.call("GET", "/v1/orders/ord_missing", m.key);
    await env.call("GET", "/v1/orders?limit=0", m.key);
    const o = await env.call("POST", "/v1/orders", m.key, { reference: "M-1", amount: "1", token: "native" });
    await env.waitOrder(m.key, o.body.id, "created");
    const r = await env.call("GET", "/metrics");
    expect(r.status).to.equal(200);
    expect(String(r.headers["content-type"])).to.match(/^text\/plain/);
    const text = r.text;
    expect(text).to.match(/^relayer_queue_depth\{status="pending"\} \d+$/m);
    expect(text).to.match(/^relayer_indexer_lag_blocks \d+$/m);
    expect(text).to.match(/^relayer_api_errors_total\{code="not_found"\} [1-9]\d*$/m);
    expect(text).to.match(/^relayer_api_errors_total\{code="validation_failed"\} [1-9]\d*$/m);
    expect(text).to.match(/^relayer_submit_latency_seconds_count [1-9]\d*$/m);
    expect(text).to.include("# TYPE relayer_submit_latency_seconds histogram");
  });

  it("counts errors of unknown routes too", async () => {
    await env.call("GET", "/nowhere");
    const r = await env.call("GET", "/metrics");
    expect(r.text).to.match(/^relayer_api_errors_total\{code="route_not_found"\} [1-9]\d*$/m);
  });

  it("serves an OpenAPI 3 document that lists every /v1 route with its methods", async () => {
    const r = await env.call("GET", "/openapi.json");
    expect(r.status).to.equal(200);
    expect(r.body.openapi).to.match(/^3\./);
    expect(r.body.info.title).to.be.a("string");
    const routes = Object.entries(r.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${p}`),
    );
    expect(routes).to.include.members([
      "POST /v1/admin/merchants",
      "GET /v1/admin/merchants",
      "GET /v1/admin/merchants/{id}",
      "POST /v1/admin/merchants/{id}/keys",
      "POST /v1/admin/merchants/{id}/keys/{keyId}/revoke",
      "GET /v1/keys",
      "POST /v1/keys",
      "POST /v1/keys/{id}/revoke",
      "POST /v1/skus",
      "GET /v1/skus",
      "GET /v1/skus/{id}",
      "POST /v1/skus/{id}/stock",
      "POST /v1/skus/{id}/write-offs",
      "POST /v1/orders",
      "GET /v1/orders",
      "GET /v1/orders/{id}",
      "POST /v1/orders/{id}/ship",
      "POST /v1/orders/{id}/refund",
      "POST /v1/orders/{id}/cancel",
      "GET /v1/audit",
    ]);
    const createOrder = r.body.paths["/v1/orders"].post;
    expect(createOrder.requestBody.content["application/json"].schema.required).to.include.members([
      "reference",
      "amount",
      "token",
    ]);
    expect(createOrder.responses).to.have.property("202");
    expect(createOrder.security).to.deep.equal([{ bearer: [] }]);
  });

  it("serves the API documentation as HTML at /docs", async () => {
    let r = await env.call("GET", "/docs");
    for (let hops = 0; hops < 3 && r.status >= 300 && r.status < 400; hops++) {
      const location = String(r.headers.location);
      r = await env.call("GET", location.startsWith("/") ? location : `/docs/${location.replace(/^\.\//, "")}`);
    }
    expect(r.status).to.equal(200);
    expect(String(r.headers["content-type"])).to.match(/^text\/html/);
    expect(r.text).to.match(/<html/i);
  });
});
