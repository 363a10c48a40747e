import { expect } from "chai";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { portIsFree } from "../../scripts/lib/localStack";

const ROOT = path.join(__dirname, "..", "..");

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm run demo -- <args>` in its own process group (so a stuck run can be killed whole) and resolves when it
 * exits. `onLine` sees each stdout line as it arrives. `direct` runs the script without npm and its compile check.
 */
function runDemo(
  args: string[],
  opts: {
    direct?: boolean;
    env?: Record<string, string>;
    timeoutMs: number;
    onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void;
  },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = opts.direct
      ? [process.execPath, ["dist/scripts/demo.js", ...args]]
      : ["npm", ["run", "--silent", "demo", "--", ...args]];
    const child = spawn(cmd, argv, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const killGroup = (s: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, s);
      } catch {
        // already gone
      }
    };
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      pending += d.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) opts.onLine?.(l, killGroup);
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      killGroup("SIGKILL");
      reject(new Error(`npm run demo did not finish in ${opts.timeoutMs / 1000} s:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Listens on `port` if it is free, so the demo finds it taken (null when something else already has it). */
function holdPort(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(null));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

const portOf = (output: string, label: RegExp): number => {
  const m = output.match(label);
  expect(m, `no match for ${label} in:\n${output}`).to.not.equal(null);
  return Number(m![1]);
};

describe("npm run demo", function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-demo-"));
    // Run as root, the embedded PostgreSQL server runs as another OS user, which must be able to enter the folder.
    fs.chmodSync(d, 0o755);
    dirs.push(d);
    return d;
  };

  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("tells the whole story from a clean data folder, prints every outcome and exits 0 with --exit", async () => {
    const dataDir = path.join(tempDir(), "demo");
    const started = Date.now();
    // The default ports taken (by this test, or by anything else such as `npm start`): the demo moves aside.
    const held = await Promise.all([8545, 8080].map(holdPort));
    const run = await runDemo(["--exit", "--data-dir", dataDir], { timeoutMs: 240_000 }).finally(() =>
      held.forEach((s) => s?.close()),
    );
    const out = run.stdout;
    expect(run.code, `exit code; output:\n${out}\n${run.stderr}`).to.equal(0);
    expect(out).to.not.include("✗");

    expect(out).to.match(/✓ Local chain: hardhat node at http:\/\/127\.0\.0\.1:\d+ \(chain 31337\)/);
    expect(out).to.match(/✓ Contracts deployed by deploy\/ \(local parameters\): \d+ transactions/);
    expect(out).to.match(/✓ Relayer at http:\/\/127\.0\.0\.1:\d+ on embedded PostgreSQL 18 \(its own server/);
    expect(out).to.match(
      /✓ Merchant created via the admin API: "Northwind Coffee Roasters" \S+, address 0x[0-9a-fA-F]{40}, active/,
    );
    expect(out).to.match(/✓ SKUs listed on chain \(ERC-1155\): BEAN-ETH-250 50 in stock, BEAN-COL-1K 20 in stock/);
    expect(out).to.match(/✓ Webhook endpoint registered: http:\/\/127\.0\.0\.1:\d+\/hooks/);
    expect(out).to.match(
      /✓ Payout wallet named via PUT \/v1\/merchant\/payout-address: 0x[0-9a-fA-F]{40} \(the merchant's own wallet, account #8; no key the relayer holds\) is active on chain/,
    );
    expect(out).to.match(/✓ 3 buyers with fresh wallets: 100\.00 mUSD each and 0 ETH/);
    expect(out).to.match(/✓ 3 orders accepted by POST \/v1\/orders \(202 pending\) and created on chain/);
    const checkouts = out.match(
      /✓ Gasless checkout [123]\/3: \w+ paid [\d.]+ mUSD for [A-C]-100[1-3] .*ETH balance: 0/g,
    );
    expect(checkouts).to.have.length(3);
    expect(out).to.match(
      /✓ Gasless checkout 1\/3: Alice paid 36\.00 mUSD for A-1001 by signing an ERC-3009 authorization/,
    );
    expect(out).to.match(/✓ Gasless checkout 3\/3: Carol paid 45\.00 mUSD for C-1003 by signing an EIP-2612 permit/);
    expect(out).to.match(/✓ 3 orders shipped/);
    expect(out).to.match(
      /✓ Shipped and confirmed: Alice confirmed receipt of A-1001 without gas: completed; merchant paid 35\.64 mUSD \(fee 0\.36 mUSD\)/,
    );
    expect(out).to.match(
      /✓ Partial refund: 18\.00 mUSD of B-1002 refunded to Bob .*still shipped, 45\.00 mUSD escrowed/,
    );
    expect(out).to.match(
      /✓ Dispute settled by a proposal: Carol disputed C-1003 without gas .*the merchant proposed a split .*Carol accepted it without gas: 30\.00 mUSD back to Carol, 14\.85 mUSD to the merchant .*no arbiter needed/,
    );
    expect(out).to.match(
      /✓ Auto-released by the relayer's keeper: chain clock moved [\d.]+ h ahead \(evm_increaseTime \+ evm_mine\); the keeper found B-1002 past its protection period and called autoRelease: completed; the payout wallet received 44\.55 mUSD/,
    );
    expect(out).to.match(
      /✓ A return after delivery: Alice sent one bag of A-1001 back within its 14-day refund window; POST \/v1\/orders\/:id\/return gave Alice 18\.00 mUSD from the payout wallet \(refundCompleted\), without gas for Alice; completed, 1 × BEAN-ETH-250 back in stock/,
    );
    expect(out).to.match(
      /✓ An order nobody paid expires: E-1005 \(2 × BEAN-COL-1K\) .*the keeper cancelled it and the 2 reserved bags came back/,
    );
    // 35.64 + 14.85 + 44.55 paid to the payout wallet, 18.00 of it returned to Alice.
    expect(out).to.match(/✓ Ledger reconciled with the chain: ok, 0 differences .*merchant payouts 77\.04 mUSD/);
    const hooks = out.match(/✓ Webhooks: (\d+) deliveries received, (\d+) signatures verified/);
    expect(hooks, out).to.not.equal(null);
    expect(Number(hooks![1])).to.be.at.least(15);
    expect(hooks![2]).to.equal(hooks![1]);
    // Every on-chain step shows its transaction and the gas it used.
    expect(out.match(/tx 0x[0-9a-f]{64} · block \d+ · gas [\d,]+/g)!.length).to.be.at.least(15);

    expect(out).to.match(/All steps passed in [\d.]+s\./);
    const relayerPort = portOf(out, /Merchant dashboard\s+http:\/\/127\.0\.0\.1:(\d+)\//);
    expect(out).to.match(/Buyer checkout\s+http:\/\/127\.0\.0\.1:\d+\/checkout\/0x[0-9a-f]{64}/);
    expect(out).to.not.include("The web page is not available");
    expect(out).to.match(/Merchant API key\s+\S{16,}  \(log in to the dashboard with it\)/);
    expect(out).to.match(/\nStopped\.\n/);

    // Nothing left behind: the chain and the relayer released their ports; the record is in the data folder.
    const chainPort = portOf(out, /Chain \(JSON-RPC\)\s+http:\/\/127\.0\.0\.1:(\d+)/);
    expect(chainPort).to.not.equal(8545);
    expect(relayerPort).to.not.equal(8080);
    expect(out).to.include("port 8545 was busy");
    expect(out).to.include("port 8080 was busy");
    expect(await portIsFree(chainPort, "127.0.0.1"), `chain port ${chainPort} still in use`).to.equal(true);
    expect(await portIsFree(relayerPort, "127.0.0.1"), `relayer port ${relayerPort} still in use`).to.equal(true);
    expect(fs.existsSync(path.join(dataDir, "deployments", "31337.json"))).to.equal(true);
    console.log(`      (demo run took ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  });

  it("names the failing step, exits 1 and stops the chain when a step fails", async () => {
    // An invalid relayer setting from the environment stops the relayer step.
    const run = await runDemo(["--exit", "--data-dir", tempDir(), "--chain-port", "0", "--port", "0"], {
      env: { LOG_LEVEL: "loud" },
      direct: true,
      timeoutMs: 180_000,
    });
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    expect(run.stdout).to.match(/✓ Contracts deployed/);
    expect(run.stdout).to.match(/✗ Start the relayer: FAILED/);
    expect(run.stdout).to.include("LOG_LEVEL");
    expect(run.stdout).to.match(/Demo failed at step: Start the relayer/);
    const chainPort = portOf(run.stdout, /hardhat node at http:\/\/127\.0\.0\.1:(\d+)/);
    expect(await portIsFree(chainPort, "127.0.0.1"), `chain port ${chainPort} still in use`).to.equal(true);
  });

  it("stops the chain and exits 130 on Ctrl-C", async () => {
    let chainPort = 0;
    const run = await runDemo(["--data-dir", tempDir(), "--chain-port", "0", "--port", "0"], {
      timeoutMs: 120_000,
      onLine: (line, kill) => {
        const m = line.match(/✓ Local chain: hardhat node at http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) {
          chainPort = Number(m[1]);
          kill("SIGINT"); // what a terminal sends to the whole foreground group
        }
      },
    });
    expect(chainPort).to.be.greaterThan(0);
    expect(run.stdout).to.include("Interrupted: stopping the relayer and the local chain");
    expect(run.code === 130 || run.signal === "SIGINT", `exit ${run.code} ${run.signal}`).to.equal(true);
    expect(await portIsFree(chainPort, "127.0.0.1"), `chain port ${chainPort} still in use`).to.equal(true);
  });

  it("refuses a second demo on a data folder in use, and leaves the first one's chain, database and files alone", async () => {
    const dataDir = path.join(tempDir(), "shared");
    let second: Run | undefined;
    let firstDb = "";
    const first = await runDemo(["--data-dir", dataDir, "--chain-port", "0", "--port", "0"], {
      timeoutMs: 180_000,
      onLine: (line, kill) => {
        if (!line.includes("✓ Relayer at")) return;
        firstDb = fs.readdirSync(path.join(dataDir, "db")).join(",");
        // The first demo is serving from its folder: a second one on the same folder must not wipe it.
        void runDemo(["--exit", "--data-dir", dataDir, "--chain-port", "0", "--port", "0"], {
          direct: true,
          timeoutMs: 60_000,
        }).then((r) => {
          second = r;
          kill("SIGINT");
        });
      },
    });
    expect(second, first.stdout).to.not.equal(undefined);
    expect(second!.code, second!.stdout + second!.stderr).to.equal(1);
    expect(second!.stdout).to.match(/✗ .*FAILED/);
    expect(second!.stdout).to.match(/is in use by another local stack \(pid \d+\): stop it, or choose another folder/);
    expect(firstDb).to.include("postgres");
    // The first one kept its folder: deployment record and database were still there when it was stopped.
    expect(first.stdout).to.include("Interrupted: stopping the relayer and the local chain");
    expect(fs.existsSync(path.join(dataDir, "deployments", "31337.json"))).to.equal(true);
    expect(fs.existsSync(path.join(dataDir, "db", "postgres", "PG_VERSION"))).to.equal(true);
  });
});
