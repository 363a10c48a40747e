/** What the services need: storage, the chain, configuration and where events go. */
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { Db } from "../store/db";
import type { Metrics } from "../metrics";
import type { Indexer } from "../indexer/indexer";

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
  indexer?: Indexer;
  config: {
    adminApiKey: string;
    arbiterApiKey?: string;
    merchantKeySecret: string;
    confirmations: number;
    arbiterSignerConfigured?: boolean;
    relayPolicy?: { perBuyerPerMinute: number; perMerchantPerMinute: number };
  };
}
