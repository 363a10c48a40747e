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
    expect(await escrow.hasRole(ZeroHash, params.admin)).to.equal(true);
    expect(await escrow.hasRole(ZeroHash, account(0)), "deployer renounced admin").to.equal(false);
    for (const op of params.operators) expect(await escrow.hasRole(OPERATOR_ROLE, op)).to.equal(true);
    expect(await escrow.hasRole(OPERATOR_ROLE, account(6))).to.equal(false);
    expect(await escrow.hasRole(ARBITER_ROLE, params.arbiters[0])).to.equal(true);
    expect(await escrow.hasRole(PAUSER_ROLE, params.pausers[0])).to.equal(true);
    expect(await escrow.feeBps()).to.equal(250n);
    expect(await escrow.feeRecipient()).to.equal(params.feeRecipient);
    expect(await escrow.isTokenAllowed(params.tokens[0])).to.equal(true);
    expect(await escrow.isTokenAllowed(record.contracts.MockStablecoin!.address)).to.equal(true);

    expect(record.roles).to.deep.equal({
      admin: params.admin,
      operators: params.operators,
      arbiters: params.arbiters,
      pausers: params.pausers,
    });
    expect(record.settings).to.deep.equal({
      feeBps: 250,
      feeRecipient: params.feeRecipient,
      tokens: [ZeroAddress, record.contracts.MockStablecoin!.address, params.tokens[0]],
    });
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
    expect(run.stdout).to.include("OK: deployment is live and as recorded");
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
