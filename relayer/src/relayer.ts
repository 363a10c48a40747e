/**
 * Assembles one relayer process: database (migrated), chain context, writer, indexer and HTTP app.
 * Used by `main.ts`, the tests, the benchmark and the local stack.
 */
import crypto from "node:crypto";
import pino, { type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import { openDb, type Db } from "./store/db";
import { migrate } from "./store/migrate";
import { makeChainContext, makeProvider, type ChainContext, type ContractAddresses } from "./chain/context";
import { ChainWriter } from "./chain/writer";
import { Indexer, type IndexerHooks } from "./indexer/indexer";
import { postLedger } from "./ledger/ledger";
import { announceOrders } from "./webhooks/events";
import { DEFAULT_DELIVERY, WebhookDeliverer } from "./webhooks/deliverer";
import { buildApp } from "./api/app";
import { createMetrics, type Metrics } from "./metrics";
import type { RelayerConfig } from "./config";

export interface Relayer {
  app: FastifyInstance;
  db: Db;
  chain: ChainContext;
  writer: ChainWriter;
  indexer: Indexer;
  webhooks: WebhookDeliverer;
  metrics: Metrics;
  log: Logger;
  /** Address the HTTP server listens on, once `listen` was called. */
  url?: string;
  listen(): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  config: RelayerConfig;
  chainId: bigint;
  addresses: ContractAddresses;
  logger?: Logger;
  /** Start the writer and indexer loops (default true). */
  workers?: boolean;
  httpLogger?: boolean;
}

export async function startRelayer(opts: StartOptions): Promise<Relayer> {
  const { config } = opts;
  const log = opts.logger ?? pino({ level: config.logLevel, base: { service: "orderchain-relayer" } });
  const metrics = createMetrics();
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const applied = await migrate(db);
  if (applied.length) log.info({ migrations: applied, database: db.kind }, "database migrated");
  const provider = makeProvider(config.rpcUrl, opts.chainId);
  const network = await provider.getNetwork().catch(() => null);
  if (network && network.chainId !== opts.chainId) {
    await db.close();
    throw new Error(`RPC_URL serves chain ${network.chainId}, but the deployment is for chain ${opts.chainId}`);
  }
  const chain = makeChainContext(provider, opts.chainId, opts.addresses);
  const instanceId = config.instanceId ?? `relayer-${process.pid}-${crypto.randomBytes(3).toString("hex")}`;
  const writer = new ChainWriter(
    db,
    chain,
    config.signerKeys,
    {
      batchSize: config.batchSize,
      confirmations: config.confirmations,
      pollIntervalMs: config.pollIntervalMs,
      replaceAfterMs: config.replaceAfterMs,
      feeBumpPercent: config.feeBumpPercent,
      leaseTtlMs: config.leaseTtlMs,
      merchantKeySecret: config.merchantKeySecret,
      arbiterKey: config.arbiterSignerKey,
    },
    log.child({ component: "writer" }),
    metrics,
    instanceId,
  );
  // The ledger and webhook events are derived in the indexer's own transaction: never one without the other.
  const hooks: IndexerHooks = {
    async onIndexed(q, from, to, touched) {
      await postLedger(q, from, to);
      await announceOrders(q, touched);
    },
    async onRolledBack(q, _ancestor, affected) {
      await announceOrders(q, affected, true);
    },
  };
  const indexer = new Indexer(
    db,
    chain,
    { pollIntervalMs: config.pollIntervalMs, batchBlocks: config.indexerBatchBlocks },
    log.child({ component: "indexer" }),
    metrics,
    hooks,
  );
  const webhooks = new WebhookDeliverer(
    db,
    {
      ...DEFAULT_DELIVERY,
      secretKey: config.merchantKeySecret,
      retryBaseMs: config.webhookRetryBaseMs,
      retryCapMs: config.webhookRetryCapMs,
      maxAttempts: config.webhookMaxAttempts,
      timeoutMs: config.webhookTimeoutMs,
      pollIntervalMs: Math.max(50, config.pollIntervalMs),
    },
    log.child({ component: "webhooks" }),
  );
  const app = await buildApp(
    {
      db,
      chain,
      log,
      metrics,
      indexer,
      config: {
        adminApiKey: config.adminApiKey,
        arbiterApiKey: config.arbiterApiKey,
        merchantKeySecret: config.merchantKeySecret,
        confirmations: config.confirmations,
        arbiterSignerConfigured: !!config.arbiterSignerKey,
        relayPolicy: {
          perBuyerPerMinute: config.relayBuyerPerMinute,
          perMerchantPerMinute: config.relayMerchantPerMinute,
        },
      },
    },
    { logger: opts.httpLogger ? { level: config.logLevel } : false },
  );
  if (opts.workers !== false) {
    await indexer.start();
    await writer.start();
    webhooks.start();
  }
  let stopped = false;
  const relayer: Relayer = {
    app,
    db,
    chain,
    writer,
    indexer,
    webhooks,
    metrics,
    log,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host });
      relayer.url = address;
      return address;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await writer.stop();
      await indexer.stop();
      await webhooks.stop();
      provider.destroy();
      await db.close();
    },
  };
  return relayer;
}
