/**
 * Rate limits of the API: token buckets in this process's memory, one per merchant API key
 * (RATE_LIMIT_PER_KEY_PER_MINUTE), one per merchant for all its keys together (RATE_LIMIT_PER_MERCHANT_PER_MINUTE:
 * a tenant cannot multiply its allowance by minting keys), per client IP on the routes that need no key and for
 * refused keys (RATE_LIMIT_PER_IP_PER_MINUTE), and per merchant for reconciliation. A bucket holds a minute's allowance and
 * refills continuously, so a client may send its allowance at once and then keeps the per-minute rate. Several
 * relayer processes each apply the limits: behind a load balancer over N processes a client gets up to N times
 * the allowance. A request beyond is answered 429 rate_limited with Retry-After (seconds).
 */
import { isIPv6 } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";

/** Buckets kept at most, per limit; beyond, the least recently used is forgotten (it would be full again soon). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets of one limit: `perMinute` requests a minute per key, up to `perMinute` at once. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s bucket: null when allowed, else the milliseconds until one is. */
  take(key: string, now = Date.now()): number | null {
    const b = this.buckets.get(key);
    let tokens = this.perMinute;
    if (b) {
      tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
      // Re-inserted: Map order is then least recently used first.
      this.buckets.delete(key);
    } else if (this.buckets.size >= this.maxBuckets) {
      this.buckets.delete(this.buckets.keys().next().value!);
    }
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return null;
    }
    this.buckets.set(key, { tokens, at: now });
    return Math.ceil((1 - tokens) / this.perMs);
  }
}

export interface RateLimitSettings {
  /** Requests per minute of each merchant API key (0: no limit). */
  perKeyPerMinute: number;
  /** Requests per minute of each client IP on the routes without a key, and refused keys (0: no limit). */
  perIpPerMinute: number;
  /** Requests per minute of all of a merchant's keys together (0 or absent: no limit). */
  perMerchantPerMinute?: number;
}

/** Reconciliation reports a merchant may ask for per minute (whichever of its keys asks). */
export const RECONCILIATIONS_PER_MINUTE = 6;

export class RateLimits {
  readonly perKey: TokenBuckets | null;
  readonly perIp: TokenBuckets | null;
  readonly perMerchant: TokenBuckets | null;
  readonly reconciliation = new TokenBuckets(RECONCILIATIONS_PER_MINUTE);

  constructor(s: RateLimitSettings) {
    this.perKey = s.perKeyPerMinute > 0 ? new TokenBuckets(s.perKeyPerMinute) : null;
    this.perIp = s.perIpPerMinute > 0 ? new TokenBuckets(s.perIpPerMinute) : null;
    this.perMerchant = (s.perMerchantPerMinute ?? 0) > 0 ? new TokenBuckets(s.perMerchantPerMinute!) : null;
  }
}

declare module "fastify" {
  interface FastifyInstance {
    rateLimits: RateLimits;
  }
}

/** Throws 429 rate_limited when `key` has no request left in `buckets`. */
export function charge(buckets: TokenBuckets | null, key: string, what: string): void {
  if (!buckets) return;
  const waitMs = buckets.take(key);
  if (waitMs === null) return;
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  throw new AppError("rate_limited", `too many requests ${what}; retry in ${retryAfterSeconds} s`, {
    limitPerMinute: buckets.perMinute,
    retryAfterSeconds,
  });
}

/**
 * The client an IP limit counts: the peer address (or, with TRUST_PROXY, the address the trusted proxies
 * report). An IPv6 client is its /64, the block one subscriber gets: it could otherwise take a new address per
 * request.
 */
export function clientOf(req: FastifyRequest): string {
  const ip = req.ip.toLowerCase().replace(/%.*$/, "");
  if (ip.startsWith("::ffff:") && !isIPv6(ip.slice(7))) return ip.slice(7);
  if (!isIPv6(ip)) return ip;
  const [head, tail = ""] = ip.split("::");
  const groups = head.split(":").filter(Boolean);
  const tailGroups = tail.split(":").filter(Boolean);
  while (groups.length + tailGroups.length < 8) groups.push("0");
  const prefix = [...groups, ...tailGroups].slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16));
  return `${prefix.join(":")}::/64`;
}

/** `onRequest` hook of a route without a key: the client IP's allowance, before the body is read. */
export async function limitByIp(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  charge(req.server.rateLimits.perIp, clientOf(req), "from this address");
}
