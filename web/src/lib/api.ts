/** Same-origin calls to the relayer API with its `{ error: { code, message, details } }` errors. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  key?: string | null;
  body?: unknown;
  /** Sends an Idempotency-Key so a retried click can never act twice. */
  idempotencyKey?: string;
}

export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch {
    throw new ApiError(0, "network_error", "The relayer cannot be reached. Check your connection and try again.");
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `HTTP ${res.status}`, e?.details);
  }
  return json as T;
}

export function newIdempotencyKey(): string {
  return `web-${crypto.randomUUID()}`;
}

export interface TokenInfo {
  token: string;
  symbol: string;
  decimals: number;
}

const tokens = new Map<string, Promise<TokenInfo>>();

/** Symbol and decimals of a token, asked once per page. Unknown tokens display in base units. */
export function tokenInfo(token: string): Promise<TokenInfo> {
  let p = tokens.get(token);
  if (!p) {
    p = api<TokenInfo>("GET", `/v1/tokens/${encodeURIComponent(token)}`).catch(() => ({
      token,
      symbol: "base units",
      decimals: 0,
    }));
    tokens.set(token, p);
  }
  return p;
}
