import { expect } from "chai";
import fc from "fast-check";
import { encryptPrivateKey } from "../../../relayer/src/domain/keys";
import { newId } from "../../../relayer/src/domain/model";
import { insertEndpointWithinLimit } from "../../../relayer/src/store/webhooks";
import { classifyAddress, type Lookup } from "../../../relayer/src/webhooks/targets";
import { waitFor } from "../harness";
import { BENCH_SECRET, Receiver, sleep, startWebhookBench, type WebhookBench } from "./webhookBench";

/**
 * Webhook SSRF: an attacker holding a merchant key with the `keys` scope points an endpoint at the relayer's own
 * network (its database, the node's RPC, its admin API, a cloud metadata service) and reads the delivery log as a
 * port scanner. Outside a local chain only https to public addresses is accepted, at registration and again at
 * connect time, to the address that was checked.
 */

/** Targets refused at registration whatever the setting: nothing legitimate lives there. */
const ALWAYS_FORBIDDEN = [
  "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
  "https://169.254.169.254/",
  "https://[fe80::1]/hooks",
  "https://0.0.0.0:8080/",
  "https://0/",
  "https://[::]/",
  "https://224.0.0.1/",
  "https://[ff02::1]/",
  "https://255.255.255.255/",
  "https://100.100.100.200/latest/meta-data/", // a cloud metadata service inside 100.64/10
  "https://[fd00:ec2::254]/", // and one inside unique-local IPv6
  "https://192.0.0.192/", // and one inside the IETF protocol assignments
];

/** Targets refused unless the relayer runs against a local chain. */
const PRIVATE = [
  "http://127.0.0.1:5432/",
  "http://127.0.0.1:8545/",
  "http://127.0.0.1:8080/v1/admin/merchants",
  "https://127.0.0.1/",
  "https://2130706433/", // 127.0.0.1 written as a number
  "https://0x7f.1/", // and in hex
  "https://localhost:8545/",
  "https://rpc.localhost/",
  "https://10.0.0.5/",
  "https://172.16.0.1/",
  "https://192.168.1.1/",
  "https://100.64.0.1/", // carrier-grade NAT
  "https://[::1]/",
  "https://[fd00::1]/", // unique-local
  "https://[::ffff:127.0.0.1]/", // IPv4-mapped IPv6
  "https://[::ffff:169.254.169.254]/",
];

describe("relayer commerce: webhook targets (SSRF)", function () {
  this.timeout(120_000);

  describe("classifying addresses", () => {
    it("tells public addresses from private and reserved ones, at the edges of each range", () => {
      const table: [string, string][] = [
        ["8.8.8.8", "public"],
        ["93.184.215.14", "public"],
        ["9.255.255.255", "public"],
        ["10.0.0.0", "private"],
        ["10.255.255.255", "private"],
        ["11.0.0.0", "public"],
        ["100.63.255.255", "public"],
        ["100.64.0.0", "private"],
        ["100.127.255.255", "private"],
        ["100.128.0.0", "public"],
        ["126.255.255.255", "public"],
        ["127.0.0.1", "private"],
        ["127.255.255.254", "private"],
        ["169.253.255.255", "public"],
        ["169.254.169.254", "reserved"],
        ["169.255.0.0", "public"],
        ["172.15.255.255", "public"],
        ["172.16.0.0", "private"],
        ["172.31.255.255", "private"],
        ["172.32.0.0", "public"],
        ["192.168.0.1", "private"],
        ["192.0.0.192", "reserved"],
        ["0.0.0.0", "reserved"],
        ["0.1.2.3", "reserved"],
        ["224.0.0.1", "reserved"],
        ["239.255.255.255", "reserved"],
        ["255.255.255.255", "reserved"],
        ["2606:4700::1111", "public"],
        ["2a00:1450:4001::200e", "public"],
        ["::1", "private"],
        ["fd12:3456::1", "private"],
        ["fd00:ec2::254", "reserved"],
        ["::", "reserved"],
        ["::ffff:127.0.0.1", "reserved"],
        ["::ffff:8.8.8.8", "reserved"],
        ["::127.0.0.1", "reserved"],
        ["64:ff9b::7f00:1", "reserved"],
        ["fe80::1", "reserved"],
        ["fe80::1%eth0", "reserved"],
        ["fec0::1", "reserved"],
        ["ff02::1", "reserved"],
        ["2001:db8::1", "reserved"],
        ["2001::1", "reserved"],
        ["2002:7f00:1::", "reserved"],
        ["not-an-address", "reserved"],
      ];
      expect(table.map(([a]) => [a, classifyAddress(a)])).to.deep.equal(table);
    });

    it("refuses every IPv4-mapped IPv6 address, whatever IPv4 address it maps", () => {
      fc.assert(
        fc.property(fc.ipV4(), (v4) => classifyAddress(`::ffff:${v4}`) === "reserved"),
        { numRuns: 500 },
      );
    });
  });

  describe("against a public chain (the default setting)", () => {
    let bench: WebhookBench;
    let rx: Receiver;
    /** What the attacker's DNS answers the API at registration. */
    const registrationDns: Record<string, string[]> = {
      "internal.attacker.test": ["10.0.0.5"],
      "mixed.attacker.test": ["93.184.215.14", "127.0.0.1"],
      "rebind.attacker.test": ["93.184.215.14"],
    };
    const registrationLookup: Lookup = (hostname, _o, cb) => {
      const found = registrationDns[hostname];
      if (!found) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
      cb(
        null,
        found.map((address) => ({ address, family: 4 })),
      );
    };
    before(async () => {
      bench = await startWebhookBench({ allowPrivateWebhookTargets: false, lookup: registrationLookup });
      rx = await new Receiver().listen();
    });
    after(async () => {
      await rx?.close();
      await bench?.stop();
    });

    it("an attacker with the keys scope cannot register loopback, private, link-local, metadata, mapped or multicast targets (400 webhook_url_forbidden)", async () => {
      const m = await bench.merchant("SSRF attacker");
      const accepted: string[] = [];
      for (const url of [...ALWAYS_FORBIDDEN, ...PRIVATE]) {
        const r = await bench.api("POST", "/v1/webhooks", m.key, { url });
        if (r.status !== 400 || r.body.error.code !== "webhook_url_forbidden") accepted.push(`${url} -> ${r.status}`);
      }
      expect(accepted, "targets the attacker registered").to.deep.equal([]);
      const listed = await bench.api("GET", "/v1/webhooks", m.key);
      expect(listed.body.data).to.deep.equal([]);
    });

    it("an attacker's name that resolves to a private address (any of its addresses) is refused at registration, without the address being told", async () => {
      const m = await bench.merchant("SSRF by name");
      for (const host of ["internal.attacker.test", "mixed.attacker.test"]) {
        const r = await bench.api("POST", "/v1/webhooks", m.key, { url: `https://${host}/hooks` });
        expect(r.status, host).to.equal(400);
        expect(r.body.error.code).to.equal("webhook_url_forbidden");
        expect(JSON.stringify(r.body)).to.not.match(/10\.0\.0\.5|127\.0\.0\.1/);
      }
      // A name that does not resolve yet is accepted: every attempt checks it again.
      const later = await bench.api("POST", "/v1/webhooks", m.key, { url: "https://not-yet.attacker.test/hooks" });
      expect(later.status).to.equal(201);
    });

    it("an attacker cannot register plain http, even to a public address", async () => {
      const m = await bench.merchant("SSRF http");
      const r = await bench.api("POST", "/v1/webhooks", m.key, { url: "http://93.184.215.14/hooks" });
      expect(r.status).to.equal(400);
      expect(r.body.error.code).to.equal("webhook_url_forbidden");
      expect(r.body.error.details).to.deep.include({ field: "url" });
      const ok = await bench.api("POST", "/v1/webhooks", m.key, { url: "https://93.184.215.14/hooks" });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    });

    it("an endpoint stored with a private target (registered before, or under the local setting) is refused at connect time: the internal service is never reached", async () => {
      const m = await bench.merchant("SSRF legacy");
      const id = newId("whe");
      const legacy = (endpointId: string, url: string) =>
        insertEndpointWithinLimit(
          bench.db,
          {
            id: endpointId,
            merchantId: m.id,
            url,
            events: ["*"],
            encryptedSecret: encryptPrivateKey("whsec_x", BENCH_SECRET),
          },
          10,
        );
      await legacy(id, rx.url("/internal"));
      const named = newId("whe");
      await legacy(named, `http://localhost:${rx.port}/internal-by-name`);
      await bench.deliverer({ retryBaseMs: 20, retryCapMs: 100 });
      await bench.emit(m.id, 2);
      await waitFor(
        "both refused and logged",
        async () => {
          const logs = [...(await bench.log(m.key, id)), ...(await bench.log(m.key, named))];
          return logs.length === 4 && logs.every((d) => d.attempts >= 1);
        },
        20_000,
      );
      const logs = [...(await bench.log(m.key, id)), ...(await bench.log(m.key, named))];
      for (const d of logs) {
        expect(d.status).to.not.equal("delivered");
        expect(d.lastError, JSON.stringify(d)).to.match(/^webhook_url_forbidden/);
        expect(d.lastStatusCode).to.equal(null);
      }
      expect(rx.count(), "requests that reached the internal service").to.equal(0);
    });

    it("a DNS-rebinding attacker whose name answers a public address to the check and 127.0.0.1 to the connect never reaches 127.0.0.1: the name is looked up once per attempt and the checked address is the one connected to", async () => {
      const m = await bench.merchant("SSRF rebinding");
      const e = await bench.endpoint(m.key, `https://rebind.attacker.test:${rx.port}/rebound`);
      const lookups: string[] = [];
      let answer = 0;
      // First a public address (example.com's: nothing answers it from this machine), then loopback.
      const lookup: Lookup = (hostname, _o, cb) => {
        if (hostname === "rebind.attacker.test") lookups.push(hostname);
        const address = answer++ % 2 === 0 ? "93.184.215.14" : "127.0.0.1";
        cb(null, [{ address, family: 4 }]);
      };
      await bench.deliverer({ retryBaseMs: 20, retryCapMs: 100, timeoutMs: 500, lookup });
      await bench.emit(m.id, 1);
      await waitFor("attempts", async () => (await bench.log(m.key, e.id))[0]?.attempts >= 4, 30_000);
      const [d] = await bench.log(m.key, e.id);
      expect(rx.count("/rebound"), "requests that reached 127.0.0.1").to.equal(0);
      expect(d.status).to.not.equal("delivered");
      // Each attempt looked the name up once: the address checked is the address connected to.
      expect(lookups.length).to.be.within(d.attempts, d.attempts + 1);
      expect(d.lastError).to.match(/webhook_url_forbidden|timeout|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH/);
    });
  });

  describe("against a local chain (allowPrivateWebhookTargets)", () => {
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

    it("accepts http and private receivers, but an attacker still cannot reach metadata, link-local, unspecified or multicast addresses", async () => {
      const m = await bench.merchant("Local dev");
      for (const url of [rx.url(), "http://192.168.1.10:3000/hooks", "http://[::1]:3000/hooks"]) {
        const r = await bench.api("POST", "/v1/webhooks", m.key, { url });
        expect(r.status, `${url} ${JSON.stringify(r.body)}`).to.equal(201);
      }
      for (const url of ALWAYS_FORBIDDEN) {
        const r = await bench.api("POST", "/v1/webhooks", m.key, { url });
        expect(r.status, url).to.equal(400);
        expect(r.body.error.code, url).to.equal("webhook_url_forbidden");
      }
    });

    it("connects to the address its single lookup answered, with the endpoint's name in the Host header", async () => {
      const m = await bench.merchant("Local pinned");
      const e = await bench.endpoint(m.key, `http://pinned.test:${rx.port}/pinned`);
      let lookups = 0;
      const lookup: Lookup = (_h, _o, cb) => {
        lookups++;
        cb(null, [{ address: "127.0.0.1", family: 4 }]);
      };
      await bench.deliverer({ lookup });
      await bench.emit(m.id, 1);
      await waitFor("delivered", async () => (await bench.log(m.key, e.id))[0]?.status === "delivered", 20_000);
      expect(lookups).to.equal(1);
      const [req] = rx.requests.filter((r) => r.path === "/pinned");
      expect(req.host).to.equal(`pinned.test:${rx.port}`);
    });

    it("never follows a redirect from a hostile receiver towards another target", async () => {
      const m = await bench.merchant("Local redirect");
      const target = await new Receiver().listen();
      const redirector = await new Receiver().listen();
      try {
        redirector.mode = "redirect";
        redirector.redirectTo = target.url("/stolen");
        const e = await bench.endpoint(m.key, redirector.url("/hooks"));
        await bench.deliverer({ retryBaseMs: 50, retryCapMs: 100 });
        await bench.emit(m.id, 1);
        await waitFor("attempted", async () => (await bench.log(m.key, e.id))[0]?.attempts >= 2, 20_000);
        const [d] = await bench.log(m.key, e.id);
        expect(d.lastStatusCode).to.equal(307);
        expect(d.lastError).to.equal("HTTP 307");
        expect(d.status).to.not.equal("delivered");
        await sleep(100);
        expect(target.count(), "requests that followed the redirect").to.equal(0);
      } finally {
        await target.close();
        await redirector.close();
      }
    });
  });
});
