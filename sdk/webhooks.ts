/**
 * Webhook signatures, Stripe-style: the `Orderchain-Signature` header is `t=<unix seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(secret, `${t}.${rawBody}`). Verify with the raw request body (before JSON parsing).
 *
 *   import { verifyWebhook } from "orderchain/sdk/webhooks";
 *   const event = verifyWebhook({ secret, header: req.headers["orderchain-signature"], body: rawBody });
 */
import crypto from "node:crypto";
import type { WebhookEvent } from "./api/client";

export const SIGNATURE_HEADER = "orderchain-signature";

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = crypto.createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${v1}`;
}

/**
 * Checks the signature header against the raw body and returns the parsed event. Throws
 * WebhookVerificationError when the header is missing or malformed, the timestamp is outside the tolerance
 * (default 5 minutes, which stops replays of old deliveries), or no signature matches.
 */
export function verifyWebhook<T = WebhookEvent>(opts: {
  secret: string;
  header: string | string[] | undefined;
  body: string | Buffer;
  toleranceSeconds?: number;
  now?: number;
}): T {
  const header = Array.isArray(opts.header) ? opts.header[0] : opts.header;
  if (!header) throw new WebhookVerificationError(`missing ${SIGNATURE_HEADER} header`);
  const parts = header.split(",").map((p) => p.trim().split("="));
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  const signatures = parts.filter(([k]) => k === "v1").map(([, v]) => v ?? "");
  if (!Number.isInteger(t) || signatures.length === 0) throw new WebhookVerificationError("malformed signature header");
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSeconds ?? 300;
  if (Math.abs(now - t) > tolerance) throw new WebhookVerificationError("timestamp outside the tolerance window");
  const body = typeof opts.body === "string" ? opts.body : opts.body.toString("utf8");
  const expected = Buffer.from(crypto.createHmac("sha256", opts.secret).update(`${t}.${body}`).digest("hex"), "hex");
  const ok = signatures.some((s) => {
    const given = Buffer.from(s, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  if (!ok) throw new WebhookVerificationError("no signature matches the body");
  return JSON.parse(body) as T;
}
