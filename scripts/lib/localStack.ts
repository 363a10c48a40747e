/**
 * The local stack behind `npm run demo` and `npm start`: a `hardhat node` child process, the contracts deployed
 * to it by the project's own deployment (`deploy/deploy.ts` with the local parameters, in a Hardhat child
 * process), and the relayer running in this process on its embedded PostgreSQL server in a data folder.
 * Nothing else needs to be installed, and Hardhat never runs in this process.
 *
 * Each piece is started by its own method so a script can report every step; `stop()` shuts down whatever was
 * started, in reverse order, and is safe to call more than once. The chain process is also tied to this
 * process's lifetime (see exitWithParent.js), so it never outlives it, whatever happens.
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet } from "ethers";
import pino from "pino";
import type { DeploymentRecord } from "../../deploy/record";
import type { Relayer } from "../../relayer/src/relayer";
import type { RelayerConfig } from "../../relayer/src/config";
import { REDACTING_LOG_HOOKS } from "../../relayer/src/domain/redact";
import { DataDirInUseError, lockDataDir, type DataDirLock } from "../../relayer/src/store/dataDirLock";

/** The project's folder, whether this runs from the sources or from the build (dist/scripts/lib). */
export const ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "orderchain") {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no orderchain package.json above ${from}`);
  }
}
export const LOCAL_CHAIN_ID = 31337;

/** Hardhat's well-known development mnemonic: public knowledge, local chains only. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Who is who on the local chain (the local deployment parameters, docs/DEPLOY.md). */
export const ACCOUNTS = {
  admin: 0,
  feeRecipient: 1,
  arbiter: 2,
  pauser: 3,
  relayerSigners: [4, 5, 6, 7],
  /** The demo merchant's own payout wallet (not a key the relayer holds). */
  merchantPayout: 8,
  /** Not used by the stack: free for "anyone" actions such as autoRelease. */
  bystander: 9,
  /** The dev buyer `npm start` funds with mock stablecoins for trying the checkout page. */
  devBuyer: 10,
} as const;

export function devWallet(index: number, provider?: JsonRpcProvider): Wallet {
  const hd = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${index}`);
  return new Wallet(hd.privateKey, provider);
}

// ------------------------------------------------------------------------------------------------------ ports

export async function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The preferred port when it is free, else any free port (0 asks for any free port directly). */
export async function choosePort(preferred: number, host: string): Promise<{ port: number; busy: boolean }> {
  if (preferred !== 0 && (await portIsFree(preferred, host))) return { port: preferred, busy: false };
  return { port: await freePort(host), busy: preferred !== 0 };
}

// ------------------------------------------------------------------------------------------------------ chain

export interface LocalChain {
  url: string;
  port: number;
  provider: JsonRpcProvider;
  proc: ChildProcess;
}

class PortTakenError extends Error {}

/** Starts `hardhat node` on `port` and waits until it answers JSON-RPC. Its output goes to `logFile`. */
async function spawnChain(port: number, host: string, logFile: string, whileStarting: () => void): Promise<LocalChain> {
  const env: NodeJS.ProcessEnv = { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" };
  delete env.HARDHAT_NETWORK; // `hardhat node` runs the in-process network only
  const proc = spawn(
    process.execPath,
    [
      "-r",
      path.join(__dirname, "exitWithParent.js"),
      path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js"),
      "node",
      "--port",
      String(port),
      "--hostname",
      host,
    ],
    // Own process group: Ctrl-C reaches this script, which then stops the relayer before the chain.
    { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], detached: true, env },
  );
  const log = fs.createWriteStream(logFile, { flags: "a" });
  let tail = "";
  const keep = (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString()).slice(-4000);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  proc.once("exit", () => log.end());
  // The last resort if this process exits without stopping the stack (the stdin pipe covers SIGKILL).
  const killOnExit = () => proc.kill("SIGKILL");
  process.once("exit", killOnExit);
  proc.once("exit", () => process.off("exit", killOnExit));

  // Loading modules is CPU work of this process: do it while the node boots in its own.
  whileStarting();
  const url = `http://${host}:${port}`;
  const provider = new JsonRpcProvider(url, LOCAL_CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
  const started = Date.now();
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      provider.destroy();
      if (/EADDRINUSE|address already in use/i.test(tail)) throw new PortTakenError(`port ${port} is in use`);
      throw new Error(`hardhat node exited (${proc.exitCode ?? proc.signalCode}):\n${tail}`);
    }
    try {
      await provider.getBlockNumber();
      return { url, port, provider, proc };
    } catch {
      if (Date.now() - started > 60_000) {
        proc.kill("SIGKILL");
        provider.destroy();
        throw new Error(`hardhat node did not answer on ${url} within 60 s:\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = new Promise((r) => setTimeout(r, 5_000));
  await Promise.race([exited, timer]);
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGKILL");
    await exited;
  }
}

// ------------------------------------------------------------------------------------------------------ relayer env

/** Relayer settings a developer's `.env` may set for the local stack. */
const HONOURED_ENV = [
  "PORT",
  "HOST",
  "ADMIN_API_KEY",
  "ARBITER_API_KEY",
  "MERCHANT_KEY_SECRET",
  "LOG_LEVEL",
  "BATCH_SIZE",
  "POLL_INTERVAL_MS",
  "REPLACE_AFTER_MS",
  "FEE_BUMP_PERCENT",
  "LEASE_TTL_MS",
  "INDEXER_BATCH_BLOCKS",
  "WEBHOOK_RETRY_BASE_MS",
  "WEBHOOK_RETRY_CAP_MS",
  "WEBHOOK_MAX_ATTEMPTS",
  "WEBHOOK_TIMEOUT_MS",
  "RELAY_BUYER_PER_MINUTE",
  "RELAY_MERCHANT_PER_MINUTE",
  "INSTANCE_ID",
] as const;

/** Settings the local stack decides itself: a `.env` written for a testnet must not point it elsewhere. */
const STACK_OWNED_ENV = [
  "RPC_URL",
  "CHAIN_ID",
  "SIGNER_KEYS",
  "ARBITER_SIGNER_KEY",
  "DATABASE_URL",
  "DATA_DIR",
  "DEPLOYMENTS_DIR",
  "CONFIRMATIONS",
  "WEBHOOK_ALLOW_PRIVATE_TARGETS",
] as const;

type Env = Record<string, string | undefined>;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";

export interface StackSecrets {
  adminApiKey: string;
  arbiterApiKey: string;
  merchantKeySecret: string;
}

export function generateSecrets(): StackSecrets {
  const token = (prefix: string) => `${prefix}_${crypto.randomBytes(18).toString("base64url")}`;
  return {
    adminApiKey: token("admin"),
    arbiterApiKey: token("arbiter"),
    merchantKeySecret: crypto.randomBytes(32).toString("hex"),
  };
}

// ------------------------------------------------------------------------------------------------------ the stack

export interface LocalStackOptions {
  /** Data folder: chain log, deployment record and Ignition journal, PostgreSQL cluster, relayer log. */
  dataDir: string;
  /** Delete the data folder first (the demo). Otherwise it is kept, but the database starts anew with the chain. */
  wipe: boolean;
  host?: string;
  /** Preferred chain port (default 8545; 0 = any free port). Busy: a free port is used instead. */
  chainPort?: number;
  /** Preferred relayer port (default PORT from the environment, then 8080; 0 = any free port). */
  relayerPort?: number;
  /** Environment to read honoured relayer settings from (default process.env, which includes `.env`). */
  env?: Env;
  /** API keys and secret; default: the environment's, then generated (kept in the data folder unless `wipe`). */
  secrets?: Partial<StackSecrets>;
  /** Relayer settings the script wants regardless of the environment (e.g. a faster webhook retry). */
  relayerOverrides?: Env;
}

export class LocalStack {
  readonly dataDir: string;
  readonly host: string;
  chain?: LocalChain & { preferredPortBusy: boolean; preferredPort: number };
  record?: DeploymentRecord;
  relayer?: Relayer;
  url?: string;
  /** Whether the relayer port asked for (`relayerPortWanted`) was taken, so a free one was used instead. */
  relayerPortBusy = false;
  relayerPortWanted = 0;
  /** Whether a database of an earlier run (and chain) was found and started anew. */
  databaseReset = false;
  secrets?: StackSecrets;
  /** Stack-owned settings found in the environment and ignored. */
  readonly ignoredEnv: string[];
  private readonly env: Env;
  private stopping?: Promise<void>;
  private lock?: DataDirLock;

  constructor(private readonly opts: LocalStackOptions) {
    this.dataDir = path.resolve(opts.dataDir);
    this.host = opts.host ?? "127.0.0.1";
    this.env = opts.env ?? process.env;
    this.ignoredEnv = STACK_OWNED_ENV.filter((k) => set(this.env[k]));
  }

  /**
   * Locks the data folder for this stack (another `npm start` or demo on it would delete this one's database),
   * then empties it when `wipe` is set.
   */
  private async claimDataDir(): Promise<void> {
    if (this.lock) return;
    try {
      this.lock = await lockDataDir(this.dataDir, () => undefined);
    } catch (e) {
      if (e instanceof DataDirInUseError) {
        throw new Error(
          `the data folder ${displayPath(this.dataDir)} is in use by another local stack${e.ownerPid ? ` (pid ${e.ownerPid})` : ""}: ` +
            `stop it, or choose another folder with --data-dir`,
        );
      }
      throw e;
    }
    if (this.opts.wipe) {
      for (const name of fs.readdirSync(this.dataDir)) {
        if (!name.startsWith(".lock")) fs.rmSync(path.join(this.dataDir, name), { recursive: true, force: true });
      }
    }
  }

  get chainLog(): string {
    return path.join(this.dataDir, "chain.log");
  }
  get relayerLog(): string {
    return path.join(this.dataDir, "relayer.log");
  }
  get deployLog(): string {
    return path.join(this.dataDir, "deploy.log");
  }
  get deploymentsDir(): string {
    return path.join(this.dataDir, "deployments");
  }
  get databaseDir(): string {
    return path.join(this.dataDir, "db");
  }

  /** Starts a fresh `hardhat node`: on the preferred port when free, else on a free one. */
  async startChain(): Promise<LocalChain & { preferredPortBusy: boolean; preferredPort: number }> {
    const preferred = this.opts.chainPort ?? 8545;
    await this.claimDataDir();
    fs.writeFileSync(this.chainLog, "");
    for (let attempt = 0; ; attempt++) {
      const { port, busy } = await choosePort(attempt === 0 ? preferred : 0, this.host);
      try {
        const chain = await spawnChain(port, this.host, this.chainLog, () => {
          if (attempt === 0) this.resetDatabase();
          preloadModules();
        });
        this.chain = { ...chain, preferredPortBusy: busy || attempt > 0, preferredPort: preferred };
        return this.chain;
      } catch (e) {
        // Taken between the check and the bind: try a free port once more.
        if (e instanceof PortTakenError && attempt < 2) continue;
        throw e;
      }
    }
  }

  // The database describes one chain, and the chain is new at every start: a database left by an earlier run
  // holds orders that no longer exist, so it is started anew (the relayer creates a new cluster, about a second).
  private resetDatabase(): void {
    this.databaseReset = fs.existsSync(this.databaseDir);
    fs.rmSync(this.databaseDir, { recursive: true, force: true });
  }

  /**
   * Deploys with the project's deployment (`deploy(hre, …)`) against the node, local parameters only: a `.env`
   * written for a testnet (FEE_BPS, OPERATOR_ADDRESSES, …) does not apply to the local chain. The record goes to
   * `<dataDir>/deployments/31337.json`, the Ignition journal to `<dataDir>/ignition/`.
   */
  async deploy(): Promise<DeploymentRecord> {
    if (!this.chain) throw new Error("start the chain first");
    fs.rmSync(this.deploymentsDir, { recursive: true, force: true });
    fs.rmSync(path.join(this.dataDir, "ignition"), { recursive: true, force: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
      ORDERCHAIN_LOCAL_RPC_URL: this.chain.url,
      ORDERCHAIN_DEPLOYMENTS_DIR: this.deploymentsDir,
      ORDERCHAIN_JOURNAL_DIR: path.join(this.dataDir, "ignition"),
    };
    // Hardhat's config and the deployment are TypeScript: the child compiles them with ts-node, as the hardhat
    // CLI does; this process loads neither.
    const child = spawn(
      process.execPath,
      [
        "-r",
        path.join(__dirname, "exitWithParent.js"),
        "-r",
        require.resolve("ts-node/register/transpile-only", { paths: [ROOT] }),
        path.join(__dirname, "deployLocal.js"),
      ],
      { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.once("error", () => resolve(-1));
      child.once("close", (c) => resolve(c));
    });
    fs.writeFileSync(this.deployLog, output);
    if (code !== 0) {
      throw new Error(`the deployment failed (exit ${code}); see ${this.deployLog}:\n${output.trim().slice(-2000)}`);
    }
    const file = path.join(this.deploymentsDir, `${LOCAL_CHAIN_ID}.json`);
    this.record = JSON.parse(fs.readFileSync(file, "utf8")) as DeploymentRecord;
    return this.record;
  }

  /** Starts the relayer in this process on its embedded PostgreSQL server, with the local signer keys, and listens. */
  async startRelayer(): Promise<Relayer> {
    if (!this.chain || !this.record) throw new Error("start the chain and deploy first");
    const { loadConfig } = await import("../../relayer/src/config");
    const { loadDeploymentAddresses } = await import("../../relayer/src/chain/deployment");
    const { startRelayer } = await import("../../relayer/src/relayer");

    this.secrets = this.resolveSecrets();
    const honoured: Env = {};
    for (const k of HONOURED_ENV) if (set(this.env[k])) honoured[k] = this.env[k];
    const preferredPort =
      this.opts.relayerPort ?? (set(this.env.PORT) && /^\d+$/.test(this.env.PORT) ? Number(this.env.PORT) : 8080);
    const host = set(this.env.HOST) ? this.env.HOST : this.host;
    const { port, busy } = await choosePort(preferredPort, host);
    this.relayerPortBusy = busy;
    this.relayerPortWanted = preferredPort;

    const config: RelayerConfig = loadConfig({
      LOG_LEVEL: "info",
      POLL_INTERVAL_MS: "100",
      // A local chain whose clock the demo moves: keepers look for due orders every 2 s (15 s by default).
      KEEPER_INTERVAL_MS: "2000",
      ...honoured,
      ...this.opts.relayerOverrides,
      RPC_URL: this.chain.url,
      CHAIN_ID: String(LOCAL_CHAIN_ID),
      DEPLOYMENTS_DIR: this.deploymentsDir,
      SIGNER_KEYS: ACCOUNTS.relayerSigners.map((i) => devWallet(i).privateKey).join(","),
      ARBITER_SIGNER_KEY: devWallet(ACCOUNTS.arbiter).privateKey,
      DATABASE_URL: undefined,
      DATA_DIR: this.databaseDir,
      CONFIRMATIONS: "1",
      // A local chain: the demo's and a developer's webhook receivers listen on 127.0.0.1 over http.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      HOST: host,
      PORT: String(port),
      ADMIN_API_KEY: this.secrets.adminApiKey,
      ARBITER_API_KEY: this.secrets.arbiterApiKey,
      MERCHANT_KEY_SECRET: this.secrets.merchantKeySecret,
    });
    const logger = pino(
      { level: config.logLevel, base: { service: "orderchain-relayer" }, hooks: REDACTING_LOG_HOOKS },
      pino.destination({ dest: this.relayerLog, sync: true, mkdir: true }),
    );
    const addresses = loadDeploymentAddresses(this.deploymentsDir, LOCAL_CHAIN_ID);
    this.relayer = await startRelayer({ config, chainId: BigInt(LOCAL_CHAIN_ID), addresses, logger });
    try {
      this.url = await this.relayer.listen();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      config.port = 0; // taken between the check and the bind
      this.relayerPortBusy = true;
      this.url = await this.relayer.listen();
    }
    logger.info(
      { url: this.url, chainId: String(LOCAL_CHAIN_ID), database: this.relayer.database },
      "relayer listening",
    );
    return this.relayer;
  }

  /** Stops the relayer, then the chain. Idempotent; never throws. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.relayer) {
        // A relayer that cannot finish its shutdown in time must not keep the chain (and its port) alive.
        const timeout = new Promise((r) => setTimeout(r, 15_000).unref());
        await Promise.race([this.relayer.stop().catch(() => undefined), timeout]);
      }
      if (this.chain) {
        this.chain.provider.destroy();
        await stopProcess(this.chain.proc).catch(() => undefined);
      }
      await this.lock?.release();
    })();
    return this.stopping;
  }

  private resolveSecrets(): StackSecrets {
    const file = path.join(this.dataDir, "secrets.json");
    let stored: Partial<StackSecrets> = {};
    if (!this.opts.wipe && fs.existsSync(file)) {
      try {
        stored = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch {
        stored = {};
      }
    }
    const generated = generateSecrets();
    // Only secrets this stack generated are kept in its file: values given in .env (or by the caller) are the
    // operator's own and are never copied to disk.
    const keep: Partial<StackSecrets> = {};
    const pick = (k: keyof StackSecrets, envName: string): string => {
      const given = this.opts.secrets?.[k] ?? (set(this.env[envName]) ? this.env[envName]! : undefined);
      if (given !== undefined) return given;
      keep[k] = stored[k] ?? generated[k];
      return keep[k]!;
    };
    const secrets: StackSecrets = {
      adminApiKey: pick("adminApiKey", "ADMIN_API_KEY"),
      arbiterApiKey: pick("arbiterApiKey", "ARBITER_API_KEY"),
      merchantKeySecret: pick("merchantKeySecret", "MERCHANT_KEY_SECRET"),
    };
    fs.writeFileSync(file, JSON.stringify(keep, null, 2) + "\n", { mode: 0o600 });
    return secrets;
  }
}

/** Loads the relayer's modules while the node boots (cached by require for the step that uses them). */
function preloadModules(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("../../relayer/src/relayer");
}

/** Why the web page at `/` is not usable (undefined when it loads), e.g. pages not built. */
export async function webPageProblem(baseUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(10_000) });
    if (res.ok) return undefined;
    return `GET / answered ${res.status}: ${(await res.text()).trim().slice(0, 200)}`;
  } catch (e) {
    return `GET / failed: ${(e as Error).message}`;
  }
}

/** A path for display: relative to the working directory when inside it, else absolute. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === "" ? "." : rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
}

/**
 * Installs Ctrl-C / SIGTERM handling: `onSignal` runs once; a second Ctrl-C forces the exit. Signals within a
 * second of the first count as the same interrupt: Ctrl-C in a terminal reaches this process twice under
 * `npm run` (from the terminal to the whole foreground group, and forwarded by npm).
 */
export function onTerminate(onSignal: (signal: NodeJS.Signals) => Promise<void> | void): void {
  let first = 0;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (first !== 0) {
        if (Date.now() - first > 1_000) process.exit(130);
        return;
      }
      first = Date.now();
      void onSignal(signal);
    });
  }
}
