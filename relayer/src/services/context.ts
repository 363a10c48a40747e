/** What the services need: storage, the chain, configuration and where events go. */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { Db } from "../store/db";
import type { Metrics } from "../metrics";
import type { ApiKeyCache } from "../store/apiKeyCache";
import type { MetricObjectWithValues, MetricValue } from "prom-client";

export interface Principal {
  kind: "admin" | "merchant" | "arbiter";
  /** The API key id, or "admin" for the admin key from config. */
  keyId: string;
  merchantId: string | null;
  scopes: string[];
}

export interface ServiceDeps {
  db: Db;
  chain: ChainContext;
  log: Logger;
  metrics: Metrics;
  /** Valid API keys seen recently (see store/apiKeyCache.ts); without it every request reads its key. */
  keyCache?: ApiKeyCache;
  /** Metrics of the worker thread, when the writer and indexer run in one (merged into /metrics). */
  workerMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  config: {
    adminApiKey: string;
    arbiterApiKey?: string;
    merchantKeySecret: string;
    confirmations: number;
    arbiterSignerConfigured?: boolean;
    relayPolicy?: { perBuyerPerMinute: number; perMerchantPerMinute: number };
    /** How long an Idempotency-Key is kept from its first request (IDEMPOTENCY_TTL_HOURS; default 24). */
    idempotencyTtlHours?: number;
    /** Blocks the indexer stays behind the head by design (its depth, and a safe/finalized target's lag). */
    indexerLagAllowance?: number;
    /** The gas budget of a merchant without one of its own, wei per 30 days (GAS_BUDGET_DEFAULT_ETH). */
    gasBudgetDefaultWei?: bigint;
    /** Requests per minute per merchant API key, per client IP and per merchant (0: none); absent: no limits. */
    rateLimits?: { perKeyPerMinute: number; perIpPerMinute: number; perMerchantPerMinute?: number };
    /** Active API keys a merchant may hold (MAX_API_KEYS_PER_MERCHANT; 25 when absent). */
    maxApiKeysPerMerchant?: number;
    /** Which proxies' X-Forwarded-For names the client (TRUST_PROXY): all, none, the nearest N, or these addresses. */
    trustProxy?: boolean | number | string[];
    /** Local chains only: webhook endpoints may be http:// and loopback or private addresses. */
    webhookAllowPrivateTargets?: boolean;
    /** How long a payout address change stays pending (PAYOUT_CHANGE_DELAY_SECONDS); unset: by chain. */
    payoutChangeDelaySeconds?: number;
    /** The relayer's signers' addresses (SIGNER_KEYS): the operators a merchant approves. */
    operatorAddresses?: string[];
  };
}
