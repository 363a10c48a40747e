/**
 * The relayer's JSON-RPC transport: ethers' JsonRpcProvider with its transport replaced by Node's fetch, made
 * for hosted providers. Several endpoints with failover (the first healthy one is used; one that fails is set
 * aside for a cool-down), 429 and 5xx answered with backoff and jitter (Retry-After honoured), a per-request
 * timeout, a request budget (requests per second) shared by every loop that uses the provider, and batches of
 * a configurable size (1 sends every call alone). Errors are ethers' own: a failed connection is NETWORK_ERROR,
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
  /** Requests per second across every caller of this provider; a batch counts each call (0: no limit). */
  requestsPerSecond: number;
  /** Calls sent together in one JSON-RPC batch at most (1: no batches; default 50). */
  batchSize: number;
  /** How long an endpoint that failed is passed over while another one answers (default 30 s). */
  coolDownMs: number;
  /** Reports each HTTP exchange's outcome (metrics). */
  onOutcome?: (outcome: RpcOutcome) => void;
}

export type RpcOutcome = "ok" | "rate_limited" | "server_error" | "network_error" | "timeout";

const DEFAULTS: TransportOptions = {
  timeoutMs: 30_000,
  retries: 3,
  requestsPerSecond: 0,
  batchSize: 50,
  coolDownMs: 30_000,
};

/** Longest wait between two attempts, whatever a Retry-After asks. */
const MAX_BACKOFF_MS = 10_000;

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
    const t: TransportOptions = {
      ...DEFAULTS,
      ...(typeof transport === "number" ? { timeoutMs: transport } : transport),
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
    await this.budget.take(Array.isArray(payload) ? payload.length : 1);
    const body = JSON.stringify(payload);
    // A broadcast is never sent twice from here: after a timeout the first copy may be in one node's pool while
    // another answers a refusal, and the writer would take that refusal as proof. It gets the first failure
    // (maybe taken) and rebroadcasts the stored bytes itself.
    const calls = Array.isArray(payload) ? payload : [payload];
    const retries = calls.some((p) => p.method === "eth_sendRawTransaction") ? 0 : this.transport.retries;
    let last: Retryable | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      const endpoint = this.pick();
      try {
        const result = await this.post(endpoint, body);
        this.transport.onOutcome?.("ok");
        return result;
      } catch (err) {
        if (!(err instanceof Retryable)) throw err;
        last = err;
        this.transport.onOutcome?.(err.outcome);
        if (attempt === retries) break;
        // Set the endpoint aside; with another one healthy, go there at once, else back off (with jitter).
        const waitMs = Math.min(MAX_BACKOFF_MS, err.waitMs ?? 250 * 2 ** attempt);
        if (this.endpoints.length > 1) endpoint.downUntil = Date.now() + Math.max(this.transport.coolDownMs, waitMs);
        const another = this.endpoints.some((e) => e !== endpoint && e.downUntil <= Date.now());
        if (!another) await sleep(waitMs / 2 + Math.random() * (waitMs / 2));
      }
    }
    throw last!.error;
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
  // Calls made together are still sent as one JSON-RPC batch, but without ethers' default 10 ms wait for more:
  // the writer's and the indexer's calls are sequential, and each would pay that wait.
  return new RelayerRpcProvider(
    rpcUrls,
    network,
    { staticNetwork: network, cacheTimeout: -1, batchStallTime: 1 },
    transport,
  );
}
