import { expect } from "chai";
import { DEFAULT_DELIVERY } from "../../../relayer/src/webhooks/deliverer";
import { waitFor } from "../harness";
import { Receiver, sleep, startWebhookBench, type WebhookBench } from "./webhookBench";

/**
 * One merchant's slow endpoints must not delay everyone: an attacker registering endpoints that never answer
 * (or keep failing) holds at most one delivery in flight per endpoint, a bounded share of the deliverer, a
 * bounded number of endpoints, and is paused by a circuit breaker while it keeps failing.
 */
describe("relayer commerce: webhook fairness between merchants", function () {
  this.timeout(180_000);
  let bench: WebhookBench;
  let blackHole: Receiver;
  let fast: Receiver;

  before(async () => {
    bench = await startWebhookBench({ allowPrivateWebhookTargets: true });
    blackHole = await new Receiver().listen();
    blackHole.mode = "hang";
    fast = await new Receiver().listen();
  });
  after(async () => {
    await blackHole?.close();
    await fast?.close();
    await bench?.stop();
  });

  it("an attacker merchant's endpoints that never answer do not delay another merchant's delivery", async () => {
    const attacker = await bench.merchant("Black hole");
    for (let i = 0; i < 10; i++) await bench.endpoint(attacker.key, blackHole.url(`/fair-${i}`));
    const victim = await bench.merchant("Victim");
    const e = await bench.endpoint(victim.key, fast.url("/victim"));
    await bench.deliverer();
    await bench.emit(attacker.id, 3);
    // Let the attacker's deliveries take every slot they can.
    await waitFor("attacker's deliveries in flight", async () => blackHole.count() >= 2, 10_000);
    const started = Date.now();
    await bench.emit(victim.id, 1);
    await waitFor("victim delivered", async () => fast.count("/victim") === 1, 20_000);
    const latency = Date.now() - started;
    expect(latency, `victim's delivery took ${latency} ms`).to.be.lessThan(2_000);
    const [d] = await bench.log(victim.key, e.id);
    expect(d.status).to.equal("delivered");
  });

  it("an attacker's endpoint that never answers has one delivery in flight at a time, cut off by a short timeout", async () => {
    const attacker = await bench.merchant("Single black hole");
    const e = await bench.endpoint(attacker.key, blackHole.url("/single"));
    // Retries 300 ms apart: the receiver sees an aborted request's connection close before the next one arrives
    // even on a loaded machine (both ends share this process's event loop), so what it counts is the sender's.
    await bench.deliverer({ timeoutMs: 400, retryBaseMs: 300, retryCapMs: 300 });
    await bench.emit(attacker.id, 6);
    await waitFor("several attempts", async () => blackHole.count("/single") >= 4, 20_000);
    expect(blackHole.maxInFlight.get("/single"), "requests in flight at once to one endpoint").to.equal(1);
    const log = await bench.log(attacker.key, e.id);
    expect(log.some((d) => /timeout/i.test(d.lastError ?? ""))).to.equal(true);
    expect(DEFAULT_DELIVERY.timeoutMs, "default per-delivery timeout").to.be.at.most(5_000);
  });

  it("an attacker merchant cannot register more than 10 active endpoints (409 webhook_endpoint_limit_reached); disabling one frees a slot", async () => {
    const attacker = await bench.merchant("Endpoint hoarder");
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await bench.endpoint(attacker.key, fast.url(`/hoard-${i}`))).id);
    const over = await bench.api("POST", "/v1/webhooks", attacker.key, { url: fast.url("/hoard-10") });
    expect(over.status, JSON.stringify(over.body)).to.equal(409);
    expect(over.body.error.code).to.equal("webhook_endpoint_limit_reached");
    expect(over.body.error.details).to.deep.include({ limit: 10 });
    expect((await bench.api("POST", `/v1/webhooks/${ids[0]}/disable`, attacker.key, {})).status).to.equal(200);
    const again = await bench.api("POST", "/v1/webhooks", attacker.key, { url: fast.url("/hoard-10") });
    expect(again.status, JSON.stringify(again.body)).to.equal(201);
  });

  it("a receiver that keeps failing trips the circuit breaker: no attempt during the cool-down, one probe after it, and a success closes it", async () => {
    const m = await bench.merchant("Failing receiver");
    const failing = await new Receiver().listen();
    try {
      failing.mode = "500";
      const e = await bench.endpoint(m.key, failing.url("/failing"));
      await bench.deliverer({
        retryBaseMs: 10,
        retryCapMs: 5_000,
        breakerThreshold: 3,
        breakerCooldownMs: 2_000,
      });
      await bench.emit(m.id, 5);
      await waitFor("three failures", async () => failing.count() >= 3, 10_000);
      const tripped = Date.now();
      await sleep(1_000);
      expect(failing.count(), "attempts while the breaker is open").to.equal(3);
      const listed = (await bench.api("GET", "/v1/webhooks", m.key)).body.data.find(
        (x: { id: string }) => x.id === e.id,
      );
      expect(listed.consecutiveFailures).to.equal(3);
      expect(Date.parse(listed.pausedUntil)).to.be.greaterThan(Date.now());
      // After the cool-down exactly one probe goes out; it fails and the breaker opens again.
      await waitFor("probe", async () => failing.count() === 4, 10_000);
      expect(Date.now() - tripped).to.be.at.least(900);
      await sleep(500);
      expect(failing.count()).to.equal(4);
      // The receiver recovers: the next probe succeeds and everything due goes out.
      failing.mode = "ok";
      await waitFor(
        "all delivered",
        async () => (await bench.log(m.key, e.id)).every((d) => d.status === "delivered"),
        20_000,
      );
      const after = (await bench.api("GET", "/v1/webhooks", m.key)).body.data.find(
        (x: { id: string }) => x.id === e.id,
      );
      expect(after).to.deep.include({ consecutiveFailures: 0, pausedUntil: null });
    } finally {
      await failing.close();
    }
  });
});
