/**
 * Networks beyond the in-process one, built from environment variables. The Hardhat config must load without
 * any .env (tests run without one), so nothing here throws: a missing or malformed variable becomes a
 * placeholder, and `networkEnvProblems` reports it by name when a command actually uses that network.
 *
 * Imported by hardhat.config.ts: type imports only from Hardhat.
 */
import type { NetworksUserConfig } from "hardhat/types";
import { redactUrl } from "../sdk/redact";

type Env = Record<string, string | undefined>;

/** Chain ids of development chains (`hardhat node`, anvil, ganache): the mock stablecoin and the well-known
 * accounts are used there only, and a restarted chain is detected and deployed to afresh. */
export const LOCAL_CHAIN_IDS: readonly number[] = [31337, 1337];

export const isLocalChain = (chainId: number): boolean => LOCAL_CHAIN_IDS.includes(chainId);

export interface RemoteNetworkSpec {
  /** Env variable holding the JSON-RPC URL. */
  rpcUrlVar: string;
  /** Fixed chain id of a named testnet, or the env variable giving it for the generic entry. */
  chainId?: number;
  chainIdVar?: string;
  /** Explorer endpoints for a chain hardhat-verify does not know (generic entry only). */
  explorerApiUrlVar?: string;
  explorerUrlVar?: string;
}

/** Testnets configured by name, and `testnet`: any EVM chain given entirely by env values. */
export const REMOTE_NETWORKS: Record<string, RemoteNetworkSpec> = {
  sepolia: { rpcUrlVar: "SEPOLIA_RPC_URL", chainId: 11155111 },
  baseSepolia: { rpcUrlVar: "BASE_SEPOLIA_RPC_URL", chainId: 84532 },
  testnet: {
    rpcUrlVar: "TESTNET_RPC_URL",
    chainIdVar: "TESTNET_CHAIN_ID",
    explorerApiUrlVar: "TESTNET_EXPLORER_API_URL",
    explorerUrlVar: "TESTNET_EXPLORER_URL",
  },
};

/** Optional: where Hardhat's built-in `localhost` network points (default http://127.0.0.1:8545, `npm run chain`),
 * e.g. a `hardhat node` on another port. */
export const LOCALHOST_RPC_URL_VAR = "LOCALHOST_RPC_URL";

export const DEPLOYER_KEY_VAR = "DEPLOYER_PRIVATE_KEY";
/** Optional second account of the remote networks: the new admin, for `deploy:accept-admin` only. */
export const ADMIN_KEY_VAR = "ADMIN_PRIVATE_KEY";
export const EXPLORER_KEY_VAR = "ETHERSCAN_API_KEY";

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

const isUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ws:" || u.protocol === "wss:";
  } catch {
    return false;
  }
};

const parseChainId = (v: string | undefined): number | undefined => {
  if (v === undefined || !/^[1-9][0-9]*$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : undefined;
};

const nonEmpty = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === "" ? undefined : v.trim();

/** The chain id a remote network expects, when it is known from its spec or the env. */
export function expectedChainId(name: string, env: Env = process.env): number | undefined {
  const spec = REMOTE_NETWORKS[name];
  if (!spec) return undefined;
  return spec.chainId ?? parseChainId(env[spec.chainIdVar ?? ""]);
}

/** Hardhat network entries for every remote network. Never throws: unusable values become placeholders. */
export function remoteNetworksConfig(env: Env = process.env): NetworksUserConfig {
  // The deployer first: the deploy command sends from the first account. The admin key, when given, follows.
  const accounts: string[] = [];
  for (const name of [DEPLOYER_KEY_VAR, ADMIN_KEY_VAR]) {
    const key = nonEmpty(env[name]);
    if (key === undefined || !PRIVATE_KEY.test(key) || /^(0x)?0{64}$/.test(key)) continue;
    const hex = (key.startsWith("0x") ? key : `0x${key}`).toLowerCase();
    if (!accounts.includes(hex)) accounts.push(hex);
  }
  const networks: NetworksUserConfig = {};
  for (const [name, spec] of Object.entries(REMOTE_NETWORKS)) {
    const url = nonEmpty(env[spec.rpcUrlVar]);
    networks[name] = {
      // The placeholder names the variable, so a tool that connects anyway fails with a telling host name.
      url: url !== undefined && isUrl(url) ? url : `http://${spec.rpcUrlVar.toLowerCase()}.not-set.invalid`,
      chainId: expectedChainId(name, env),
      accounts,
    };
  }
  return networks;
}

const isHttpUrl = (v: string): boolean => isUrl(v) && /^https?:/.test(v);

/**
 * The `localhost` entry: Hardhat's built-in one (127.0.0.1:8545) unless LOCALHOST_RPC_URL names another http(s)
 * URL. Hardhat merges this over its defaults, so only the URL changes. Never throws: a malformed value becomes a
 * placeholder naming the variable, and `networkEnvProblems` reports it.
 */
export function localhostNetworkConfig(env: Env = process.env): NetworksUserConfig {
  const url = nonEmpty(env[LOCALHOST_RPC_URL_VAR]);
  if (url === undefined) return {};
  return {
    localhost: { url: isHttpUrl(url) ? url : `http://${LOCALHOST_RPC_URL_VAR.toLowerCase()}.malformed.invalid` },
  };
}

/** hardhat-verify settings: one Etherscan (v2) key for every chain, plus the generic chain's explorer. */
export function explorerConfig(env: Env = process.env): {
  apiKey: string;
  customChains: { network: string; chainId: number; urls: { apiURL: string; browserURL: string } }[];
} {
  const customChains = [];
  const spec = REMOTE_NETWORKS.testnet;
  const chainId = expectedChainId("testnet", env);
  if (chainId !== undefined) {
    customChains.push({
      network: "testnet",
      chainId,
      urls: {
        apiURL: nonEmpty(env[spec.explorerApiUrlVar!]) ?? "https://api.etherscan.io/v2/api",
        browserURL: nonEmpty(env[spec.explorerUrlVar!]) ?? "",
      },
    });
  }
  return { apiKey: nonEmpty(env[EXPLORER_KEY_VAR]) ?? "", customChains };
}

/**
 * What is missing or malformed in the env for `network` (empty when usable). Local networks need nothing (an
 * optional LOCALHOST_RPC_URL must be an http(s) URL).
 * `needs.deployer` (default) requires the deployer key; `needs.explorer` the explorer key.
 */
export function networkEnvProblems(
  network: string,
  env: Env = process.env,
  needs: { deployer?: boolean; explorer?: boolean } = { deployer: true },
): string[] {
  if (network === "localhost") {
    const url = nonEmpty(env[LOCALHOST_RPC_URL_VAR]);
    return url === undefined || isHttpUrl(url) ? [] : [`${LOCALHOST_RPC_URL_VAR} is not an http(s) URL: "${url}"`];
  }
  const spec = REMOTE_NETWORKS[network];
  if (!spec) return [];
  const problems: string[] = [];
  const url = nonEmpty(env[spec.rpcUrlVar]);
  if (url === undefined) problems.push(`${spec.rpcUrlVar} is not set (the JSON-RPC URL of ${network})`);
  else if (!isUrl(url)) problems.push(`${spec.rpcUrlVar} is not an http(s) or ws(s) URL: ${redactUrl(url)}`);
  if (spec.chainIdVar !== undefined) {
    const raw = nonEmpty(env[spec.chainIdVar]);
    if (raw === undefined) problems.push(`${spec.chainIdVar} is not set (the chain id of ${network})`);
    else if (parseChainId(raw) === undefined) problems.push(`${spec.chainIdVar} is not a positive integer: "${raw}"`);
  }
  const key = nonEmpty(env[DEPLOYER_KEY_VAR]);
  if (needs.deployer) {
    if (key === undefined) problems.push(`${DEPLOYER_KEY_VAR} is not set (the deployer's private key)`);
    else if (!PRIVATE_KEY.test(key)) problems.push(`${DEPLOYER_KEY_VAR} is not a 32-byte hex private key`);
    else if (/^(0x)?0{64}$/.test(key)) problems.push(`${DEPLOYER_KEY_VAR} is zero, which is not a valid key`);
  }
  const adminKey = nonEmpty(env[ADMIN_KEY_VAR]);
  if (adminKey !== undefined && (!PRIVATE_KEY.test(adminKey) || /^(0x)?0{64}$/.test(adminKey))) {
    problems.push(`${ADMIN_KEY_VAR} is not a 32-byte hex private key`);
  }
  if (needs.explorer && nonEmpty(env[EXPLORER_KEY_VAR]) === undefined) {
    problems.push(`${EXPLORER_KEY_VAR} is not set (the explorer API key used to verify sources)`);
  }
  return problems;
}
