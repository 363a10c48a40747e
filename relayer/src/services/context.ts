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
    /** Local chains only: webhook endpoints may be http:// and loopback or private addresses. */
    webhookAllowPrivateTargets?: boolean;
  };
}
