/** Operations endpoints: liveness, readiness (database, chain, indexer lag) and Prometheus metrics. */
import type { FastifyInstance } from "fastify";
import { AggregatorRegistry } from "prom-client";
import type { ServiceDeps } from "../services/context";
import { queueDepth } from "../store/commands";

/** Readiness fails when the indexer is further behind the head than this. */
const MAX_READY_LAG_BLOCKS = 50;

export function registerOps(app: FastifyInstance, deps: ServiceDeps): void {
  app.get("/healthz", { schema: { tags: ["ops"], summary: "Liveness" } }, async () => ({ status: "ok" }));

  app.get(
    "/readyz",
    { schema: { tags: ["ops"], summary: "Readiness: database and chain reachable, indexer lag" } },
    async (_req, reply) => {
      const checks: Record<string, unknown> = {};
      let ok = true;
      try {
        await deps.db.query("select 1");
        checks.database = "ok";
      } catch (err) {
        ok = false;
        checks.database = `unreachable: ${String(err).slice(0, 200)}`;
      }
      let head: number | null = null;
      try {
        head = await deps.chain.provider.getBlockNumber();
        checks.chain = { status: "ok", head };
      } catch (err) {
        ok = false;
        checks.chain = `unreachable: ${String(err).slice(0, 200)}`;
      }
      try {
        const r = await deps.db.query<{ last_block: string }>("select last_block from indexer_state where id = 1");
        const last = r.rows[0] ? Number(r.rows[0].last_block) : null;
        const lag = head !== null && last !== null ? Math.max(0, head - last) : null;
        checks.indexer = { lastBlock: last, lagBlocks: lag };
        if (lag === null || lag > MAX_READY_LAG_BLOCKS) ok = false;
      } catch {
        ok = false;
      }
      reply.code(ok ? 200 : 503);
      return { status: ok ? "ready" : "not_ready", checks };
    },
  );

  app.get("/metrics", { schema: { tags: ["ops"], summary: "Prometheus metrics" } }, async (_req, reply) => {
    try {
      const depth = await queueDepth(deps.db);
      for (const [status, n] of Object.entries(depth)) deps.metrics.queueDepth.set({ status }, n);
    } catch {
      // the database being down is visible in /readyz; metrics still answer
    }
    reply.header("content-type", deps.metrics.registry.contentType);
    const fromWorkers = deps.workerMetrics ? await deps.workerMetrics() : [];
    if (fromWorkers.length === 0) return deps.metrics.registry.metrics();
    // The writer's and indexer's series come from the worker thread; each series has one source, so summing
    // the two registries leaves every value as its source reported it.
    return AggregatorRegistry.aggregate([await deps.metrics.registry.getMetricsAsJSON(), fromWorkers]).metrics();
  });
}
