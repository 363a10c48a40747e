import { expect } from "chai";
import pino from "pino";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { freePort, relayerConfig } from "../harness";
import { ADMIN_KEY, callApp, errorOf, startApiEnv, type ApiEnv, type Merchant, type Method } from "./support";

/**
 * Every route that reads the chain answers 503 not_ready while the RPC endpoint is down (the provider's outage,
 * or an attacker who knocked it over), as documented, and logs the cause once per request.
 */
describe("relayer API: a chain outage answers 503 not_ready everywhere, logged once", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let offline: Relayer;
  let lines: string[];
  let order: { id: string; chainOrderId: string };
  let sku: { id: string };

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Outage");
    sku = await env.newSku(m.key, "OUT-SKU", 2);
    const o = await env.call("POST", "/v1/orders", m.key, { reference: "OUT-1", amount: "10", token: "native" });
    expect(o.status, o.text).to.equal(202);
    order = await env.waitOrder(m.key, o.body.id, "created");
    lines = [];
    offline = await startRelayer({
      config: relayerConfig(env.node, {
        DATABASE_URL: env.databaseUrl,
        RPC_URL: `http://127.0.0.1:${await freePort()}/v2/outage-SECRET`,
        LOG_LEVEL: "debug",
      }),
      chainId: env.deployed.chainId,
      addresses: env.deployed,
      workers: false,
      logger: pino({ level: "debug" }, { write: (s: string) => void lines.push(s) }),
    });
  });
  after(async () => {
    await offline?.stop();
    await env?.stop();
  });

  it("a buyer, a merchant and the admin get 503 not_ready from every route that reads the chain, and each is logged once with the redacted cause", async () => {
    const buyer = "0x00000000000000000000000000000000000000b1";
    const routes: [Method, string, string | null, unknown][] = [
      ["GET", `/v1/checkout/${order.chainOrderId}`, null, undefined],
      ["POST", `/v1/checkout/${order.chainOrderId}/intents`, null, { action: "pay", buyer }],
      ["GET", "/v1/skus", m.key, undefined],
      ["GET", `/v1/skus/${sku.id}`, m.key, undefined],
      ["GET", "/v1/ledger/reconciliation", m.key, undefined],
      ["POST", `/v1/orders/${order.id}/payment-intent`, m.key, { buyer }],
      ["GET", "/v1/admin/reconciliation", ADMIN_KEY, undefined],
    ];
    for (const [method, url, key, body] of routes) {
      const before = lines.length;
      const r = await callApp(offline, method, url, key, body);
      expect(r.status, `${method} ${url}: ${r.text}`).to.equal(503);
      expect(errorOf(r).code, `${method} ${url}`).to.equal("not_ready");
      expect(r.text).to.not.include("outage-SECRET");
      const logged = lines
        .slice(before)
        .map((l) => JSON.parse(l) as { level: number; msg: string; reqId?: string; cause?: string });
      // The request's own lines: a background warning of the same moment (the key notifications' connection
      // starting late on a loaded machine) is not the request's.
      const errors = logged.filter((l) => l.level >= 40 && l.reqId !== undefined);
      expect(errors, `${method} ${url}: ${JSON.stringify(logged)}`).to.have.length(1);
      expect(errors[0].cause, `${method} ${url}`).to.be.a("string").and.include("NETWORK_ERROR");
      expect(JSON.stringify(errors[0])).to.not.include("outage-SECRET");
    }
  });
});
