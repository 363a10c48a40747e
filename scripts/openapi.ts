/**
 * Writes the relayer's OpenAPI document, as `GET /openapi.json` serves it, to a file (default
 * dist/openapi.json) for `npm run lint` to validate. The app is built without listening, without a database,
 * a chain or the web pages: declaring the routes uses none of them, and anything that did would fail here.
 *
 *   ts-node --transpile-only scripts/openapi.ts [out.json]
 */
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { buildApp } from "../relayer/src/api/app";
import { createMetrics } from "../relayer/src/metrics";
import type { ServiceDeps } from "../relayer/src/services/context";

/** Stands in for a dependency the routes only use while answering a request. */
function unavailable<T>(name: string): T {
  return new Proxy({} as object, {
    get: (_target, prop) => {
      throw new Error(`${name}.${String(prop)} was used while building the OpenAPI document`);
    },
  }) as T;
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join("dist", "openapi.json"));
  const deps: ServiceDeps = {
    db: unavailable("db"),
    chain: unavailable("chain"),
    log: pino({ level: "silent" }),
    metrics: createMetrics({ processMetrics: false }),
    config: { adminApiKey: "unused", merchantKeySecret: "unused", confirmations: 1 },
  };
  const app = await buildApp(deps, { pages: false });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`OpenAPI document: ${path.relative(process.cwd(), out)} (${Object.keys(doc.paths ?? {}).length} paths)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
