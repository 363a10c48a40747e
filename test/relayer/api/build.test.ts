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
