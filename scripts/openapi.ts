/**
 * The relayer's OpenAPI document, as `GET /openapi.json` serves it, and the typed client's types generated from
 * it: `sdk/api/openapi.json` and `sdk/api/schema.ts` (openapi-typescript). The app is built without listening,
 * without a database, a chain or the web pages: declaring the routes uses none of them, and anything that did
 * would fail here.
 *
 *   ts-node --transpile-only scripts/openapi.ts           write both files (npm run gen:api)
 *   ts-node --transpile-only scripts/openapi.ts --check   fail if either differs from what the routes declare
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { buildApp } from "../relayer/src/api/app";
import { createMetrics } from "../relayer/src/metrics";
import type { ServiceDeps } from "../relayer/src/services/context";

const ROOT = path.join(__dirname, "..");
const DOC = path.join(ROOT, "sdk", "api", "openapi.json");
const TYPES = path.join(ROOT, "sdk", "api", "schema.ts");

/** Stands in for a dependency the routes only use while answering a request. */
function unavailable<T>(name: string): T {
  return new Proxy({} as object, {
    get: (_target, prop) => {
      throw new Error(`${name}.${String(prop)} was used while building the OpenAPI document`);
    },
  }) as T;
}

async function documentText(): Promise<{ text: string; paths: number }> {
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
  return { text: `${JSON.stringify(doc, null, 2)}\n`, paths: Object.keys(doc.paths ?? {}).length };
}

function generateTypes(docFile: string, out: string): void {
  const bin = path.join(ROOT, "node_modules", "openapi-typescript", "bin", "cli.js");
  execFileSync(process.execPath, [bin, docFile, "-o", out, "--root-types", "--alphabetize"], { stdio: "pipe" });
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const { text, paths } = await documentText();
  if (!check) {
    fs.mkdirSync(path.dirname(DOC), { recursive: true });
    fs.writeFileSync(DOC, text);
    generateTypes(DOC, TYPES);
    console.log(`OpenAPI document: sdk/api/openapi.json (${paths} paths); client types: sdk/api/schema.ts`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-openapi-"));
  try {
    const doc = path.join(dir, "openapi.json");
    fs.writeFileSync(doc, text);
    generateTypes(doc, path.join(dir, "schema.ts"));
    const stale = [
      [DOC, doc],
      [TYPES, path.join(dir, "schema.ts")],
    ].filter(
      ([committed, fresh]) =>
        !fs.existsSync(committed) || fs.readFileSync(committed, "utf8") !== fs.readFileSync(fresh, "utf8"),
    );
    if (stale.length > 0) {
      console.error(
        `${stale.map(([f]) => path.relative(ROOT, f)).join(" and ")} differ from what the routes declare: run npm run gen:api`,
      );
      process.exit(1);
    }
    console.log(`OpenAPI document and client types are current (${paths} paths)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
