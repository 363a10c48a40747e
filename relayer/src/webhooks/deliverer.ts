/**
 * Delivers webhook events at least once: claims due deliveries with SKIP LOCKED, POSTs the event signed with
 * the endpoint's secret, and on any failure (refused, timeout, non-2xx) retries with exponential backoff and
 * jitter for more than 24 hours by default. Runs on its own loop: it never blocks the indexer or the API.
 */
import type { Logger } from "pino";
import type { Db } from "../store/db";
import {
  claimDueDeliveries,
  giveUpDelivery,
  markDelivered,
  scheduleRetry,
  type ClaimedDelivery,
  type FailedAttempt,
} from "../store/webhooks";
import { decryptPrivateKey } from "../domain/keys";
import { signWebhook, SIGNATURE_HEADER } from "../../../sdk/webhooks";

export interface DelivererOptions {
  secretKey: string;
  pollIntervalMs: number;
  /** First retry delay; doubles per attempt up to `retryCapMs`. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Attempts before a delivery is marked failed (it can still be redelivered by hand). */
  maxAttempts: number;
  timeoutMs: number;
  concurrency: number;
}

export const DEFAULT_DELIVERY: Omit<DelivererOptions, "secretKey"> = {
  pollIntervalMs: 500,
  retryBaseMs: 10_000,
  retryCapMs: 2 * 3600_000,
  // 10 s doubling to a 2 h cap. With equal jitter a delay can be as short as half its slot, so 34 attempts
  // (33 delays) keep retrying for at least 24.4 hours (about 36.6 hours on average).
  maxAttempts: 34,
  timeoutMs: 10_000,
  concurrency: 8,
};

/** Delay before attempt `attempt + 1`, with "equal jitter": half fixed, half random. */
export function backoffMs(attempt: number, base: number, cap: number, random = Math.random): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(exp / 2 + random() * (exp / 2));
}

export class WebhookDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly opts: DelivererOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        await this.tick();
      } catch (err) {
        this.log.warn({ err: String(err) }, "webhook pass failed");
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.pollIntervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (;;) {
          const batch = await this.claim();
          if (batch.length === 0 || this.stopped) break;
          await Promise.all(batch.map((d) => this.deliver(d)));
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private claim(): Promise<ClaimedDelivery[]> {
    // A delivery still 'delivering' after three timeouts was abandoned by a process that died.
    return claimDueDeliveries(this.db, this.opts.concurrency, this.opts.timeoutMs * 3);
  }

  private async deliver(d: ClaimedDelivery) {
    const body = JSON.stringify(d.payload);
    const secret = decryptPrivateKey(d.encrypted_secret, this.opts.secretKey);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(d.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "orderchain-webhooks/1",
          [SIGNATURE_HEADER]: signWebhook(secret, body),
          "orderchain-event-id": d.event_id,
          "orderchain-delivery-id": String(d.id),
        },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        redirect: "manual",
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = String((err as Error)?.message ?? err).slice(0, 300);
    }
    const attempts = d.attempts + 1;
    if (!error) {
      await markDelivered(this.db, d.id, attempts, status);
      return;
    }
    const giveUp = attempts >= this.opts.maxAttempts;
    const delay = backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryCapMs);
    const failed: FailedAttempt = { attempts, statusCode: status, error, retryInMs: delay };
    if (giveUp) await giveUpDelivery(this.db, d.id, failed);
    else await scheduleRetry(this.db, d.id, failed);
    this.log.info({ delivery: d.id, attempts, error, retryInMs: giveUp ? null : delay }, "webhook delivery failed");
  }
}
