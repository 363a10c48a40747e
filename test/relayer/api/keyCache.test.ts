/**
 * The API key cache: only valid keys are kept, a lookup that raced an invalidation stores nothing, and a
 * revocation takes effect at once, in the process that made it and in another process on the same database
 * (PostgreSQL notification), also while that process's notification listener is down.
 */
import { expect } from "chai";
import { Client } from "pg";
import { ApiKeyCache } from "../../../relayer/src/store/apiKeyCache";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import type { ApiKeyRow } from "../../../relayer/src/store/apiKeys";
import { relayerConfig } from "../harness";
import { ADMIN_KEY, callApp, startApiEnv, waitFor, type ApiEnv } from "./support";

const row = (id: string, revoked = false): ApiKeyRow => ({
  id,
  merchant_id: "mch_1",
  role: "merchant",
  name: id,
  scopes: ["read"],
  key_hash: `hash-${id}`,
  prefix: "ock_",
  created_by: null,
  created_at: new Date(),
  revoked_at: revoked ? new Date() : null,
});

describe("relayer API: the API key cache", function () {
  describe("ApiKeyCache", () => {
    it("keeps a valid key until its time is up, and never a revoked or unknown one", async () => {
      const cache = new ApiKeyCache(80);
      let loads = 0;
      const load = (r: ApiKeyRow | undefined) => async () => {
        loads += 1;
        return r;
      };
      expect((await cache.lookup("a", load(row("a"))))?.id).to.equal("a");
      expect((await cache.lookup("a", load(row("a", true))))?.id).to.equal("a");
      expect(loads).to.equal(1);
      await new Promise((r) => setTimeout(r, 100));
      expect((await cache.lookup("a", load(row("a", true))))?.revoked_at).to.be.an.instanceOf(Date);
      expect(loads).to.equal(2);
      await cache.lookup("a", load(row("a", true)));
      await cache.lookup("x", load(undefined));
      await cache.lookup("x", load(undefined));
      expect(loads).to.equal(5);
      expect(cache.size).to.equal(0);
    });

    it("does not store what a lookup read before an invalidation", async () => {
      const cache = new ApiKeyCache(60_000);
      let release: () => void = () => undefined;
      const slow = cache.lookup("a", () => new Promise<ApiKeyRow>((r) => (release = () => r(row("a")))));
      cache.invalidate();
      release();
      expect((await slow)?.id).to.equal("a");
      expect(cache.size).to.equal(0);
    });

    it("reads every key while disabled or with a time of 0, and empties itself when switched", async () => {
      let loads = 0;
      const load = async () => {
        loads += 1;
        return row("a");
      };
      const off = new ApiKeyCache(0);
      await off.lookup("a", load);
      await off.lookup("a", load);
      expect(loads).to.equal(2);
      const cache = new ApiKeyCache(60_000, { enabled: false });
      await cache.lookup("a", load);
      await cache.lookup("a", load);
      expect(loads).to.equal(4);
      cache.setEnabled(true);
      await cache.lookup("a", load);
      await cache.lookup("a", load);
      expect(loads).to.equal(5);
      cache.setEnabled(false);
      expect(cache.size).to.equal(0);
      expect(cache.isEnabled).to.equal(false);
    });
  });

  describe("two relayer processes on one database", function () {
    this.timeout(120_000);
    let env: ApiEnv;
    let other: Relayer;
    let pg: Client;

    before(async () => {
      // A long cache time: only the revocation itself can make the other process forget a key.
      env = await startApiEnv({ overrides: { API_KEY_CACHE_MS: "60000" } });
      other = await startRelayer({
        config: relayerConfig(env.node, {
          DATABASE_URL: env.databaseUrl,
          API_KEY_CACHE_MS: "60000",
          LOG_LEVEL: "silent",
        }),
        chainId: env.deployed.chainId,
        addresses: env.deployed,
        workers: false,
      });
      pg = new Client({ connectionString: env.databaseUrl });
      await pg.connect();
      // Both processes listen for revocations before the tests start.
      await waitFor("listeners up", async () => {
        const r = await pg.query(
          `select 1 from pg_stat_activity where application_name = 'orderchain-relayer-listen' and datname = current_database()`,
        );
        return r.rowCount === 2;
      });
    });
    after(async () => {
      await pg?.end();
      await other?.stop();
      await env?.stop();
    });

    async function newKey(merchantId: string) {
      const k = await env.call("POST", `/v1/admin/merchants/${merchantId}/keys`, ADMIN_KEY, { name: "k" });
      expect(k.status).to.equal(201);
      return { id: k.body.id as string, secret: k.body.secret as string };
    }

    it("serves a key from the cache: a change behind the API's back is not seen until the time is up", async () => {
      const m = await env.newMerchant("Cached");
      const k = await newKey(m.id);
      expect((await callApp(other, "GET", "/v1/orders", k.secret)).status).to.equal(200);
      await pg.query(`update api_keys set revoked_at = now() where id = $1`, [k.id]);
      expect((await callApp(other, "GET", "/v1/orders", k.secret)).status).to.equal(200);
      // Not cached by the process that never used it.
      expect((await env.call("GET", "/v1/orders", k.secret)).status).to.equal(401);
    });

    it("revokes a key at once in the revoking process and within moments in the other", async () => {
      const m = await env.newMerchant("Revoked");
      const k = await newKey(m.id);
      expect((await env.call("GET", "/v1/orders", k.secret)).status).to.equal(200);
      expect((await callApp(other, "GET", "/v1/orders", k.secret)).status).to.equal(200);
      const r = await env.call("POST", `/v1/admin/merchants/${m.id}/keys/${k.id}/revoke`, ADMIN_KEY);
      expect(r.status).to.equal(200);
      expect((await env.call("GET", "/v1/orders", k.secret)).status).to.equal(401);
      const started = Date.now();
      await waitFor(
        "the other process refuses the key",
        async () => (await callApp(other, "GET", "/v1/orders", k.secret)).status === 401,
        2_000,
        10,
      );
      expect(Date.now() - started).to.be.below(2_000);
    });

    it("reads every key while its notification listener is down, so a revocation meanwhile is not missed", async () => {
      const m = await env.newMerchant("Unheard");
      const k = await newKey(m.id);
      expect((await callApp(other, "GET", "/v1/orders", k.secret)).status).to.equal(200);
      // Cut both processes' listeners, then revoke: the notification reaches nobody.
      await pg.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where application_name = 'orderchain-relayer-listen' and datname = current_database()`,
      );
      await waitFor("the other process notices", async () => !other.keyCache.isEnabled, 5_000, 5);
      const r = await env.call("POST", `/v1/admin/merchants/${m.id}/keys/${k.id}/revoke`, ADMIN_KEY);
      expect(r.status).to.equal(200);
      expect((await callApp(other, "GET", "/v1/orders", k.secret)).status).to.equal(401);
      // The listeners come back on their own, and the cache with them.
      await waitFor("listeners back", async () => {
        const x = await pg.query(
          `select 1 from pg_stat_activity where application_name = 'orderchain-relayer-listen' and datname = current_database()`,
        );
        return x.rowCount === 2 && other.keyCache.isEnabled;
      });
    });
  });
});
