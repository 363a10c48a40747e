/**
 * Deployment parameters: who administers the escrow (and how long a transfer of that role waits), who operates,
 * arbitrates and pauses, where fees go, which tokens are accepted. Local chains default to Hardhat's well-known
 * accounts; other chains read a JSON file (`deploy/parameters/<network>.json`, or the file in `DEPLOY_PARAMETERS`
 * / `--parameters`) and env values, env winning. Everything is validated before anything is sent.
 */
import fs from "node:fs";
import path from "node:path";
import { ZeroAddress, getAddress, isAddress } from "ethers";
import { DeployError } from "./errors";

type Env = Record<string, string | undefined>;

/** Hardhat's default accounts (mnemonic "test test … junk"): public knowledge, local chains only. */
export const WELL_KNOWN_ACCOUNTS = [
  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", // #0 deployer, admin
  "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", // #1 fee recipient
  "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", // #2 arbiter
  "0x90F79bf6EB2c4f870365E785982E1f101E93b906", // #3 pauser
  "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", // #4..#7 the relayer's signers (operators)
  "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
  "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
  "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
] as const;

export const DEFAULT_FEE_BPS = 100;
export const MAX_FEE_BPS = 1_000;
/**
 * Default seconds between starting and accepting a transfer of the escrow's admin role
 * (AccessControlDefaultAdminRules) on every chain that is not a local development chain: two days, long enough
 * for the current admin, the operators and the merchants to notice a transfer they did not expect (a stolen or
 * misused admin key) and for the admin to cancel it before it can be accepted, short enough for a planned handover.
 */
export const ADMIN_TRANSFER_DELAY = 2 * 24 * 3600;
/** The default on local development chains: nothing to protect there, and a handover can be tried at once. */
export const LOCAL_ADMIN_TRANSFER_DELAY = 0;
/** Largest admin delay the parameters accept (30 days): a larger value is almost certainly a unit mistake. */
export const MAX_ADMIN_TRANSFER_DELAY = 30 * 24 * 3600;

export interface DeployParameters {
  /**
   * Holder of DEFAULT_ADMIN_ROLE after deployment; defaults to the deployer. Another address gets it in two steps:
   * the deployment starts the transfer, that address accepts it once `adminDelay` has passed.
   */
  admin: string;
  /** Seconds between starting and accepting a transfer of the admin role (the escrow's `defaultAdminDelay`). */
  adminDelay: number;
  feeRecipient: string;
  feeBps: number;
  operators: string[];
  /** ARBITER_ROLE; never empty: the first one is granted by the escrow's constructor. */
  arbiters: string[];
  pausers: string[];
  /** ERC-20 tokens to accept, besides native currency (always accepted) and, locally, the mock stablecoin. */
  tokens: string[];
}

export interface DeployPlan extends DeployParameters {
  deployer: string;
  /** Deploy MockStablecoin and accept it (local chains only). */
  mockStablecoin: boolean;
}

type Key = keyof DeployParameters;

/** Each parameter's env variable. Lists are comma-separated. */
export const PARAMETER_ENV: Record<Key, string> = {
  admin: "ADMIN_ADDRESS",
  adminDelay: "ADMIN_TRANSFER_DELAY_SECONDS",
  feeRecipient: "FEE_RECIPIENT",
  feeBps: "FEE_BPS",
  operators: "OPERATOR_ADDRESSES",
  arbiters: "ARBITER_ADDRESSES",
  pausers: "PAUSER_ADDRESSES",
  tokens: "ACCEPTED_TOKENS",
};

const LIST_KEYS: Key[] = ["operators", "arbiters", "pausers", "tokens"];
/** Without a default on a non-local chain: the deployment cannot work without them. */
const REQUIRED_REMOTE: Key[] = ["feeRecipient", "operators", "arbiters", "pausers"];

export interface PlanInput {
  network: string;
  local: boolean;
  deployer: string;
  /** Explicit parameter file (from `--parameters` or DEPLOY_PARAMETERS); must exist when given. */
  parametersFile?: string;
  /** Folder of per-network files, `deploy/parameters` by default. */
  parametersDir: string;
  env?: Env;
}

export interface LoadedPlan {
  plan: DeployPlan;
  /** Where the values came from, for the log. */
  sources: string[];
}

export function loadDeployPlan(input: PlanInput): LoadedPlan {
  const env = input.env ?? process.env;
  const problems: string[] = [];
  const sources: string[] = [];
  const raw: Partial<Record<Key, unknown>> = {};
  const origin: Partial<Record<Key, string>> = {};

  const explicit = input.parametersFile ?? (env.DEPLOY_PARAMETERS?.trim() || undefined);
  const file = explicit ?? path.join(input.parametersDir, `${input.network}.json`);
  if (explicit !== undefined && !fs.existsSync(file)) {
    throw new DeployError(`parameter file ${file} does not exist`);
  }
  if (fs.existsSync(file)) {
    let data: unknown;
    try {
      data = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new DeployError(`parameter file ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new DeployError(`parameter file ${file} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(data)) {
      if (k === "$comment") continue;
      if (!(k in PARAMETER_ENV)) {
        problems.push(`${file}: unknown key "${k}" (expected: ${Object.keys(PARAMETER_ENV).join(", ")})`);
        continue;
      }
      raw[k as Key] = v;
      origin[k as Key] = `${file}: "${k}"`;
    }
    sources.push(file);
  }

  const fromEnv: string[] = [];
  for (const [k, name] of Object.entries(PARAMETER_ENV) as [Key, string][]) {
    const v = env[name]?.trim();
    if (v === undefined || v === "") continue;
    raw[k] = LIST_KEYS.includes(k)
      ? v
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "")
      : v;
    origin[k] = name;
    fromEnv.push(name);
  }
  if (fromEnv.length > 0) sources.push(`env ${fromEnv.join(", ")}`);

  const defaults: DeployParameters = input.local
    ? {
        admin: input.deployer,
        adminDelay: LOCAL_ADMIN_TRANSFER_DELAY,
        feeRecipient: WELL_KNOWN_ACCOUNTS[1],
        feeBps: DEFAULT_FEE_BPS,
        operators: WELL_KNOWN_ACCOUNTS.slice(4, 8),
        arbiters: [WELL_KNOWN_ACCOUNTS[2]],
        pausers: [WELL_KNOWN_ACCOUNTS[3]],
        tokens: [],
      }
    : {
        admin: input.deployer,
        adminDelay: ADMIN_TRANSFER_DELAY,
        feeRecipient: "",
        feeBps: DEFAULT_FEE_BPS,
        operators: [],
        arbiters: [],
        pausers: [],
        tokens: [],
      };
  if (input.local && Object.keys(raw).length < Object.keys(PARAMETER_ENV).length) {
    sources.push("local defaults (Hardhat's well-known accounts)");
  }

  const where = (k: Key): string => origin[k] ?? `parameter "${k}"`;
  const address = (k: Key, v: unknown, at: string): string | undefined => {
    if (typeof v !== "string" || !isAddress(v)) {
      problems.push(`${at} is not an address: ${JSON.stringify(v)}`);
      return undefined;
    }
    let a: string;
    try {
      a = getAddress(v);
    } catch {
      problems.push(`${at} has a bad checksum: ${v}`);
      return undefined;
    }
    if (a === ZeroAddress) problems.push(`${at} is the zero address`);
    return a;
  };

  const params = { ...defaults };
  if (raw.admin !== undefined) params.admin = address("admin", raw.admin, where("admin")) ?? "";
  if (raw.feeRecipient !== undefined)
    params.feeRecipient = address("feeRecipient", raw.feeRecipient, where("feeRecipient")) ?? "";
  if (raw.feeBps !== undefined) {
    const n = typeof raw.feeBps === "string" && /^[0-9]+$/.test(raw.feeBps) ? Number(raw.feeBps) : raw.feeBps;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_FEE_BPS) {
      problems.push(
        `${where("feeBps")} must be an integer from 0 to ${MAX_FEE_BPS} (basis points): ${JSON.stringify(raw.feeBps)}`,
      );
    } else {
      params.feeBps = n;
    }
  }
  if (raw.adminDelay !== undefined) {
    const v = raw.adminDelay;
    const n = typeof v === "string" && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0 || n > MAX_ADMIN_TRANSFER_DELAY) {
      problems.push(
        `${where("adminDelay")} must be a whole number of seconds from 0 to ${MAX_ADMIN_TRANSFER_DELAY} (30 days): ` +
          JSON.stringify(v),
      );
    } else {
      params.adminDelay = n;
    }
  }
  for (const k of LIST_KEYS) {
    const v = raw[k];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      problems.push(`${where(k)} must be a list of addresses`);
      continue;
    }
    const list = v.map((a, i) => address(k, a, `${where(k)}[${i}]`)).filter((a): a is string => a !== undefined);
    (params[k] as string[]) = [...new Set(list)];
  }
  if (raw.arbiters !== undefined && Array.isArray(raw.arbiters) && raw.arbiters.length === 0) {
    problems.push(
      `${where("arbiters")} is empty: a deployment needs at least one arbiter (the escrow's constructor grants ` +
        `ARBITER_ROLE to the first), or nobody could decide a dispute the two sides do not settle themselves`,
    );
  }
  if (!input.local) {
    for (const k of REQUIRED_REMOTE) {
      const v = params[k];
      if (raw[k] === undefined && (v === "" || (Array.isArray(v) && v.length === 0))) {
        problems.push(`"${k}" is required on ${input.network}: set it in ${file} or in env ${PARAMETER_ENV[k]}`);
      }
    }
  }
  if (problems.length > 0) {
    throw new DeployError(`invalid deployment parameters:\n  - ${problems.join("\n  - ")}`);
  }
  return { plan: { ...params, deployer: input.deployer, mockStablecoin: input.local }, sources };
}
