/** The dashboard's calls to the relayer: through lib/api with the session's key, logging out on a refused key. */
import { api, ApiError, newIdempotencyKey } from "../lib/api";
import { logout } from "./session";
import { state } from "./state";

/** A POST carries a fresh Idempotency-Key, so a retried click can never act twice. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await api<T>(method, path, {
      key: state.key,
      body,
      idempotencyKey: method === "POST" ? newIdempotencyKey() : undefined,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      logout("That API key was not accepted. Log in again with a valid key.");
    throw err;
  }
}
