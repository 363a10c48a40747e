import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, Wallet, ZeroAddress, id as keccakText, ZeroHash } from "ethers";
import { readDeployment, connectDeployment, type DeploymentRecord } from "../../deploy/record";
import { MockStablecoin__factory } from "../../typechain-types/factories/contracts/mocks/MockStablecoin__factory";
import { KEYS, LocalNode, runHardhat, scratchDirs, testnetEnv } from "./support/localNode";

const OPERATOR_ROLE = keccakText("OPERATOR_ROLE");
const ARBITER_ROLE = keccakText("ARBITER_ROLE");
const PAUSER_ROLE = keccakText("PAUSER_ROLE");

describe("deploy: to a node used as a testnet (env-only network entry)", function () {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dirs: ReturnType<typeof scratchDirs>;
  let env: Record<string, string | undefined>;
  let params: {
    admin: string;
    adminDelay: number;
    feeRecipient: string;
    feeBps: number;
    operators: string[];
    arbiters: string[];
    pausers: string[];
    tokens: string[];
  };
  let record: DeploymentRecord;
  const account = (i: number) => new Wallet(KEYS[i]).address;

  before(async function () {
    node = await LocalNode.start();
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    dirs = scratchDirs();
    // An ERC-20 that exists before the deployment, to be accepted through the parameters.
    const outsider = new Wallet(KEYS[8], provider);
    const usdc = await new MockStablecoin__factory(outsider).deploy();
    await usdc.waitForDeployment();
    params = {
      admin: account(9),
      adminDelay: 3600,
      feeRecipient: account(1),
      feeBps: 250,
      operators: [account(4), account(5)],
      arbiters: [account(2)],
      pausers: [account(3)],
      tokens: [await usdc.getAddress()],
    };
    const file = path.join(dirs.root, "parameters.json");
    fs.writeFileSync(file, JSON.stringify(params, null, 2));
    env = testnetEnv(node, dirs, { DEPLOY_PARAMETERS: file });
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  it("deploys every contract, wires roles and settings as the parameters say, and writes the record", async function () {
    const run = await runHardhat(["deploy", "--network", "testnet", "--no-compile"], env);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.match(/\[1\/\d+\] deploy /);
    expect(run.stdout).to.match(/sent 0x[0-9a-f]{64}, waiting for 1 confirmation/);

    record = readDeployment(31337, dirs.records);
    expect(record.network).to.equal("testnet");
    expect(record.deployer).to.equal(account(0));
    expect(record.gitCommit).to.match(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    for (const [name, c] of Object.entries(record.contracts)) {
      expect(await provider.getCode(c.address), `${name} code`).to.not.equal("0x");
      const receipt = await provider.getTransactionReceipt(c.txHash);
      expect(receipt?.blockNumber, `${name} block`).to.equal(c.blockNumber);
    }
    expect(record.contracts.MockStablecoin, "local chain gets the mock stablecoin").to.not.equal(undefined);
    expect(record.startBlock).to.equal(Math.min(...Object.values(record.contracts).map((c) => c.blockNumber)));

    const { escrow, inventory } = connectDeployment(record, provider);
    expect(await inventory.escrow()).to.equal(record.contracts.PaymentEscrow.address);
    expect(await escrow.isTrustedForwarder(record.contracts.Forwarder.address)).to.equal(true);
    // AccessControlDefaultAdminRules: the deployer stays admin until the parameters' admin accepts the transfer
    // the deployment started, once the delay has passed.
    expect(await escrow.defaultAdmin()).to.equal(account(0));
    expect(await escrow.hasRole(ZeroHash, params.admin), "not before accepting").to.equal(false);
    const [pendingAdmin, schedule] = await escrow.pendingDefaultAdmin();
    expect(pendingAdmin).to.equal(params.admin);
    expect(await escrow.defaultAdminDelay()).to.equal(3600n);
    const started = await provider.getBlock("latest");
    expect(Number(schedule)).to.be.within(started!.timestamp + 3600 - 60, started!.timestamp + 3600);
    for (const op of params.operators) expect(await escrow.hasRole(OPERATOR_ROLE, op)).to.equal(true);
    expect(await escrow.hasRole(OPERATOR_ROLE, account(6))).to.equal(false);
    expect(await escrow.hasRole(ARBITER_ROLE, params.arbiters[0]), "granted by the constructor").to.equal(true);
    expect(await escrow.hasRole(PAUSER_ROLE, params.pausers[0])).to.equal(true);
    expect(await escrow.feeBps()).to.equal(250n);
    expect(await escrow.feeRecipient()).to.equal(params.feeRecipient);
    expect(await escrow.isTokenAllowed(params.tokens[0])).to.equal(true);
    expect(await escrow.isTokenAllowed(record.contracts.MockStablecoin!.address)).to.equal(true);

    expect(record.roles).to.deep.equal({
      admin: account(0),
      pendingAdmin: { account: params.admin, acceptAfter: new Date(Number(schedule) * 1000).toISOString() },
      operators: params.operators,
      arbiters: params.arbiters,
      pausers: params.pausers,
    });
    expect(record.settings).to.deep.equal({
      feeBps: 250,
      feeRecipient: params.feeRecipient,
      tokens: [
        ZeroAddress,
        record.contracts.MockStablecoin!.address,
        record.contracts.UsdcLike!.address,
        record.contracts.UsdtLike!.address,
        params.tokens[0],
      ],
      adminDelay: 3600,
    });
    expect(run.stdout).to.include(`admin ${params.admin} (the deployment starts the transfer`);
    expect(run.stdout).to.include(`npx hardhat deploy:accept-admin --network testnet`);
  });

  it("changes nothing and says so when run again on a complete deployment", async function () {
    const file = path.join(dirs.records, "31337.json");
    const before = fs.readFileSync(file, "utf8");
    const nonce = await provider.getTransactionCount(account(0));
    const run = await runHardhat(["deploy", "--network", "testnet", "--no-compile"], env);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.include("Nothing changed");
    expect(run.stdout).to.not.match(/sent 0x/);
    expect(await provider.getTransactionCount(account(0))).to.equal(nonce);
    expect(fs.readFileSync(file, "utf8")).to.equal(before);
  });

  it("prints each contract's address, code presence, roles and settings with deploy:status", async function () {
    const run = await runHardhat(["deploy:status", "--network", "testnet", "--no-compile"], {
      ...env,
      DEPLOYER_PRIVATE_KEY: undefined, // reading needs no key
    });
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    for (const [name, c] of Object.entries(record.contracts)) {
      expect(run.stdout).to.match(new RegExp(`${name}\\s+${c.address}\\s+code: yes`));
    }
    expect(run.stdout).to.include(`operator  ${params.operators[0]}  yes`);
    expect(run.stdout).to.include(`fee        250 bps to ${params.feeRecipient}`);
    expect(run.stdout).to.include(`admin     ${account(0)}  (defaultAdmin() = owner(); holds DEFAULT_ADMIN_ROLE: yes)`);
    expect(run.stdout).to.match(new RegExp(`pending   ${params.admin}  can accept after \\S+Z \\(in `));
    expect(run.stdout).to.include("delay     1 h between starting and accepting a transfer");
    expect(run.stdout).to.include("OK: deployment is live and as recorded");
  });

  it("deploy:accept-admin: refused before the delay and for another account, then the new admin accepts", async function () {
    this.timeout(420_000); // six command runs, each a Hardhat process
    const accept = ["deploy:accept-admin", "--network", "testnet", "--no-compile"];
    const file = path.join(dirs.records, "31337.json");
    const early = await runHardhat(accept, { ...env, DEPLOYER_PRIVATE_KEY: undefined, ADMIN_PRIVATE_KEY: KEYS[9] });
    expect(early.code, early.stdout + early.stderr).to.equal(1);
    expect(early.stderr).to.match(new RegExp(`${params.admin} can accept the admin role only after \\S+Z \\(in `));
    expect(early.stderr).to.include("nothing was sent");

    await provider.send("evm_increaseTime", [3601]);
    await provider.send("evm_mine", []);
    // The deployer's key alone cannot accept: the command names the call for the admin's own wallet.
    const nonce = await provider.getTransactionCount(account(0));
    const wrong = await runHardhat(accept, env);
    expect(wrong.code, wrong.stdout + wrong.stderr).to.equal(1);
    expect(wrong.stderr).to.include(`only ${params.admin} can accept the admin role`);
    expect(wrong.stderr).to.include("set ADMIN_PRIVATE_KEY to its private key");
    expect(wrong.stderr).to.include(`with data 0xcefc1429 (acceptDefaultAdminTransfer())`);
    expect(await provider.getTransactionCount(account(0))).to.equal(nonce);

    const ok = await runHardhat(accept, { ...env, DEPLOYER_PRIVATE_KEY: undefined, ADMIN_PRIVATE_KEY: KEYS[9] });
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.include(`${params.admin} is now the admin`);
    const { escrow } = connectDeployment(record, provider);
    expect(await escrow.defaultAdmin()).to.equal(params.admin);
    expect(await escrow.owner()).to.equal(params.admin);
    expect(await escrow.hasRole(ZeroHash, account(0)), "the deployer is no longer admin").to.equal(false);
    const [pendingAfter] = await escrow.pendingDefaultAdmin();
    expect(pendingAfter).to.equal(ZeroAddress);
    const updated = readDeployment(31337, dirs.records);
    expect(updated.roles.admin).to.equal(params.admin);
    expect(updated.roles.pendingAdmin).to.equal(undefined);
    record = updated;
    expect(JSON.parse(fs.readFileSync(file, "utf8")).roles.admin).to.equal(params.admin);

    const status = await runHardhat(["deploy:status", "--network", "testnet", "--no-compile"], {
      ...env,
      DEPLOYER_PRIVATE_KEY: undefined,
    });
    expect(status.code, status.stdout + status.stderr).to.equal(0);
    expect(status.stdout).to.include(`admin     ${params.admin}`);
    expect(status.stdout).to.include("pending   none");

    // A rerun with the same parameters recognises the accepted handover: nothing to send, the record kept.
    const again = await runHardhat(["deploy", "--network", "testnet", "--no-compile"], env);
    expect(again.code, again.stdout + again.stderr).to.equal(0);
    expect(again.stdout).to.not.match(/sent 0x/);
    expect(readDeployment(31337, dirs.records).roles.admin).to.equal(params.admin);

    const twice = await runHardhat(accept, { ...env, DEPLOYER_PRIVATE_KEY: undefined, ADMIN_PRIVATE_KEY: KEYS[9] });
    expect(twice.code).to.equal(1);
    expect(twice.stderr).to.include(
      `no transfer of the admin role is pending on chain 31337: the admin is ${params.admin}`,
    );
  });

  it("loads the record outside Hardhat as typed contracts that read and send on the node", async function () {
    const loaded = readDeployment(31337, dirs.records);
    const merchant = new Wallet(KEYS[7], provider);
    const { escrow, inventory, forwarder, stablecoin } = connectDeployment(loaded, merchant);
    expect(stablecoin).to.not.equal(undefined);
    expect(await escrow.feeBps()).to.equal(BigInt(loaded.settings.feeBps));
    expect(await forwarder.getAddress()).to.equal(loaded.contracts.Forwarder.address);

    await (await inventory.createSku(merchant.address, "ipfs://deploy-test-sku")).wait();
    const sku = await inventory.skuId(merchant.address, 1);
    await (await inventory.mintStock([sku], [5n])).wait();
    expect(await inventory.balanceOf(merchant.address, sku)).to.equal(5n);
    await (await stablecoin!.mint(merchant.address, 1_000_000n)).wait();
    expect(await stablecoin!.balanceOf(merchant.address)).to.equal(1_000_000n);
    await (await escrow.setOperatorApproval(params.operators[0], true)).wait();
    expect(await escrow.isOperatorApproved(merchant.address, params.operators[0])).to.equal(true);
  });

  it("refuses a chain whose record was made from other bytecode, and starts anew with --reset", async function () {
    const file = path.join(dirs.records, "31337.json");
    const changed = JSON.parse(fs.readFileSync(file, "utf8")) as DeploymentRecord;
    changed.contracts.PaymentEscrow.bytecodeHash = keccakText("an older PaymentEscrow");
    fs.writeFileSync(file, JSON.stringify(changed, null, 2));
    const nonce = await provider.getTransactionCount(account(0));

    const refused = await runHardhat(["deploy", "--network", "testnet", "--no-compile"], env);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include("built from different bytecode: PaymentEscrow changed");
    expect(refused.stderr).to.include("--reset");
    expect(await provider.getTransactionCount(account(0)), "nothing sent").to.equal(nonce);

    const reset = await runHardhat(["deploy", "--network", "testnet", "--no-compile", "--reset"], env);
    expect(reset.code, reset.stdout + reset.stderr).to.equal(0);
    const fresh = readDeployment(31337, dirs.records);
    expect(fresh.contracts.PaymentEscrow.address).to.not.equal(record.contracts.PaymentEscrow.address);
    expect(await provider.getCode(fresh.contracts.PaymentEscrow.address)).to.not.equal("0x");
    expect(fresh.startBlock).to.be.greaterThan(record.startBlock);
  });
});
