import crypto from "node:crypto";
import { expect } from "chai";
import { verifyWebhook } from "../../../sdk/webhooks";
import { waitFor } from "../harness";
import { Receiver, startWebhookBench, type WebhookBench } from "./webhookBench";

/**
 * Deriving the key that decrypts an endpoint's signing secret costs a scrypt (~43 ms of CPU). Run synchronously
 * for every delivery, it lets a merchant with a busy endpoint (or an attacker producing events) stall the
 * event loop the deliverer shares with the indexer and the chain writer, 43 ms per event.
 */
describe("relayer commerce: webhook signing secrets", function () {
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

  it("an attacker flooding an endpoint with events causes no synchronous scrypt per delivery: the secret is derived once, off the event loop", async () => {
    const m = await bench.merchant("Event flood");
    const e = await bench.endpoint(m.key, rx.url("/flood"));
    const original = { scryptSync: crypto.scryptSync, scrypt: crypto.scrypt };
    const calls = { sync: 0, async: 0 };
    crypto.scryptSync = ((...a: Parameters<typeof crypto.scryptSync>) => {
      calls.sync++;
      return original.scryptSync(...a);
    }) as typeof crypto.scryptSync;
    crypto.scrypt = ((...a: unknown[]) => {
      calls.async++;
      return (original.scrypt as (...x: unknown[]) => void)(...a);
    }) as typeof crypto.scrypt;
    try {
      await bench.deliverer();
      await bench.emit(m.id, 20);
      await waitFor("delivered", async () => rx.count("/flood") >= 20, 30_000);
    } finally {
      crypto.scryptSync = original.scryptSync;
      crypto.scrypt = original.scrypt;
    }
    expect(calls.sync, "synchronous scrypt calls while delivering").to.equal(0);
    expect(calls.async, "scrypt derivations for one endpoint").to.equal(1);
    // Every delivery is still signed with the endpoint's secret.
    for (const r of rx.requests.filter((x) => x.path === "/flood"))
      verifyWebhook({ secret: e.secret, header: r.signature, body: r.body });
    await waitFor("logged", async () => (await bench.log(m.key, e.id)).every((d) => d.status === "delivered"));
  });
});
