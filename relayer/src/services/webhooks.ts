/** Webhook endpoints of a merchant, their delivery log and manual redelivery. */
import crypto from "node:crypto";
import { AppError } from "../domain/errors";
import { encryptPrivateKey } from "../domain/keys";
import { newId } from "../domain/model";
import type { Queryable } from "../store/db";
import { recordAudit } from "../store/audit";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import type { Principal, ServiceDeps } from "./context";

interface EndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  events: string[];
  created_at: Date;
  disabled_at: Date | null;
}

function endpointView(e: EndpointRow) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    createdAt: new Date(e.created_at).toISOString(),
    disabledAt: e.disabled_at ? new Date(e.disabled_at).toISOString() : null,
  };
}

export async function createEndpoint(
  deps: ServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  body: { url: string; events?: string[] },
) {
  let url: URL;
  try {
    url = new URL(body.url);
  } catch {
    throw new AppError("validation_failed", "url must be an absolute http(s) URL", { field: "url" });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new AppError("validation_failed", "url must use http or https", { field: "url" });
  const events = body.events && body.events.length ? [...new Set(body.events)] : ["*"];
  for (const e of events) {
    if (e !== "*" && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)) {
      throw new AppError("validation_failed", `unknown event type "${e}"`, { allowed: ["*", ...WEBHOOK_EVENT_TYPES] });
    }
  }
  const secret = `whsec_${crypto.randomBytes(24).toString("base64url")}`;
  const id = newId("whe");
  await q.query(
    `insert into webhook_endpoints (id, merchant_id, url, events, encrypted_secret) values ($1, $2, $3, $4, $5)`,
    [id, merchantId, url.toString(), events, encryptPrivateKey(secret, deps.config.merchantKeySecret)],
  );
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "webhook.created",
    resourceType: "webhook_endpoint",
    resourceId: id,
    details: { url: url.toString(), events },
  });
  const row = (await q.query<EndpointRow>(`select * from webhook_endpoints where id = $1`, [id])).rows[0];
  return { ...endpointView(row), secret };
}

export async function listEndpoints(q: Queryable, merchantId: string) {
  return (
    await q.query<EndpointRow>(`select * from webhook_endpoints where merchant_id = $1 order by created_at, id`, [
      merchantId,
    ])
  ).rows.map(endpointView);
}

async function endpointOr404(q: Queryable, merchantId: string, id: string) {
  const e = (
    await q.query<EndpointRow>(`select * from webhook_endpoints where merchant_id = $1 and id = $2`, [merchantId, id])
  ).rows[0];
  if (!e) throw new AppError("not_found", `webhook endpoint ${id} not found`, { endpointId: id });
  return e;
}

export async function disableEndpoint(q: Queryable, who: Principal, merchantId: string, id: string) {
  await endpointOr404(q, merchantId, id);
  await q.query(`update webhook_endpoints set disabled_at = coalesce(disabled_at, now()) where id = $1`, [id]);
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
  const r = await q.query<{
    id: string;
    event_id: string;
    type: string;
    sequence: number;
    order_id: string | null;
    status: string;
    attempts: number;
    next_attempt_at: Date;
    last_status_code: number | null;
    last_error: string | null;
    delivered_at: Date | null;
    created_at: Date;
  }>(
    `select d.id, d.event_id, ev.type, ev.sequence, ev.order_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at
     from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
     where d.endpoint_id = $1 ${before ? "and d.id < $3" : ""} order by d.id desc limit $2`,
    before ? [endpointId, limit + 1, before] : [endpointId, limit + 1],
  );
  const page = r.rows.slice(0, limit);
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
      deliveredAt: d.delivered_at ? new Date(d.delivered_at).toISOString() : null,
      createdAt: new Date(d.created_at).toISOString(),
    })),
    nextCursor: r.rows.length > limit ? String(page[page.length - 1].id) : null,
  };
}

export async function redeliver(q: Queryable, who: Principal, merchantId: string, deliveryId: string) {
  const d = (
    await q.query<{ id: string; event_id: string; endpoint_id: string }>(
      `select d.id, d.event_id, d.endpoint_id from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
       where d.id = $1 and e.merchant_id = $2`,
      [deliveryId, merchantId],
    )
  ).rows[0];
  if (!d) throw new AppError("not_found", `delivery ${deliveryId} not found`, { deliveryId });
  const r = await q.query<{ id: string }>(
    `insert into webhook_deliveries (event_id, endpoint_id) values ($1, $2) returning id`,
    [d.event_id, d.endpoint_id],
  );
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "webhook.redelivered",
    resourceType: "webhook_delivery",
    resourceId: String(deliveryId),
  });
  return { id: String(r.rows[0].id), eventId: d.event_id, status: "pending" };
}
