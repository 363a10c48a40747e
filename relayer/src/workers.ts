/**
 * The background work of a relayer process (chain writer, indexer with its ledger and webhook hooks, webhook
 * deliverer, keepers), run in the process's event loop or in a worker thread of its own (`workerThread.ts`).
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import type { Db } from "./store/db";
import type { ChainContext, ContractAddresses } from "./chain/context";
import { ChainWriter } from "./chain/submitter/submitter";
import { JOBS } from "./jobs/registry";
import { Indexer, type IndexerHooks } from "./indexer/indexer";
import { postLedger } from "./ledger/ledger";
import { announceIndexed, announceRolledBack } from "./webhooks/events";
import { DEFAULT_DELIVERY, WebhookDeliverer } from "./webhooks/deliverer";
import { KeeperLoop } from "./keepers/keeperLoop";
import type { Metrics } from "./metrics";
import type { RelayerConfig } from "./config";

/** The background work of a relayer: chain writer, indexer (with ledger and webhook events) and deliveries. */
export interface Workers {
  writer: ChainWriter;
  indexer: Indexer;
  webhooks: WebhookDeliverer;
  keepers: KeeperLoop;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createWorkers(
  config: RelayerConfig,
  db: Db,
  chain: ChainContext,
  log: Logger,
  metrics: Metrics,
  instanceId: string,
): Workers {
  const writer = new ChainWriter(
    db,
    chain,
    config.signerKeys,
    {
      jobs: JOBS,
      batchSize: config.batchSize,
      confirmations: config.confirmations,
      pollIntervalMs: config.pollIntervalMs,
      replaceAfterMs: config.replaceAfterMs,
      feeBumpPercent: config.feeBumpPercent,
      maxFeePerGas: config.maxFeePerGas,
      maxReplacements: config.maxReplacements,
      lowBalanceWei: config.signerLowBalanceWei,
      estimateAllGas: config.gasLimits === undefined ? undefined : config.gasLimits === "estimate",
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
      await announceIndexed(q, touched, from, to);
    },
    async onRolledBack(q, _ancestor, retracted) {
      await announceRolledBack(q, retracted.orders, retracted.orderEvents);
    },
  };
  const indexer = new Indexer(
    db,
    chain,
    {
      pollIntervalMs: config.pollIntervalMs,
      batchBlocks: config.indexerBatchBlocks,
      indexTarget: config.indexerTarget,
      indexDepth: config.indexerDepth,
      verifyRecentBlocks: config.indexerVerifyBlocks,
    },
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
      allowPrivateWebhookTargets: config.webhookAllowPrivateTargets,
      pollIntervalMs: Math.max(50, config.pollIntervalMs),
    },
    log.child({ component: "webhooks" }),
  );
  const keepers = new KeeperLoop(
    db,
    chain,
    { actions: config.keepers, intervalMs: config.keeperIntervalMs, maxOrdersPerPass: config.keeperMaxOrdersPerPass },
    log.child({ component: "keepers" }),
    metrics,
  );
  return {
    writer,
    indexer,
    webhooks,
    keepers,
    async start() {
      await indexer.start();
      await writer.start();
      webhooks.start();
      keepers.start();
    },
    async stop() {
      await keepers.stop();
      await writer.stop();
      await indexer.stop();
      await webhooks.stop();
    },
  };
}

/** What the worker thread is started with (structured-clonable). */
export interface WorkerThreadData {
  config: RelayerConfig;
  chainId: string;
  addresses: ContractAddresses;
  instanceId: string;
}

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** The worker thread's side of the conversation. */
export type FromWorker =
  | { type: "started" }
  | { type: "failed"; error: string }
  | { type: "metrics"; id: number; metrics: MetricsJson }
  | { type: "stopped" };
export type ToWorker = { type: "metrics"; id: number } | { type: "stop" };

/** Starts the workers in a thread of their own: the API's event loop never waits behind a batch or a block. */
export async function startWorkerThread(
  data: WorkerThreadData,
  log: Logger,
  onExit?: (code: number) => void,
): Promise<{ metrics(): Promise<MetricsJson>; stop(): Promise<void> }> {
  const entry = path.join(__dirname, `workerThread${path.extname(__filename)}`);
  // Run from TypeScript sources (npm run relayer, the tests), the thread loads them through tsx, which strips
  // types with esbuild: ts-node would load a second TypeScript compiler into the thread. A compiled build runs
  // the .js directly.
  const worker = entry.endsWith(".ts")
    ? new Worker(`require("tsx/cjs/api").register(); require(${JSON.stringify(entry)});`, {
        eval: true,
        workerData: data,
      })
    : new Worker(entry, { workerData: data });
  let stopping = false;
  let nextId = 0;
  let last: MetricsJson = [];
  const pending = new Map<number, (m: MetricsJson) => void>();
  let onStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (onStopped = r));
  const exited = new Promise<number>((r) => worker.once("exit", r));
  await new Promise<void>((resolve, reject) => {
    worker.on("message", (m: FromWorker) => {
      if (m.type === "started") resolve();
      else if (m.type === "failed") {
        stopping = true;
        void worker.terminate();
        reject(new Error(`relayer workers did not start: ${m.error}`));
      } else if (m.type === "metrics") pending.get(m.id)?.(m.metrics);
      else if (m.type === "stopped") onStopped();
    });
    worker.once("error", (err) => {
      log.fatal({ err: String(err?.stack ?? err) }, "worker thread failed");
      reject(err);
    });
    void exited.then((code) => {
      reject(new Error(`relayer worker thread exited (${code}) before starting`));
      if (!stopping) {
        log.fatal({ code }, "worker thread ended");
        onExit?.(code);
      }
    });
  });
  return {
    metrics() {
      const id = nextId++;
      return new Promise<MetricsJson>((resolve) => {
        // A thread too busy to answer in time is reported as it last answered: counters never seem to reset.
        const t = setTimeout(() => {
          pending.delete(id);
          resolve(last);
        }, 2000);
        pending.set(id, (m) => {
          clearTimeout(t);
          pending.delete(id);
          last = m;
          resolve(m);
        });
        worker.postMessage({ type: "metrics", id } satisfies ToWorker);
      });
    },
    async stop() {
      stopping = true;
      worker.postMessage({ type: "stop" } satisfies ToWorker);
      // Finishing in-flight work is bounded by the caller's own shutdown timer.
      await Promise.race([stopped, exited]);
      await worker.terminate();
    },
  };
}
