/**
 * What both pages take from the relayer API: a same-origin client without a key, the sentence shown when the
 * relayer gives no answer at all, and the tokens' symbols and decimals, asked once per page. Requests go through
 * the one generated client, sdk/api/client.ts (typed from the served OpenAPI document, every failure an ApiError).
 */
import { createApiClient, ok, type paths } from "../../../sdk/api/client";

/**
 * Calls that need no key: the checkout, token details, and checking a key at login. None of them changes
 * anything, so they carry no Idempotency-Key (crypto.randomUUID exists on secure origins only).
 */
export const publicApi = createApiClient({ baseUrl: "", idempotency: false });

/** What a page says for the ApiError `network_error`: the request got no answer. */
export const RELAYER_UNREACHABLE = "The relayer cannot be reached. Check your connection and try again.";

export type TokenInfo = paths["/v1/tokens/{token}"]["get"]["responses"][200]["content"]["application/json"];

const tokens = new Map<string, Promise<TokenInfo>>();

/** Symbol and decimals of a token, asked once per page. Unknown tokens display in base units. */
export function tokenInfo(token: string): Promise<TokenInfo> {
  let p = tokens.get(token);
  if (!p) {
    p = ok(publicApi.GET("/v1/tokens/{token}", { params: { path: { token } } })).catch(() => ({
      token,
      symbol: "base units",
      decimals: 0,
    }));
    tokens.set(token, p);
  }
  return p;
}
