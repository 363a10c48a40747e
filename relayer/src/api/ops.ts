/** Operations endpoints: liveness, readiness (database, chain, indexer lag, signers' funds) and Prometheus metrics. */
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { AggregatorRegistry } from "prom-client";
import { describeError } from "../domain/redact";
import type { ServiceDeps } from "../services/context";
import { queueDepth } from "../store/commands";
import { databaseAnswers } from "../store/db";
import { readCheckpoint } from "../store/indexerCheckpoint";
import { signerFunding } from "../store/signerLeases";
import { noKey } from "./common";
import * as S from "./schemas";

/** Readiness fails when the indexer is further behind the head than this. */
const MAX_READY_LAG_BLOCKS = 50;

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]),
  checks: Type.Object({
    database: Type.Optional(
      Type.String({ description: '"ok" or "unreachable: <reason>" (URLs in the reason show scheme and host only)' }),
    ),
    chain: Type.Optional(
      Type.Union([
        Type.Object({ status: Type.Literal("ok"), head: Type.Integer() }),
        Type.String({ description: '"unreachable: <reason>" (the RPC URL shows scheme and host only)' }),
      ]),
    ),
    indexer: Type.Optional(
      Type.Object({
        lastBlock: Type.Union([Type.Integer(), Type.Null()]),
        lagBlocks: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ),
    signers: Type.Optional(
      Type.Object(
        {
          held: Type.Integer({ description: "Signers leased by a live relayer process" }),
          canPay: Type.Integer({ description: "Of those, how many can pay for gas (the others are out of funds)" }),
        },
        { description: "Not ready when signers are held and none can pay" },
      ),
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
        await databaseAnswers(deps.db);
        checks.database = "ok";
      } catch (err) {
        ok = false;
        checks.database = `unreachable: ${describeError(err, 200)}`;
      }
      let head: number | null = null;
      try {
        head = await deps.chain.provider.getBlockNumber();
        checks.chain = { status: "ok", head };
      } catch (err) {
        ok = false;
        checks.chain = `unreachable: ${describeError(err, 200)}`;
      }
      try {
        const cp = await readCheckpoint(deps.db);
        const last = cp ? Number(cp.lastBlock) : null;
        const lag = head !== null && last !== null ? Math.max(0, head - last) : null;
        checks.indexer = { lastBlock: last, lagBlocks: lag };
        if (lag === null || lag > MAX_READY_LAG_BLOCKS + (deps.config.indexerLagAllowance ?? 0)) ok = false;
      } catch {
        ok = false;
      }
      try {
        checks.signers = await signerFunding(deps.db);
        if (checks.signers.held > 0 && checks.signers.canPay === 0) ok = false;
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
