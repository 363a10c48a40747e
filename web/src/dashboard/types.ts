/** The relayer's /v1 answers the dashboard reads, as the generated client types them (sdk/api/schema.ts). */
import type { paths } from "../../../sdk/api/client";

export type { Order, OrderDetail, Sku } from "../../../sdk/api/client";

/** The JSON of a 200 answer to `method` on `path`. */
type Reply<P extends keyof paths, M extends "get" | "post"> = paths[P][M] extends {
  responses: { 200: { content: { "application/json": infer R } } };
}
  ? R
  : never;

/** A merchant key's merchant, as the relayer's key introspection names it. */
export type KeyMerchant = NonNullable<Reply<"/v1/introspect", "post">["merchant"]>;
export type LedgerEntry = Reply<"/v1/ledger/entries", "get">["data"][number];
export type WebhookEndpoint = Reply<"/v1/webhooks", "get">["data"][number];
export type WebhookDelivery = Reply<"/v1/webhooks/{id}/deliveries", "get">["data"][number];
