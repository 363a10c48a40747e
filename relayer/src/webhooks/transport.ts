/**
 * One webhook POST, bounded in every way a receiver could abuse: the host is resolved once and checked
 * (targets.ts), and the connection goes to those checked addresses only (a `lookup` that answers them, so DNS
 * rebinding between check and connect is impossible); redirects are never followed (Node's http client does not
 * follow them: a 3xx is just a failed attempt); at most `maxResponseBytes` of the answer are read, then the
 * connection is dropped; and one deadline covers the lookup, the connect, the request and the answer.
 */
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { hostOf, resolveTarget, type Lookup, type ResolvedAddress, type TargetPolicy } from "./targets";

export interface PostOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  policy: TargetPolicy;
  lookup?: Lookup;
}

/** The receiver's answer: its status and at most `maxResponseBytes` of its body. */
export interface PostResult {
  status: number;
  body: string;
}

export class DeliveryTimeoutError extends Error {
  constructor(ms: number) {
    super(`timeout: no answer within ${ms} ms`);
    this.name = "DeliveryTimeoutError";
  }
}

/** A `lookup` for `net.connect` that answers the addresses already checked, whatever it is asked. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  }) as LookupFunction;
}

export async function postWebhook(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<PostResult> {
  const url = new URL(rawUrl);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DeliveryTimeoutError(opts.timeoutMs)), opts.timeoutMs);
  try {
    const aborted = new Promise<never>((_, reject) =>
      abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true }),
    );
    aborted.catch(() => undefined);
    // A lookup cannot be cancelled: past the deadline its answer is not waited for.
    const addresses = await Promise.race([resolveTarget(url, opts.policy, opts.lookup), aborted]);
    return await send(url, addresses, headers, body, opts.maxResponseBytes, abort.signal);
  } finally {
    clearTimeout(timer);
  }
}

function send(
  url: URL,
  addresses: ResolvedAddress[],
  headers: Record<string, string>,
  body: string,
  maxResponseBytes: number,
  signal: AbortSignal,
): Promise<PostResult> {
  return new Promise<PostResult>((resolve, reject) => {
    let answered = false;
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: hostOf(url),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        auth: url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        // A connection of its own: a pooled socket could have been opened to an address checked for another URL.
        agent: false,
        lookup: pinnedLookup(addresses),
        signal,
      },
      (res) => {
        answered = true;
        const kept: Buffer[] = [];
        let size = 0;
        // The status decides the outcome; the body is only kept for the log. Whatever ends the reading (the cap,
        // the end, a reset or the deadline), the answer is what arrived until then: a receiver that answered 2xx
        // took the event, however slowly it sends the rest.
        const done = () => {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(kept).toString("utf8") });
        };
        res.on("data", (chunk: Buffer) => {
          const room = maxResponseBytes - size;
          if (room > 0) {
            kept.push(chunk.subarray(0, room));
            size += Math.min(room, chunk.length);
          }
          if (size >= maxResponseBytes) done();
        });
        res.on("end", done);
        res.on("error", done);
        res.on("close", done);
      },
    );
    req.on("error", (err) => {
      if (!answered) reject(signal.aborted ? signal.reason : err);
    });
    req.end(body);
  });
}
