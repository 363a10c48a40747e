#!/usr/bin/env node
// `npm run build` (after `hardhat compile`, which writes the contracts' TypeChain bindings): compiles the relayer,
// the scripts users run, the SDK and the deployment code from TypeScript to CommonJS JavaScript in dist/, file
// for file (esbuild strips the types; `npm run typecheck` checks them), and puts beside them what they read at
// run time: the SQL migrations and the built web pages. dist/ then runs with plain `node`, without ts-node, tsx
// or Hardhat in the process; the contracts' ABIs and bytecode come from the compiled bindings in
// dist/typechain-types/.
//
// Plain JavaScript on purpose: it runs before anything is compiled.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const esbuild = require("esbuild");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "dist");
/** Source folders compiled into dist/ (tests are not: they run from TypeScript under Hardhat's mocha). */
const SOURCES = ["relayer/src", "scripts", "sdk", "deploy", "typechain-types", "web/build.ts"];

function tsFiles(rel) {
  const abs = path.join(ROOT, rel);
  if (!fs.existsSync(abs)) return [];
  if (fs.statSync(abs).isFile()) return [abs];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const child = path.join(rel, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "dist" ? [] : tsFiles(child);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path.join(ROOT, child)] : [];
  });
}

function copyDir(from, to, filter) {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) if (filter(name)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}

async function main() {
  const started = Date.now();
  if (!fs.existsSync(path.join(ROOT, "typechain-types", "index.ts"))) {
    throw new Error("typechain-types/ is missing: run `npx hardhat compile` first (npm run build does)");
  }
  // Built beside the final folder and swapped in, so a running process never sees half a build.
  const tmp = `${OUT}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const entryPoints = SOURCES.flatMap(tsFiles);
  await esbuild.build({
    entryPoints,
    outdir: tmp,
    outbase: ROOT,
    bundle: false,
    format: "cjs",
    platform: "node",
    target: "node20",
    // As TypeScript's CommonJS output does: `await import("./x")` becomes a require, resolved like every other one.
    supported: { "dynamic-import": false },
    sourcemap: true,
    logLevel: "warning",
  });
  copyDir(path.join(ROOT, "relayer/src/store/migrations"), path.join(tmp, "relayer/src/store/migrations"), (f) =>
    f.endsWith(".sql"),
  );
  copyDir(path.join(ROOT, "scripts/lib"), path.join(tmp, "scripts/lib"), (f) => f.endsWith(".js"));
  // The web pages, bundled for the browser, where the compiled relayer serves them from (dist/web/dist).
  const { buildWeb } = require(path.join(tmp, "web", "build.js"));
  await buildWeb(path.join(tmp, "web", "dist"), { root: path.join(ROOT, "web") });
  fs.writeFileSync(path.join(tmp, "BUILD"), `built ${new Date().toISOString()} from ${entryPoints.length} files\n`);
  const old = `${OUT}.old-${process.pid}`;
  if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
  fs.renameSync(tmp, OUT);
  fs.rmSync(old, { recursive: true, force: true });
  process.stdout.write(`built dist/ from ${entryPoints.length} TypeScript files in ${Date.now() - started} ms\n`);
}

main().catch((e) => {
  process.stderr.write(`build failed: ${e && e.message ? e.message : e}\n`);
  fs.rmSync(`${OUT}.tmp-${process.pid}`, { recursive: true, force: true });
  process.exit(1);
});
