/**
 * Entry of the relayer's worker thread (`WORKERS=thread`): the chain writer, the indexer and the webhook
 * deliverer with their own database pool and RPC connection, so the API's event loop never waits behind
 * a batch being encoded or a block being indexed. Started and stopped by `startRelayer`; the main thread
 * has already migrated the database.
 */
import { parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { REDACTING_LOG_HOOKS } from "./domain/redact";
import { openDb } from "./store/db";
import { makeChainContext, makeProvider } from "./chain/context";
import { createMetrics } from "./metrics";
import { rpcSettings } from "./config";
import { createWorkers, type FromWorker, type ToWorker, type WorkerThreadData } from "./workers";

async function run(): Promise<void> {
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  const data = workerData as WorkerThreadData;
  const { config } = data;
  const log = pino({
    level: config.logLevel,
    base: { service: "orderchain-relayer", thread: "workers" },
    hooks: REDACTING_LOG_HOOKS,
  });
  const metrics = createMetrics({ processMetrics: false });
  let stop: (() => Promise<void>) | null = null;
  port.on("message", (m: ToWorker) => {
    if (m.type === "metrics") {
      void metrics.registry.getMetricsAsJSON().then((json) => send({ type: "metrics", id: m.id, metrics: json }));
    } else if (m.type === "stop") {
      void (stop ? stop() : Promise.resolve()).finally(() => send({ type: "stopped" }));
    }
  });
  try {
    const db = await openDb({ databaseUrl: config.databaseUrl! });
    const provider = makeProvider(rpcSettings(config).urls, BigInt(data.chainId), {
      ...rpcSettings(config).transport,
      onOutcome: (outcome) => metrics.rpcRequests.inc({ outcome }),
      log,
    });
    const chain = makeChainContext(provider, BigInt(data.chainId), data.addresses);
    const workers = createWorkers(config, db, chain, log, metrics, data.instanceId);
    stop = async () => {
      await workers.stop();
      provider.destroy();
      await db.close();
    };
    await workers.start();
    send({ type: "started" });
  } catch (err) {
    // Whatever did start (the indexer before a failing writer, say) is stopped before reporting.
    if (stop) await stop().catch(() => undefined);
    send({ type: "failed", error: String((err as Error)?.stack ?? err) });
  }
}

void run();
