/** Webhook endpoints of a merchant, their delivery log and manual redelivery. */
import crypto from "node:crypto";
import { AppError } from "../domain/errors";
import { encryptPrivateKey } from "../domain/keys";
import { newId } from "../domain/model";
import type { Queryable } from "../store/db";
import { recordAudit } from "../store/audit";
import {
  disableEndpointNow,
  enqueueDelivery,
  findMerchantDelivery,
  findMerchantEndpoint,
  getEndpoint,
  insertEndpointWithinLimit,
  listEndpointDeliveries,
  listMerchantEndpoints,
  type EndpointRow,
} from "../store/webhooks";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { assertTargetAllowed, type Lookup } from "../webhooks/targets";
import type { Principal, ServiceDeps } from "./context";
import { listPage } from "./listPage";

/** Active (not disabled) endpoints a merchant may have: each costs the deliverer a slot while it hangs. */
export const MAX_ACTIVE_ENDPOINTS = 10;

/** What the webhook services read beyond ServiceDeps. */
export type WebhookServiceDeps = ServiceDeps & {
  config: {
    /**
     * The relayer runs against a local chain: http and loopback or private targets are accepted. Unset: only https
     * to public addresses (see webhooks/targets.ts).
     */
    webhookAllowPrivateTargets?: boolean;
  };
  /** Resolves endpoint hosts at registration (default: the system resolver). */
  webhookLookup?: Lookup;
};

function endpointView(e: EndpointRow) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    createdAt: new Date(e.created_at).toISOString(),
    disabledAt: e.disabled_at ? new Date(e.disabled_at).toISOString() : null,
    consecutiveFailures: e.consecutive_failures,
    pausedUntil:
      e.paused_until && new Date(e.paused_until).getTime() > Date.now() ? new Date(e.paused_until).toISOString() : null,
  };
}

export async function createEndpoint(
  deps: WebhookServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  body: { url: string; events?: string[] },
) {
  const events = body.events && body.events.length ? [...new Set(body.events)] : ["*"];
  for (const e of events) {
    if (e !== "*" && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)) {
      throw new AppError("validation_failed", `unknown event type "${e}"`, { allowed: ["*", ...WEBHOOK_EVENT_TYPES] });
    }
  }
  const url = await assertTargetAllowed(
    body.url,
    { allowPrivate: deps.config.webhookAllowPrivateTargets === true },
    { lookup: deps.webhookLookup },
  );
  const secret = `whsec_${crypto.randomBytes(24).toString("base64url")}`;
  const id = newId("whe");
  const inserted = await insertEndpointWithinLimit(
    q,
    {
      id,
      merchantId,
      url: url.toString(),
      events,
      encryptedSecret: encryptPrivateKey(secret, deps.config.merchantKeySecret),
    },
    MAX_ACTIVE_ENDPOINTS,
  );
  if (!inserted)
    throw new AppError(
      "webhook_endpoint_limit_reached",
      `a merchant has at most ${MAX_ACTIVE_ENDPOINTS} active webhook endpoints: disable one first`,
      { limit: MAX_ACTIVE_ENDPOINTS },
    );
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "webhook.created",
    resourceType: "webhook_endpoint",
    resourceId: id,
    details: { url: url.toString(), events },
  });
  const row = (await getEndpoint(q, id))!;
  return { ...endpointView(row), secret };
}

/** A page of the merchant's endpoints in creation order; disabled ones only with `includeDisabled`. */
export async function listEndpoints(
  q: Queryable,
  merchantId: string,
  page: { cursor?: string; limit?: number; includeDisabled?: boolean } = {},
) {
  const includeDisabled = page.includeDisabled ?? false;
  return listPage(
    page,
    (after, limit) => listMerchantEndpoints(q, merchantId, { after, limit, includeDisabled }),
    (e) => endpointView(e),
  );
}

async function endpointOr404(q: Queryable, merchantId: string, id: string): Promise<EndpointRow> {
  const e = await findMerchantEndpoint(q, merchantId, id);
  if (!e) throw new AppError("not_found", `webhook endpoint ${id} not found`, { endpointId: id });
  return e;
}

/** Stops the endpoint: no new deliveries, and its queued ones are cancelled. */
export async function disableEndpoint(q: Queryable, who: Principal, merchantId: string, id: string) {
  await endpointOr404(q, merchantId, id);
  await disableEndpointNow(q, id);
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "webhook.disabled",
    resourceType: "webhook_endpoint",
    resourceId: id,
  });
  return endpointView(await endpointOr404(q, merchantId, id));
}

export async function listDeliveries(
  q: Queryable,
  merchantId: string,
  endpointId: string,
  limit: number,
  before?: string,
) {
  await endpointOr404(q, merchantId, endpointId);
  // One more than a page: whether it came tells if there is a next page.
  const rows = await listEndpointDeliveries(q, endpointId, limit + 1, before);
  const page = rows.slice(0, limit);
  return {
    data: page.map((d) => ({
      id: String(d.id),
      eventId: d.event_id,
      type: d.type,
      sequence: d.sequence,
      orderId: d.order_id,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.status === "pending" ? new Date(d.next_attempt_at).toISOString() : null,
      lastStatusCode: d.last_status_code,
      lastError: d.last_error,
      lastResponseBody: d.last_response_body,
      deliveredAt: d.delivered_at ? new Date(d.delivered_at).toISOString() : null,
      createdAt: new Date(d.created_at).toISOString(),
    })),
    nextCursor: rows.length > limit ? String(page[page.length - 1].id) : null,
  };
}

export async function redeliver(q: Queryable, who: Principal, merchantId: string, deliveryId: string) {
  const d = await findMerchantDelivery(q, merchantId, deliveryId);
  if (!d) throw new AppError("not_found", `delivery ${deliveryId} not found`, { deliveryId });
  if (d.endpoint_disabled)
    throw new AppError("webhook_endpoint_disabled", `webhook endpoint ${d.endpoint_id} is disabled`, {
      endpointId: d.endpoint_id,
    });
  const id = await enqueueDelivery(q, d.event_id, d.endpoint_id);
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "webhook.redelivered",
    resourceType: "webhook_delivery",
    resourceId: String(deliveryId),
  });
  return { id, eventId: d.event_id, status: "pending" };
}
