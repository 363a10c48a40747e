/**
 * Secrets in error text. Hosted RPC providers carry their API key in the URL's path, query or user info, and the
 * provider's errors quote that URL (ethers' `requestUrl`, the transport's own messages): every message that can
 * hold one is passed through `redactUrls` before it reaches a reply or a log. One rule for a URL, the sdk's
 * `redactUrl`: scheme and host are kept, the rest is dropped.
 */
import { redactUrl } from "../../../sdk/redact";

/**
 * A URL inside free text: a scheme, `://`, then everything up to a blank, a quote, a backslash (JSON escapes)
 * or an angle bracket. Greedy on purpose: whatever follows the host goes, so no tail of a key is left behind.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`\\<>]+/gi;

/** `text` with every URL in it reduced to its scheme and host (`https://eth.example/…`). */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/**
 * A short, secret-free description of an error for a reply or a log line: its code (ethers' `NETWORK_ERROR`,
 * `TIMEOUT`, ..., or Node's `ECONNREFUSED`) and its message without URLs' paths, queries or credentials, at
 * most `max` characters. ethers' `shortMessage` is preferred: its full message repeats the request's details.
 */
export function describeError(err: unknown, max = 300): string {
  const e = err as { code?: unknown; shortMessage?: unknown; message?: unknown; cause?: { code?: unknown } };
  const message =
    typeof e?.shortMessage === "string" ? e.shortMessage : typeof e?.message === "string" ? e.message : String(err);
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : null;
  const text = redactUrls(code && !message.includes(code) ? `${code}: ${message}` : message);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * pino hooks that redact every line a logger writes, whatever its fields hold (a stringified ethers error, an
 * endpoint): give them to each logger of the relayer, `pino({ ..., hooks: REDACTING_LOG_HOOKS })`.
 */
export const REDACTING_LOG_HOOKS = { streamWrite: redactUrls } as const;
