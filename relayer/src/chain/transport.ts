/**
 * The relayer's JSON-RPC transport: ethers' JsonRpcProvider with its transport replaced by Node's fetch, made
 * for hosted providers. Several endpoints with failover (the first healthy one is used; one that fails is set
 * aside for a cool-down), 429 and 5xx answered with backoff and jitter (a Retry-After is waited in full, jitter
 * on top), a per-request timeout, a request budget (requests per second) shared by every loop that uses the
 * provider, and batches of a configurable size (1 sends every call alone). A rate limit a provider answers
 * inside HTTP 200, as a JSON-RPC error (Infura's -32005 "limit exceeded", Alchemy's code 429), is backed off and
 * asked again like an HTTP 429, only for the calls it refused. Errors are ethers' own: a failed connection is NETWORK_ERROR,
 * no answer in time TIMEOUT, an HTTP error or a body that is not JSON SERVER_ERROR, as the writer's error
 * handling expects. No message names more of an endpoint than its scheme and host: hosted providers carry
 * their API key in the path.
 */
import {
  JsonRpcProvider,
  Network,
  makeError,
  type JsonRpcApiProviderOptions,
  type JsonRpcPayload,
  type JsonRpcResult,
} from "ethers";
import { redactUrl } from "../../../sdk/redact";

export interface TransportOptions {
  /** No answer after this long: TIMEOUT (default 30 s). */
  timeoutMs: number;
  /** Attempts after the first for 429, 5xx, a failed connection or a timeout (default 3). */
  retries: number;
  /**
   * Requests per second across every caller of this provider; a batch counts each call, a retry again (0: no
   * limit; unset in `makeProvider`: the chain's default, `defaultRequestsPerSecond`).
   */
  requestsPerSecond: number;
  /** Calls sent together in one JSON-RPC batch at most (1: no batches; default 50). */
  batchSize: number;
  /** How long an endpoint that failed is passed over while another one answers (default 30 s). */
  coolDownMs: number;
  /** Longest wait before another attempt, whatever a provider asks (default 30 s); asking more is logged. */
  maxRetryWaitMs: number;
  /** Reports each HTTP exchange's outcome (metrics). */
  onOutcome?: (outcome: RpcOutcome) => void;
  /** Where a provider asking for a longer wait than `maxRetryWaitMs` is reported. */
  log?: { warn(fields: Record<string, unknown>, msg: string): void };
}

export type RpcOutcome = "ok" | "rate_limited" | "server_error" | "network_error" | "timeout";

const DEFAULTS: TransportOptions = {
  timeoutMs: 30_000,
  retries: 3,
  requestsPerSecond: 0,
  batchSize: 50,
  coolDownMs: 30_000,
  maxRetryWaitMs: 30_000,
};

/** Longest backoff of its own between two attempts, when the provider did not say how long to wait. */
const MAX_BACKOFF_MS = 10_000;

/** Chains that only exist on a developer's machine: no request budget by default. */
const LOCAL_CHAIN_IDS = [31337n, 1337n];
/** The request budget of a provider on any other chain, unless set: under hosted free tiers' limits. */
export const PUBLIC_CHAIN_REQUESTS_PER_SECOND = 20;

/** Whether `chainId` is a chain that only exists on a developer's machine (Hardhat's, Anvil's, Ganache's). */
export function isLocalChain(chainId: bigint): boolean {
  return LOCAL_CHAIN_IDS.includes(chainId);
}

/** The request budget a provider of chain `chainId` gets when none is configured. */
export function defaultRequestsPerSecond(chainId: bigint): number {
  return LOCAL_CHAIN_IDS.includes(chainId) ? 0 : PUBLIC_CHAIN_REQUESTS_PER_SECOND;
}

class Endpoint {
  readonly url: string;
  readonly label: string;
  readonly headers: Record<string, string> = { "content-type": "application/json" };
  downUntil = 0;

  constructor(raw: string) {
    const u = new URL(raw);
    this.label = redactUrl(raw);
    if (u.username || u.password) {
      // As ethers' own transport does: credentials in the URL become HTTP Basic authentication (fetch refuses
      // user:password in a URL).
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      u.username = "";
      u.password = "";
    }
    this.url = u.toString();
  }
}

/** A token bucket: `rate` tokens a second, at most one second's worth saved up. */
class RequestBudget {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly rate: number) {
    this.tokens = rate;
  }

  /** Resolves when `n` requests may be sent; callers are served in order. */
  take(n: number): Promise<void> {
    if (this.rate <= 0) return Promise.resolve();
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = Date.now();
        this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
        this.last = now;
        // A batch larger than the bucket waits for a full bucket, then goes (it cannot be split here).
        const need = Math.min(n, this.rate);
        if (this.tokens >= need) {
          this.tokens -= n;
          return;
        }
        await sleep(Math.ceil(((need - this.tokens) / this.rate) * 1000));
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After in ms (seconds or an HTTP date), or null. */
function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** Words of a JSON-RPC error that mean "too many requests" (Infura, Alchemy, QuickNode, Ankr, Chainstack…). */
const RATE_LIMIT_WORDS =
  /rate.?limit|request rate|too many requests|requests? limit reached|compute units|exceeded .*capacity|capacity exceeded|throughput|daily request count/i;
/** Words of an `eth_getLogs` refusal of a range as too large: the log reader narrows the range instead. */
const RANGE_WORDS = /range|results|logs|response size|too many blocks/i;

interface JsonRpcErrorObject {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

/** The JSON-RPC error of an answer, if it is one. */
const errorOf = (answer: JsonRpcResult): JsonRpcErrorObject | undefined =>
  (answer as { error?: JsonRpcErrorObject }).error ?? undefined;

/** Revert data: a contract's own error, hex (possibly empty). */
const REVERT_DATA = /^0x(?:[0-9a-f]{2})*$/i;

/**
 * Whether a JSON-RPC error is a call's revert (code 3, "revert" in the message, or revert data): the node's answer,
 * whatever its reason says. A contract may revert with "exceeded max capacity"; that is no rate limit.
 */
function isRevert(error: JsonRpcErrorObject): boolean {
  return (
    error.code === 3 ||
    (typeof error.message === "string" && /revert/i.test(error.message)) ||
    (typeof error.data === "string" && REVERT_DATA.test(error.data))
  );
}

/**
 * Whether a JSON-RPC error answered to `method` is a rate limit rather than the node's answer. A revert never is;
 * a code 429 always is; Infura's -32005 "limit exceeded" is, except for `eth_getLogs`, where it refuses the range.
 */
export function isRateLimitError(method: string | undefined, error: JsonRpcErrorObject): boolean {
  if (isRevert(error)) return false;
  if (error.code === 429) return true;
  const text = [error.message, error.data].filter((p): p is string => typeof p === "string").join(" ");
  if (method === "eth_getLogs" && RANGE_WORDS.test(text)) return false;
  if (RATE_LIMIT_WORDS.test(text)) return true;
  return error.code === -32005 && method !== "eth_getLogs" && /limit exceeded/i.test(text);
}

/** How long a JSON-RPC rate limit asks to wait (Infura's `data.backoff_seconds`, "retry in 10s"), or null. */
function hintedWaitMs(error: JsonRpcErrorObject): number | null {
  const data = error.data as { backoff_seconds?: unknown; retryAfter?: unknown } | undefined;
  const seconds = data && typeof data === "object" ? (data.backoff_seconds ?? data.retryAfter) : undefined;
  if (typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const said = /(?:retry|try again)\s+(?:in|after)\s+(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?)\b/i.exec(
    String(error.message ?? ""),
  );
  if (!said) return null;
  return Number(said[1]) * (said[2].toLowerCase() === "ms" ? 1 : 1000);
}

/** A failure worth another attempt (maybe at another endpoint), with how long the endpoint asked us to wait. */
class Retryable extends Error {
  constructor(
    readonly error: Error,
    readonly outcome: RpcOutcome,
    readonly waitMs: number | null,
  ) {
    super(error.message);
  }
}

export class RelayerRpcProvider extends JsonRpcProvider {
  private readonly endpoints: Endpoint[];
  private readonly transport: TransportOptions;
  private readonly budget: RequestBudget;

  constructor(
    rpcUrls: string | string[],
    network: Network,
    options: JsonRpcApiProviderOptions,
    transport: Partial<TransportOptions> | number = {},
  ) {
    const urls = (Array.isArray(rpcUrls) ? rpcUrls : [rpcUrls]).filter(Boolean);
    if (urls.length === 0) throw new Error("at least one RPC URL is required");
    const given = typeof transport === "number" ? { timeoutMs: transport } : transport;
    // An option given as undefined keeps its default.
    const t: TransportOptions = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
    };
    super(urls[0], network, { ...options, batchMaxCount: Math.max(1, t.batchSize) });
    this.transport = t;
    this.endpoints = urls.map((u) => new Endpoint(u));
    this.budget = new RequestBudget(t.requestsPerSecond);
  }

  /** The endpoints as they may be shown: scheme and host. */
  get endpointLabels(): string[] {
    return this.endpoints.map((e) => e.label);
  }

  /** The first endpoint not cooling down, else the one whose cool-down ends first. */
  private pick(): Endpoint {
    const now = Date.now();
    return (
      this.endpoints.find((e) => e.downUntil <= now) ??
      this.endpoints.reduce((a, b) => (b.downUntil < a.downUntil ? b : a))
    );
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    // A broadcast is never sent twice from here: after a timeout the first copy may be in one node's pool while
    // another answers a refusal, and the writer would take that refusal as proof. It gets the first failure
    // (maybe taken) and rebroadcasts the stored bytes itself.
    const retries = calls.some((p) => p.method === "eth_sendRawTransaction") ? 0 : this.transport.retries;
    const methods = new Map(calls.map((c) => [c.id, c.method]));
    /** Answers kept from earlier attempts, while the calls a rate limit refused are asked again. */
    const kept: JsonRpcResult[] = [];
    let pending = calls;
    let last: Retryable | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      await this.budget.take(pending.length);
      const endpoint = this.pick();
      let waitMs: number | null;
      try {
        const results = await this.post(endpoint, JSON.stringify(Array.isArray(payload) ? pending : pending[0]));
        const limited = results.filter((r) => {
          const error = errorOf(r);
          return error !== undefined && isRateLimitError(methods.get(r.id), error);
        });
        this.transport.onOutcome?.(limited.length > 0 ? "rate_limited" : "ok");
        if (limited.length === 0 || attempt === retries) return [...kept, ...results];
        // An error without an id (a gateway refusing the whole batch) refuses every call sent.
        const refused = new Set(limited.map((r) => r.id));
        const whole = limited.some((r) => r.id === null || r.id === undefined);
        kept.push(...results.filter((r) => !whole && !refused.has(r.id) && r.id !== null && r.id !== undefined));
        if (!whole) pending = pending.filter((c) => refused.has(c.id));
        waitMs = limited.reduce<number | null>((w, r) => {
          const hint = hintedWaitMs(errorOf(r)!);
          return hint === null ? w : Math.max(w ?? 0, hint);
        }, null);
      } catch (err) {
        if (!(err instanceof Retryable)) throw err;
        last = err;
        this.transport.onOutcome?.(err.outcome);
        if (attempt === retries) break;
        waitMs = err.waitMs;
      }
      await this.backOff(endpoint, attempt, waitMs);
    }
    throw last!.error;
  }

  /**
   * Sets the endpoint aside; with another one healthy, goes there at once, else waits: what the provider asked
   * (a minimum: jitter only adds to it) or an exponential backoff with jitter, never longer than `maxRetryWaitMs`.
   */
  private async backOff(endpoint: Endpoint, attempt: number, askedMs: number | null): Promise<void> {
    const cap = this.transport.maxRetryWaitMs;
    let waitMs: number;
    if (askedMs === null) {
      const backoff = Math.min(cap, MAX_BACKOFF_MS, 250 * 2 ** attempt);
      waitMs = backoff / 2 + Math.random() * (backoff / 2);
    } else {
      waitMs = Math.min(cap, askedMs + Math.random() * Math.max(100, askedMs * 0.2));
      if (askedMs > cap) {
        this.transport.log?.warn(
          { endpoint: endpoint.label, askedMs: Math.round(askedMs), waitedMs: cap },
          "the RPC provider asked to wait longer than the transport waits; retrying sooner",
        );
      }
    }
    if (this.endpoints.length > 1) endpoint.downUntil = Date.now() + Math.max(this.transport.coolDownMs, waitMs);
    const another = this.endpoints.some((e) => e !== endpoint && e.downUntil <= Date.now());
    if (!another) await sleep(waitMs);
  }

  private async post(endpoint: Endpoint, body: string): Promise<JsonRpcResult[]> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(endpoint.url, {
        method: "POST",
        headers: endpoint.headers,
        body,
        signal: AbortSignal.timeout(this.transport.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === "TimeoutError" || e.name === "AbortError") {
        const error = makeError(`RPC request to ${endpoint.label} timed out`, "TIMEOUT", {
          operation: "request",
          reason: "timeout",
        });
        throw new Retryable(error, "timeout", null);
      }
      const cause = e.cause?.code ?? e.cause?.message ?? "";
      const error = makeError(
        `RPC request to ${endpoint.label} failed: ${e.message} ${cause}`.trim(),
        "NETWORK_ERROR",
        {
          event: "request",
        },
      );
      throw new Retryable(error, "network_error", null);
    }
    if (res.status < 200 || res.status >= 300) {
      const error = makeError(
        `RPC endpoint ${endpoint.label} answered HTTP ${res.status}: ${text.slice(0, 200)}`,
        "SERVER_ERROR",
        {
          info: { requestUrl: endpoint.label, responseStatus: res.status, responseBody: text.slice(0, 2000) },
        } as never,
      );
      if (res.status === 429) throw new Retryable(error, "rate_limited", retryAfterMs(res.headers.get("retry-after")));
      if (res.status >= 500) throw new Retryable(error, "server_error", retryAfterMs(res.headers.get("retry-after")));
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw makeError(
        `RPC endpoint ${endpoint.label} answered with invalid JSON: ${text.slice(0, 200)}`,
        "SERVER_ERROR",
        {
          info: { requestUrl: endpoint.label, responseStatus: res.status },
        } as never,
      );
    }
    return (Array.isArray(json) ? json : [json]) as JsonRpcResult[];
  }
}

/**
 * A provider without ethers' 250 ms response cache (a relayer must never see a stale nonce or receipt) and
 * with a fixed network, so no extra eth_chainId calls are made.
 */
export function makeProvider(
  rpcUrls: string | string[],
  chainId: bigint,
  transport: Partial<TransportOptions> = {},
): JsonRpcProvider {
  const network = Network.from(chainId);
  const requestsPerSecond = transport.requestsPerSecond ?? defaultRequestsPerSecond(chainId);
  // Calls made together are still sent as one JSON-RPC batch, but without ethers' default 10 ms wait for more:
  // the writer's and the indexer's calls are sequential, and each would pay that wait.
  return new RelayerRpcProvider(
    rpcUrls,
    network,
    { staticNetwork: network, cacheTimeout: -1, batchStallTime: 1 },
    { ...transport, requestsPerSecond },
  );
}
