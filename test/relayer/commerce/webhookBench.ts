/**
 * A bench for the webhook attack tests: the relayer's HTTP API (built with `buildApp`, called with `inject`)
 * and webhook deliverers on a fresh database, without a chain. Events are written straight into the store,
 * so a test controls exactly what is due; receivers are local HTTP servers whose behaviour a test chooses.
 */
import http from "node:http";
import type net from "node:net";
import { ZeroAddress, Wallet } from "ethers";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../relayer/src/api/app";
import { makeChainContext, makeProvider } from "../../../relayer/src/chain/context";
import { encryptPrivateKey, hashSecret, newApiSecret } from "../../../relayer/src/domain/keys";
import { newId, SCOPES } from "../../../relayer/src/domain/model";
import { createMetrics } from "../../../relayer/src/metrics";
import type { WebhookServiceDeps } from "../../../relayer/src/services/webhooks";
import { insertApiKey } from "../../../relayer/src/store/apiKeys";
import { openDb, type Db } from "../../../relayer/src/store/db";
import { insertMerchant } from "../../../relayer/src/store/merchants";
import { migrate } from "../../../relayer/src/store/migrate";
import { enqueueDeliveries } from "../../../relayer/src/store/webhooks";
import { DEFAULT_DELIVERY, WebhookDeliverer, type DelivererOptions } from "../../../relayer/src/webhooks/deliverer";
import type { Lookup } from "../../../relayer/src/webhooks/targets";
import { createTestDatabase } from "../harness";

export const BENCH_SECRET = "bench-merchant-key-secret-0123456789";
const ADMIN = "bench-admin-key-0123456789";

export interface BenchResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface WebhookBench {
  db: Db;
  app: FastifyInstance;
  api(method: "GET" | "POST", url: string, key: string, body?: unknown): Promise<BenchResponse>;
  /** A merchant with an all-scopes key. */
  merchant(name: string): Promise<{ id: string; key: string }>;
  /** Registers an endpoint through the API; fails the test unless it is accepted. */
  endpoint(key: string, url: string): Promise<{ id: string; secret: string }>;
  /** Writes `count` events of the merchant (with one delivery per subscribed endpoint); returns their ids. */
  emit(merchantId: string, count: number): Promise<string[]>;
  /** A deliverer on the bench's database, started, after stopping the ones started before. */
  deliverer(opts?: Partial<DelivererOptions>): Promise<WebhookDeliverer>;
  /** The endpoint's delivery log as the API shows it. */
  log(key: string, endpointId: string): Promise<DeliveryView[]>;
  stop(): Promise<void>;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastResponseBody?: string | null;
  deliveredAt: string | null;
}

/**
 * Starts the bench. `allowPrivateWebhookTargets` is the local-chain setting: the receivers of these tests listen
 * on 127.0.0.1, so a test that delivers to them says so explicitly.
 */
export async function startWebhookBench(opts: {
  allowPrivateWebhookTargets: boolean;
  /** The resolver the API checks registered names with. */
  lookup?: Lookup;
}): Promise<WebhookBench> {
  const database = await createTestDatabase();
  const db = await openDb({ databaseUrl: database.url });
  await migrate(db);
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const provider = makeProvider("http://127.0.0.1:9", 31337n);
  const chain = makeChainContext(provider, 31337n, {
    escrow: ZeroAddress,
    inventory: ZeroAddress,
    forwarder: ZeroAddress,
    startBlock: 0,
  });
  const deps = {
    db,
    chain,
    log,
    metrics: createMetrics({ processMetrics: false }),
    config: {
      adminApiKey: ADMIN,
      merchantKeySecret: BENCH_SECRET,
      confirmations: 1,
      webhookAllowPrivateTargets: opts.allowPrivateWebhookTargets,
    },
    webhookLookup: opts.lookup,
  } satisfies WebhookServiceDeps;
  const app = await buildApp(deps, { pages: false });
  const deliverers: WebhookDeliverer[] = [];

  const api: WebhookBench["api"] = async (method, url, key, body) => {
    const res = await app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      payload: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };

  return {
    db,
    app,
    api,
    async merchant(name) {
      const id = newId("mch");
      await insertMerchant(db, {
        id,
        name,
        address: Wallet.createRandom().address,
        encryptedKey: encryptPrivateKey("0x" + "11".repeat(32), BENCH_SECRET),
      });
      const key = newApiSecret("ock");
      await insertApiKey(db, {
        id: newId("key"),
        merchantId: id,
        role: "merchant",
        name: "owner",
        scopes: [...SCOPES],
        keyHash: hashSecret(key),
        prefix: key.slice(0, 12),
        createdBy: "admin",
      });
      return { id, key };
    },
    async endpoint(key, url) {
      const r = await api("POST", "/v1/webhooks", key, { url });
      if (r.status !== 201) throw new Error(`registering ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.id, secret: r.body.secret };
    },
    async emit(merchantId, count) {
      const events = Array.from({ length: count }, (_, i) => {
        const id = newId("evt");
        return {
          id,
          merchantId,
          orderId: "",
          type: "order.created",
          sequence: i + 1,
          payload: JSON.stringify({ id, type: "order.created", data: { sequence: i + 1 } }),
        };
      });
      await db.query(
        `insert into webhook_events (id, merchant_id, type, sequence, payload)
           select id, m, 'order.created', s, p::jsonb from unnest($1::text[], $2::text[], $3::int[], $4::text[]) as u(id, m, s, p)`,
        [
          events.map((e) => e.id),
          events.map((e) => e.merchantId),
          events.map((e) => e.sequence),
          events.map((e) => e.payload),
        ],
      );
      await enqueueDeliveries(db, events);
      return events.map((e) => e.id);
    },
    async deliverer(o = {}) {
      for (const running of deliverers.splice(0)) await running.stop();
      const d = new WebhookDeliverer(
        db,
        {
          ...DEFAULT_DELIVERY,
          secretKey: BENCH_SECRET,
          pollIntervalMs: 20,
          allowPrivateWebhookTargets: opts.allowPrivateWebhookTargets,
          ...o,
        },
        log,
      );
      deliverers.push(d);
      d.start();
      return d;
    },
    async log(key, endpointId) {
      const r = await api("GET", `/v1/webhooks/${endpointId}/deliveries?limit=200`, key);
      if (r.status !== 200) throw new Error(`delivery log: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.data;
    },
    async stop() {
      for (const d of deliverers) await d.stop();
      await app.close();
      provider.destroy();
      await db.close();
      await database.drop();
    },
  };
}

export type ReceiverMode = "ok" | "500" | "hang" | "huge" | "redirect";

/**
 * A receiver on 127.0.0.1 that records what reaches it: requests per path, the most requests in flight at once
 * per path, and how many bytes of a huge answer it managed to write before the sender hung up.
 */
export class Receiver {
  mode: ReceiverMode = "ok";
  /** Where the `redirect` mode sends the sender (307). */
  redirectTo = "";
  /** Size of the `huge` answer. */
  hugeBytes = 400 * 1024 * 1024;
  readonly requests: {
    path: string;
    host: string | undefined;
    at: number;
    body: string;
    signature: string | undefined;
  }[] = [];
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  hugeBytesWritten = 0;
  hugeClosedEarly = false;
  private server: http.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  url(path = "/hooks"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  count(path?: string): number {
    return path === undefined ? this.requests.length : this.requests.filter((r) => r.path === path).length;
  }

  async listen(host = "127.0.0.1", port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      const path = req.url ?? "/";
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        this.requests.push({
          path,
          host: req.headers.host,
          at: Date.now(),
          body,
          signature: req.headers["orderchain-signature"] as string | undefined,
        });
        const n = (this.inFlight.get(path) ?? 0) + 1;
        this.inFlight.set(path, n);
        this.maxInFlight.set(path, Math.max(n, this.maxInFlight.get(path) ?? 0));
        const done = () => this.inFlight.set(path, (this.inFlight.get(path) ?? 1) - 1);
        res.once("close", done);
        if (this.mode === "hang") return;
        if (this.mode === "500") return void res.writeHead(500).end("down for maintenance");
        if (this.mode === "huge") return this.streamHuge(res);
        if (this.mode === "redirect") return void res.writeHead(307, { location: this.redirectTo }).end();
        res.writeHead(200).end("ok");
      });
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(port, host, () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Writes `hugeBytes` as fast as the sender reads them, and notes whether the sender hung up first. */
  private streamHuge(res: http.ServerResponse) {
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(this.hugeBytes) });
    const chunk = Buffer.alloc(64 * 1024, "x");
    res.once("close", () => {
      if (this.hugeBytesWritten < this.hugeBytes) this.hugeClosedEarly = true;
    });
    const pump = () => {
      while (this.hugeBytesWritten < this.hugeBytes && !res.destroyed) {
        this.hugeBytesWritten += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
