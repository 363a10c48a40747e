import { expect } from "chai";
import { waitFor } from "../harness";
import { Receiver, sleep, startWebhookBench, type WebhookBench } from "./webhookBench";

/**
 * Disabling an endpoint stops it for good: its retries stop, its pending deliveries are cancelled (the log says
 * so), and a redelivery to it is refused. Otherwise a merchant under attack (or a stolen key's endpoint) keeps
 * receiving events it switched off.
 */
describe("relayer commerce: disabling a webhook endpoint", function () {
  this.timeout(120_000);
  let bench: WebhookBench;
  let rx: Receiver;

  before(async () => {
    bench = await startWebhookBench({ allowPrivateWebhookTargets: true });
    rx = await new Receiver().listen();
  });
  after(async () => {
    await rx?.close();
    await bench?.stop();
  });

  it("a merchant disabling an endpoint that an attacker controls stops its retries and cancels its pending deliveries", async () => {
    const m = await bench.merchant("Disabler");
    rx.mode = "500";
    const e = await bench.endpoint(m.key, rx.url("/disabled"));
    await bench.deliverer({ retryBaseMs: 20, retryCapMs: 100, breakerThreshold: 1000 });
    await bench.emit(m.id, 3);
    await waitFor("retrying", async () => rx.count("/disabled") >= 4, 20_000);

    const r = await bench.api("POST", `/v1/webhooks/${e.id}/disable`, m.key, {});
    expect(r.status).to.equal(200);
    expect(r.body.disabledAt).to.be.a("string");
    // A request already on the wire may still land; nothing starts after that.
    await sleep(300);
    const settled = rx.count("/disabled");
    await sleep(1_000);
    expect(rx.count("/disabled"), "requests after the endpoint was disabled").to.equal(settled);

    const log = await bench.log(m.key, e.id);
    expect(log).to.have.length(3);
    for (const d of log) {
      expect(d.status, JSON.stringify(d)).to.equal("cancelled");
      expect((d as { nextAttemptAt?: string | null }).nextAttemptAt ?? null).to.equal(null);
    }

    // Redelivering to a disabled endpoint is refused, not queued forever.
    const again = await bench.api("POST", `/v1/webhooks/deliveries/${log[0].id}/redeliver`, m.key, {});
    expect(again.status, JSON.stringify(again.body)).to.equal(409);
    expect(again.body.error.code).to.equal("webhook_endpoint_disabled");
  });
});
