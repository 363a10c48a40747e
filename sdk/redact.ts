/**
 * RPC URLs of hosted providers carry their API key in the path, the query or the user info
 * (https://eth-sepolia.g.alchemy.com/v2/<key>): messages and logs show only where a URL points.
 */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    const hidden =
      u.username !== "" || u.password !== "" || (u.pathname !== "/" && u.pathname !== "") || u.search !== "";
    return hidden ? `${u.protocol}//${u.host}/…` : `${u.protocol}//${u.host}`;
  } catch {
    return `(${raw.length} characters, not a URL)`;
  }
}
