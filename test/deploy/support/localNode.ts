/**
 * A real `hardhat node` on a free port, and the deploy commands run as separate processes against it through
 * the generic `testnet` network entry (env values only), the way a testnet is used.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..", "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli.js", { paths: [ROOT] });

/** Hardhat's well-known accounts #0..#9 (public keys of the default mnemonic, local chains only). */
export const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const;

/** Env variables the deploy commands read; cleared in child processes so only the test decides them. */
const DEPLOY_ENV = [
  "DEPLOYER_PRIVATE_KEY",
  "TESTNET_RPC_URL",
  "TESTNET_CHAIN_ID",
  "SEPOLIA_RPC_URL",
  "BASE_SEPOLIA_RPC_URL",
  "ETHERSCAN_API_KEY",
  "DEPLOYMENTS_DIR",
  "IGNITION_DEPLOYMENTS_DIR",
  "DEPLOY_PARAMETERS",
  "DEPLOY_RESET",
  "DEPLOY_CONFIRMATIONS",
  "ADMIN_ADDRESS",
  "ADMIN_TRANSFER_DELAY_SECONDS",
  "ADMIN_PRIVATE_KEY",
  "FEE_RECIPIENT",
  "FEE_BPS",
  "OPERATOR_ADDRESSES",
  "ARBITER_ADDRESSES",
  "PAUSER_ADDRESSES",
  "ACCEPTED_TOKENS",
  "HARDHAT_NETWORK",
  "LOCALHOST_RPC_URL",
];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class LocalNode {
  private child?: ChildProcess;
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<LocalNode> {
    const node = new LocalNode(port ?? (await freePort()));
    await node.start();
    return node;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(this.port)],
      {
        cwd: ROOT,
        env: childEnv({}),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child = child;
    // Never outlive the test process, even when it is interrupted.
    const killOnExit = (): void => void child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hardhat node did not start:\n${output}`)), 180_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes("Started HTTP and WebSocket JSON-RPC server")) {
          clearTimeout(timer);
          child.stdout!.off("data", onData);
          child.stdout!.resume(); // keep draining the node's request log
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`hardhat node exited with ${code}:\n${output}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/** The parent's env without any deploy variable, no .env file, plus `extra`. */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOTENV_CONFIG_PATH: path.join(os.tmpdir(), "orderchain-no-env") };
  for (const name of DEPLOY_ENV) delete env[name];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Folders for one test's records and journals. */
export function scratchDirs(): { root: string; records: string; journals: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-deploy-test-"));
  return { root, records: path.join(root, "deployments"), journals: path.join(root, "ignition") };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<string>;
}

/**
 * Starts `hardhat <args>` with `env` on top of a clean environment: in the repository, or in `options.cwd` (another
 * checkout, with the Hardhat that its node_modules holds).
 */
export function startHardhat(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string } = {},
): CliRun {
  const cli = options.cwd
    ? path.join(options.cwd, "node_modules", "hardhat", "internal", "cli", "bootstrap.js")
    : HARDHAT_CLI;
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of [...waiters]) {
      const line = stdout.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    done,
    waitForLine: (pattern) =>
      new Promise((resolve, reject) => {
        const seen = stdout.split("\n").find((l) => pattern.test(l));
        if (seen !== undefined) return resolve(seen);
        waiters.push({ pattern, resolve });
        void done.then((r) =>
          reject(new Error(`process exited (${r.code}) before printing ${pattern}:\n${r.stdout}${r.stderr}`)),
        );
      }),
  };
}

export async function runHardhat(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string } = {},
): Promise<CliResult> {
  return startHardhat(args, env, options).done;
}

/** Env for deploying to `node` through the generic testnet entry. */
export function testnetEnv(
  node: LocalNode,
  dirs: { records: string; journals: string },
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    TESTNET_RPC_URL: node.url,
    TESTNET_CHAIN_ID: "31337",
    DEPLOYER_PRIVATE_KEY: KEYS[0],
    DEPLOYMENTS_DIR: dirs.records,
    IGNITION_DEPLOYMENTS_DIR: dirs.journals,
    ...extra,
  };
}
