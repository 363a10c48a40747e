/** Logging in with a merchant API key, kept in this tab's sessionStorage only, and logging out. */
import { ok } from "../../../sdk/api/client";
import { publicApi } from "../lib/api";
import { $, notify } from "../lib/dom";
import { explain } from "./errors";
import { state } from "./state";
import type { KeyMerchant } from "./types";

const KEY_STORAGE = "orderchain.apiKey";

/** The key this tab's session logged in with, not yet checked again. */
export function savedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** Checks the key with the relayer and, for a merchant key, keeps it and hands the merchant to `onAccepted`. */
export async function login(key: string, onAccepted: (merchant: KeyMerchant) => void): Promise<void> {
  const msg = $("#login-message");
  if (!key.trim()) return notify(msg, "error", "Enter an API key.");
  notify(msg, "info", "Checking the key…");
  try {
    const r = await ok(publicApi.POST("/v1/introspect", { body: { apiKey: key.trim() } }));
    if (!r.active) return notify(msg, "error", "That API key was not accepted. Check it and try again.");
    if (r.kind !== "merchant" || !r.merchant)
      return notify(msg, "error", "That is not a merchant key. The dashboard needs a merchant API key.");
    sessionStorage.setItem(KEY_STORAGE, key.trim());
    state.key = key.trim();
    notify(msg, "");
    onAccepted(r.merchant);
  } catch (err) {
    notify(msg, "error", ...explain(err));
  }
}

export function logout(message?: string): void {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  state.orders.selected = null;
  window.clearTimeout(state.poll.timer);
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#login").hidden = false;
  ($("#api-key") as HTMLInputElement).value = "";
  if (message) notify($("#login-message"), "error", message);
  ($("#api-key") as HTMLInputElement).focus();
}
