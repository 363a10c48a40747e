/** Operations endpoints: liveness, readiness (database, chain, indexer lag) and Prometheus metrics. */
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { AggregatorRegistry } from "prom-client";
import type { ServiceDeps } from "../services/context";
import { queueDepth } from "../store/commands";
import { noKey } from "./common";
import * as S from "./schemas";

/** Readiness fails when the indexer is further behind the head than this. */
const MAX_READY_LAG_BLOCKS = 50;

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]),
  checks: Type.Object({
    database: Type.Optional(Type.String({ description: '"ok" or "unreachable: <reason>"' })),
    chain: Type.Optional(
      Type.Union([
        Type.Object({ status: Type.Literal("ok"), head: Type.Integer() }),
        Type.String({ description: '"unreachable: <reason>"' }),
      ]),
    ),
    indexer: Type.Optional(
      Type.Object({
        lastBlock: Type.Union([Type.Integer(), Type.Null()]),
        lagBlocks: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ),
  }),
});

export function registerOps(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["ops"],
        summary: "Liveness",
        operationId: "getHealth",
        security: noKey,
        response: { 200: Type.Object({ status: Type.Literal("ok") }), ...S.errors(400, 500) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["ops"],
        summary: "Readiness: database and chain reachable, indexer lag",
        operationId: "getReadiness",
        security: noKey,
        response: {
          200: Readiness,
          503: Type.Composite([Readiness], { description: "Not ready: the failing check says why" }),
          ...S.errors(400, 500),
        },
      },
    },
    async (_req, reply) => {
      const checks: Static<typeof Readiness>["checks"] = {};
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
      return { status: ok ? ("ready" as const) : ("not_ready" as const), checks };
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        tags: ["ops"],
        summary: "Prometheus metrics",
        operationId: "getMetrics",
        security: noKey,
        response: {
          200: {
            description: "The Prometheus text exposition format",
            content: { "text/plain": { schema: Type.String() } },
          },
          ...S.errors(400, 500),
        },
      },
    },
    async (_req, reply) => {
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
    },
  );
}
