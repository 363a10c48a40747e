/**
 * Relayer configuration, read once from the environment (and `.env`) into a typed, validated object.
 * Every problem is reported by variable name before anything starts.
 */
import path from "node:path";
import { parseUnits } from "ethers";
import { z } from "zod";
import { KEEPER_ACTION_NAMES, type KeeperActionName } from "./domain/command";

const hexKey = /^0x[0-9a-fA-F]{64}$/;

const schema = z.object({
  RPC_URL: z.string().url().default("http://127.0.0.1:8545"),
  RPC_FALLBACK_URLS: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? "")
        .split(",")
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .refine((urls) => urls.every((u) => URL.canParse(u)), "must be comma-separated URLs"),
  RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  RPC_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  RPC_MAX_REQUESTS_PER_SECOND: z.coerce.number().min(0).max(100_000).optional(),
  RPC_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(50),
  CHAIN_ID: z.coerce.number().int().positive().optional(),
  DEPLOYMENTS_DIR: z.string().default(path.join(process.cwd(), "deployments")),
  SIGNER_KEYS: z
    .string({ required_error: "is required: comma-separated 0x-prefixed private keys of the relayer's signers" })
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .refine((keys) => keys.length > 0, "must list at least one key")
    .refine((keys) => keys.every((k) => hexKey.test(k)), "each key must be 0x followed by 64 hex digits")
    // Two lanes on one key would share one nonce sequence.
    .refine((keys) => new Set(keys.map((k) => k.toLowerCase())).size === keys.length, "lists the same key twice"),
  DATABASE_URL: z.string().optional(),
  DATA_DIR: z.string().default(path.join(process.cwd(), "data", "relayer")),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default("127.0.0.1"),
  ADMIN_API_KEY: z
    .string({ required_error: "is required: the key of the admin API" })
    .min(16, "must be at least 16 characters"),
  ARBITER_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
  MERCHANT_KEY_SECRET: z
    .string({ required_error: "is required: secret that encrypts merchants' custodial keys at rest" })
    .min(16, "must be at least 16 characters"),
  CONFIRMATIONS: z.coerce.number().int().min(1).max(64).default(1),
  BATCH_SIZE: z.coerce.number().int().min(1).max(400).default(200),
  POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
  REPLACE_AFTER_MS: z.coerce.number().int().min(1000).default(30_000),
  FEE_BUMP_PERCENT: z.coerce.number().int().min(10).max(500).default(20),
  MAX_FEE_PER_GAS_GWEI: z
    .string()
    .regex(/^\d{1,7}(\.\d{1,9})?$/, "must be a number of gwei, e.g. 200 or 0.5")
    .transform((v) => parseUnits(v, "gwei"))
    .refine((wei) => wei > 0n, "must be more than 0")
    .optional(),
  MAX_REPLACEMENTS: z.coerce.number().int().min(0).max(100).default(10),
  SIGNER_LOW_BALANCE_ETH: z
    .string()
    .regex(/^\d{1,7}(\.\d{1,18})?$/, "must be a number of ETH, e.g. 0.05")
    .default("0.05")
    .transform((v) => parseUnits(v, "ether")),
  GAS_LIMITS: z.enum(["bounds", "estimate"]).optional(),
  LEASE_TTL_MS: z.coerce.number().int().min(1000).default(15_000),
  INDEXER_BATCH_BLOCKS: z.coerce.number().int().min(1).max(10_000).default(2_000),
  INDEXER_TARGET: z.enum(["latest", "safe", "finalized"]).default("latest"),
  INDEXER_DEPTH: z.coerce.number().int().min(0).max(1_000).default(0),
  INDEXER_VERIFY_BLOCKS: z.coerce.number().int().min(0).max(10_000).default(128),
  ARBITER_SIGNER_KEY: z.string().regex(hexKey, "must be 0x followed by 64 hex digits").optional(),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(10_000),
  WEBHOOK_RETRY_CAP_MS: z.coerce
    .number()
    .int()
    .min(10)
    .default(2 * 3600_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(34),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5_000),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  PAYOUT_CHANGE_DELAY_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86400)
    .optional(),
  RELAY_BUYER_PER_MINUTE: z.coerce.number().int().min(1).default(12),
  RELAY_MERCHANT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  GAS_BUDGET_DEFAULT_ETH: z
    .string()
    .regex(/^\d{1,7}(\.\d{1,18})?$/, "must be a number of ETH, e.g. 1 or 0.25")
    .default("1")
    .transform((v) => parseUnits(v, "ether"))
    .refine((wei) => wei > 0n, "must be more than 0 (set a merchant's own budget to raise it)"),
  RATE_LIMIT_PER_KEY_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(6000),
  RATE_LIMIT_PER_IP_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  RATE_LIMIT_PER_MERCHANT_PER_MINUTE: z.coerce.number().int().min(0).max(10_000_000).default(12000),
  MAX_API_KEYS_PER_MERCHANT: z.coerce.number().int().min(1).max(10_000).default(25),
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((v) => v.trim())
    .refine(
      (v) =>
        /^(true|false|\d{1,2})$/.test(v) || v.split(",").every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a.trim())),
      "must be true, false, a number of proxy hops, or comma-separated proxy addresses or CIDR ranges",
    )
    .transform((v): boolean | number | string[] =>
      v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v.split(",").map((a) => a.trim()),
    ),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  INSTANCE_ID: z.string().optional(),
  WORKERS: z.enum(["thread", "inline", "none"]).optional(),
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .min(1)
    .max(24 * 30)
    .default(24),
  KEEPERS: z
    .string()
    .default(KEEPER_ACTION_NAMES.join(","))
    .transform((s) =>
      s.trim() === "none"
        ? []
        : s
            .split(",")
            .map((a) => a.trim())
            .filter(Boolean),
    )
    .refine(
      (names) => names.every((n) => (KEEPER_ACTION_NAMES as readonly string[]).includes(n)),
      `must be none or a comma-separated list of ${KEEPER_ACTION_NAMES.join(", ")}`,
    )
    .transform((names) => [...new Set(names)] as KeeperActionName[]),
  KEEPER_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(15_000),
  KEEPER_MAX_ORDERS_PER_PASS: z.coerce.number().int().min(1).max(1_000).default(50),
});

/**
 * Rules between variables, checked on the raw values so that they are reported together with the
 * per-variable problems (a refinement of the schema would only run once every variable is valid).
 */
function crossProblems(env: RawEnv): string[] {
  const out: string[] = [];
  if (env.ARBITER_API_KEY !== undefined && env.ARBITER_API_KEY === env.ADMIN_API_KEY) {
    out.push("ARBITER_API_KEY: must differ from ADMIN_API_KEY");
  }
  const base = Number(env.WEBHOOK_RETRY_BASE_MS ?? 10_000);
  const cap = Number(env.WEBHOOK_RETRY_CAP_MS ?? 2 * 3600_000);
  if (Number.isFinite(base) && Number.isFinite(cap) && cap < base) {
    out.push(`WEBHOOK_RETRY_CAP_MS: must be at least WEBHOOK_RETRY_BASE_MS (${base})`);
  }
  // Webhooks to loopback and private addresses serve local development only: never on a public chain.
  const chainId = env.CHAIN_ID === undefined ? undefined : Number(env.CHAIN_ID);
  if (env.WEBHOOK_ALLOW_PRIVATE_TARGETS === "true" && chainId !== undefined && ![31337, 1337].includes(chainId)) {
    out.push(
      `WEBHOOK_ALLOW_PRIVATE_TARGETS: may only be true on a local chain (CHAIN_ID 31337 or 1337, not ${chainId})`,
    );
  }
  return out;
}

export type RawEnv = Record<string, string | undefined>;

export interface RelayerConfig {
  rpcUrl: string;
  /** Tried in order when RPC_URL fails (connection, timeout, 429, 5xx). */
  rpcFallbackUrls: string[];
  rpcTimeoutMs: number;
  rpcRetries: number;
  /** The request budget of each thread's provider (0: none; unset: none on local chains, else 20). */
  rpcMaxRequestsPerSecond?: number;
  rpcBatchSize: number;
  chainId?: number;
  deploymentsDir: string;
  signerKeys: string[];
  databaseUrl?: string;
  dataDir: string;
  port: number;
  host: string;
  adminApiKey: string;
  arbiterApiKey?: string;
  merchantKeySecret: string;
  confirmations: number;
  batchSize: number;
  pollIntervalMs: number;
  replaceAfterMs: number;
  feeBumpPercent: number;
  /** No transaction offers more per gas (wei); unset: a default per chain (chain/submitter/fees.ts). */
  maxFeePerGas?: bigint;
  maxReplacements: number;
  signerLowBalanceWei: bigint;
  /** `estimate`: every gas limit from the node; `bounds`: the jobs' bounds where known; unset: by chain id. */
  gasLimits?: "bounds" | "estimate";
  leaseTtlMs: number;
  indexerBatchBlocks: number;
  /** The block the indexer follows (`safe`/`finalized` where the chain has them), minus `indexerDepth`. */
  indexerTarget: "latest" | "safe" | "finalized";
  indexerDepth: number;
  /** Blocks below the head whose logs blooms are checked against the logs received. */
  indexerVerifyBlocks: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  instanceId?: string;
  /**
   * Where the chain writer, indexer and webhook deliverer run: `thread` (a worker thread; the default),
   * `inline` (the API's event loop) or `none` (an API-only process beside others that run the workers).
   */
  workers: "thread" | "inline" | "none";
  /** How long a valid API key is remembered without reading it again (0: never); revocations clear it at once. */
  apiKeyCacheMs: number;
  /** How long an Idempotency-Key is kept from its first request; expired keys are served anew and purged. */
  idempotencyTtlHours: number;
  arbiterSignerKey?: string;
  webhookRetryBaseMs: number;
  webhookRetryCapMs: number;
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
  /** Local chains only: webhooks may go to http:// and to loopback or private addresses. */
  webhookAllowPrivateTargets: boolean;
  /** How long a payout address change stays pending and cancellable; unset: 0 on local chains, else 1 day. */
  payoutChangeDelaySeconds?: number;
  relayBuyerPerMinute: number;
  relayMerchantPerMinute: number;
  /** The gas budget of a merchant without one of its own (wei over the last 30 days); never 0. */
  gasBudgetDefaultWei: bigint;
  /** Requests per minute of each merchant API key (0: no limit), in each process. */
  rateLimitPerKeyPerMinute: number;
  /** Requests per minute of each client IP on the routes without a key and with refused keys (0: no limit). */
  rateLimitPerIpPerMinute: number;
  /** Requests per minute of all of a merchant's API keys together (0: no limit), in each process. */
  rateLimitPerMerchantPerMinute: number;
  /** Active (not revoked) API keys a merchant may hold. */
  maxApiKeysPerMerchant: number;
  /**
   * Whose X-Forwarded-For names the client (per-IP limits): false (the peer is the client), true (any proxy's),
   * the nearest N proxies, or proxies at these addresses or CIDR ranges.
   */
  trustProxy: boolean | number | string[];
  /** The keeper actions this process runs (KEEPERS; empty: none). Merchants can turn each off for themselves. */
  keepers: KeeperActionName[];
  /** Time between keeper passes. */
  keeperIntervalMs: number;
  /** Orders one keeper pass acts on, per action. */
  keeperMaxOrdersPerPass: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid relayer configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: RawEnv = process.env): RelayerConfig {
  const cleaned: RawEnv = {};
  // An empty or blank value counts as unset (`PORT=` in .env keeps the default).
  for (const [k, v] of Object.entries(env)) cleaned[k] = v === undefined || v.trim() === "" ? undefined : v;
  const parsed = schema.safeParse(cleaned);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)),
    ...crossProblems(cleaned),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const c = parsed.data;
  return {
    rpcUrl: c.RPC_URL,
    rpcFallbackUrls: c.RPC_FALLBACK_URLS,
    rpcTimeoutMs: c.RPC_TIMEOUT_MS,
    rpcRetries: c.RPC_RETRIES,
    rpcMaxRequestsPerSecond: c.RPC_MAX_REQUESTS_PER_SECOND,
    rpcBatchSize: c.RPC_BATCH_SIZE,
    chainId: c.CHAIN_ID,
    deploymentsDir: c.DEPLOYMENTS_DIR,
    signerKeys: c.SIGNER_KEYS,
    databaseUrl: c.DATABASE_URL,
    dataDir: c.DATA_DIR,
    port: c.PORT,
    host: c.HOST,
    adminApiKey: c.ADMIN_API_KEY,
    arbiterApiKey: c.ARBITER_API_KEY,
    merchantKeySecret: c.MERCHANT_KEY_SECRET,
    confirmations: c.CONFIRMATIONS,
    batchSize: c.BATCH_SIZE,
    pollIntervalMs: c.POLL_INTERVAL_MS,
    replaceAfterMs: c.REPLACE_AFTER_MS,
    feeBumpPercent: c.FEE_BUMP_PERCENT,
    maxFeePerGas: c.MAX_FEE_PER_GAS_GWEI,
    maxReplacements: c.MAX_REPLACEMENTS,
    signerLowBalanceWei: c.SIGNER_LOW_BALANCE_ETH,
    gasLimits: c.GAS_LIMITS,
    leaseTtlMs: c.LEASE_TTL_MS,
    indexerBatchBlocks: c.INDEXER_BATCH_BLOCKS,
    indexerTarget: c.INDEXER_TARGET,
    indexerDepth: c.INDEXER_DEPTH,
    indexerVerifyBlocks: c.INDEXER_VERIFY_BLOCKS,
    logLevel: c.LOG_LEVEL,
    instanceId: c.INSTANCE_ID,
    workers: c.WORKERS ?? "thread",
    apiKeyCacheMs: c.API_KEY_CACHE_MS,
    idempotencyTtlHours: c.IDEMPOTENCY_TTL_HOURS,
    arbiterSignerKey: c.ARBITER_SIGNER_KEY,
    webhookRetryBaseMs: c.WEBHOOK_RETRY_BASE_MS,
    webhookRetryCapMs: c.WEBHOOK_RETRY_CAP_MS,
    webhookMaxAttempts: c.WEBHOOK_MAX_ATTEMPTS,
    webhookTimeoutMs: c.WEBHOOK_TIMEOUT_MS,
    webhookAllowPrivateTargets: c.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    payoutChangeDelaySeconds: c.PAYOUT_CHANGE_DELAY_SECONDS,
    relayBuyerPerMinute: c.RELAY_BUYER_PER_MINUTE,
    relayMerchantPerMinute: c.RELAY_MERCHANT_PER_MINUTE,
    gasBudgetDefaultWei: c.GAS_BUDGET_DEFAULT_ETH,
    rateLimitPerKeyPerMinute: c.RATE_LIMIT_PER_KEY_PER_MINUTE,
    rateLimitPerIpPerMinute: c.RATE_LIMIT_PER_IP_PER_MINUTE,
    rateLimitPerMerchantPerMinute: c.RATE_LIMIT_PER_MERCHANT_PER_MINUTE,
    maxApiKeysPerMerchant: c.MAX_API_KEYS_PER_MERCHANT,
    trustProxy: c.TRUST_PROXY,
    keepers: c.KEEPERS,
    keeperIntervalMs: c.KEEPER_INTERVAL_MS,
    keeperMaxOrdersPerPass: c.KEEPER_MAX_ORDERS_PER_PASS,
  };
}

/** The RPC endpoints and transport settings of a provider (chain/transport.ts). */
export function rpcSettings(config: RelayerConfig): {
  urls: string[];
  transport: { timeoutMs: number; retries: number; requestsPerSecond?: number; batchSize: number };
} {
  return {
    urls: [config.rpcUrl, ...config.rpcFallbackUrls],
    transport: {
      timeoutMs: config.rpcTimeoutMs,
      retries: config.rpcRetries,
      requestsPerSecond: config.rpcMaxRequestsPerSecond,
      batchSize: config.rpcBatchSize,
    },
  };
}
