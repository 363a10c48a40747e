/**
 * How a buyer can pay with a token: which gasless signatures the token itself accepts, found by eth_call and kept
 * per chain connection and token (a deployed token's code does not change; the allowlist bounds the set).
 *
 *   authorization  ERC-3009 `receiveWithAuthorization` (USDC, EURC): one signature, the escrow pulls the amount
 *                  itself; the relayer submits `payWithAuthorization`.
 *   permit         EIP-2612 `permit`: a permit plus a forwarded `pay`, both relayed.
 *   approval       neither: the buyer's wallet approves the escrow and pays, with its own gas.
 *
 * A signature scheme counts only if the token's EIP-712 domain is known for sure: the domain the relayer builds
 * (ERC-5267 `eip712Domain()`, else `name()` and `version()`) must hash to the token's own `DOMAIN_SEPARATOR()`.
 * Otherwise the buyer would sign data the token rejects, so the method is not offered.
 */
import { Contract, TypedDataEncoder, ZeroAddress, ZeroHash, id as keccakText } from "ethers";
import type { ChainContext } from "../chain/context";
import type { Domain } from "../domain/typedData";
import { isChainUnavailable } from "../domain/unavailable";

export const PAYMENT_METHODS = ["authorization", "permit", "approval", "native"] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export interface TokenMethods {
  /** What the buyer can pay with, best first (no gas for the buyer before gas paid by the buyer). */
  paymentMethods: PaymentMethod[];
  /** The token's EIP-712 domain (what permits and authorizations are signed in); null without either. */
  eip712: Domain | null;
}

const NATIVE: TokenMethods = { paymentMethods: ["native"], eip712: null };

const PROBE_ABI = [
  "function nonces(address owner) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function RECEIVE_WITH_AUTHORIZATION_TYPEHASH() view returns (bytes32)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function name() view returns (string)",
  "function version() view returns (string)",
];

const RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccakText(
  "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)",
);

const caches = new WeakMap<ChainContext, Map<string, Promise<TokenMethods>>>();

/** A call the token does not answer (no such function, a revert, data of the wrong shape) is `undefined`. */
async function probe<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    // A chain that did not answer is not an answer about the token: the caller asks again later.
    if (isChainUnavailable(err)) throw err;
    return undefined;
  }
}

/** The token's EIP-712 domain, if the one built from what it says hashes to its DOMAIN_SEPARATOR. */
async function verifiedDomain(chain: ChainContext, c: Contract, token: string): Promise<Domain | null> {
  const separator = (await probe(() => c.DOMAIN_SEPARATOR())) as string | undefined;
  if (!separator || separator === ZeroHash) return null;
  const chainId = chain.chainId.toString();
  const candidates: Domain[] = [];
  const d = await probe(() => c.eip712Domain());
  if (d) candidates.push({ name: d[1], version: d[2], chainId, verifyingContract: token });
  const name = (await probe(() => c.name())) as string | undefined;
  if (name !== undefined) {
    const version = (await probe(() => c.version())) as string | undefined;
    // USDC says its version; OpenZeppelin's ERC20Permit signs version "1" (and says it through eip712Domain).
    for (const v of new Set([version ?? "1", "1", "2"]))
      candidates.push({ name, version: v, chainId, verifyingContract: token });
  }
  return candidates.find((x) => TypedDataEncoder.hashDomain(x) === separator) ?? null;
}

async function detect(chain: ChainContext, token: string): Promise<TokenMethods> {
  const c = new Contract(token, PROBE_ABI, chain.provider);
  const [nonce, authState, typeHash, domain] = await Promise.all([
    probe(() => c.nonces(ZeroAddress) as Promise<bigint>),
    probe(() => c.authorizationState(ZeroAddress, ZeroHash) as Promise<boolean>),
    probe(() => c.RECEIVE_WITH_AUTHORIZATION_TYPEHASH() as Promise<string>),
    verifiedDomain(chain, c, token),
  ]);
  const methods: PaymentMethod[] = [];
  if (domain && typeof authState === "boolean" && typeHash === RECEIVE_WITH_AUTHORIZATION_TYPEHASH)
    methods.push("authorization");
  if (domain && typeof nonce === "bigint") methods.push("permit");
  methods.push("approval");
  return { paymentMethods: methods, eip712: methods.length > 1 ? domain : null };
}

/**
 * The payment methods of `token` ("native" or the zero address for the chain currency), detected once per chain
 * connection; concurrent callers share one detection, and a detection the chain did not answer is not kept.
 */
export function tokenMethods(chain: ChainContext, token: string): Promise<TokenMethods> {
  if (token === "native" || token === ZeroAddress) return Promise.resolve(NATIVE);
  let cache = caches.get(chain);
  if (!cache) caches.set(chain, (cache = new Map()));
  const key = token.toLowerCase();
  let hit = cache.get(key);
  if (!hit) {
    hit = detect(chain, token);
    cache.set(key, hit);
    hit.catch(() => cache.get(key) === hit && cache.delete(key));
  }
  return hit;
}
