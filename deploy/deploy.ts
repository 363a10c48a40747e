/**
 * One deployment path for the in-process network, a local `hardhat node` and any EVM testnet.
 *
 * Order of work: check the env of the network, the chain id and the deployer, load and validate the
 * parameters, look at what the chain already has (record and Ignition journal), check funds, then let Ignition
 * run the module (it journals every step, so an interrupted run resumes), and finally write the record
 * `deployments/<chainId>.json` that the relayer and the demo read. Nothing is sent before every input has been
 * checked.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  BrowserProvider,
  Contract,
  ContractFactory,
  type Eip1193Provider,
  ZeroAddress,
  formatEther,
  formatUnits,
  getAddress,
  keccak256,
  type Provider,
} from "ethers";
import type { HardhatRuntimeEnvironment, HttpNetworkConfig } from "hardhat/types";
import { HardhatArtifactResolver } from "@nomicfoundation/hardhat-ignition/helpers";
import {
  DeploymentResultType,
  deploy as ignitionDeploy,
  type DeploymentResult,
  type ExecutionEventListener,
} from "@nomicfoundation/ignition-core";
import { DeployError } from "./errors";
import { readJournal, type JournalSummary } from "./journal";
import { LOCAL_TOKEN_MOCKS, MODULE_ID, ROLES, buildOrderchainModule } from "./modules/Orderchain";
import { REMOTE_NETWORKS, expectedChainId, isLocalChain, networkEnvProblems } from "./networks";
import { loadDeployPlan, type DeployPlan } from "./parameters";
import { PaymentEscrow__factory } from "../typechain-types/factories/contracts/PaymentEscrow__factory";
import {
  ARTIFACTS,
  deploymentPath,
  deploymentsDir,
  pendingAdminRecord,
  readAdminState,
  readDeployment,
  writeDeployment,
  type ContractName,
  type DeployedContractRecord,
  type DeploymentRecord,
} from "./record";
import { redactUrl } from "../sdk/redact";

export interface DeployOptions {
  /** Start a new deployment even if the chain has one (archives the old record and journal). */
  reset?: boolean;
  /** Parameter file; defaults to DEPLOY_PARAMETERS, then `deploy/parameters/<network>.json` if present. */
  parametersFile?: string;
  /** Folder of records; defaults to DEPLOYMENTS_DIR, then `deployments/`. */
  deploymentsDir?: string;
  /** Folder of Ignition journals; defaults to IGNITION_DEPLOYMENTS_DIR, then `deploy/deployments/`. */
  journalDir?: string;
  /** Write the record file. Default: yes, except on the in-process network (its chain ends with the process). */
  writeRecord?: boolean;
  /** Confirmations to wait for on non-automining chains; default DEPLOY_CONFIRMATIONS, then 2. */
  confirmations?: number;
  /** Progress output; default console.log. */
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

export interface DeployResult extends DeploymentRecord {}

const TRUE = /^(1|true|yes)$/i;

/** Deploys (or resumes, or confirms) the orderchain contracts on `hre.network` and returns the record. */
export async function deploy(hre: HardhatRuntimeEnvironment, options: DeployOptions = {}): Promise<DeploymentRecord> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const network = hre.network.name;
  const inProcess = network === "hardhat";
  const reset = options.reset ?? TRUE.test(env.DEPLOY_RESET ?? "");

  // 1. Inputs that need no chain.
  const envProblems = networkEnvProblems(network, env);
  if (envProblems.length > 0) {
    throw new DeployError(`cannot deploy to ${network}:\n  - ${envProblems.join("\n  - ")}\nSee .env.example.`);
  }

  parseConfirmations(env.DEPLOY_CONFIRMATIONS); // malformed: reported now, before any network access

  // 2. The chain and the deployer.
  const chainId = await connectedChainId(hre, env);
  const local = isLocalChain(chainId);
  const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as string[];
  if (accounts.length === 0) {
    throw new DeployError(
      `no deployer account on ${network}: set DEPLOYER_PRIVATE_KEY (or "accounts" of the network in hardhat.config.ts)`,
    );
  }
  const deployer = getAddress(accounts[0]);
  log(`Deploying orderchain to ${network} (chain ${chainId}${local ? ", local" : ""}) from ${deployer}`);

  // 3. Parameters.
  const { plan, sources } = loadDeployPlan({
    network,
    local,
    deployer,
    parametersFile: options.parametersFile,
    parametersDir: path.join(hre.config.paths.root, "deploy", "parameters"),
    env,
  });
  log(`  parameters: ${sources.join(" + ") || "defaults"}`);
  logPlan(plan, log);
  const provider = new BrowserProvider(hre.network.provider as Eip1193Provider, undefined, { cacheTimeout: -1 });
  for (const token of plan.tokens) {
    if ((await provider.getCode(token)) === "0x") {
      throw new DeployError(`token ${token} in the parameters has no code on chain ${chainId}: not a token there`);
    }
  }

  // 4. What the chain already has.
  const recordsDir = deploymentsDir(options.deploymentsDir);
  const recordFile = deploymentPath(chainId, recordsDir);
  const journalRoot = path.resolve(
    options.journalDir ?? (env.IGNITION_DEPLOYMENTS_DIR?.trim() || path.join(hre.config.paths.ignition, "deployments")),
  );
  const journalDir = inProcess
    ? fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-ignition-"))
    : path.join(journalRoot, `chain-${chainId}`);
  const bytecodeHashes = await currentBytecodeHashes(hre);
  let previous = fs.existsSync(recordFile) ? readDeployment(chainId, recordsDir) : undefined;
  let journal = readJournal(journalDir);

  const startOver = (why: string, archive: boolean): void => {
    log(why);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    if (previous && fs.existsSync(recordFile)) {
      if (archive) {
        const archived = path.join(recordsDir, "archive", `${chainId}-${stamp}.json`);
        fs.mkdirSync(path.dirname(archived), { recursive: true });
        fs.renameSync(recordFile, archived);
        log(`  previous record moved to ${archived}`);
      } else {
        fs.rmSync(recordFile);
      }
    }
    if (journal.exists) {
      if (archive) {
        const archived = `${journalDir}-replaced-${stamp}`;
        fs.renameSync(journalDir, archived);
        log(`  previous journal moved to ${archived}`);
      } else {
        fs.rmSync(journalDir, { recursive: true, force: true });
      }
    }
    previous = undefined;
    journal = readJournal(journalDir);
  };

  if (reset && (previous || journal.exists)) {
    startOver(`--reset: starting a new deployment on chain ${chainId}`, !local);
  }
  if (previous) {
    const missing = await contractsWithoutCode(provider, previous);
    if (missing.length > 0) {
      if (!local) {
        throw new DeployError(
          `${recordFile} says ${missing.join(", ")} exist on chain ${chainId}, but there is no code there. ` +
            `Check that the RPC URL points to the right chain; to deploy anew, run again with --reset (or DEPLOY_RESET=1).`,
        );
      }
      startOver(
        `Chain ${chainId} has no code at the recorded addresses (${missing.join(", ")}): the local chain was restarted. ` +
          `Starting a new deployment.`,
        false,
      );
    }
  }
  if (previous) {
    const changed = changedBytecode(previous, bytecodeHashes);
    if (changed.length > 0) {
      throw new DeployError(
        `chain ${chainId} already has a deployment (${recordFile}) built from different bytecode: ` +
          `${changed.join(", ")} changed since. Refusing to mix old and new contracts. ` +
          `To start a new deployment: npm run deploy -- --network ${network} --reset (or DEPLOY_RESET=1).`,
      );
    }
    if (!journal.exists) {
      const drift = await planDrift(provider, previous, plan);
      if (drift.length === 0) {
        log(
          `Already deployed on chain ${chainId} (${recordFile}); everything matches the parameters. Nothing changed.`,
        );
        return previous;
      }
      throw new DeployError(
        `${recordFile} exists but its Ignition journal (${journalDir}) is missing, and the chain differs from ` +
          `the parameters: ${drift.join("; ")}. Restore the journal, or run with --reset to deploy anew.`,
      );
    }
  } else if (journal.exists) {
    const stale = await journalStepsWithoutCode(provider, journal);
    if (stale.length > 0) {
      if (!local) {
        throw new DeployError(
          `the journal ${journalDir} lists contracts without code on chain ${chainId} (${stale.join(", ")}). ` +
            `Check the RPC URL, or run with --reset to deploy anew.`,
        );
      }
      startOver(`Chain ${chainId} no longer has the contracts of the last run (the local chain was restarted).`, false);
    } else {
      log(`Resuming an interrupted deployment: ${journal.completed.size} step(s) done, journal ${journalDir}`);
    }
  }

  // 5. Funds, before the first transaction.
  if (!previous) await checkFunds(hre, provider, deployer, plan, journal.exists, chainId);

  // 6. Ignition runs (or resumes) the module.
  const { module, labels } = buildOrderchainModule(plan);
  const done = readJournal(journalDir).completed;
  const remaining = [...labels.keys()].filter((id) => !done.has(id)).length;
  const confirmations = options.confirmations ?? parseConfirmations(env.DEPLOY_CONFIRMATIONS);
  const progress = new ProgressPrinter(log, labels, labels.size - remaining, labels.size, local ? 1 : confirmations);
  let result: DeploymentResult;
  try {
    result = await ignitionDeploy({
      config: local
        ? { blockPollingInterval: 100 }
        : { requiredConfirmations: confirmations, blockPollingInterval: 2_000 },
      artifactResolver: new HardhatArtifactResolver(hre),
      provider: hre.network.provider,
      executionEventListener: progress.listener(),
      deploymentDir: journalDir,
      ignitionModule: module,
      deploymentParameters: {},
      accounts: [deployer],
      defaultSender: deployer,
    });
  } catch (e) {
    progress.flush();
    throw new DeployError(
      `deployment stopped: ${(e as Error).message}\n` +
        `Every transaction sent so far is journaled in ${journalDir}; run the same command again to resume.`,
    );
  }
  progress.flush();
  if (result.type !== DeploymentResultType.SUCCESSFUL_DEPLOYMENT) {
    throw new DeployError(describeFailure(result, journalDir, network));
  }

  // 7. The record.
  const journalAfter = readJournal(journalDir);
  const record = await buildRecord(hre, provider, {
    network,
    chainId,
    deployer,
    plan,
    journal: journalAfter,
    bytecodeHashes,
    previous,
  });
  if (inProcess) fs.rmSync(journalDir, { recursive: true, force: true });

  const unchanged = progress.sent === 0 && previous !== undefined && sameRecord(previous, record);
  if (unchanged) {
    log(`Already deployed on chain ${chainId}; the chain matches the parameters. Nothing changed (${recordFile}).`);
    return previous!;
  }
  const write = options.writeRecord ?? !inProcess;
  if (write) {
    writeDeployment(record, recordsDir);
    log(`Record written: ${recordFile}`);
  } else {
    log(`In-process network: record not written (the chain ends with this process).`);
  }
  logSummary(record, log);
  return record;
}

// ----------------------------------------------------------------------------------------------- chain

export function parseConfirmations(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 2;
  if (!/^[1-9][0-9]*$/.test(raw.trim())) {
    throw new DeployError(`DEPLOY_CONFIRMATIONS must be a positive integer: "${raw}"`);
  }
  return Number(raw.trim());
}

/** The chain id the network's endpoint reports, checked against the one the config or env expects. */
export async function connectedChainId(
  hre: HardhatRuntimeEnvironment,
  env: Record<string, string | undefined>,
): Promise<number> {
  const network = hre.network.name;
  const config = hre.network.config as Partial<HttpNetworkConfig>;
  const spec = REMOTE_NETWORKS[network];
  const urlVar = spec ? `${spec.rpcUrlVar} ` : "";
  let reported: number;
  try {
    if (config.url !== undefined && /^https?:/.test(config.url)) {
      reported = await rpcChainId(config.url);
    } else {
      reported = Number(await hre.network.provider.request({ method: "eth_chainId" }));
    }
  } catch (e) {
    const hint = network === "localhost" ? " Start a local node first: npm run chain" : "";
    throw new DeployError(
      `cannot reach the JSON-RPC endpoint of ${network} (${urlVar}${config.url ? redactUrl(config.url) : "in-process"}): ${(e as Error).message}.${hint}`,
    );
  }
  const expected = expectedChainId(network, env) ?? config.chainId;
  if (expected !== undefined && expected !== reported) {
    const source = spec?.chainIdVar ? ` (${spec.chainIdVar})` : "";
    throw new DeployError(
      `wrong chain id: network ${network} expects chain ${expected}${source}, but ${urlVar}${config.url} is chain ${reported}`,
    );
  }
  return reported;
}

async function rpcChainId(url: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  const body = (await response.json()) as { result?: string; error?: { message: string } };
  if (body.result === undefined) throw new Error(body.error?.message ?? "no result for eth_chainId");
  return Number(BigInt(body.result));
}

async function contractsWithoutCode(provider: Provider, record: DeploymentRecord): Promise<string[]> {
  const missing: string[] = [];
  for (const [name, c] of Object.entries(record.contracts)) {
    if (c && (await provider.getCode(c.address)) === "0x") missing.push(`${name} at ${c.address}`);
  }
  return missing;
}

async function journalStepsWithoutCode(provider: Provider, journal: JournalSummary): Promise<string[]> {
  const missing: string[] = [];
  for (const step of journal.completed.values()) {
    if (step.address && (await provider.getCode(step.address)) === "0x")
      missing.push(`${step.futureId} at ${step.address}`);
  }
  return missing;
}

async function currentBytecodeHashes(hre: HardhatRuntimeEnvironment): Promise<Record<ContractName, string>> {
  const out = {} as Record<ContractName, string>;
  for (const [name, fqn] of Object.entries(ARTIFACTS) as [ContractName, string][]) {
    out[name] = keccak256((await hre.artifacts.readArtifact(fqn)).bytecode);
  }
  return out;
}

function changedBytecode(record: DeploymentRecord, current: Record<ContractName, string>): string[] {
  return (Object.entries(record.contracts) as [ContractName, DeployedContractRecord | undefined][])
    .filter(([name, c]) => c?.bytecodeHash !== undefined && c.bytecodeHash !== current[name])
    .map(([name]) => name);
}

const ESCROW_ABI = [
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function isTokenAllowed(address token) view returns (bool)",
  "function feeBps() view returns (uint16)",
  "function feeRecipient() view returns (address)",
  "function inventory() view returns (address)",
];

/** What differs between the chain and the plan (used when only a record, no journal, exists). */
async function planDrift(provider: Provider, record: DeploymentRecord, plan: DeployPlan): Promise<string[]> {
  const escrow = new Contract(record.contracts.PaymentEscrow.address, ESCROW_ABI, provider);
  const drift: string[] = [];
  // DEFAULT_ADMIN_ROLE has a single holder (AccessControlDefaultAdminRules' defaultAdmin()). The plan's admin
  // either holds it, or a transfer to it is pending (started by the deployment, to be accepted after the delay).
  const admin = await readAdminState(PaymentEscrow__factory.connect(record.contracts.PaymentEscrow.address, provider));
  if (admin.admin !== plan.admin && admin.pending?.account !== plan.admin) {
    const pending = admin.pending ? ` (a transfer to ${admin.pending.account} is pending)` : "";
    drift.push(`the escrow's admin is ${admin.admin}${pending}, not ${plan.admin}`);
  }
  if (admin.delay !== plan.adminDelay) drift.push(`adminDelay is ${admin.delay} s, not ${plan.adminDelay} s`);
  if (Number(await escrow.feeBps()) !== plan.feeBps)
    drift.push(`feeBps is ${await escrow.feeBps()}, not ${plan.feeBps}`);
  if (getAddress(await escrow.feeRecipient()) !== plan.feeRecipient) drift.push(`feeRecipient differs`);
  const members: [string, string[]][] = [
    ["OPERATOR_ROLE", plan.operators],
    ["ARBITER_ROLE", plan.arbiters],
    ["PAUSER_ROLE", plan.pausers],
  ];
  for (const [role, accounts] of members) {
    for (const a of accounts) {
      if (!(await escrow.hasRole(ROLES[role as keyof typeof ROLES], a))) drift.push(`${a} lacks ${role}`);
    }
  }
  for (const t of plan.tokens) if (!(await escrow.isTokenAllowed(t))) drift.push(`token ${t} is not accepted`);
  return drift;
}

async function checkFunds(
  hre: HardhatRuntimeEnvironment,
  provider: Provider,
  deployer: string,
  plan: DeployPlan,
  resuming: boolean,
  chainId: number,
): Promise<void> {
  const balance = await provider.getBalance(deployer);
  if (balance === 0n) {
    throw new DeployError(
      `the deployer ${deployer} has no funds on chain ${chainId}: send it native currency (testnet faucet) and run again`,
    );
  }
  if (resuming) return; // part of the work is done; the journal knows the rest
  const feeData = await provider.getFeeData();
  const price = feeData.maxFeePerGas ?? feeData.gasPrice;
  if (price === null) return;
  let gas = 0n;
  try {
    const forwarder = await hre.artifacts.readArtifact(ARTIFACTS.Forwarder);
    const escrowArtifact = await hre.artifacts.readArtifact(ARTIFACTS.PaymentEscrow);
    const escrow = new ContractFactory(escrowArtifact.abi, escrowArtifact.bytecode);
    const escrowTx = await escrow.getDeployTransaction(
      deployer,
      plan.adminDelay,
      plan.arbiters[0],
      deployer, // stands in for the forwarder, not deployed yet: same gas
      plan.feeRecipient,
      plan.feeBps,
    );
    gas += await provider.estimateGas({ from: deployer, data: forwarder.bytecode });
    gas += await provider.estimateGas({ from: deployer, data: escrowTx.data });
    if (plan.mockStablecoin) {
      for (const name of ["MockStablecoin", ...LOCAL_TOKEN_MOCKS] as const) {
        const coin = await hre.artifacts.readArtifact(ARTIFACTS[name]);
        gas += await provider.estimateGas({ from: deployer, data: coin.bytecode });
      }
    }
  } catch {
    return; // estimation is a courtesy; the node will refuse an unaffordable transaction anyway
  }
  // Role grants (the first arbiter comes with the constructor), token allowances, the mock stablecoin's and the
  // admin handover's calls: each well under 60,000 gas.
  const calls = plan.operators.length + plan.arbiters.length + plan.pausers.length + plan.tokens.length + 4;
  gas += BigInt(calls) * 60_000n;
  const needed = gas * price;
  if (balance < needed) {
    throw new DeployError(
      `the deployer ${deployer} has ${formatEther(balance)} on chain ${chainId}, but the deployment needs about ` +
        `${formatEther(needed)} (${gas} gas at ${formatUnits(price, "gwei")} gwei). Fund it and run again.`,
    );
  }
}

// ----------------------------------------------------------------------------------------------- record

async function buildRecord(
  hre: HardhatRuntimeEnvironment,
  provider: Provider,
  ctx: {
    network: string;
    chainId: number;
    deployer: string;
    plan: DeployPlan;
    journal: JournalSummary;
    bytecodeHashes: Record<ContractName, string>;
    previous?: DeploymentRecord;
  },
): Promise<DeploymentRecord> {
  const step = (name: string) => {
    const s = ctx.journal.completed.get(`${MODULE_ID}#${name}`);
    if (!s?.address || !s.txHash || s.blockNumber === undefined) {
      throw new DeployError(`the journal has no completed deployment of ${name}; run the command again to resume`);
    }
    return s;
  };
  const entry = (name: ContractName, from = name): DeployedContractRecord => {
    const s = step(from);
    return {
      address: getAddress(s.address!),
      artifact: ARTIFACTS[name],
      blockNumber: s.blockNumber!,
      txHash: s.txHash!,
      bytecodeHash: ctx.bytecodeHashes[name],
    };
  };
  const forwarder = entry("Forwarder");
  const escrowEntry = entry("PaymentEscrow");
  const escrow = new Contract(escrowEntry.address, ESCROW_ABI, provider);
  // InventoryToken is created inside the escrow's constructor: same transaction and block.
  const inventory: DeployedContractRecord = {
    ...escrowEntry,
    address: getAddress(await escrow.inventory()),
    artifact: ARTIFACTS.InventoryToken,
    bytecodeHash: ctx.bytecodeHashes.InventoryToken,
  };
  const contracts: DeploymentRecord["contracts"] = {
    Forwarder: forwarder,
    PaymentEscrow: escrowEntry,
    InventoryToken: inventory,
  };
  if (ctx.plan.mockStablecoin) {
    contracts.MockStablecoin = entry("MockStablecoin");
    for (const name of LOCAL_TOKEN_MOCKS) contracts[name] = entry(name);
  }

  for (const [name, c] of Object.entries(contracts)) {
    if ((await provider.getCode(c.address)) === "0x") {
      throw new DeployError(`${name} has no code at ${c.address} after deployment; the node may have been reset`);
    }
  }

  // Roles and tokens as the chain has them: the plan's members plus any earlier record's members still holding.
  const holders = async (role: string, planned: string[], before: string[] = []): Promise<string[]> => {
    const out: string[] = [];
    for (const a of [...new Set([...planned, ...before].map((x) => getAddress(x)))]) {
      if (await escrow.hasRole(role, a)) out.push(a);
    }
    return out;
  };
  const prevRoles = ctx.previous?.roles;
  const tokenCandidates = [
    ZeroAddress,
    ...(contracts.MockStablecoin ? [contracts.MockStablecoin.address] : []),
    ...LOCAL_TOKEN_MOCKS.flatMap((name) => (contracts[name] ? [contracts[name].address] : [])),
    ...ctx.plan.tokens,
    ...(ctx.previous?.settings.tokens ?? []),
  ];
  const tokens: string[] = [];
  for (const t of [...new Set(tokenCandidates.map((x) => getAddress(x)))]) {
    if (await escrow.isTokenAllowed(t)) tokens.push(t);
  }
  const sameContracts =
    ctx.previous !== undefined &&
    ctx.previous.contracts.PaymentEscrow.address === escrowEntry.address &&
    ctx.previous.contracts.Forwarder.address === forwarder.address;

  const admin = await readAdminState(PaymentEscrow__factory.connect(escrowEntry.address, provider));
  const pendingAdmin = pendingAdminRecord(admin);
  return {
    chainId: ctx.chainId,
    network: ctx.network,
    deployer: ctx.deployer,
    gitCommit: sameContracts ? ctx.previous!.gitCommit : gitCommit(hre.config.paths.root),
    deployedAt: sameContracts ? ctx.previous!.deployedAt : new Date().toISOString(),
    startBlock: Math.min(...Object.values(contracts).map((c) => c.blockNumber)),
    contracts,
    roles: {
      admin: admin.admin,
      ...(pendingAdmin ? { pendingAdmin } : {}),
      operators: await holders(ROLES.OPERATOR_ROLE, ctx.plan.operators, prevRoles?.operators),
      arbiters: await holders(ROLES.ARBITER_ROLE, ctx.plan.arbiters, prevRoles?.arbiters),
      pausers: await holders(ROLES.PAUSER_ROLE, ctx.plan.pausers, prevRoles?.pausers),
    },
    settings: {
      feeBps: Number(await escrow.feeBps()),
      feeRecipient: getAddress(await escrow.feeRecipient()),
      tokens,
      adminDelay: admin.delay,
    },
  };
}

function sameRecord(a: DeploymentRecord, b: DeploymentRecord): boolean {
  const strip = (r: DeploymentRecord) => JSON.stringify({ ...r, deployedAt: "", gitCommit: "" });
  return strip(a) === strip(b);
}

function gitCommit(root: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", "contracts"], {
      cwd: root,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    return dirty === "" ? sha : `${sha}-dirty`;
  } catch {
    return "unknown";
  }
}

// ----------------------------------------------------------------------------------------------- output

function describeFailure(
  result: Exclude<DeploymentResult, { type: DeploymentResultType.SUCCESSFUL_DEPLOYMENT }>,
  journalDir: string,
  network: string,
): string {
  const lines = (errors: Record<string, string[]>) =>
    Object.entries(errors)
      .map(([id, msgs]) => `  - ${id}: ${msgs.join("; ")}`)
      .join("\n");
  switch (result.type) {
    case DeploymentResultType.VALIDATION_ERROR:
      return `the deployment module is invalid:\n${lines(result.errors)}`;
    case DeploymentResultType.RECONCILIATION_ERROR:
      return (
        `the journal ${journalDir} was made with other contracts or parameters than this run:\n${lines(result.errors)}\n` +
        `Deploy with the same inputs to resume, or start a new deployment: npm run deploy -- --network ${network} --reset`
      );
    case DeploymentResultType.PREVIOUS_RUN_ERROR:
      return (
        `a step failed in an earlier run:\n${lines(result.errors)}\n` +
        `Fix the cause, then start a new deployment: npm run deploy -- --network ${network} --reset`
      );
    case DeploymentResultType.EXECUTION_ERROR: {
      const parts = [
        ...result.failed.map((f) => `  - ${f.futureId} failed: ${f.error}`),
        ...result.timedOut.map((f) => `  - ${f.futureId} timed out waiting for its transaction`),
        ...result.held.map((f) => `  - ${f.futureId} held: ${f.reason}`),
      ];
      return (
        `deployment stopped:\n${parts.join("\n")}\n` +
        `${result.successful.length} step(s) completed and are journaled in ${journalDir}; run the same command again to resume.`
      );
    }
  }
}

function logPlan(plan: DeployPlan, log: (line: string) => void): void {
  const handover =
    plan.admin === plan.deployer
      ? "the deployer"
      : `${plan.admin} (the deployment starts the transfer; ${plan.admin} accepts it after the delay)`;
  log(`  admin ${handover}; admin transfers wait ${formatDelay(plan.adminDelay)}`);
  log(`  fee ${plan.feeBps} bps to ${plan.feeRecipient}`);
  log(`  operators ${plan.operators.join(", ") || "(none)"}`);
  log(`  arbiters ${plan.arbiters.join(", ") || "(none)"}; pausers ${plan.pausers.join(", ") || "(none)"}`);
  const mocks = plan.mockStablecoin ? `, MockStablecoin, ${LOCAL_TOKEN_MOCKS.join(", ")}` : "";
  log(`  tokens: native${mocks}${plan.tokens.map((t) => `, ${t}`).join("")}`);
}

function logSummary(record: DeploymentRecord, log: (line: string) => void): void {
  for (const [name, c] of Object.entries(record.contracts)) {
    log(`  ${name.padEnd(15)} ${c.address}  (block ${c.blockNumber})`);
  }
  log(`  indexers start at block ${record.startBlock}`);
  const pending = record.roles.pendingAdmin;
  if (pending) {
    log(
      `  admin: ${record.roles.admin} until ${pending.account} accepts the transfer, possible after ${pending.acceptAfter}:`,
    );
    log(
      `    npx hardhat deploy:accept-admin --network ${record.network}   (as ${pending.account}), or from its wallet`,
    );
    log(`    call acceptDefaultAdminTransfer() on ${record.contracts.PaymentEscrow.address} (see docs/DEPLOY.md)`);
  } else {
    log(`  admin: ${record.roles.admin}`);
  }
}

/** Seconds for people: "2 days", "1 h", "45 min", or the two largest units ("1 d 23 h", "59 min 30 s"). */
export function formatDelay(seconds: number): string {
  if (seconds <= 0) return "0 s (none)";
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day${seconds === 86_400 ? "" : "s"}`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  const parts = [
    [Math.floor(seconds / 86_400), "d"],
    [Math.floor((seconds % 86_400) / 3_600), "h"],
    [Math.floor((seconds % 3_600) / 60), "min"],
    [seconds % 60, "s"],
  ] as const;
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(" ");
}

/** Turns Ignition's execution events into numbered progress lines. Lines are printed on the next turn of the
 * event loop: Ignition emits an event just before appending it to the journal, so whatever a reader sees has
 * already been journaled. */
class ProgressPrinter {
  sent = 0;
  private step: number;
  private readonly queue: string[] = [];
  private scheduled = false;

  constructor(
    private readonly log: (line: string) => void,
    private readonly labels: Map<string, string>,
    done: number,
    private readonly total: number,
    private readonly confirmations: number,
  ) {
    this.step = done;
    if (done > 0) this.print(`  ${done} of ${total} steps already done`);
  }

  private print(line: string): void {
    this.queue.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    for (const line of this.queue.splice(0)) this.log(line);
  }

  private begin(futureId: string): void {
    const label = this.labels.get(futureId);
    if (label === undefined) return;
    this.step += 1;
    this.print(`  [${this.step}/${this.total}] ${label}`);
  }

  listener(): ExecutionEventListener {
    const handlers: Partial<ExecutionEventListener> = {
      deploymentExecutionStateInitialize: (e) => this.begin(e.futureId),
      callExecutionStateInitialize: (e) => this.begin(e.futureId),
      transactionSend: (e) => {
        this.sent += 1;
        const n = this.confirmations;
        this.print(`        sent ${e.hash}, waiting for ${n} confirmation${n === 1 ? "" : "s"}`);
      },
      transactionConfirm: (e) => this.print(`        confirmed ${e.hash}`),
      deploymentExecutionStateComplete: (e) => {
        if (e.result.type === "SUCCESS") this.print(`        deployed at ${e.result.result}`);
        else if (e.result.type === "ERROR") this.print(`        failed: ${e.result.error}`);
      },
      callExecutionStateComplete: (e) => {
        if (e.result.type === "ERROR") this.print(`        failed: ${e.result.error}`);
      },
      onchainInteractionBumpFees: (e) => this.print(`        ${e.futureId}: fees bumped, transaction resent`),
      onchainInteractionDropped: (e) =>
        this.print(`        ${e.futureId}: transaction dropped by the network, resending`),
      onchainInteractionTimeout: (e) => this.print(`        ${e.futureId}: timed out waiting for confirmation`),
      reconciliationWarnings: (e) => e.warnings.forEach((w) => this.print(`  warning: ${w}`)),
    };
    return new Proxy(handlers, {
      get: (target, key) => target[key as keyof ExecutionEventListener] ?? (() => undefined),
    }) as ExecutionEventListener;
  }
}
