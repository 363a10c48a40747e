/**
 * The relayer's configuration is checked before anything starts. `loadConfig` turns the environment into the
 * documented defaults (the ones `.env.example` states), reads every variable into its field, and reports
 * each missing or malformed variable by name, all together in one ConfigError. The process entry
 * (`relayer/src/main.ts`, as `npm run relayer` starts it) stops with exit code 2 and a message naming the
 * problem when the configuration is invalid, the chain cannot be reached to learn its id, or the chain has no
 * deployment record.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { expect } from "chai";
import { parse as parseDotenv } from "dotenv";
import { ConfigError, loadConfig, type RawEnv, type RelayerConfig } from "../../../relayer/src/config";
import { freePort, ROOT } from "../harness";

const KEY_A = "0x" + "11".repeat(32);
const KEY_B = "0x" + "ab".repeat(32);
const KEY_C = "0x" + "CD".repeat(32);

/** The three variables without a default. */
const REQUIRED: RawEnv = {
  SIGNER_KEYS: KEY_A,
  ADMIN_API_KEY: "admin-key-0123456789",
  MERCHANT_KEY_SECRET: "merchant-secret-0123456789",
};

/** What `loadConfig` gives for REQUIRED alone: the defaults of `.env.example` and config.ts. */
const DEFAULTS: RelayerConfig = {
  rpcUrl: "http://127.0.0.1:8545",
  rpcFallbackUrls: [],
  rpcTimeoutMs: 30_000,
  rpcRetries: 3,
  rpcMaxRequestsPerSecond: undefined,
  rpcBatchSize: 50,
  chainId: undefined,
  deploymentsDir: path.join(process.cwd(), "deployments"),
  signerKeys: [KEY_A],
  databaseUrl: undefined,
  dataDir: path.join(process.cwd(), "data", "relayer"),
  port: 8080,
  host: "127.0.0.1",
  adminApiKey: "admin-key-0123456789",
  arbiterApiKey: undefined,
  merchantKeySecret: "merchant-secret-0123456789",
  confirmations: 1,
  batchSize: 200,
  pollIntervalMs: 200,
  replaceAfterMs: 30_000,
  feeBumpPercent: 20,
  maxFeePerGas: undefined,
  maxReplacements: 10,
  signerLowBalanceWei: 5n * 10n ** 16n,
  gasLimits: undefined,
  leaseTtlMs: 15_000,
  indexerBatchBlocks: 2_000,
  indexerTarget: "latest",
  indexerDepth: 0,
  indexerVerifyBlocks: 128,
  logLevel: "info",
  instanceId: undefined,
  workers: "thread",
  apiKeyCacheMs: 5_000,
  idempotencyTtlHours: 24,
  arbiterSignerKey: undefined,
  webhookRetryBaseMs: 10_000,
  webhookRetryCapMs: 2 * 3600_000,
  webhookMaxAttempts: 34,
  webhookTimeoutMs: 5_000,
  webhookAllowPrivateTargets: false,
  relayBuyerPerMinute: 12,
  relayMerchantPerMinute: 600,
  gasBudgetDefaultWei: 10n ** 18n,
  rateLimitPerKeyPerMinute: 6000,
  rateLimitPerIpPerMinute: 1200,
  rateLimitPerMerchantPerMinute: 12000,
  maxApiKeysPerMerchant: 25,
  keepers: ["release", "expire", "dispute_default"],
  keeperIntervalMs: 15_000,
  keeperMaxOrdersPerPass: 50,
  trustProxy: false,
};

/** The ConfigError `loadConfig(env)` throws; fails the test if it returns or throws anything else. */
function configError(env: RawEnv): ConfigError {
  let config: RelayerConfig | undefined;
  try {
    config = loadConfig(env);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.name).to.equal("ConfigError");
    expect(e.problems).to.be.an("array").that.is.not.empty;
    for (const p of e.problems) {
      expect(p).to.be.a("string");
      expect(e.message, "the message lists every problem").to.include(p);
    }
    expect(e.message).to.match(/^invalid relayer configuration:/);
    return e;
  }
  expect.fail(`loadConfig accepted ${JSON.stringify(env)}: ${JSON.stringify(config)}`);
}

/** The problems of `err` that name `variable` (each problem starts with its variable's name). */
function problemsOf(err: ConfigError, variable: string): string[] {
  return err.problems.filter((p) => p.startsWith(`${variable}:`));
}

describe("relayer config: loadConfig", () => {
  it("gives the documented defaults when only the required variables are set", () => {
    const c = loadConfig({ ...REQUIRED });
    expect(c).to.deep.include(DEFAULTS);
  });

  it("gives the same defaults for a .env copied from .env.example with only the required values filled", () => {
    const example = parseDotenv(fs.readFileSync(path.join(ROOT, ".env.example")));
    for (const name of ["RPC_URL", "PORT", "HOST", "CONFIRMATIONS", "BATCH_SIZE", "POLL_INTERVAL_MS", "WORKERS"]) {
      if (name in example) expect(example[name], `${name} in .env.example`).to.equal("");
    }
    for (const name of ["RPC_URL", "PORT", "LEASE_TTL_MS", "SIGNER_KEYS", "ADMIN_API_KEY", "MERCHANT_KEY_SECRET"]) {
      expect(example, `.env.example lists ${name}`).to.have.property(name);
    }
    const c = loadConfig({ ...example, ...REQUIRED });
    expect(c).to.deep.include(DEFAULTS);
  });

  it("runs the workers in a thread with or without DATABASE_URL (embedded server), unless WORKERS says otherwise", () => {
    expect(loadConfig({ ...REQUIRED }).workers).to.equal("thread");
    expect(loadConfig({ ...REQUIRED, WORKERS: "thread" }).workers).to.equal("thread");
    const pg = "postgres://u:p@127.0.0.1:5432/relayer";
    const withDb = loadConfig({ ...REQUIRED, DATABASE_URL: pg });
    expect(withDb.workers).to.equal("thread");
    expect(withDb.databaseUrl).to.equal(pg);
    expect(loadConfig({ ...REQUIRED, DATABASE_URL: pg, WORKERS: "inline" }).workers).to.equal("inline");
    expect(loadConfig({ ...REQUIRED, DATABASE_URL: pg, WORKERS: "none" }).workers).to.equal("none");
    expect(loadConfig({ ...REQUIRED, WORKERS: "none" }).workers).to.equal("none");
    expect(loadConfig({ ...REQUIRED, WORKERS: "inline" }).workers).to.equal("inline");
  });

  it("reads every variable into its field", () => {
    const c = loadConfig({
      RPC_URL: "https://rpc.example.org/v1",
      RPC_FALLBACK_URLS: "https://backup.example.net/v3/key, http://127.0.0.1:8546",
      RPC_TIMEOUT_MS: "5000",
      RPC_RETRIES: "1",
      RPC_MAX_REQUESTS_PER_SECOND: "20",
      RPC_BATCH_SIZE: "1",
      CHAIN_ID: "84532",
      DEPLOYMENTS_DIR: "/srv/deployments",
      SIGNER_KEYS: `${KEY_A},${KEY_B}`,
      DATABASE_URL: "postgres://relayer@db/relayer",
      DATA_DIR: "/srv/data",
      PORT: "9090",
      HOST: "0.0.0.0",
      ADMIN_API_KEY: "admin-key-abcdefghijkl",
      ARBITER_API_KEY: "arbiter-key-abcdefghijkl",
      MERCHANT_KEY_SECRET: "merchant-secret-abcdefghijkl",
      CONFIRMATIONS: "3",
      BATCH_SIZE: "50",
      POLL_INTERVAL_MS: "750",
      REPLACE_AFTER_MS: "45000",
      FEE_BUMP_PERCENT: "35",
      MAX_FEE_PER_GAS_GWEI: "2.5",
      MAX_REPLACEMENTS: "4",
      SIGNER_LOW_BALANCE_ETH: "0.2",
      GAS_LIMITS: "estimate",
      LEASE_TTL_MS: "9000",
      INDEXER_BATCH_BLOCKS: "500",
      INDEXER_TARGET: "finalized",
      INDEXER_DEPTH: "3",
      INDEXER_VERIFY_BLOCKS: "64",
      ARBITER_SIGNER_KEY: KEY_C,
      WEBHOOK_RETRY_BASE_MS: "2000",
      WEBHOOK_RETRY_CAP_MS: "600000",
      WEBHOOK_MAX_ATTEMPTS: "7",
      WEBHOOK_TIMEOUT_MS: "3000",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "false",
      RELAY_BUYER_PER_MINUTE: "5",
      RELAY_MERCHANT_PER_MINUTE: "99",
      GAS_BUDGET_DEFAULT_ETH: "0.25",
      RATE_LIMIT_PER_KEY_PER_MINUTE: "0",
      RATE_LIMIT_PER_IP_PER_MINUTE: "30",
      RATE_LIMIT_PER_MERCHANT_PER_MINUTE: "900",
      MAX_API_KEYS_PER_MERCHANT: "7",
      PAYOUT_CHANGE_DELAY_SECONDS: "3600",
      KEEPERS: "release,expire",
      KEEPER_INTERVAL_MS: "5000",
      KEEPER_MAX_ORDERS_PER_PASS: "20",
      TRUST_PROXY: "10.0.0.0/8, 192.168.1.7",
      LOG_LEVEL: "debug",
      INSTANCE_ID: "relayer-a",
      WORKERS: "none",
      API_KEY_CACHE_MS: "0",
      IDEMPOTENCY_TTL_HOURS: "48",
    });
    expect(c).to.deep.equal({
      rpcUrl: "https://rpc.example.org/v1",
      rpcFallbackUrls: ["https://backup.example.net/v3/key", "http://127.0.0.1:8546"],
      rpcTimeoutMs: 5_000,
      rpcRetries: 1,
      rpcMaxRequestsPerSecond: 20,
      rpcBatchSize: 1,
      chainId: 84532,
      deploymentsDir: "/srv/deployments",
      signerKeys: [KEY_A, KEY_B],
      databaseUrl: "postgres://relayer@db/relayer",
      dataDir: "/srv/data",
      port: 9090,
      host: "0.0.0.0",
      adminApiKey: "admin-key-abcdefghijkl",
      arbiterApiKey: "arbiter-key-abcdefghijkl",
      merchantKeySecret: "merchant-secret-abcdefghijkl",
      confirmations: 3,
      batchSize: 50,
      pollIntervalMs: 750,
      replaceAfterMs: 45_000,
      feeBumpPercent: 35,
      maxFeePerGas: 2_500_000_000n,
      maxReplacements: 4,
      signerLowBalanceWei: 2n * 10n ** 17n,
      gasLimits: "estimate",
      leaseTtlMs: 9_000,
      indexerBatchBlocks: 500,
      indexerTarget: "finalized",
      indexerDepth: 3,
      indexerVerifyBlocks: 64,
      logLevel: "debug",
      instanceId: "relayer-a",
      workers: "none",
      apiKeyCacheMs: 0,
      idempotencyTtlHours: 48,
      arbiterSignerKey: KEY_C,
      webhookRetryBaseMs: 2_000,
      webhookRetryCapMs: 600_000,
      webhookMaxAttempts: 7,
      webhookTimeoutMs: 3_000,
      webhookAllowPrivateTargets: false,
      relayBuyerPerMinute: 5,
      relayMerchantPerMinute: 99,
      gasBudgetDefaultWei: 25n * 10n ** 16n,
      rateLimitPerKeyPerMinute: 0,
      rateLimitPerIpPerMinute: 30,
      rateLimitPerMerchantPerMinute: 900,
      maxApiKeysPerMerchant: 7,
      payoutChangeDelaySeconds: 3600,
      keepers: ["release", "expire"],
      keeperIntervalMs: 5_000,
      keeperMaxOrdersPerPass: 20,
      trustProxy: ["10.0.0.0/8", "192.168.1.7"],
    });
  });

  it("reports every missing required variable at once, not just the first", () => {
    for (const env of [{}, { SIGNER_KEYS: "", ADMIN_API_KEY: "", MERCHANT_KEY_SECRET: "" }] as RawEnv[]) {
      const err = configError(env);
      for (const name of ["SIGNER_KEYS", "ADMIN_API_KEY", "MERCHANT_KEY_SECRET"]) {
        const mine = problemsOf(err, name);
        expect(mine, `${JSON.stringify(env)}: ${name} in ${JSON.stringify(err.problems)}`).to.have.lengthOf(1);
        expect(mine[0]).to.match(/is required/);
        expect(err.message).to.include(`- ${name}:`);
      }
      expect(err.problems, "nothing but the three").to.have.lengthOf(3);
    }
  });

  describe("rejects each malformed value by its variable's name", () => {
    const cases: { what: string; env: RawEnv; variable: string; mentions?: string }[] = [
      { what: "SIGNER_KEYS with a short key", env: { SIGNER_KEYS: "0x1234" }, variable: "SIGNER_KEYS" },
      { what: "SIGNER_KEYS without 0x", env: { SIGNER_KEYS: "11".repeat(32) }, variable: "SIGNER_KEYS" },
      { what: "SIGNER_KEYS with one bad key of two", env: { SIGNER_KEYS: `${KEY_A},0xzz` }, variable: "SIGNER_KEYS" },
      { what: "SIGNER_KEYS listing no key", env: { SIGNER_KEYS: ",," }, variable: "SIGNER_KEYS" },
      { what: "ADMIN_API_KEY of 15 characters", env: { ADMIN_API_KEY: "a".repeat(15) }, variable: "ADMIN_API_KEY" },
      {
        what: "MERCHANT_KEY_SECRET of 15 characters",
        env: { MERCHANT_KEY_SECRET: "s".repeat(15) },
        variable: "MERCHANT_KEY_SECRET",
      },
      {
        what: "ARBITER_API_KEY of 15 characters",
        env: { ARBITER_API_KEY: "k".repeat(15) },
        variable: "ARBITER_API_KEY",
      },
      { what: "RPC_URL not a URL", env: { RPC_URL: "not a url" }, variable: "RPC_URL" },
      { what: "CHAIN_ID not a number", env: { CHAIN_ID: "mainnet" }, variable: "CHAIN_ID" },
      { what: "CHAIN_ID 0", env: { CHAIN_ID: "0" }, variable: "CHAIN_ID" },
      { what: 'PORT "abc"', env: { PORT: "abc" }, variable: "PORT" },
      { what: "PORT 70000", env: { PORT: "70000" }, variable: "PORT" },
      { what: "PORT 65536", env: { PORT: "65536" }, variable: "PORT" },
      { what: "PORT -1", env: { PORT: "-1" }, variable: "PORT" },
      { what: "CONFIRMATIONS 0", env: { CONFIRMATIONS: "0" }, variable: "CONFIRMATIONS" },
      { what: "CONFIRMATIONS 65", env: { CONFIRMATIONS: "65" }, variable: "CONFIRMATIONS" },
      { what: "CONFIRMATIONS 1.5", env: { CONFIRMATIONS: "1.5" }, variable: "CONFIRMATIONS" },
      { what: "BATCH_SIZE 0", env: { BATCH_SIZE: "0" }, variable: "BATCH_SIZE" },
      { what: "BATCH_SIZE 401", env: { BATCH_SIZE: "401" }, variable: "BATCH_SIZE" },
      { what: "POLL_INTERVAL_MS 5", env: { POLL_INTERVAL_MS: "5" }, variable: "POLL_INTERVAL_MS" },
      { what: "LEASE_TTL_MS 999", env: { LEASE_TTL_MS: "999" }, variable: "LEASE_TTL_MS" },
      { what: 'LOG_LEVEL "loud"', env: { LOG_LEVEL: "loud" }, variable: "LOG_LEVEL" },
      { what: "ARBITER_SIGNER_KEY short", env: { ARBITER_SIGNER_KEY: "0x12" }, variable: "ARBITER_SIGNER_KEY" },
      {
        what: "ARBITER_SIGNER_KEY without 0x",
        env: { ARBITER_SIGNER_KEY: "22".repeat(32) },
        variable: "ARBITER_SIGNER_KEY",
      },
      { what: 'WORKERS "sometimes"', env: { WORKERS: "sometimes" }, variable: "WORKERS" },
      {
        what: 'RPC_FALLBACK_URLS "backup"',
        env: { RPC_FALLBACK_URLS: "https://a.example,backup" },
        variable: "RPC_FALLBACK_URLS",
      },
      { what: "RPC_TIMEOUT_MS 50", env: { RPC_TIMEOUT_MS: "50" }, variable: "RPC_TIMEOUT_MS" },
      { what: "RPC_BATCH_SIZE 0", env: { RPC_BATCH_SIZE: "0" }, variable: "RPC_BATCH_SIZE" },
      { what: "MAX_FEE_PER_GAS_GWEI 0", env: { MAX_FEE_PER_GAS_GWEI: "0" }, variable: "MAX_FEE_PER_GAS_GWEI" },
      { what: 'MAX_FEE_PER_GAS_GWEI "lots"', env: { MAX_FEE_PER_GAS_GWEI: "lots" }, variable: "MAX_FEE_PER_GAS_GWEI" },
      { what: "MAX_REPLACEMENTS 101", env: { MAX_REPLACEMENTS: "101" }, variable: "MAX_REPLACEMENTS" },
      { what: "SIGNER_LOW_BALANCE_ETH -1", env: { SIGNER_LOW_BALANCE_ETH: "-1" }, variable: "SIGNER_LOW_BALANCE_ETH" },
      { what: 'GAS_LIMITS "guess"', env: { GAS_LIMITS: "guess" }, variable: "GAS_LIMITS" },
      { what: "API_KEY_CACHE_MS -1", env: { API_KEY_CACHE_MS: "-1" }, variable: "API_KEY_CACHE_MS" },
      { what: "API_KEY_CACHE_MS 60001", env: { API_KEY_CACHE_MS: "60001" }, variable: "API_KEY_CACHE_MS" },
      { what: "GAS_BUDGET_DEFAULT_ETH 0", env: { GAS_BUDGET_DEFAULT_ETH: "0" }, variable: "GAS_BUDGET_DEFAULT_ETH" },
      {
        what: 'GAS_BUDGET_DEFAULT_ETH "lots"',
        env: { GAS_BUDGET_DEFAULT_ETH: "lots" },
        variable: "GAS_BUDGET_DEFAULT_ETH",
      },
      {
        what: "RATE_LIMIT_PER_KEY_PER_MINUTE -1",
        env: { RATE_LIMIT_PER_KEY_PER_MINUTE: "-1" },
        variable: "RATE_LIMIT_PER_KEY_PER_MINUTE",
      },
      {
        what: "RATE_LIMIT_PER_IP_PER_MINUTE 1.5",
        env: { RATE_LIMIT_PER_IP_PER_MINUTE: "1.5" },
        variable: "RATE_LIMIT_PER_IP_PER_MINUTE",
      },
      { what: 'TRUST_PROXY "sometimes"', env: { TRUST_PROXY: "sometimes" }, variable: "TRUST_PROXY" },
    ];
    for (const c of cases) {
      it(c.what, () => {
        const err = configError({ ...REQUIRED, ...c.env });
        expect(problemsOf(err, c.variable), JSON.stringify(err.problems)).to.not.be.empty;
        expect(
          err.problems.filter((p) => !p.startsWith(`${c.variable}:`)),
          "problems about variables that were fine",
        ).to.deep.equal([]);
        if (c.mentions) expect(problemsOf(err, c.variable).join("\n")).to.include(c.mentions);
      });
    }
  });

  it("lets webhooks reach private addresses only on a local chain (an operator's .env copied to a testnet is refused)", () => {
    expect(loadConfig({ ...REQUIRED, WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }).webhookAllowPrivateTargets).to.equal(
      true,
    );
    expect(
      loadConfig({ ...REQUIRED, CHAIN_ID: "31337", WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }).webhookAllowPrivateTargets,
    ).to.equal(true);
    const err = configError({ ...REQUIRED, CHAIN_ID: "84532", WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" });
    expect(err.problems).to.deep.equal([
      "WEBHOOK_ALLOW_PRIVATE_TARGETS: may only be true on a local chain (CHAIN_ID 31337 or 1337, not 84532)",
    ]);
  });

  it("reports several malformed variables together", () => {
    const err = configError({ ...REQUIRED, PORT: "abc", BATCH_SIZE: "401", LOG_LEVEL: "loud", ADMIN_API_KEY: "x" });
    for (const name of ["PORT", "BATCH_SIZE", "LOG_LEVEL", "ADMIN_API_KEY"]) {
      expect(problemsOf(err, name), `${name} in ${JSON.stringify(err.problems)}`).to.not.be.empty;
    }
  });

  it("reports rules between variables together with the others", () => {
    const key = "0x" + "ab".repeat(32);
    const err = configError({
      ...REQUIRED,
      PORT: "abc",
      SIGNER_KEYS: `${key},${key.toUpperCase().replace("0X", "0x")}`,
      ARBITER_API_KEY: REQUIRED.ADMIN_API_KEY,
      WEBHOOK_RETRY_BASE_MS: "5000",
      WEBHOOK_RETRY_CAP_MS: "1000",
    });
    expect(problemsOf(err, "PORT")).to.not.be.empty;
    expect(problemsOf(err, "SIGNER_KEYS").join(" ")).to.include("same key twice");
    expect(problemsOf(err, "ARBITER_API_KEY").join(" ")).to.include("ADMIN_API_KEY");
    expect(problemsOf(err, "WEBHOOK_RETRY_CAP_MS").join(" ")).to.include("5000");
  });

  it("reads TRUST_PROXY as all, none, a number of hops or proxy addresses", () => {
    const c = (v: string) => loadConfig({ ...REQUIRED, TRUST_PROXY: v }).trustProxy;
    expect(c("true")).to.equal(true);
    expect(c("false")).to.equal(false);
    expect(c("2")).to.equal(2);
    expect(c("127.0.0.1")).to.deep.equal(["127.0.0.1"]);
    expect(c("::1,fd00::/8")).to.deep.equal(["::1", "fd00::/8"]);
  });

  it("accepts the limits themselves", () => {
    const c = (env: RawEnv) => loadConfig({ ...REQUIRED, ...env });
    expect(c({ PORT: "0" }).port).to.equal(0);
    expect(c({ PORT: "65535" }).port).to.equal(65535);
    expect(c({ CONFIRMATIONS: "64" }).confirmations).to.equal(64);
    expect(c({ BATCH_SIZE: "1" }).batchSize).to.equal(1);
    expect(c({ BATCH_SIZE: "400" }).batchSize).to.equal(400);
    expect(c({ POLL_INTERVAL_MS: "10" }).pollIntervalMs).to.equal(10);
    expect(c({ ADMIN_API_KEY: "a".repeat(16) }).adminApiKey).to.equal("a".repeat(16));
    expect(c({ WORKERS: "thread", DATABASE_URL: "postgres://db/x" }).workers).to.equal("thread");
  });

  it("counts blank values as unset, like empty ones", () => {
    const c = loadConfig({ ...REQUIRED, PORT: "  ", BATCH_SIZE: "\t", LOG_LEVEL: " " });
    expect(c.port).to.equal(8080);
    expect(c.batchSize).to.equal(200);
    expect(c.logLevel).to.equal("info");
  });

  it("counts empty strings as unset", () => {
    const c = loadConfig({
      ...REQUIRED,
      PORT: "",
      RPC_URL: "",
      LOG_LEVEL: "",
      CONFIRMATIONS: "",
      DATABASE_URL: "",
      WORKERS: "",
      CHAIN_ID: "",
      ARBITER_SIGNER_KEY: "",
      ARBITER_API_KEY: "",
    });
    expect(c.port).to.equal(8080);
    expect(c.rpcUrl).to.equal("http://127.0.0.1:8545");
    expect(c.logLevel).to.equal("info");
    expect(c.confirmations).to.equal(1);
    expect(c.databaseUrl).to.equal(undefined);
    expect(c.dataDir, "an empty DATABASE_URL is no database: the embedded server's folder is used").to.equal(
      path.join(process.cwd(), "data", "relayer"),
    );
    expect(c.chainId).to.equal(undefined);
    expect(c.arbiterSignerKey).to.equal(undefined);
    expect(c.arbiterApiKey).to.equal(undefined);
  });

  it("splits SIGNER_KEYS on commas and trims the keys, in order", () => {
    const c = loadConfig({ ...REQUIRED, SIGNER_KEYS: `  ${KEY_A} ,${KEY_B},, \t${KEY_C}  ,` });
    expect(c.signerKeys).to.deep.equal([KEY_A, KEY_B, KEY_C]);
  });
});

interface MainRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the compiled relayer (`dist/relayer/src/main.js`) as `npm run relayer` does, with a clean environment: PATH and HOME, a dotenv path
 * that does not exist (so no `.env` can leak in) and the case's variables only.
 */
function runMain(vars: Record<string, string>, timeoutMs: number): Promise<MainRun> {
  const noEnvFile = path.join(os.tmpdir(), `relayer-config-test-${process.pid}-no-such.env`);
  const env: NodeJS.ProcessEnv = { DOTENV_CONFIG_PATH: noEnvFile, ...vars };
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  const started = Date.now();
  const proc: ChildProcess = spawn(process.execPath, [path.join(ROOT, "dist", "relayer", "src", "main.js")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    proc.once("error", (err) => {
      clearTimeout(killer);
      reject(err);
    });
    proc.once("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function describeRun(r: MainRun): string {
  return `exit ${r.code} (${r.signal ?? "no signal"}) after ${r.ms} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

describe("relayer config: the process entry (dist/relayer/src/main.js)", function () {
  this.timeout(90_000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "relayer-config-"));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("exits with code 2 naming each missing required variable, before listening", async () => {
    const r = await runMain({}, 60_000);
    expect(r.code, describeRun(r)).to.equal(2);
    expect(r.stderr.startsWith("relayer: invalid relayer configuration"), describeRun(r)).to.equal(true);
    for (const name of ["SIGNER_KEYS", "ADMIN_API_KEY", "MERCHANT_KEY_SECRET"]) {
      expect(r.stderr, describeRun(r)).to.include(`- ${name}:`);
    }
    expect(r.stdout).to.not.include("relayer listening");
  });

  it("exits with code 2 when CHAIN_ID is unset and nothing answers at RPC_URL", async () => {
    const closed = await freePort();
    const rpcUrl = `http://127.0.0.1:${closed}`;
    const r = await runMain(
      {
        ...(REQUIRED as Record<string, string>),
        RPC_URL: rpcUrl,
        DEPLOYMENTS_DIR: path.join(tmp, "deployments-rpc"),
        DATA_DIR: path.join(tmp, "data-rpc"),
        LOG_LEVEL: "silent",
      },
      60_000,
    );
    expect(r.code, describeRun(r)).to.equal(2);
    expect(r.stderr.startsWith("relayer: invalid relayer configuration"), describeRun(r)).to.equal(true);
    expect(r.stderr, describeRun(r)).to.include(`RPC_URL: cannot reach ${rpcUrl}`);
    expect(r.stdout).to.not.include("relayer listening");
  });

  it("exits with code 2 when the chain of CHAIN_ID has no deployment record", async () => {
    const dir = path.join(tmp, "deployments-empty");
    fs.mkdirSync(dir);
    const closed = await freePort();
    const r = await runMain(
      {
        ...(REQUIRED as Record<string, string>),
        // With CHAIN_ID the chain is not asked, so an unreachable RPC_URL must not matter yet.
        RPC_URL: `http://127.0.0.1:${closed}`,
        CHAIN_ID: "31337",
        DEPLOYMENTS_DIR: dir,
        DATA_DIR: path.join(tmp, "data-deployment"),
        LOG_LEVEL: "silent",
      },
      60_000,
    );
    expect(r.code, describeRun(r)).to.equal(2);
    expect(r.stderr.startsWith("relayer: no deployment record for chain 31337"), describeRun(r)).to.equal(true);
    expect(r.stderr, describeRun(r)).to.include(path.join(dir, "31337.json"));
    expect(r.stderr).to.not.include("cannot reach");
    expect(r.stdout).to.not.include("relayer listening");
    expect(fs.readdirSync(dir), "nothing written to the deployments dir").to.deep.equal([]);
  });
});
