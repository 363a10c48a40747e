/**
 * The relayer ships compiled: `npm run build` (run by `npm test` first) emits dist/, which runs with plain node.
 * What users run from it (the relayer, its worker thread, the local stack behind `npm start` and the demo, the
 * SDK) loads neither Hardhat nor a TypeScript loader, and finds its migrations, web pages and contract bindings
 * inside dist/.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ROOT } from "../harness";

const DIST = path.join(ROOT, "dist");

/** Loads `modules` in a fresh `node` and returns every loaded file (require.cache) that matches `pattern`. */
function loadedFiles(modules: string[], pattern: RegExp): string[] {
  const script = `
    for (const m of ${JSON.stringify(modules)}) require(m);
    const hits = Object.keys(require.cache).filter((f) => ${pattern}.test(f));
    process.stdout.write(JSON.stringify(hits));
  `;
  const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env } });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as string[];
}

/** Every .js file under `dir`. */
function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? jsFiles(p) : e.name.endsWith(".js") ? [p] : [];
  });
}

describe("the compiled build (dist/)", function () {
  this.timeout(60_000);

  it("holds the relayer, its worker thread, the scripts users run, the SDK and what they read at run time", () => {
    for (const f of [
      "relayer/src/main.js",
      "relayer/src/workerThread.js",
      "scripts/start.js",
      "scripts/demo.js",
      "scripts/lib/exitWithParent.js",
      "scripts/lib/deployLocal.js",
      "sdk/buyerClient.js",
      "sdk/orderRecord.js",
      "sdk/webhooks.js",
      "typechain-types/factories/contracts/PaymentEscrow__factory.js",
      "web/dist/index.html",
      "web/dist/checkout.html",
    ]) {
      expect(fs.existsSync(path.join(DIST, f)), `dist/${f}`).to.equal(true);
    }
    const sources = fs.readdirSync(path.join(ROOT, "relayer/src/store/migrations")).filter((f) => f.endsWith(".sql"));
    const built = fs.readdirSync(path.join(DIST, "relayer/src/store/migrations")).filter((f) => f.endsWith(".sql"));
    expect(built).to.deep.equal(sources);
  });

  it("needs only production dependencies: what it requires is in package.json's dependencies (npm ci --omit=dev)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const missing = new Set<string>();
    for (const file of [...jsFiles(path.join(DIST, "relayer")), ...jsFiles(path.join(DIST, "sdk"))]) {
      for (const m of fs.readFileSync(file, "utf8").matchAll(/require\("([^".][^"]*)"\)/g)) {
        const spec = m[1];
        if (spec.startsWith("node:")) continue;
        // Inside the code the worker thread evaluates only when the relayer runs from its TypeScript sources.
        if (spec === "tsx/cjs/api") continue;
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        if (!(name in pkg.dependencies)) missing.add(`${name} (${path.relative(DIST, file)})`);
      }
    }
    expect([...missing]).to.deep.equal([]);
  });

  it("loads the relayer, the local stack and the SDK without Hardhat, ts-node or tsx", () => {
    const modules = [
      "relayer/src/relayer.js",
      "relayer/src/api/web.js",
      "scripts/lib/localStack.js",
      "sdk/buyerClient.js",
    ].map((m) => path.join(DIST, m));
    const loaded = loadedFiles(modules, /node_modules[\\/](hardhat|ts-node|tsx|typescript)[\\/]/);
    expect(loaded).to.deep.equal([]);
    // Nothing is read from the TypeScript sources or Hardhat's artifacts either.
    const outside = loadedFiles(modules, /./).filter(
      (f) => !f.startsWith(DIST + path.sep) && !f.includes(`${path.sep}node_modules${path.sep}`),
    );
    expect(outside).to.deep.equal([]);
  });
});
