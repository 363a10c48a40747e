#!/usr/bin/env node
// The test suites `npm test` runs side by side (core, api, relayer, faults) and the ones run on their own
// (deploy, soak), as lists of files. Every *.test.ts under test/ belongs to exactly one of the suites npm test and
// test:deploy run, so a new test file cannot be left out unnoticed: `node test/suites.js --check` (run by every
// suite) fails naming it. A few relayer test files run in the core suite, which is otherwise done well before the
// others (the contract tests run in process): the four then take about as long each.
//
//   node test/suites.js <suite> [more hardhat test arguments]   runs `hardhat test --no-compile` on its files
//   node test/suites.js --list <suite>                          prints its files
//
// Plain JavaScript: it runs before anything is compiled.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..");

/** Relayer tests run in the core suite (moved for balance; they need a node and PostgreSQL like the others). */
const IN_CORE = [
  "test/relayer/api/externalSigner.test.ts",
  "test/relayer/api/keyCache.test.ts",
  "test/relayer/commerce/signatureRefusals.test.ts",
  "test/relayer/commerce/restockOnce.test.ts",
  "test/relayer/resilience/restockCrash.test.ts",
  "test/relayer/resilience/workerThread.test.ts",
];

const SUITES = {
  core: [
    "test/unit/*.test.ts",
    "test/escrow/*.test.ts",
    "test/inventory/*.test.ts",
    "test/invariants/*.test.ts",
    "test/security/*.test.ts",
    "test/web/*.test.ts",
    ...IN_CORE,
  ],
  api: ["test/deploy/in-process.test.ts", "test/deploy/record.test.ts", "test/relayer/api/*.test.ts"],
  relayer: ["test/demo/*.test.ts", "test/relayer/*.test.ts", "test/relayer/commerce/*.test.ts"],
  faults: ["test/relayer/resilience/*.test.ts", "test/relayer/anvil/*.test.ts"],
  deploy: [
    "test/deploy/testnet.test.ts",
    "test/deploy/bad-input.test.ts",
    "test/deploy/resume.test.ts",
    "test/clone/*.test.ts",
  ],
};
/** Suites that run again, at full size, files of the suites above. */
const RERUNS = {
  soak: [
    "test/relayer/resilience/crash.test.ts",
    "test/relayer/resilience/rpcOutage.test.ts",
    "test/relayer/resilience/scaleOut.test.ts",
    "test/relayer/commerce/randomizedSettlement.test.ts",
    "test/relayer/anvil/*.test.ts",
  ],
};

/** The files a pattern names: a path, or a folder's `*.test.ts`. */
function expand(pattern) {
  if (!pattern.includes("*")) return fs.existsSync(path.join(ROOT, pattern)) ? [pattern] : [];
  const dir = path.posix.dirname(pattern);
  const suffix = path.posix.basename(pattern).replace(/^\*/, "");
  if (!fs.existsSync(path.join(ROOT, dir))) return [];
  return fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/** Each suite's files; a file a suite names by itself is left out of the folder patterns of the others. */
function files() {
  const named = new Map();
  for (const [suite, patterns] of Object.entries(SUITES))
    for (const p of patterns) if (!p.includes("*")) named.set(p, suite);
  const out = {};
  for (const [suite, patterns] of Object.entries(SUITES)) {
    out[suite] = [
      ...new Set(
        patterns.flatMap((p) => expand(p).filter((f) => !p.includes("*") || (named.get(f) ?? suite) === suite)),
      ),
    ];
  }
  for (const [suite, patterns] of Object.entries(RERUNS)) out[suite] = [...new Set(patterns.flatMap(expand))];
  return out;
}

function allTestFiles(dir = "test") {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return allTestFiles(rel);
    return e.name.endsWith(".test.ts") ? [rel] : [];
  });
}

/** Problems: a test file in no suite or in two, a pattern or a named file that matches nothing. */
function check(bySuite) {
  const problems = [];
  const owner = new Map();
  for (const suite of Object.keys(SUITES))
    for (const f of bySuite[suite]) {
      if (owner.has(f)) problems.push(`${f} is in two suites: ${owner.get(f)} and ${suite}`);
      owner.set(f, suite);
    }
  for (const f of allTestFiles()) if (!owner.has(f)) problems.push(`${f} is in no suite (add it to test/suites.js)`);
  for (const patterns of [...Object.values(SUITES), ...Object.values(RERUNS)])
    for (const p of patterns) if (expand(p).length === 0) problems.push(`${p} names no test file`);
  return problems;
}

function main(argv) {
  const bySuite = files();
  const problems = check(bySuite);
  if (problems.length > 0) {
    console.error(`test/suites.js: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    return 1;
  }
  if (argv[0] === "--check") return 0;
  const list = argv[0] === "--list";
  const suite = list ? argv[1] : argv[0];
  if (!suite || !bySuite[suite]) {
    console.error(`usage: node test/suites.js [--list] <${Object.keys(bySuite).join("|")}> [hardhat test arguments]`);
    return 2;
  }
  if (list) {
    console.log(bySuite[suite].join("\n"));
    return 0;
  }
  const hardhat = path.join(ROOT, "node_modules", ".bin", "hardhat");
  const r = spawnSync(hardhat, ["test", "--no-compile", ...argv.slice(1), ...bySuite[suite]], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = { SUITES, RERUNS, files, check };
