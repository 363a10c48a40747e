/**
 * The relayer's HTTP API, typed from the OpenAPI document it serves: `sdk/api/schema.ts` is generated from
 * `sdk/api/openapi.json` by openapi-typescript (`npm run gen:api`; `npm run lint` fails when either is stale),
 * and requests go through openapi-fetch, so a path, a parameter, a body or a reply that does not match the
 * document does not compile. Every failure is one error class, ApiError, with the API's stable error code.
 *
 *   const api = createApiClient({ baseUrl: "http://127.0.0.1:8080", key: process.env.API_KEY });
 *   const order = await ok(api.GET("/v1/orders/{id}", { params: { path: { id } } }));
 *   await ok(api.POST("/v1/orders/{id}/ship", { params: { path: { id } }, body: { trackingReference } }));
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type { paths } from "./schema";
export type Schemas = components["schemas"];
export type Order = Schemas["Order"];
export type OrderDetail = Schemas["OrderDetail"];
export type Sku = Schemas["Sku"];
export type Merchant = Schemas["Merchant"];
export type ApiKeyInfo = Schemas["ApiKey"];
export type CheckoutView = Schemas["CheckoutView"];
/** A webhook delivery's body (verify it with sdk/webhooks.ts first). */
export type WebhookEvent = Schemas["WebhookEvent"];
export type ErrorBody = Schemas["Error"];
export type ErrorCode = ErrorBody["error"]["code"];

/** A request the API refused (status 4xx/5xx with its error code), or no answer at all (status 0, network_error). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "network_error" | `http_${number}`,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type ApiClient = Client<paths>;

export interface ApiClientOptions {
  /** The relayer's origin; "" (the default) for same-origin calls from its own web pages. */
  baseUrl?: string;
  /** An API key, sent as a bearer token; a function is asked on each request (a key that can change). */
  key?: string | null | (() => string | null | undefined);
  /** Gives each POST without one an Idempotency-Key, so a retried request can never act twice (default true). */
  idempotency?: boolean;
  /** Aborts a request that has no answer after this long (default: none). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** A fresh Idempotency-Key. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

export function createApiClient(opts: ApiClientOptions = {}): ApiClient {
  const baseFetch = opts.fetch ?? globalThis.fetch;
  const client = createClient<paths>({
    baseUrl: (opts.baseUrl ?? "").replace(/\/$/, ""),
    headers: { accept: "application/json" },
    fetch: (req: Request) => baseFetch(req, opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
  });
  const headers: Middleware = {
    onRequest({ request }) {
      const key = typeof opts.key === "function" ? opts.key() : opts.key;
      if (key && !request.headers.has("authorization")) request.headers.set("authorization", `Bearer ${key}`);
      if (opts.idempotency !== false && request.method === "POST" && !request.headers.has("idempotency-key")) {
        request.headers.set("idempotency-key", newIdempotencyKey());
      }
      return request;
    },
  };
  client.use(headers);
  return client;
}

/**
 * The reply's body, or an ApiError: the API's own `{ error: { code, message, details } }` for a refusal, or
 * `network_error` when the relayer could not be reached.
 */
export async function ok<D>(request: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  let r: { data?: D; error?: unknown; response: Response };
  try {
    r = await request;
  } catch (err) {
    throw new ApiError(0, "network_error", `The relayer cannot be reached: ${(err as Error).message ?? String(err)}`);
  }
  if (r.response.ok) return r.data as D;
  const e = (r.error as Partial<ErrorBody> | undefined)?.error;
  const status = r.response.status;
  throw new ApiError(
    status,
    e?.code ?? `http_${status}`,
    e?.message ?? (typeof r.error === "string" && r.error ? r.error.slice(0, 200) : `HTTP ${status}`),
    e?.details ?? {},
  );
}
