/**
 * The deployment record: one JSON file per chain id (`deployments/<chainId>.json`) that says where the
 * contracts are, which block they start at, who holds which role and how the escrow is set up. The relayer and
 * the demo read it through `readDeployment` and get typed contract instances from `connectDeployment`.
 *
 * This module must stay loadable outside Hardhat: it imports ethers, the TypeChain factories and ./errors only.
 * Because it needs typechain-types/, nothing loaded while Hardhat reads its config may import it (deploy/tasks.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { ZeroAddress, isAddress, type ContractRunner, type Provider } from "ethers";
// Per-contract imports rather than the typechain-types index, which pulls in every mock's types.
import type { Forwarder } from "../typechain-types/contracts/Forwarder";
import type { InventoryToken } from "../typechain-types/contracts/InventoryToken";
import type { PaymentEscrow } from "../typechain-types/contracts/PaymentEscrow";
import type { MockStablecoin } from "../typechain-types/contracts/mocks/MockStablecoin";
import { Forwarder__factory } from "../typechain-types/factories/contracts/Forwarder__factory";
import { InventoryToken__factory } from "../typechain-types/factories/contracts/InventoryToken__factory";
import { PaymentEscrow__factory } from "../typechain-types/factories/contracts/PaymentEscrow__factory";
import { MockStablecoin__factory } from "../typechain-types/factories/contracts/mocks/MockStablecoin__factory";
import { DeploymentRecordError } from "./errors";

export const CONTRACT_NAMES = [
  "Forwarder",
  "PaymentEscrow",
  "InventoryToken",
  "MockStablecoin",
  "UsdcLike",
  "UsdtLike",
] as const;
/** Contracts only local chains have: a record without them is complete. */
const LOCAL_ONLY: ReadonlySet<ContractName> = new Set(["MockStablecoin", "UsdcLike", "UsdtLike"]);
export type ContractName = (typeof CONTRACT_NAMES)[number];

/** Fully qualified artifact names, as Hardhat and hardhat-verify know them. */
export const ARTIFACTS: Record<ContractName, string> = {
  Forwarder: "contracts/Forwarder.sol:Forwarder",
  PaymentEscrow: "contracts/PaymentEscrow.sol:PaymentEscrow",
  InventoryToken: "contracts/InventoryToken.sol:InventoryToken",
  MockStablecoin: "contracts/mocks/MockStablecoin.sol:MockStablecoin",
  UsdcLike: "contracts/mocks/UsdcLike.sol:UsdcLike",
  UsdtLike: "contracts/mocks/UsdtLike.sol:UsdtLike",
};

export interface DeployedContractRecord {
  address: string;
  /** Fully qualified artifact name, e.g. "contracts/PaymentEscrow.sol:PaymentEscrow". */
  artifact: string;
  /** Block of the transaction that created the contract. */
  blockNumber: number;
  txHash: string;
  /** keccak256 of the creation bytecode the contract was deployed from (detects changed contracts). */
  bytecodeHash?: string;
}

export interface DeploymentRecord {
  chainId: number;
  network: string;
  deployer: string;
  gitCommit: string;
  deployedAt: string;
  /** Block of the first deployment transaction: where an indexer starts. */
  startBlock: number;
  contracts: {
    Forwarder: DeployedContractRecord;
    PaymentEscrow: DeployedContractRecord;
    InventoryToken: DeployedContractRecord;
    MockStablecoin?: DeployedContractRecord;
    /** Local chains: a USDC-shaped token (permit, ERC-3009, blocklist). */
    UsdcLike?: DeployedContractRecord;
    /** Local chains: a USDT-shaped token (no permit, no return values). */
    UsdtLike?: DeployedContractRecord;
  };
  /**
   * `admin` is the escrow's `defaultAdmin()` (the only holder of DEFAULT_ADMIN_ROLE, AccessControlDefaultAdminRules)
   * when the record was written. `pendingAdmin` is a started transfer of that role: `account` may accept it with
   * `acceptDefaultAdminTransfer()` after `acceptAfter` (`npx hardhat deploy:accept-admin`).
   */
  roles: {
    admin: string;
    pendingAdmin?: PendingAdminRecord;
    operators: string[];
    arbiters: string[];
    pausers: string[];
  };
  /**
   * `tokens` lists every accepted payment token; `0x0000…0000` is native currency. `adminDelay` is the escrow's
   * `defaultAdminDelay()` in seconds.
   */
  settings: { feeBps: number; feeRecipient: string; tokens: string[]; adminDelay: number };
}

export interface PendingAdminRecord {
  account: string;
  /** ISO time after which `account` may accept (the escrow's schedule: accepting works in a later block). */
  acceptAfter: string;
}

/** The escrow's admin as AccessControlDefaultAdminRules keeps it, read from the chain. */
export interface AdminState {
  admin: string;
  /** A started transfer; `schedule` is the unix time after which `account` may accept. */
  pending?: { account: string; schedule: number };
  /** Seconds a transfer waits (`defaultAdminDelay()`). */
  delay: number;
}

/** Reads who administers the escrow and any pending transfer of that role. */
export async function readAdminState(escrow: PaymentEscrow): Promise<AdminState> {
  const [admin, pending, delay] = await Promise.all([
    escrow.defaultAdmin(),
    escrow.pendingDefaultAdmin(),
    escrow.defaultAdminDelay(),
  ]);
  const state: AdminState = { admin, delay: Number(delay) };
  if (pending.newAdmin !== ZeroAddress)
    state.pending = { account: pending.newAdmin, schedule: Number(pending.schedule) };
  return state;
}

/** A pending transfer as the record keeps it. */
export function pendingAdminRecord(state: AdminState): PendingAdminRecord | undefined {
  if (!state.pending) return undefined;
  return { account: state.pending.account, acceptAfter: new Date(state.pending.schedule * 1000).toISOString() };
}

export interface DeploymentContracts {
  forwarder: Forwarder;
  escrow: PaymentEscrow;
  inventory: InventoryToken;
  stablecoin?: MockStablecoin;
}

// Defined beside DeployError so the deploy tasks can recognise it without loading this module (and with it the
// TypeChain factories) before they have compiled.
export { DeploymentRecordError };

/** The repository root: the nearest folder above this file that holds package.json (works from dist/ too). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** Where records live: `DEPLOYMENTS_DIR` if set, else `deployments/` at the repository root. */
export function deploymentsDir(dir?: string): string {
  return path.resolve(dir ?? (process.env.DEPLOYMENTS_DIR?.trim() || path.join(repoRoot(), "deployments")));
}

export function deploymentPath(chainId: number | bigint, dir?: string): string {
  return path.join(deploymentsDir(dir), `${chainId}.json`);
}

/** Reads and validates the record of `chainId`. Throws DeploymentRecordError naming the file and the field. */
export function readDeployment(chainId: number | bigint, dir?: string): DeploymentRecord {
  const file = deploymentPath(chainId, dir);
  if (!fs.existsSync(file)) {
    throw new DeploymentRecordError(
      `no deployment recorded for chain ${chainId}: ${file} does not exist. ` +
        `Deploy first: npm run deploy -- --network <name>`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new DeploymentRecordError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const problems = validateDeployment(data);
  if (problems.length > 0) {
    throw new DeploymentRecordError(`${file} is malformed: ${problems.join("; ")}`);
  }
  const record = data as DeploymentRecord;
  if (BigInt(record.chainId) !== BigInt(chainId)) {
    throw new DeploymentRecordError(`${file} is malformed: chainId is ${record.chainId}, expected ${chainId}`);
  }
  return record;
}

/** Returns the list of problems with a parsed record (empty when it has the documented shape). */
export function validateDeployment(data: unknown): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const isUint = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const addr = (v: unknown, at: string): void => {
    if (typeof v !== "string" || !isAddress(v)) problems.push(`${at} is not an address (${JSON.stringify(v)})`);
  };
  const addrList = (v: unknown, at: string): void => {
    if (!Array.isArray(v)) problems.push(`${at} is not a list of addresses`);
    else v.forEach((a, i) => addr(a, `${at}[${i}]`));
  };
  if (!isObject(data)) return ["the file does not hold a JSON object"];
  if (!isUint(data.chainId) || data.chainId === 0) problems.push("chainId is not a positive integer");
  if (typeof data.network !== "string" || data.network === "") problems.push("network is not a name");
  addr(data.deployer, "deployer");
  if (typeof data.gitCommit !== "string") problems.push("gitCommit is not a string");
  if (typeof data.deployedAt !== "string" || Number.isNaN(Date.parse(data.deployedAt)))
    problems.push("deployedAt is not an ISO date");
  if (!isUint(data.startBlock)) problems.push("startBlock is not a block number");
  if (!isObject(data.contracts)) {
    problems.push("contracts is missing");
  } else {
    for (const name of CONTRACT_NAMES) {
      const c = data.contracts[name];
      if (c === undefined && LOCAL_ONLY.has(name)) continue;
      if (!isObject(c)) {
        problems.push(`contracts.${name} is missing`);
        continue;
      }
      addr(c.address, `contracts.${name}.address`);
      if (typeof c.artifact !== "string" || !c.artifact.includes(":"))
        problems.push(`contracts.${name}.artifact is not a "path.sol:Name" reference`);
      if (!isUint(c.blockNumber)) problems.push(`contracts.${name}.blockNumber is not a block number`);
      if (typeof c.txHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(c.txHash))
        problems.push(`contracts.${name}.txHash is not a transaction hash`);
    }
  }
  if (!isObject(data.roles)) {
    problems.push("roles is missing");
  } else {
    addr(data.roles.admin, "roles.admin");
    if (data.roles.pendingAdmin !== undefined) {
      const p = data.roles.pendingAdmin;
      if (!isObject(p)) {
        problems.push("roles.pendingAdmin is not an object");
      } else {
        addr(p.account, "roles.pendingAdmin.account");
        if (typeof p.acceptAfter !== "string" || Number.isNaN(Date.parse(p.acceptAfter)))
          problems.push("roles.pendingAdmin.acceptAfter is not an ISO date");
      }
    }
    addrList(data.roles.operators, "roles.operators");
    addrList(data.roles.arbiters, "roles.arbiters");
    addrList(data.roles.pausers, "roles.pausers");
  }
  if (!isObject(data.settings)) {
    problems.push("settings is missing");
  } else {
    if (!isUint(data.settings.feeBps)) problems.push("settings.feeBps is not an integer");
    if (!isUint(data.settings.adminDelay)) problems.push("settings.adminDelay is not a number of seconds");
    addr(data.settings.feeRecipient, "settings.feeRecipient");
    addrList(data.settings.tokens, "settings.tokens");
  }
  return problems;
}

/** Typed contract instances for a record, bound to `runner` (a provider to read, a signer to send). */
export function connectDeployment(record: DeploymentRecord, runner: ContractRunner | null): DeploymentContracts {
  const { contracts } = record;
  return {
    forwarder: Forwarder__factory.connect(contracts.Forwarder.address, runner),
    escrow: PaymentEscrow__factory.connect(contracts.PaymentEscrow.address, runner),
    inventory: InventoryToken__factory.connect(contracts.InventoryToken.address, runner),
    stablecoin: contracts.MockStablecoin
      ? MockStablecoin__factory.connect(contracts.MockStablecoin.address, runner)
      : undefined,
  };
}

/**
 * Checks that `provider` is on the record's chain and that every recorded contract has code there. Returns the
 * problems found (empty when the record is live), e.g. a local node that was restarted since the deployment.
 */
export async function checkDeployment(record: DeploymentRecord, provider: Provider): Promise<string[]> {
  const problems: string[] = [];
  const { chainId } = await provider.getNetwork();
  if (chainId !== BigInt(record.chainId)) {
    return [`the provider is on chain ${chainId}, the record is for chain ${record.chainId}`];
  }
  for (const [name, c] of Object.entries(record.contracts)) {
    if (c && (await provider.getCode(c.address)) === "0x") problems.push(`${name} has no code at ${c.address}`);
  }
  return problems;
}

/** Writes a record atomically (temporary file, then rename), so readers never see half a file. */
export function writeDeployment(record: DeploymentRecord, dir?: string): string {
  const file = deploymentPath(record.chainId, dir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return file;
}
