/**
 * `npm run deploy:status -- --network <name>`: for the network's chain, each recorded contract's address and
 * whether it has code, who holds which role and how the escrow is set, read from the chain and compared with
 * the record. Returns the problems found (none means the deployment is live and as recorded).
 */
import path from "node:path";
import { BrowserProvider, ZeroAddress, type Eip1193Provider } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { connectedChainId } from "./deploy";
import { DeployError } from "./errors";
import { readJournal } from "./journal";
import { ROLES } from "./modules/Orderchain";
import { networkEnvProblems } from "./networks";
import { connectDeployment, deploymentPath, readDeployment } from "./record";

export interface StatusOptions {
  deploymentsDir?: string;
  journalDir?: string;
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

export async function deploymentStatus(hre: HardhatRuntimeEnvironment, options: StatusOptions = {}): Promise<string[]> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const network = hre.network.name;
  const envProblems = networkEnvProblems(network, env, { deployer: false });
  if (envProblems.length > 0) {
    throw new DeployError(`cannot read ${network}:\n  - ${envProblems.join("\n  - ")}\nSee .env.example.`);
  }
  const chainId = await connectedChainId(hre, env);
  const record = readDeployment(chainId, options.deploymentsDir);
  const provider = new BrowserProvider(hre.network.provider as Eip1193Provider, undefined, { cacheTimeout: -1 });
  const problems: string[] = [];
  const yes = (ok: boolean): string => (ok ? "yes" : "NO");

  log(`orderchain on ${network} (chain ${chainId})`);
  log(`  record     ${deploymentPath(chainId, options.deploymentsDir)}`);
  log(`  deployed   ${record.deployedAt} by ${record.deployer}, commit ${record.gitCommit}`);
  log(`  start block ${record.startBlock}`);
  log(`contracts`);
  for (const [name, c] of Object.entries(record.contracts)) {
    const code = await provider.getCode(c.address);
    const has = code !== "0x";
    if (!has) problems.push(`${name} has no code at ${c.address}`);
    log(
      `  ${name.padEnd(15)} ${c.address}  code: ${has ? `yes (${(code.length - 2) / 2} bytes)` : "NO"}  block ${c.blockNumber}`,
    );
  }
  if (problems.length > 0) {
    log(`The recorded contracts are missing on this chain (a restarted local node?). Deploy again.`);
    return problems;
  }

  const { escrow, inventory, forwarder } = connectDeployment(record, provider);
  log(`roles (on chain)`);
  const members: [string, string, string[]][] = [
    ["admin", ROLES.DEFAULT_ADMIN_ROLE, [record.roles.admin]],
    ["operator", ROLES.OPERATOR_ROLE, record.roles.operators],
    ["arbiter", ROLES.ARBITER_ROLE, record.roles.arbiters],
    ["pauser", ROLES.PAUSER_ROLE, record.roles.pausers],
  ];
  for (const [label, role, accounts] of members) {
    for (const a of accounts) {
      const holds = await escrow.hasRole(role, a);
      if (!holds) problems.push(`${a} does not hold the ${label} role`);
      log(`  ${label.padEnd(9)} ${a}  ${yes(holds)}`);
    }
  }
  log(`settings (on chain)`);
  const feeBps = Number(await escrow.feeBps());
  const feeRecipient = await escrow.feeRecipient();
  if (feeBps !== record.settings.feeBps)
    problems.push(`feeBps is ${feeBps} on chain, ${record.settings.feeBps} in the record`);
  if (feeRecipient !== record.settings.feeRecipient) problems.push(`feeRecipient is ${feeRecipient} on chain`);
  log(`  fee        ${feeBps} bps to ${feeRecipient}`);
  log(`  paused     ${(await escrow.paused()) ? "YES" : "no"}`);
  log(`  inventory  ${await escrow.inventory()} (escrow of inventory: ${await inventory.escrow()})`);
  log(`  forwarder  trusted by escrow: ${yes(await escrow.isTrustedForwarder(await forwarder.getAddress()))}`);
  for (const t of record.settings.tokens) {
    const allowed = await escrow.isTokenAllowed(t);
    if (!allowed) problems.push(`token ${t} is not accepted on chain`);
    log(`  token      ${t}${t === ZeroAddress ? " (native)" : ""}  accepted: ${yes(allowed)}`);
  }
  const journalDir = path.join(
    path.resolve(
      options.journalDir ??
        (env.IGNITION_DEPLOYMENTS_DIR?.trim() || path.join(hre.config.paths.ignition, "deployments")),
    ),
    `chain-${chainId}`,
  );
  const journal = readJournal(journalDir);
  log(`journal      ${journal.exists ? `${journal.completed.size} steps completed (${journalDir})` : "none"}`);
  log(problems.length === 0 ? `OK: deployment is live and as recorded` : `Problems:\n  - ${problems.join("\n  - ")}`);
  return problems;
}
