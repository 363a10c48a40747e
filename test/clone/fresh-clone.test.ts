/**
 * Regression: the deploy commands work in a fresh clone, where nothing has been compiled yet.
 *
 * A fresh clone has no typechain-types/, artifacts/ or cache/. Hardhat loads hardhat.config.ts, and with it
 * deploy/tasks.ts, before any task runs, so nothing loaded then may import TypeChain output or read artifacts; the
 * tasks compile first and only then load the deployment code. This once failed with "Cannot find module
 * '../typechain-types/factories/contracts/Forwarder__factory'" because the deploy task loaded deploy/record.ts
 * before compiling.
 *
 * The test copies the checkout's files (tracked and new, as `git ls-files` lists them; the working tree's
 * content) into a temporary folder without any generated output, links node_modules, and runs the documented
 * commands there as separate processes (`hardhat deploy|deploy:status|deploy:verify --network localhost`),
 * with `localhost` pointed at a `hardhat node` on a free port through LOCALHOST_RPC_URL.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import { localhostNetworkConfig, networkEnvProblems } from "../../deploy/networks";
import { LocalNode, ROOT, startHardhat, type CliResult } from "../deploy/support/localNode";

/** Generated or local-only folders a fresh clone does not have (the fallback copy skips them). */
const NOT_IN_A_CLONE = new Set([
  ".git",
  "node_modules",
  "artifacts",
  "cache",
  "typechain-types",
  "coverage",
  "dist",
  "data",
  "test-artifacts",
]);

/** The checkout's files as a fresh clone would have them, plus uncommitted changes; never generated output. */
function copyCheckout(to: string): void {
  let files: string[] | undefined;
  try {
    files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 64 * 1024 * 1024,
    })
      .toString()
      .split("\0")
      .filter((f) => f !== "");
  } catch {
    files = undefined; // not a git checkout: copy the folder without the generated parts
  }
  if (files === undefined) {
    fs.cpSync(ROOT, to, {
      recursive: true,
      filter: (src) => !NOT_IN_A_CLONE.has(path.relative(ROOT, src).split(path.sep)[0]),
    });
    return;
  }
  for (const file of files) {
    const src = path.join(ROOT, file);
    if (!fs.existsSync(src) || fs.lstatSync(src).isDirectory()) continue; // deleted in the working tree
    const dest = path.join(to, file);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
  }
}

describe("deploy: a fresh clone (no typechain-types/, artifacts/ or cache/)", function () {
  // A clone compiles all 69 contracts from nothing with the npm solc (WebAssembly): about 2.5 minutes on two busy
  // cores while the other suites run beside it.
  this.timeout(420_000);

  let node: LocalNode | undefined;
  let nodeStarting: Promise<LocalNode> | undefined;
  let provider: JsonRpcProvider | undefined;
  let clone: string;
  const children: ChildProcess[] = [];

  /** `hardhat <args>` in the copy, `localhost` pointed at the test's node once it runs. */
  const hardhat = (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> => {
    const run = startHardhat(args, { LOCALHOST_RPC_URL: node?.url, ...env }, { cwd: clone });
    children.push(run.child);
    return run.done;
  };
  const output = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const typechainIndex = (): string => path.join(clone, "typechain-types", "index.ts");
  /** The node, started in `before` while the first test runs (that one stops before touching the network). */
  const chain = async (): Promise<{ node: LocalNode; provider: JsonRpcProvider }> => {
    node ??= await nodeStarting!;
    provider ??= new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    return { node, provider };
  };

  before(function () {
    clone = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-fresh-clone-"));
    copyCheckout(clone);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
    for (const generated of ["typechain-types", "artifacts", "cache", "deployments/31337.json"]) {
      expect(fs.existsSync(path.join(clone, generated)), `${generated} in the copy`).to.equal(false);
    }
    nodeStarting = LocalNode.start();
    nodeStarting.catch(() => undefined); // reported by the test that awaits it
  });

  after(async function () {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    provider?.destroy();
    await (node ?? (await nodeStarting?.catch(() => undefined)))?.stop();
    if (clone) fs.rmSync(clone, { recursive: true, force: true });
  });

  it("loads the config with nothing compiled; --no-compile names what to run instead of failing on an import", async function () {
    const noCompile = await hardhat(["deploy", "--network", "localhost", "--no-compile"]);
    expect(noCompile.stderr + noCompile.stdout, output(noCompile)).to.not.include("Cannot find module");
    expect(noCompile.code, output(noCompile)).to.equal(1);
    expect(noCompile.stderr).to.include("typechain-types/ (TypeChain output) is missing: run npm run compile first");
    expect(noCompile.stderr, "a message, not a stack trace").to.not.match(/\n\s+at /);
  });

  it("npm run deploy -- --network localhost compiles, then deploys and writes the record", async function () {
    const { node: chainNode, provider: chainProvider } = await chain();
    const run = await hardhat(["deploy", "--network", "localhost"]);
    expect(run.stderr + run.stdout, output(run)).to.not.include("Cannot find module");
    expect(run.code, output(run)).to.equal(0);
    expect(run.stdout).to.include(`Deploying orderchain to localhost (chain 31337, local)`);
    expect(run.stdout).to.include("Record written");

    expect(fs.existsSync(typechainIndex()), "typechain-types/ generated").to.equal(true);
    const record = JSON.parse(fs.readFileSync(path.join(clone, "deployments", "31337.json"), "utf8"));
    // On the node LOCALHOST_RPC_URL names, not on whatever may listen on 127.0.0.1:8545.
    for (const name of ["Forwarder", "PaymentEscrow", "InventoryToken", "MockStablecoin"]) {
      const address = record.contracts[name].address as string;
      expect(await chainProvider.getCode(address), `${name} code on ${chainNode.url}`).to.not.equal("0x");
    }
  });

  it("deploy:status regenerates a deleted typechain-types/ (artifacts current) and reports the deployment live", async function () {
    await chain();
    fs.rmSync(path.join(clone, "typechain-types"), { recursive: true, force: true });
    const status = await hardhat(["deploy:status", "--network", "localhost"]);
    expect(status.code, output(status)).to.equal(0);
    expect(status.stdout).to.include("OK: deployment is live and as recorded");
    expect(fs.existsSync(typechainIndex()), "typechain-types/ regenerated").to.equal(true);
  });

  it("verify refuses the local chain by name", async function () {
    await chain();
    const verify = await hardhat(["deploy:verify", "--network", "localhost", "--no-compile"]);
    expect(verify.stderr + verify.stdout, output(verify)).to.not.include("Cannot find module");
    expect(verify.code, output(verify)).to.equal(1);
    expect(verify.stderr).to.include("chain 31337 (localhost) is a local chain: it has no explorer to verify on");
  });

  it("LOCALHOST_RPC_URL: unset keeps Hardhat's 127.0.0.1:8545; a malformed value is named, never thrown", function () {
    expect(localhostNetworkConfig({})).to.deep.equal({});
    expect(localhostNetworkConfig({ LOCALHOST_RPC_URL: "http://127.0.0.1:9545" })).to.deep.equal({
      localhost: { url: "http://127.0.0.1:9545" },
    });
    expect(networkEnvProblems("localhost", {})).to.deep.equal([]);
    const bad = { LOCALHOST_RPC_URL: "127.0.0.1:8545" };
    expect((localhostNetworkConfig(bad).localhost as { url: string }).url).to.include("localhost_rpc_url");
    expect(networkEnvProblems("localhost", bad)).to.deep.equal([
      'LOCALHOST_RPC_URL is not an http(s) URL: "127.0.0.1:8545"',
    ]);
  });
});
