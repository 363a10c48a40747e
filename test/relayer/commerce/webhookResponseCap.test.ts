import { expect } from "chai";
import { waitFor } from "../harness";
import { Receiver, startWebhookBench, type WebhookBench } from "./webhookBench";

/**
 * A hostile receiver answers a delivery with a 400 MB body: the deliverer, which shares its process with the
 * indexer and the chain writer, must read no more than a small cap of it (4 KiB, kept for the delivery log)
 * and hang up on the rest.
 */
describe("relayer commerce: webhook response bodies are capped", function () {
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

  it("a hostile receiver's 400 MB answer is read no further than 4 KiB: the sender hangs up and the log keeps the first 4 KiB", async () => {
    const m = await bench.merchant("Huge answer");
    const e = await bench.endpoint(m.key, rx.url("/huge"));
    rx.mode = "huge";
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    try {
      await bench.deliverer({ timeoutMs: 30_000 });
      await bench.emit(m.id, 1);
      await waitFor("attempted", async () => (await bench.log(m.key, e.id))[0]?.attempts >= 1, 60_000);
    } finally {
      clearInterval(sampler);
    }
    const [d] = await bench.log(m.key, e.id);
    const seen = `receiver wrote ${rx.hugeBytesWritten} bytes; rss grew ${rssPeak - rssBefore} bytes`;
    // The receiver could write no more than what fits in the sockets' buffers before the sender hung up.
    expect(rx.hugeBytesWritten, seen).to.be.lessThan(32 * 1024 * 1024);
    expect(rssPeak - rssBefore, seen).to.be.lessThan(100 * 1024 * 1024);
    await waitFor("receiver saw the hang-up", async () => rx.hugeClosedEarly, 10_000);
    // The answer was 200: the event was accepted, whatever came after the cap.
    expect(d.status, JSON.stringify({ ...d, lastResponseBody: d.lastResponseBody?.length })).to.equal("delivered");
    expect(d.lastStatusCode).to.equal(200);
    expect(d.lastResponseBody).to.equal("x".repeat(4096));
  });
});
