/**
 * `npx hardhat deploy:accept-admin --network <name>`: the second step of handing the escrow's admin role to the
 * `admin` of the parameters. The escrow uses OpenZeppelin's AccessControlDefaultAdminRules: DEFAULT_ADMIN_ROLE has
 * one holder (`defaultAdmin()`, also `owner()`), the deployment started the transfer with
 * `beginDefaultAdminTransfer(admin)`, and only that address can finish it, with `acceptDefaultAdminTransfer()`,
 * once the delay has passed. This command checks all of that, sends the call from the new admin's account and
 * updates the deployment record.
 *
 * The new admin's account: on a local node one of its unlocked accounts; on other networks ADMIN_PRIVATE_KEY (or
 * DEPLOYER_PRIVATE_KEY when it is the same key). An admin that is a multisig or a hardware wallet sends the same
 * call from there instead: a transaction to the escrow with the data this command prints.
 */
import { BrowserProvider, getAddress, id as keccakText, type Eip1193Provider } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { connectedChainId, formatDelay, parseConfirmations } from "./deploy";
import { DeployError } from "./errors";
import { ADMIN_KEY_VAR, isLocalChain, networkEnvProblems } from "./networks";
import { connectDeployment, deploymentPath, readAdminState, readDeployment, writeDeployment } from "./record";

/** Calldata of `acceptDefaultAdminTransfer()`: the 4-byte selector, no arguments. */
export const ACCEPT_ADMIN_CALLDATA = keccakText("acceptDefaultAdminTransfer()").slice(0, 10);

export interface AcceptAdminOptions {
  deploymentsDir?: string;
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

/** Accepts the pending admin transfer; throws a DeployError naming what is missing or when it becomes possible. */
export async function acceptAdmin(hre: HardhatRuntimeEnvironment, options: AcceptAdminOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const network = hre.network.name;
  const envProblems = networkEnvProblems(network, env, { deployer: false });
  if (envProblems.length > 0) {
    throw new DeployError(`cannot use ${network}:\n  - ${envProblems.join("\n  - ")}\nSee .env.example.`);
  }
  const chainId = await connectedChainId(hre, env);
  const record = readDeployment(chainId, options.deploymentsDir);
  const provider = new BrowserProvider(hre.network.provider as Eip1193Provider, undefined, { cacheTimeout: -1 });
  const { escrow } = connectDeployment(record, provider);
  const escrowAddress = record.contracts.PaymentEscrow.address;
  if ((await provider.getCode(escrowAddress)) === "0x") {
    throw new DeployError(`no PaymentEscrow at ${escrowAddress} on chain ${chainId}; deploy first`);
  }
  const state = await readAdminState(escrow);
  const recordFile = deploymentPath(chainId, options.deploymentsDir);

  if (!state.pending) {
    if (record.roles.pendingAdmin && state.admin === record.roles.pendingAdmin.account) {
      record.roles.admin = state.admin;
      delete record.roles.pendingAdmin;
      writeDeployment(record, options.deploymentsDir);
      log(`${state.admin} already accepted the admin role; record updated (${recordFile}).`);
      return;
    }
    throw new DeployError(
      `no transfer of the admin role is pending on chain ${chainId}: the admin is ${state.admin}. ` +
        `A transfer is started by the deployment (parameter "admin") or by the admin with beginDefaultAdminTransfer.`,
    );
  }

  const { account, schedule } = state.pending;
  const now = (await provider.getBlock("latest"))!.timestamp;
  const after = new Date(schedule * 1000).toISOString();
  log(`Admin of PaymentEscrow ${escrowAddress} on ${network} (chain ${chainId}): ${state.admin}`);
  log(`  pending transfer to ${account}, acceptable after ${after} (delay ${formatDelay(state.delay)})`);
  if (now <= schedule) {
    throw new DeployError(
      `${account} can accept the admin role only after ${after} (in ${formatDelay(schedule - now + 1)} by the ` +
        `chain's clock); nothing was sent. Run this command again then.`,
    );
  }

  const accounts = ((await hre.network.provider.request({ method: "eth_accounts" })) as string[]).map((a) =>
    getAddress(a),
  );
  if (!accounts.includes(account)) {
    // Remote network entries sign with the keys of the env; localhost and hardhat with the node's own accounts.
    const hint = network === "localhost" || network === "hardhat" ? "" : `set ${ADMIN_KEY_VAR} to its private key, or `;
    throw new DeployError(
      `only ${account} can accept the admin role, and it is not an account of network ${network}` +
        ` (${accounts.join(", ") || "none"}): ${hint}send from its wallet a transaction to ${escrowAddress} ` +
        `with data ${ACCEPT_ADMIN_CALLDATA} (acceptDefaultAdminTransfer()). Nothing was sent.`,
    );
  }

  const signer = await provider.getSigner(account);
  const tx = await escrow.connect(signer).acceptDefaultAdminTransfer();
  const confirmations = isLocalChain(chainId) ? 1 : parseConfirmations(env.DEPLOY_CONFIRMATIONS);
  log(`  sent acceptDefaultAdminTransfer() from ${account}: ${tx.hash}, waiting for ${confirmations} confirmation(s)`);
  const receipt = await tx.wait(confirmations);
  if (!receipt || receipt.status !== 1) throw new DeployError(`transaction ${tx.hash} failed`);
  const after2 = await readAdminState(escrow);
  if (after2.admin !== account) {
    throw new DeployError(`after ${tx.hash} the admin is ${after2.admin}, not ${account}`);
  }
  record.roles.admin = account;
  delete record.roles.pendingAdmin;
  writeDeployment(record, options.deploymentsDir);
  log(`${account} is now the admin (block ${receipt.blockNumber}); record updated (${recordFile}).`);
}
