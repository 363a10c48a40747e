import { expect } from "chai";
import { backoffMs, DEFAULT_DELIVERY } from "../../../relayer/src/webhooks/deliverer";
import { loadConfig } from "../../../relayer/src/config";
import { prng } from "./support";

const HOUR = 3600_000;

/** Total time from the first attempt to the last: one delay after each failed attempt but the last. */
function schedule(maxAttempts: number, base: number, cap: number, random: () => number): number {
  let total = 0;
  for (let attempt = 1; attempt < maxAttempts; attempt++) total += backoffMs(attempt, base, cap, random);
  return total;
}

describe("relayer commerce: webhook retry backoff", () => {
  it("doubles the delay per attempt while below the cap", () => {
    const low = (n: number) => backoffMs(n, 100, 1_000_000, () => 0);
    const high = (n: number) => backoffMs(n, 100, 1_000_000, () => 0.999999);
    expect([1, 2, 3, 4, 5].map(low)).to.deep.equal([50, 100, 200, 400, 800]);
    expect([1, 2, 3, 4, 5].map(high)).to.deep.equal([99, 199, 399, 799, 1599]);
    for (let n = 1; n < 12; n++) expect(low(n + 1)).to.equal(2 * low(n));
  });

  it("never exceeds the cap, however many attempts failed", () => {
    for (const attempt of [10, 20, 50, 100, 1000, 1e6]) {
      const d = backoffMs(attempt, 10_000, 2 * HOUR, () => 0.999999);
      expect(d).to.be.at.most(2 * HOUR);
      expect(d).to.be.at.least(HOUR - 1);
    }
  });

  it("treats attempt 0 and negative attempts as the first", () => {
    expect(backoffMs(0, 100, 1000, () => 0)).to.equal(50);
    expect(backoffMs(-3, 100, 1000, () => 0)).to.equal(50);
  });

  it("jitters: the delay varies between half and all of the attempt's slot", () => {
    const r = prng(7);
    for (const attempt of [1, 3, 6, 9]) {
      const slot = Math.min(60_000, 1_000 * 2 ** (attempt - 1));
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const d = backoffMs(attempt, 1_000, 60_000, r.next);
        expect(d).to.be.within(Math.floor(slot / 2), slot);
        seen.add(d);
      }
      expect(seen.size, `attempt ${attempt} delays vary`).to.be.greaterThan(50);
    }
    // With the real random source two deliveries failing together retry at different times.
    const delays = new Set(Array.from({ length: 100 }, () => backoffMs(8, 10_000, 2 * HOUR)));
    expect(delays.size).to.be.greaterThan(90);
  });

  it("retries for more than 24 hours with the default schedule, even with the shortest jitter", () => {
    const { maxAttempts, retryBaseMs, retryCapMs } = DEFAULT_DELIVERY;
    const shortest = schedule(maxAttempts, retryBaseMs, retryCapMs, () => 0);
    const longest = schedule(maxAttempts, retryBaseMs, retryCapMs, () => 0.999999);
    expect(shortest).to.be.greaterThan(24 * HOUR);
    expect(longest).to.be.lessThan(72 * HOUR);
    const r = prng(11);
    for (let i = 0; i < 100; i++)
      expect(schedule(maxAttempts, retryBaseMs, retryCapMs, r.next)).to.be.greaterThan(24 * HOUR);
  });

  it("uses the default schedule when the environment does not set one", () => {
    const c = loadConfig({
      SIGNER_KEYS: "0x" + "11".repeat(32),
      ADMIN_API_KEY: "admin-key-0123456789",
      MERCHANT_KEY_SECRET: "merchant-secret-0123456789",
    });
    expect(c.webhookMaxAttempts).to.equal(DEFAULT_DELIVERY.maxAttempts);
    expect(c.webhookRetryBaseMs).to.equal(DEFAULT_DELIVERY.retryBaseMs);
    expect(c.webhookRetryCapMs).to.equal(DEFAULT_DELIVERY.retryCapMs);
    expect(c.webhookTimeoutMs).to.equal(DEFAULT_DELIVERY.timeoutMs);
  });
});
