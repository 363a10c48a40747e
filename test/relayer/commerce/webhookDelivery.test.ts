import { expect } from "chai";
import http from "node:http";
import type net from "node:net";
import type { WebhookEvent } from "../../../sdk/api/client";
import { verifyWebhook } from "../../../sdk/webhooks";
import { devWallet, freePort, waitFor } from "../harness";
import { apiContract } from "../support/openapiContract";
import {
  contracts,
  createMerchant,
  orderRows,
  terms,
  startStack,
  waitStatuses,
  type Merchant,
  type Stack,
} from "./support";

type Mode = "ok" | "down" | "slow" | "500" | "destroy";

const TIMEOUT_MS = 1500;

/** A webhook receiver whose failure mode can be switched while deliveries are retried. */
class Receiver {
  mode: Mode = "ok";
  received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  requests = 0;
  private server: http.Server | null = null;
  private sockets = new Set<net.Socket>();
  constructor(readonly port: number) {}

  get url() {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async listen() {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        this.requests++;
        if (this.mode === "destroy") return req.socket.destroy();
        if (this.mode === "500") return void res.writeHead(500).end("down for maintenance");
        // A slow receiver does process the event, but answers after the sender gave up: the sender retries,
        // and the receiver sees the same event again.
        this.received.push({ headers: req.headers, body });
        if (this.mode === "slow") setTimeout(() => res.writeHead(200).end("ok"), TIMEOUT_MS * 3);
        else res.writeHead(200).end("ok");
      });
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", () => r()));
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }
}

describe("relayer commerce: webhooks are delivered at least once through receiver failures", function () {
  this.timeout(180_000);
  let stack: Stack;
  let ref = 0;
  const receivers: Receiver[] = [];

  before(async () => {
    stack = await startStack({
      // The receivers listen on 127.0.0.1 over http: the local-chain setting, said explicitly.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      WEBHOOK_RETRY_BASE_MS: "50",
      WEBHOOK_RETRY_CAP_MS: "2000",
      WEBHOOK_MAX_ATTEMPTS: "100",
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await stack?.stop();
  });

  async function endpointFor(m: Merchant, rx: Receiver) {
    const e = await stack.api("POST", "/v1/webhooks", m.key, { url: rx.url });
    expect(e.status).to.equal(201);
    return { id: e.body.id as string, secret: e.body.secret as string };
  }

  async function createOrder(m: Merchant, amount: bigint) {
    const o = await stack.api("POST", "/v1/orders", m.key, {
      reference: `WH-${++ref}`,
      amount: amount.toString(),
      token: "native",
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    return o.body.id as string;
  }

  /** Three orders whose life produces every kind of money event: 9 webhook events in all. */
  async function runOrders(m: Merchant, payer: ReturnType<typeof devWallet>) {
    const [a, b, c] = [
      await createOrder(m, 10n ** 15n),
      await createOrder(m, 2n * 10n ** 15n),
      await createOrder(m, 3n * 10n ** 15n),
    ];
    let rows = await waitStatuses(stack.relayer, new Map([a, b, c].map((id) => [id, "created"])), "created");
    const { escrow } = contracts(stack, payer);
    for (const id of [a, c]) {
      const o = rows.get(id)!;
      await (await escrow.pay(terms(o), { value: BigInt(o.terms.amount) })).wait();
    }
    expect((await stack.api("POST", `/v1/orders/${b}/cancel`, m.key, {})).status).to.equal(202);
    rows = await waitStatuses(
      stack.relayer,
      new Map([
        [a, "paid"],
        [b, "cancelled"],
        [c, "paid"],
      ]),
      "paid and cancelled",
    );
    expect((await stack.api("POST", `/v1/orders/${a}/ship`, m.key, { trackingReference: "T-1" })).status).to.equal(202);
    expect((await stack.api("POST", `/v1/orders/${c}/refund`, m.key, { amount: "1000000000000000" })).status).to.equal(
      202,
    );
    await waitFor(
      "partial refund indexed",
      async () => (await orderRows(stack.relayer, [c])).get(c)!.record.escrowed === "2000000000000000",
    );
    expect((await stack.api("POST", `/v1/orders/${c}/refund`, m.key, {})).status).to.equal(202);
    await waitStatuses(
      stack.relayer,
      new Map([
        [a, "shipped"],
        [c, "refunded"],
      ]),
      "shipped and refunded",
    );
    return { a, b, c };
  }

  async function eventsOf(m: Merchant) {
    return (
      await stack.relayer.db.query<{ id: string; order_id: string; type: string; sequence: number }>(
        `select id, order_id, type, sequence from webhook_events where merchant_id = $1 order by order_id, sequence`,
        [m.id],
      )
    ).rows;
  }

  async function deliveries(m: Merchant, endpointId: string) {
    const r = await stack.api("GET", `/v1/webhooks/${endpointId}/deliveries?limit=200`, m.key);
    expect(r.status).to.equal(200);
    return r.body.data as {
      id: string;
      eventId: string;
      status: string;
      attempts: number;
      lastStatusCode: number | null;
      lastError: string | null;
    }[];
  }

  /** Every event received, signed, in contiguous per-order sequences; duplicates only of the same event. */
  function checkReceived(rx: Receiver, secret: string, expected: Awaited<ReturnType<typeof eventsOf>>) {
    const byId = new Map<string, { type: string; data: { orderId: string; sequence: number } }>();
    const bodies = new Map<string, string>();
    for (const r of rx.received) {
      const ev = verifyWebhook<{ id: string; type: string; data: { orderId: string; sequence: number } }>({
        secret,
        header: r.headers["orderchain-signature"],
        body: r.body,
      });
      expect(r.headers["orderchain-event-id"]).to.equal(ev.id);
      apiContract().assertComponent("WebhookEvent", ev);
      if (bodies.has(ev.id)) expect(r.body, "a duplicate carries the same event").to.equal(bodies.get(ev.id));
      bodies.set(ev.id, r.body);
      byId.set(ev.id, ev);
    }
    expect([...byId.keys()].sort()).to.deep.equal(expected.map((e) => e.id).sort());
    const perOrder = new Map<string, number[]>();
    for (const ev of byId.values())
      perOrder.set(ev.data.orderId, [...(perOrder.get(ev.data.orderId) ?? []), ev.data.sequence]);
    for (const [orderId, seqs] of perOrder) {
      const sorted = [...seqs].sort((x, y) => x - y);
      expect(sorted, `sequences of ${orderId}`).to.deep.equal(Array.from({ length: sorted.length }, (_, i) => i + 1));
    }
    return byId;
  }

  const MODES = [
    ["down", /fetch failed|ECONNREFUSED/i, null],
    ["slow", /abort|timeout/i, null],
    ["500", /^HTTP 500$/, 500],
    ["destroy", /fetch failed|socket|terminated|closed/i, null],
  ] as const;
  const failing = new Map<
    Mode,
    { m: Merchant; rx: Receiver; endpoint: { id: string; secret: string }; orders: { a: string } }
  >();

  before(async () => {
    // The four receivers fail at once, so their retries overlap: set up in parallel, checked one by one.
    await Promise.all(
      MODES.map(async ([mode], i) => {
        const m = await createMerchant(stack.api, `Webhooks ${mode}`);
        const rx = new Receiver(await freePort());
        receivers.push(rx);
        if (mode !== "down") {
          rx.mode = mode;
          await rx.listen();
        }
        const endpoint = await endpointFor(m, rx);
        const orders = await runOrders(m, devWallet(10 + i, stack.node.provider));
        failing.set(mode, { m, rx, endpoint, orders });
      }),
    );
  });

  for (const [mode, errorPattern, statusCode] of MODES) {
    it(`delivers every event once a receiver that was ${mode === "500" ? "answering 500" : mode} recovers`, async () => {
      const { m, rx, endpoint, orders } = failing.get(mode)!;
      const expected = await eventsOf(m);
      expect(expected.length).to.equal(9);

      // While failing, the log shows each delivery retried with its last error; nothing is marked delivered.
      await waitFor(
        "retries logged",
        async () => {
          const log = await deliveries(m, endpoint.id);
          return log.length === expected.length && log.every((d) => d.attempts >= 2 && d.status !== "delivered");
        },
        // One delivery in flight per endpoint, and after 5 failures in a row the circuit breaker lets one attempt
        // through per cool-down (the 2 s retry cap here): 18 attempts take about 35 s.
        90_000,
      );
      const failingLog = await deliveries(m, endpoint.id);
      for (const d of failingLog) {
        expect(d.status, JSON.stringify(d)).to.not.equal("delivered");
        if (d.status === "pending") expect(d.lastError, JSON.stringify(d)).to.be.a("string");
      }
      expect(
        failingLog.some((d) => errorPattern.test(d.lastError ?? "")),
        JSON.stringify(failingLog.map((d) => d.lastError)),
      ).to.equal(true);
      if (statusCode) expect(failingLog.some((d) => d.lastStatusCode === statusCode)).to.equal(true);
      if (mode !== "slow") expect(rx.received).to.have.length(0);

      if (mode === "down") await rx.listen();
      rx.mode = "ok";
      await waitFor(
        "all delivered",
        async () => (await deliveries(m, endpoint.id)).every((d) => d.status === "delivered"),
        90_000,
      );
      const log = await deliveries(m, endpoint.id);
      for (const d of log) {
        expect(d.attempts).to.be.at.least(2);
        expect(d.lastError).to.equal(null);
        expect(d.lastStatusCode).to.equal(200);
      }
      const byId = checkReceived(rx, endpoint.secret, expected);
      if (mode === "slow") expect(rx.received.length, "timed-out deliveries arrive again").to.be.greaterThan(byId.size);
      else expect(rx.received.length).to.be.at.least(byId.size);
      const typesA = [...byId.values()]
        .filter((e) => e.data.orderId === orders.a)
        .sort((x, y) => x.data.sequence - y.data.sequence)
        .map((e) => e.type);
      expect(typesA).to.deep.equal(["order.created", "order.paid", "order.shipped"]);
      expect(expected.map((e) => e.type).sort()).to.deep.equal(
        [
          "order.created",
          "order.created",
          "order.created",
          "order.paid",
          "order.paid",
          "order.shipped",
          "order.cancelled",
          "order.partially_refunded",
          "order.refunded",
        ].sort(),
      );
    });
  }

  it("an integrator reading a webhook sees the order exactly as GET /v1/orders/{id} shows it (one serializer)", async () => {
    const m = await createMerchant(stack.api, "Webhooks payload");
    const rx = new Receiver(await freePort());
    receivers.push(rx);
    await rx.listen();
    const endpoint = await endpointFor(m, rx);
    const id = await createOrder(m, 36_000_000n);
    await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created");
    await waitFor("delivered", async () => (await deliveries(m, endpoint.id)).some((d) => d.status === "delivered"));
    const ev = verifyWebhook<WebhookEvent>({
      secret: endpoint.secret,
      header: rx.received[0].headers["orderchain-signature"],
      body: rx.received[0].body,
    });
    apiContract().assertComponent("WebhookEvent", ev);
    if (ev.type !== "order.created") expect.fail(`order.created expected, got ${ev.type}`);
    const got = await stack.api("GET", `/v1/orders/${id}`, m.key);
    const { record: _r, events: _e, commands: _c, ...asListed } = got.body;
    const { orderId, sequence, lastEventBlock, previousStatus, eventRef, ...asSent } = ev.data;
    expect(asSent).to.deep.equal(asListed);
    expect(eventRef).to.equal(`${asListed.chainProof.txHash}:${asListed.chainProof.logIndex}`);
    expect(asSent.escrowed).to.equal("0");
    expect(orderId).to.equal(id);
    expect(sequence).to.equal(1);
    expect(previousStatus).to.equal(null);
    expect(lastEventBlock).to.be.a("number");
  });

  it("sends an event again on manual redelivery, signed and with the same event id", async () => {
    const m = await createMerchant(stack.api, "Webhooks redelivery");
    const rx = new Receiver(await freePort());
    receivers.push(rx);
    await rx.listen();
    const endpoint = await endpointFor(m, rx);
    const id = await createOrder(m, 10n ** 15n);
    await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created");
    await waitFor("delivered", async () => (await deliveries(m, endpoint.id)).some((d) => d.status === "delivered"));
    const [first] = await deliveries(m, endpoint.id);
    const before = rx.received.length;

    const r = await stack.api("POST", `/v1/webhooks/deliveries/${first.id}/redeliver`, m.key, {});
    expect(r.status).to.equal(202);
    expect(r.body).to.deep.include({ eventId: first.eventId, status: "pending" });
    expect(r.body.id).to.not.equal(first.id);
    await waitFor("redelivered", async () => rx.received.length > before);
    const again = rx.received[rx.received.length - 1];
    expect(again.headers["orderchain-delivery-id"]).to.equal(r.body.id);
    const ev = verifyWebhook({
      secret: endpoint.secret,
      header: again.headers["orderchain-signature"],
      body: again.body,
    });
    expect(ev.id).to.equal(first.eventId);
    expect(again.body).to.equal(rx.received[before - 1].body);
    await waitFor(
      "logged",
      async () => (await deliveries(m, endpoint.id)).find((d) => d.id === r.body.id)?.status === "delivered",
    );
    const log = await deliveries(m, endpoint.id);
    expect(log.map((d) => d.eventId)).to.deep.equal([first.eventId, first.eventId]);

    // Another merchant's delivery is not found, and a delivery id that does not exist is a 404.
    const other = await createMerchant(stack.api, "Webhooks stranger");
    const foreign = await stack.api("POST", `/v1/webhooks/deliveries/${first.id}/redeliver`, other.key, {});
    expect(foreign.status).to.equal(404);
    expect(foreign.body.error.code).to.equal("not_found");
    const missing = await stack.api("POST", `/v1/webhooks/deliveries/987654321/redeliver`, m.key, {});
    expect(missing.status).to.equal(404);
  });
});
