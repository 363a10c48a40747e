/**
 * Assembles one relayer process: database (migrated), chain context, writer, indexer and HTTP app.
 * Used by `main.ts`, the tests, the benchmark and the local stack.
 */
import crypto from "node:crypto";
import pino, { type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import { computeAddress } from "ethers";
import { openDb, type Db } from "./store/db";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./store/embeddedPostgres";
import { migrate } from "./store/migrate";
import { makeChainContext, makeProvider, type ChainContext, type ContractAddresses } from "./chain/context";
import type { ChainWriter } from "./chain/submitter/submitter";
import type { Indexer } from "./indexer/indexer";
import type { WebhookDeliverer } from "./webhooks/deliverer";
import type { KeeperLoop } from "./keepers/keeperLoop";
import { createWorkers, startWorkerThread } from "./workers";
import { ApiKeyCache } from "./store/apiKeyCache";
import { API_KEYS_CHANNEL } from "./store/apiKeys";
import { listen } from "./store/notify";
import { buildApp } from "./api/app";
import { createMetrics, type Metrics } from "./metrics";
import { ConfigError, rpcSettings, type RelayerConfig } from "./config";
import { REDACTING_LOG_HOOKS } from "./domain/redact";

/** Chains that only exist on a developer's machine. */
const LOCAL_CHAIN_IDS = [31337n, 1337n];

export interface Relayer {
  app: FastifyInstance;
  db: Db;
  /** `external`: the server named by DATABASE_URL; `embedded`: the relayer's own server in DATA_DIR. */
  database: "external" | "embedded";
  chain: ChainContext;
  /**
   * The chain writer, indexer and webhook deliverer of this process. With `workers: "thread"` they run in a
   * worker thread and these objects stay idle (their configuration, such as the signers, is the same).
   */
  writer: ChainWriter;
  indexer: Indexer;
  webhooks: WebhookDeliverer;
  /** The keepers' loop (started with the writer, where the workers run). */
  keepers: KeeperLoop;
  /** Where the writer, indexer and webhooks run. */
  workerMode: "inline" | "thread" | "none";
  /** Valid API keys remembered for API_KEY_CACHE_MS (disabled while revocation notices cannot arrive). */
  keyCache: ApiKeyCache;
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
  /**
   * Start the writer, indexer and webhook loops: `true` in this event loop (default), `"thread"` in a worker
   * thread of this process (PostgreSQL only), `false` not at all (API only).
   */
  workers?: boolean | "thread";
  httpLogger?: boolean;
  /** Called when the worker thread ends by itself (it never should): the process should exit. */
  onWorkersExit?: (code: number) => void;
}

export async function startRelayer(opts: StartOptions): Promise<Relayer> {
  const { config } = opts;
  const log =
    opts.logger ??
    pino({ level: config.logLevel, base: { service: "orderchain-relayer" }, hooks: REDACTING_LOG_HOOKS });
  const metrics = createMetrics();
  // What has started so far, stopped in reverse order if a later step fails: a failed start leaves nothing
  // running (no server, lock, pool, listener or thread).
  const started: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => undefined);
  };
  try {
    // Without DATABASE_URL the relayer brings its own PostgreSQL server, in DATA_DIR (locked to this process).
    let embedded: EmbeddedPostgres | null = null;
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres({
        dir: config.dataDir,
        log: (message) => log.info({ dataDir: config.dataDir }, message),
        onLockLost: (err) => {
          log.fatal({ err: String(err) }, "lost the lock of DATA_DIR; stopping");
          opts.onWorkersExit?.(1);
        },
      });
      const server = embedded;
      started.push(() => server.stop());
    }
    const databaseUrl = embedded?.url ?? config.databaseUrl!;
    const database = embedded ? "embedded" : "external";
    const db = await openDb({ databaseUrl });
    started.push(() => db.close());
    const applied = await migrate(db);
    if (applied.length) log.info({ migrations: applied, database }, "database migrated");
    const provider = makeProvider(rpcSettings(config).urls, opts.chainId, {
      ...rpcSettings(config).transport,
      onOutcome: (outcome) => metrics.rpcRequests.inc({ outcome }),
      log,
    });
    started.push(() => provider.destroy());
    // Asked of the node itself: the provider's network is static (set from the deployment), so it cannot tell.
    // A node that does not answer yet is not an error here: the indexer and the writer retry.
    const served = await provider
      .send("eth_chainId", [])
      .then((id: string) => BigInt(id))
      .catch(() => null);
    if (served !== null && served !== opts.chainId) {
      throw new Error(`RPC_URL serves chain ${served}, but the deployment is for chain ${opts.chainId}`);
    }
    // The config can only check CHAIN_ID when it is set; the deployment's chain is known here in every case.
    if (config.webhookAllowPrivateTargets && !LOCAL_CHAIN_IDS.includes(opts.chainId)) {
      throw new ConfigError([
        `WEBHOOK_ALLOW_PRIVATE_TARGETS: may only be true on a local chain (31337 or 1337), not ${opts.chainId}`,
      ]);
    }
    const chain = makeChainContext(provider, opts.chainId, opts.addresses);
    const instanceId = config.instanceId ?? `relayer-${process.pid}-${crypto.randomBytes(3).toString("hex")}`;
    const workers = createWorkers(config, db, chain, log, metrics, instanceId);
    const { writer, indexer, webhooks, keepers } = workers;
    const mode =
      opts.workers === undefined || opts.workers === true ? "inline" : opts.workers === "thread" ? "thread" : "none";
    let thread: Awaited<ReturnType<typeof startWorkerThread>> | null = null;
    // Other processes may revoke keys: cache only while their notifications can reach us.
    const keyCache = new ApiKeyCache(config.apiKeyCacheMs, { enabled: false });
    const keyListener =
      config.apiKeyCacheMs > 0
        ? listen(databaseUrl, API_KEYS_CHANNEL, {
            onNotify: () => keyCache.invalidate(),
            onState: (up) => {
              keyCache.setEnabled(up);
              if (!up) log.warn("API key notifications unavailable; reading every key until they are back");
            },
          })
        : null;
    if (keyListener) started.push(() => keyListener.stop());
    const app = await buildApp(
      {
        db,
        chain,
        log,
        metrics,
        workerMetrics: () => (thread ? thread.metrics() : Promise.resolve([])),
        keyCache,
        config: {
          adminApiKey: config.adminApiKey,
          arbiterApiKey: config.arbiterApiKey,
          merchantKeySecret: config.merchantKeySecret,
          confirmations: config.confirmations,
          idempotencyTtlHours: config.idempotencyTtlHours,
          // A safe or finalized block trails the head by up to two epochs (64 blocks each) on Ethereum.
          indexerLagAllowance: config.indexerDepth + (config.indexerTarget === "latest" ? 0 : 128),
          webhookAllowPrivateTargets: config.webhookAllowPrivateTargets,
          arbiterSignerConfigured: !!config.arbiterSignerKey,
          relayPolicy: {
            perBuyerPerMinute: config.relayBuyerPerMinute,
            perMerchantPerMinute: config.relayMerchantPerMinute,
          },
          gasBudgetDefaultWei: config.gasBudgetDefaultWei,
          payoutChangeDelaySeconds: config.payoutChangeDelaySeconds,
          operatorAddresses: config.signerKeys.map((k) => computeAddress(k)),
          rateLimits: {
            perKeyPerMinute: config.rateLimitPerKeyPerMinute,
            perIpPerMinute: config.rateLimitPerIpPerMinute,
            perMerchantPerMinute: config.rateLimitPerMerchantPerMinute,
          },
          maxApiKeysPerMerchant: config.maxApiKeysPerMerchant,
          trustProxy: config.trustProxy,
        },
      },
      { logger: opts.httpLogger ? { level: config.logLevel } : false },
    );
    started.push(() => app.close());
    if (mode === "inline") {
      started.push(() => workers.stop());
      await workers.start();
    }
    if (mode === "thread") {
      thread = await startWorkerThread(
        { config: { ...config, databaseUrl }, chainId: String(opts.chainId), addresses: opts.addresses, instanceId },
        log,
        opts.onWorkersExit,
      );
    }
    let stopped = false;
    const relayer: Relayer = {
      app,
      db,
      database,
      chain,
      writer,
      indexer,
      webhooks,
      keepers,
      workerMode: mode,
      keyCache,
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
        await keyListener?.stop();
        if (thread) await thread.stop();
        else await workers.stop();
        provider.destroy();
        await db.close();
        await embedded?.stop();
      },
    };
    return relayer;
  } catch (err) {
    await undo();
    throw err;
  }
}
