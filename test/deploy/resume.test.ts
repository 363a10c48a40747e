import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";
import { readDeployment } from "../../deploy/record";
import { KEYS, LocalNode, runHardhat, scratchDirs, startHardhat, testnetEnv } from "./support/localNode";

const DEPLOY = ["deploy", "--network", "testnet", "--no-compile"];
/**
 * Transactions of a deployment with the local parameters: 5 contracts (escrow, forwarder and the three local
 * stablecoins: MockStablecoin, UsdcLike, UsdtLike), accept the three stablecoins, 5 role grants (4 operators, 1
 * pauser; the arbiter comes with the escrow's constructor). The admin stays the deployer: no handover.
 */
const DEPLOYMENT_TRANSACTIONS = 13;

describe("deploy: interrupted runs and restarted local chains", function () {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dirs: ReturnType<typeof scratchDirs>;
  let env: Record<string, string | undefined>;
  const deployer = new Wallet(KEYS[0]).address;

  before(async function () {
    node = await LocalNode.start();
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    dirs = scratchDirs();
    env = testnetEnv(node, dirs);
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  it("resumes a run killed after its first transaction and completes without sending anything twice", async function () {
    const first = startHardhat(DEPLOY, env);
    const confirmed = await first.waitForLine(/confirmed 0x[0-9a-f]{64}/);
    first.child.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.code).to.not.equal(0);
    const firstHash = confirmed.match(/0x[0-9a-f]{64}/)![0];

    expect(fs.existsSync(path.join(dirs.records, "31337.json")), "no record for an unfinished deployment").to.equal(
      false,
    );
    const journal = fs.readFileSync(path.join(dirs.journals, "chain-31337", "journal.jsonl"), "utf8");
    expect(journal, "the sent transaction is journaled").to.include(firstHash);
    const sentBeforeKill = await provider.getTransactionCount(deployer);
    expect(sentBeforeKill).to.be.greaterThan(0).and.lessThan(DEPLOYMENT_TRANSACTIONS);

    const resumed = await runHardhat(DEPLOY, env);
    expect(resumed.code, resumed.stdout + resumed.stderr).to.equal(0);
    expect(resumed.stdout).to.include("Resuming an interrupted deployment");
    expect(resumed.stdout).to.not.include(`sent ${firstHash}`);

    const record = readDeployment(31337, dirs.records);
    const txHashes = Object.values(record.contracts).map((c) => c.txHash);
    expect(txHashes, "the first transaction is part of the final deployment").to.include(firstHash);
    for (const c of Object.values(record.contracts)) expect(await provider.getCode(c.address)).to.not.equal("0x");
    expect(await provider.getTransactionCount(deployer), "every step sent exactly once").to.equal(
      DEPLOYMENT_TRANSACTIONS,
    );
  });

  it("deploys afresh, with a message, when the local chain was restarted since the record was written", async function () {
    const before = readDeployment(31337, dirs.records);
    await node.stop();
    await node.start(); // same port, empty chain
    expect(await provider.getCode(before.contracts.PaymentEscrow.address)).to.equal("0x");

    const run = await runHardhat(DEPLOY, env);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.include("the local chain was restarted");
    const after = readDeployment(31337, dirs.records);
    for (const c of Object.values(after.contracts)) expect(await provider.getCode(c.address)).to.not.equal("0x");
    expect(await provider.getTransactionCount(deployer)).to.equal(DEPLOYMENT_TRANSACTIONS);
  });
});
