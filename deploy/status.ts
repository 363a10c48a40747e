/**
 * `npm run deploy:status -- --network <name>`: for the network's chain, each recorded contract's address and
 * whether it has code, who holds which role and how the escrow is set, read from the chain and compared with
 * the record. Returns the problems found (none means the deployment is live and as recorded).
 *
 * The admin is read as AccessControlDefaultAdminRules keeps it: one `defaultAdmin()` (also `owner()`), a pending
 * transfer (`pendingDefaultAdmin()`: who, and from when it can be accepted) and the delay.
 */
import path from "node:path";
import { BrowserProvider, ZeroAddress, type Eip1193Provider } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { connectedChainId } from "./deploy";
import { DeployError } from "./errors";
import { readJournal } from "./journal";
import { ROLES } from "./modules/Orderchain";
import { networkEnvProblems } from "./networks";
import { formatDelay } from "./deploy";
import { connectDeployment, deploymentPath, readAdminState, readDeployment } from "./record";

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
  log(`admin (on chain; DEFAULT_ADMIN_ROLE is AccessControlDefaultAdminRules': one holder, moved in two steps)`);
  const admin = await readAdminState(escrow);
  const now = (await provider.getBlock("latest"))!.timestamp;
  const recordedPending = record.roles.pendingAdmin;
  const holds = await escrow.hasRole(ROLES.DEFAULT_ADMIN_ROLE, admin.admin);
  log(`  admin     ${admin.admin}  (defaultAdmin() = owner(); holds DEFAULT_ADMIN_ROLE: ${yes(holds)})`);
  if (admin.admin !== record.roles.admin) {
    if (recordedPending && admin.admin === recordedPending.account) {
      log(
        `            accepted the transfer recorded as pending; npm run deploy -- --network ${network} refreshes the record`,
      );
    } else {
      problems.push(`the escrow's admin is ${admin.admin} on chain, ${record.roles.admin} in the record`);
    }
  }
  if (admin.pending) {
    const when = new Date(admin.pending.schedule * 1000).toISOString();
    const wait = admin.pending.schedule - now;
    const ready =
      wait <= 0
        ? "can accept now (from the next block)"
        : `can accept after ${when} (in ${formatDelay(wait)}; the delay is still running)`;
    log(`  pending   ${admin.pending.account}  ${ready}`);
    log(`            accept: npx hardhat deploy:accept-admin --network ${network}  (as ${admin.pending.account}),`);
    log(`            or acceptDefaultAdminTransfer() on ${record.contracts.PaymentEscrow.address} from its wallet`);
    if (recordedPending?.account !== admin.pending.account && admin.admin === record.roles.admin)
      problems.push(`a transfer of the admin role to ${admin.pending.account} is pending on chain, not in the record`);
  } else {
    log(`  pending   none`);
    if (recordedPending && admin.admin !== recordedPending.account)
      problems.push(
        `the record has a pending admin transfer to ${recordedPending.account}, but none is pending on chain (cancelled?)`,
      );
  }
  log(`  delay     ${formatDelay(admin.delay)} between starting and accepting a transfer`);
  if (admin.delay !== record.settings.adminDelay)
    problems.push(`adminDelay is ${admin.delay} s on chain, ${record.settings.adminDelay} s in the record`);
  log(`roles (on chain)`);
  const members: [string, string, string[]][] = [
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
