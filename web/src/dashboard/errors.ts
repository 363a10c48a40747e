/** How the dashboard words a failed call. */
import { ApiError } from "../../../sdk/api/client";
import { RELAYER_UNREACHABLE } from "../lib/api";
import { h } from "../lib/dom";

/** Turns an API error into a sentence a merchant can act on; the error code is always shown. */
export function explain(err: unknown): (Node | string)[] {
  if (err instanceof ApiError) {
    if (err.status === 401) return ["That API key was not accepted. Log in again with a valid key."];
    if (err.code === "insufficient_scope")
      return [`This key may not do that (${err.message}). `, h("code", {}, err.code)];
    if (err.code === "network_error") return [RELAYER_UNREACHABLE];
    return [`${err.message} `, h("code", {}, err.code)];
  }
  return [err instanceof Error ? err.message : String(err)];
}
