/**
 * Delivers webhook events at least once: claims due deliveries (store/webhooks.ts `claimDueDeliveries`: one
 * per endpoint, fairly between merchants), POSTs each event signed with its endpoint's secret, and on any
 * failure (refused, timeout, non-2xx) retries with exponential backoff and jitter for more than 24 hours by
 * default. Runs on its own loop: it never blocks the indexer or the API.
 *
 * What one merchant's endpoints can cost everyone is bounded: one delivery in flight per endpoint, at most
 * `perMerchantConcurrency` per merchant, a short deadline per attempt, at most `maxResponseBytes` read of an
 * answer, and a circuit breaker that pauses an endpoint after `breakerThreshold` failures in a row. A freed
 * slot is filled at once: a slow attempt holds its own slot, not a whole batch.
 */
import type { Logger } from "pino";
import { AppError } from "../domain/errors";
import type { Db } from "../store/db";
import {
  claimDueDeliveries,
  giveUpDelivery,
  markDelivered,
  scheduleRetry,
  type ClaimedDelivery,
  type FailedAttempt,
} from "../store/webhooks";
import { signWebhook, SIGNATURE_HEADER } from "../../../sdk/webhooks";
import { EndpointSecrets } from "./secrets";
import type { Lookup, TargetPolicy } from "./targets";
import { postWebhook } from "./transport";

export interface DelivererOptions {
  secretKey: string;
  pollIntervalMs: number;
  /** First retry delay; doubles per attempt up to `retryCapMs`. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Attempts before a delivery is marked failed (it can still be redelivered by hand). */
  maxAttempts: number;
  /** Deadline of one attempt: lookup, connect, request and answer. */
  timeoutMs: number;
  /** Deliveries in flight at once (each to another endpoint). */
  concurrency: number;
  /** Deliveries of one merchant in flight at once, across its endpoints and every deliverer. */
  perMerchantConcurrency: number;
  /** The most of an answer read; what was read is kept in the delivery log. */
  maxResponseBytes: number;
  /** Failed attempts in a row (any of the endpoint's deliveries) that pause an endpoint. */
  breakerThreshold: number;
  /** How long the breaker pauses the endpoint (at most `retryCapMs`); then one attempt probes it. */
  breakerCooldownMs: number;
  /**
   * The relayer runs against a local chain: http and loopback or private addresses are delivered to. Off, only
   * https to public addresses is (see targets.ts).
   */
  allowPrivateWebhookTargets: boolean;
  /** Resolves endpoint hosts (default: the system resolver). */
  lookup?: Lookup;
}

export const DEFAULT_DELIVERY: Omit<DelivererOptions, "secretKey"> = {
  pollIntervalMs: 500,
  retryBaseMs: 10_000,
  retryCapMs: 2 * 3600_000,
  // 10 s doubling to a 2 h cap. With equal jitter a delay can be as short as half its slot, so 34 attempts
  // (33 delays) keep retrying for at least 24.4 hours (about 36.6 hours on average).
  maxAttempts: 34,
  timeoutMs: 5_000,
  concurrency: 8,
  // A merchant whose endpoints all hang holds half the slots, for at most `timeoutMs`: the others keep the rest.
  perMerchantConcurrency: 4,
  maxResponseBytes: 4096,
  breakerThreshold: 5,
  breakerCooldownMs: 60_000,
  allowPrivateWebhookTargets: false,
};

/** Delay before attempt `attempt + 1`, with "equal jitter": half fixed, half random. */
export function backoffMs(attempt: number, base: number, cap: number, random = Math.random): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(exp / 2 + random() * (exp / 2));
}

/**
 * How long the circuit breaker pauses an endpoint after its `failuresInARow`-th failure in a row: null below the
 * threshold, else the cool-down (never longer than a delivery's own longest retry delay).
 */
export function breakerPauseMs(
  failuresInARow: number,
  o: Pick<DelivererOptions, "breakerThreshold" | "breakerCooldownMs" | "retryCapMs">,
): number | null {
  return failuresInARow >= o.breakerThreshold ? Math.min(o.breakerCooldownMs, o.retryCapMs) : null;
}

/** Postgres text cannot hold U+0000; what an endpoint answered may. */
function storable(text: string): string {
  return text.replace(/\u0000/g, "\uFFFD");
}

export class WebhookDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private filling: Promise<void> | null = null;
  /** A slot freed while a fill was running: fill again once it ends. */
  private refill = false;
  private readonly secrets: EndpointSecrets;
  private readonly policy: TargetPolicy;

  constructor(
    private readonly db: Db,
    private readonly opts: DelivererOptions,
    private readonly log: Logger,
  ) {
    this.secrets = new EndpointSecrets(opts.secretKey);
    this.policy = { allowPrivate: opts.allowPrivateWebhookTargets === true };
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      await this.fill();
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.pollIntervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops claiming and waits for the attempts in flight (each bounded by `timeoutMs`). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.filling;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Claims due deliveries into the free slots and starts them; resolves once they are started. */
  private fill(): Promise<void> {
    if (this.filling) {
      this.refill = true;
      return this.filling;
    }
    this.filling = (async () => {
      try {
        do {
          this.refill = false;
          for (;;) {
            const free = this.opts.concurrency - this.inFlight.size;
            if (free <= 0 || this.stopped) break;
            const batch = await claimDueDeliveries(this.db, {
              limit: free,
              perMerchant: this.opts.perMerchantConcurrency,
              // A claim older than three deadlines was abandoned by a process that died.
              leaseMs: this.opts.timeoutMs * 3,
            });
            for (const d of batch) this.launch(d);
            if (batch.length < free) break;
          }
        } while (this.refill && !this.stopped);
      } catch (err) {
        this.log.warn({ err: String(err) }, "webhook pass failed");
      } finally {
        this.filling = null;
      }
    })();
    return this.filling;
  }

  private launch(d: ClaimedDelivery): void {
    const attempt = this.deliver(d)
      .catch((err) => this.log.warn({ delivery: d.id, err: String(err) }, "recording a webhook attempt failed"))
      .finally(() => {
        this.inFlight.delete(d.id);
        if (!this.stopped) void this.fill();
      });
    this.inFlight.set(d.id, attempt);
  }

  private async deliver(d: ClaimedDelivery) {
    const body = JSON.stringify(d.payload);
    let status: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    try {
      const secret = await this.secrets.get(d.endpoint_id, d.encrypted_secret);
      const res = await postWebhook(
        d.url,
        {
          "content-type": "application/json",
          "user-agent": "orderchain-webhooks/1",
          [SIGNATURE_HEADER]: signWebhook(secret, body),
          "orderchain-event-id": d.event_id,
          "orderchain-delivery-id": String(d.id),
        },
        body,
        {
          timeoutMs: this.opts.timeoutMs,
          maxResponseBytes: this.opts.maxResponseBytes,
          policy: this.policy,
          lookup: this.opts.lookup,
        },
      );
      status = res.status;
      responseBody = storable(res.body);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error =
        err instanceof AppError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err).slice(0, 300);
    }
    const attempts = d.attempts + 1;
    if (!error) {
      await markDelivered(this.db, d.id, { attempts, statusCode: status!, responseBody: responseBody ?? "" });
      return;
    }
    const giveUp = attempts >= this.opts.maxAttempts;
    const delay = backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryCapMs);
    const pause = breakerPauseMs(d.consecutive_failures + 1, this.opts);
    const failed: FailedAttempt = {
      attempts,
      statusCode: status,
      error,
      responseBody,
      retryInMs: delay,
      pauseEndpointForMs: pause,
    };
    if (giveUp) await giveUpDelivery(this.db, d.id, failed);
    else await scheduleRetry(this.db, d.id, failed);
    this.log.info(
      { delivery: d.id, attempts, error, retryInMs: giveUp ? null : delay, endpointPausedForMs: pause },
      "webhook delivery failed",
    );
  }
}
