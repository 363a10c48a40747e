/**
 * Delivers webhook events at least once: claims due deliveries with SKIP LOCKED, POSTs the event signed with
 * the endpoint's secret, and on any failure (refused, timeout, non-2xx) retries with exponential backoff and
 * jitter for more than 24 hours by default. Runs on its own loop: it never blocks the indexer or the API.
 */
import type { Logger } from "pino";
import type { Db } from "../store/db";
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

  private async claim() {
    return (
      await this.db.query<{
        id: string;
        attempts: number;
        url: string;
        encrypted_secret: string;
        payload: unknown;
        event_id: string;
      }>(
        `with due as (
           select d.id from webhook_deliveries d
           where (d.status = 'pending' and d.next_attempt_at <= now())
              -- a delivery left 'delivering' by a process that died is retried
              or (d.status = 'delivering' and d.updated_at < now() - ($2::int * interval '1 millisecond'))
           order by d.next_attempt_at, d.id limit $1 for update skip locked
         )
         update webhook_deliveries d set status = 'delivering', updated_at = now()
         from webhook_endpoints e, webhook_events ev
         where d.id in (select id from due) and e.id = d.endpoint_id and ev.id = d.event_id
         returning d.id, d.attempts, e.url, e.encrypted_secret, ev.payload, d.event_id`,
        [this.opts.concurrency, this.opts.timeoutMs * 3],
      )
    ).rows;
  }

  private async deliver(d: {
    id: string;
    attempts: number;
    url: string;
    encrypted_secret: string;
    payload: unknown;
    event_id: string;
  }) {
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
      await this.db.query(
        `update webhook_deliveries set status = 'delivered', attempts = $2, last_status_code = $3, last_error = null, delivered_at = now(), updated_at = now() where id = $1`,
        [d.id, attempts, status],
      );
      return;
    }
    const giveUp = attempts >= this.opts.maxAttempts;
    const delay = backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryCapMs);
    await this.db.query(
      `update webhook_deliveries set status = $2, attempts = $3, last_status_code = $4, last_error = $5,
         next_attempt_at = now() + ($6::bigint * interval '1 millisecond'), updated_at = now() where id = $1`,
      [d.id, giveUp ? "failed" : "pending", attempts, status, error, delay],
    );
    this.log.info({ delivery: d.id, attempts, error, retryInMs: giveUp ? null : delay }, "webhook delivery failed");
  }
}
