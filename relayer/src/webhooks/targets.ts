/**
 * Where webhooks may go. A merchant key with the `keys` scope chooses the URL, so without limits the deliverer
 * would POST into the relayer's own network (its database, the node's RPC, its admin API, a cloud metadata
 * service) and the delivery log would report what answered: a port scanner. Outside a local chain only https to
 * public unicast addresses is accepted. The URL is checked at registration, and again before every attempt on
 * the addresses its host resolves to, which are then the only addresses connected to (see transport.ts): a name
 * that answers differently the second time (DNS rebinding) cannot slip between the check and the connect.
 *
 * Addresses are classified with Node's own `net.BlockList`, one list per family: a list holding an IPv6 range
 * also matches IPv4 addresses through their mapped form, so families are never mixed in one list.
 */
import dns from "node:dns";
import net from "node:net";
import { AppError } from "../domain/errors";

export interface TargetPolicy {
  /**
   * The relayer runs against a local chain: http and loopback or private addresses are accepted, for receivers
   * on the developer's machine. Link-local (metadata), unspecified, multicast and reserved addresses never are.
   */
  allowPrivate: boolean;
}

/** An address a host resolved to, in the shape `dns.lookup(..., { all: true })` answers. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** `dns.lookup` with `{ all: true }`: injectable so tests can play a rebinding DNS server. */
export type Lookup = (
  hostname: string,
  options: { all: true; verbatim: boolean },
  callback: (err: NodeJS.ErrnoException | null, addresses: ResolvedAddress[]) => void,
) => void;

export const systemLookup: Lookup = (hostname, options, callback) => dns.lookup(hostname, options, callback);

function blockList(family: "ipv4" | "ipv6", ranges: [string, number][]): net.BlockList {
  const list = new net.BlockList();
  for (const [address, prefix] of ranges) list.addSubnet(address, prefix, family);
  return list;
}

/** Private to a network: accepted only against a local chain. */
const PRIVATE_V4 = blockList("ipv4", [
  ["127.0.0.0", 8], // loopback
  ["10.0.0.0", 8], // RFC 1918
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["100.64.0.0", 10], // carrier-grade NAT (RFC 6598); also a cloud metadata service (100.100.100.200)
]);

/**
 * Nothing legitimate is served from these: refused whatever the setting (IANA special-purpose registry, and the
 * cloud metadata services that sit inside ranges otherwise private).
 */
const RESERVED_V4 = blockList("ipv4", [
  ["100.100.100.200", 32], // a cloud metadata service, inside carrier-grade NAT
  ["0.0.0.0", 8], // "this network", 0.0.0.0
  ["169.254.0.0", 16], // link-local: cloud metadata (169.254.169.254), container credentials (169.254.170.2)
  ["192.0.0.0", 24], // IETF protocol assignments (a cloud metadata service at 192.0.0.192)
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
]);

const RESERVED_PRIVATE_V6 = blockList("ipv6", [["fd00:ec2::254", 128]]); // a cloud metadata service, unique-local
const PRIVATE_V6 = blockList("ipv6", [
  ["::1", 128], // loopback
  ["fc00::", 7], // unique-local
]);

/**
 * Public IPv6 is global unicast (2000::/3) outside the blocks below. Everything else is refused: unspecified,
 * IPv4-mapped and IPv4-compatible (::/8, which also holds NAT64's 64:ff9b::/96), link-local, site-local and
 * multicast.
 */
const GLOBAL_V6 = blockList("ipv6", [["2000::", 3]]);
const RESERVED_V6 = blockList("ipv6", [
  ["2001::", 23], // IETF protocol assignments, including Teredo (which embeds an IPv4 address)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4 (embeds an IPv4 address)
  ["3fff::", 20], // documentation
]);

export type AddressClass = "public" | "private" | "reserved";

/** What an IP address is, as far as sending webhooks to it goes. Not an IP address: "reserved". */
export function classifyAddress(ip: string): AddressClass {
  const address = ip.replace(/%.*$/, ""); // an IPv6 zone index (fe80::1%eth0) says nothing about the range
  switch (net.isIP(address)) {
    case 4:
      if (RESERVED_V4.check(address, "ipv4")) return "reserved";
      return PRIVATE_V4.check(address, "ipv4") ? "private" : "public";
    case 6:
      if (RESERVED_PRIVATE_V6.check(address, "ipv6")) return "reserved";
      if (PRIVATE_V6.check(address, "ipv6")) return "private";
      return GLOBAL_V6.check(address, "ipv6") && !RESERVED_V6.check(address, "ipv6") ? "public" : "reserved";
    default:
      return "reserved";
  }
}

export function addressAllowed(ip: string, policy: TargetPolicy): boolean {
  const c = classifyAddress(ip);
  return c === "public" || (c === "private" && policy.allowPrivate);
}

function forbidden(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError("webhook_url_forbidden", message, { field: "url", ...details });
}

/** The URL's host as `net` takes it: an IPv6 literal without its brackets, a name without a trailing dot. */
export function hostOf(url: URL): string {
  const h = url.hostname;
  if (h.startsWith("[") && h.endsWith("]")) return h.slice(1, -1);
  return h.replace(/\.$/, "").toLowerCase();
}

/**
 * The checks that need no DNS: scheme and a literal address (the URL parser has already turned `2130706433` or
 * `0x7f.1` into `127.0.0.1`). Names under `localhost` are loopback by definition (RFC 6761). Returns the parsed URL.
 */
export function checkTargetUrl(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("validation_failed", "url must be an absolute https URL", { field: "url" });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new AppError("validation_failed", "url must use https", { field: "url" });
  if (url.protocol === "http:" && !policy.allowPrivate)
    throw forbidden("url must use https (plain http is accepted only when the relayer runs against a local chain)");
  const host = hostOf(url);
  if (net.isIP(host)) {
    const c = classifyAddress(host);
    if (c === "reserved")
      throw forbidden(
        `${host} is a reserved address (link-local, metadata, unspecified, multicast or special-purpose)`,
      );
    if (c === "private" && !policy.allowPrivate) throw forbidden(`${host} is a loopback or private address`);
  } else if ((host === "localhost" || host.endsWith(".localhost")) && !policy.allowPrivate) {
    throw forbidden(`${host} is a loopback name`);
  }
  return url;
}

/**
 * Resolves the URL's host once and returns its addresses, or throws webhook_url_forbidden when any of them may
 * not be sent to. The message never shows the addresses a name resolved to: the relayer's resolver would
 * otherwise answer questions about internal names.
 */
export async function resolveTarget(url: URL, policy: TargetPolicy, lookup: Lookup = systemLookup) {
  const host = hostOf(url);
  if (net.isIP(host)) {
    if (!addressAllowed(host, policy)) throw forbidden(`${host} may not receive webhooks`);
    return [{ address: host, family: net.isIP(host) }];
  }
  const addresses = await new Promise<ResolvedAddress[]>((resolve, reject) =>
    lookup(host, { all: true, verbatim: true }, (err, found) => (err ? reject(err) : resolve(found))),
  );
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  if (addresses.some((a) => !addressAllowed(a.address, policy)))
    throw forbidden(`${host} resolves to a loopback, private or reserved address`);
  return addresses;
}

/**
 * The registration check: the URL, then (for a name) where it points today. A name that does not resolve
 * (yet), or not within `timeoutMs`, is accepted: every attempt checks it again before connecting.
 */
export async function assertTargetAllowed(
  raw: string,
  policy: TargetPolicy,
  opts: { lookup?: Lookup; timeoutMs?: number } = {},
): Promise<URL> {
  const url = checkTargetUrl(raw, policy);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), opts.timeoutMs ?? 2_000)));
  try {
    await Promise.race([resolveTarget(url, policy, opts.lookup), timeout]);
  } catch (err) {
    if (err instanceof AppError) throw err;
  } finally {
    clearTimeout(timer);
  }
  return url;
}
