/**
 * The writer, the indexer and the webhook deliverer in a worker thread (`WORKERS=thread`, the default on
 * PostgreSQL): orders reach the chain and webhooks go out while the API's thread runs none of those loops,
 * /metrics shows both threads' series once each, a stop releases everything.
 */
import http from "node:http";
import { expect } from "chai";
import { Client } from "pg";
import { SIGNATURE_HEADER, verifyWebhook } from "../../../sdk/webhooks";
import { SIGNER_INDEXES } from "../harness";
import { startApiEnv, waitFor, type ApiEnv } from "../api/support";

describe("relayer: chain work in a worker thread", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let pg: Client;

  before(async () => {
    env = await startApiEnv({ workers: "thread" });
    pg = new Client({ connectionString: env.databaseUrl });
    await pg.connect();
  });
  after(async () => {
    await pg?.end();
    await env?.stop();
  });

  it("creates orders on chain and delivers their webhooks, with no loop in the API's thread", async () => {
    expect(env.relayer.workerMode).to.equal("thread");
    const received: { type: string; orderId: string }[] = [];
    let secret = "";
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const ev = verifyWebhook<{ type: string; data: { orderId: string } }>({
          secret,
          header: req.headers[SIGNATURE_HEADER.toLowerCase()],
          body,
        });
        received.push({ type: ev.type, orderId: ev.data.orderId });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const m = await env.newMerchant("Threaded");
      const port = (server.address() as { port: number }).port;
      const hook = await env.call("POST", "/v1/webhooks", m.key, { url: `http://127.0.0.1:${port}/hook` });
      expect(hook.status).to.equal(201);
      secret = hook.body.secret;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const o = await env.call("POST", "/v1/orders", m.key, { reference: `T-${i}`, amount: "1000", token: "native" });
        expect(o.status).to.equal(202);
        ids.push(o.body.id);
      }
      for (const id of ids) {
        const o = await env.waitOrder(m.key, id, "created");
        const receipt = await env.node.provider.getTransactionReceipt(o.chainProof.txHash);
        expect(receipt?.status).to.equal(1);
      }
      await waitFor("five order.created webhooks", async () => received.length >= 5);
      expect(received.map((e) => e.type)).to.deep.equal(Array(5).fill("order.created"));
      expect(new Set(received.map((e) => e.orderId))).to.deep.equal(new Set(ids));
      // The idle objects of the API's thread hold nothing: the thread's writer holds every signer.
      expect(env.relayer.writer.heldSigners).to.deep.equal([]);
      const leases = await pg.query<{ owner: string | null; n: string }>(
        `select owner, count(*) as n from signer_leases where expires_at > now() group by owner`,
      );
      expect(leases.rows).to.have.length(1);
      expect(leases.rows[0].owner).to.be.a("string");
      expect(Number(leases.rows[0].n)).to.equal(SIGNER_INDEXES.length);
    } finally {
      server.close();
    }
  });

  it("serves the worker thread's metrics through /metrics, each series once", async () => {
    const r = await env.call("GET", "/metrics");
    expect(r.status).to.equal(200);
    const text = r.text;
    // Written by the worker thread:
    expect(text).to.match(/^relayer_commands_total\{kind="create_order",outcome="confirmed"\} [1-9]\d*$/m);
    expect(text).to.match(/^relayer_submit_latency_seconds_count [1-9]\d*$/m);
    expect(text).to.match(new RegExp(`^relayer_signers_held ${SIGNER_INDEXES.length}$`, "m"));
    expect(text).to.match(/^relayer_transactions_total\{outcome="sent"\} [1-9]\d*$/m);
    // Written by the API's thread:
    expect(text).to.match(/^relayer_queue_depth\{status="pending"\} \d+$/m);
    // Process metrics come from one thread only: a second copy would double the process's CPU and memory.
    expect(text.match(/^relayer_process_process_cpu_seconds_total /gm)).to.have.length(1);
    expect(text.match(/^# TYPE relayer_signers_held /gm)).to.have.length(1);
  });

  it("stops gracefully: the signer leases are released and no command stays claimed", async () => {
    const m = await env.newMerchant("Stopping");
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const o = await env.call("POST", "/v1/orders", m.key, { reference: `S-${i}`, amount: "7", token: "native" });
      ids.push(o.body.id);
    }
    const started = Date.now();
    await env.relayer.stop();
    expect(Date.now() - started).to.be.below(15_000);
    const held = await pg.query(`select 1 from signer_leases where owner is not null and expires_at > now()`);
    expect(held.rowCount).to.equal(0);
    const claimed = await pg.query(`select 1 from commands where status = 'claimed'`);
    expect(claimed.rowCount).to.equal(0);
    // Whatever was not sent is still queued: nothing accepted was lost.
    const orders = await pg.query<{ n: string }>(`select count(*) as n from orders where id = any($1::text[])`, [ids]);
    expect(Number(orders.rows[0].n)).to.equal(20);
  });
});
