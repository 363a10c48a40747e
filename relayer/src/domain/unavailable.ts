/**
 * A chain that cannot answer now: the node is unreachable, too slow, or answers with an HTTP or JSON failure.
 * Whatever asked it is not wrong, only early: the API answers 503 not_ready (one place, the error handler).
 */
import { isError } from "ethers";
import { AppError } from "./errors";
import { describeError } from "./redact";

/** ethers' codes for a request the node did not answer usefully (the relayer's transport raises the same). */
const UNAVAILABLE_CODES = ["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"] as const;

/** Whether `err` (or an error it was caused by) says the chain is unavailable, not that a request was wrong. */
export function isChainUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (UNAVAILABLE_CODES.some((code) => isError(e, code))) return true;
    // Node's fetch without ethers around it: a connection that failed, or a request aborted by its timeout.
    if (e instanceof TypeError && e.message === "fetch failed") return true;
    if (e instanceof Error && e.name === "TimeoutError") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The 503 not_ready for work that needs the chain while it is unavailable. `reason` is the cause without
 * secrets (an RPC URL keeps only its scheme and host); the cause itself stays on the error, for the log.
 */
export function chainNotReady(
  cause: unknown,
  message = "the chain is unreachable; retry later",
  details = {},
): AppError {
  const e = new AppError("not_ready", message, { ...details, reason: describeError(cause, 200) });
  e.cause = cause;
  return e;
}
