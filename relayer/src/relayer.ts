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
import { Indexer } from "./indexer/indexer";
import { buildApp } from "./api/app";
import { createMetrics, type Metrics } from "./metrics";
import type { RelayerConfig } from "./config";

export interface Relayer {
  app: FastifyInstance;
  db: Db;
  chain: ChainContext;
  writer: ChainWriter;
  indexer: Indexer;
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
    },
    log.child({ component: "writer" }),
    metrics,
    instanceId,
  );
  const indexer = new Indexer(
    db,
    chain,
    { pollIntervalMs: config.pollIntervalMs, batchBlocks: config.indexerBatchBlocks },
    log.child({ component: "indexer" }),
    metrics,
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
      },
    },
    { logger: opts.httpLogger ? { level: config.logLevel } : false },
  );
  if (opts.workers !== false) {
    await indexer.start();
    await writer.start();
  }
  let stopped = false;
  const relayer: Relayer = {
    app,
    db,
    chain,
    writer,
    indexer,
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
      provider.destroy();
      await db.close();
    },
  };
  return relayer;
}
