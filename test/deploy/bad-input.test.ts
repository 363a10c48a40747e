import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";
import { LocalNode, runHardhat, scratchDirs, testnetEnv, type CliResult } from "./support/localNode";

const DEPLOY = ["deploy", "--network", "testnet", "--no-compile"];

describe("deploy: bad input is refused by name before anything is sent", function () {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dirs: ReturnType<typeof scratchDirs>;
  let blockBefore: number;

  before(async function () {
    node = await LocalNode.start();
    provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    dirs = scratchDirs();
    blockBefore = await provider.getBlockNumber();
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  /** Exit code 1, the message on stderr, and no trace anywhere: no block, no record, no journal. */
  async function expectRefused(run: CliResult, ...messages: string[]): Promise<void> {
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    for (const m of messages) expect(run.stderr).to.include(m);
    expect(run.stderr, "a message, not a stack trace").to.not.match(/\n\s+at /);
    expect(await provider.getBlockNumber(), "nothing was sent").to.equal(blockBefore);
    expect(fs.existsSync(dirs.records), "no record").to.equal(false);
    expect(fs.existsSync(dirs.journals), "no journal").to.equal(false);
  }

  const writeParams = (name: string, text: string): string => {
    const file = path.join(dirs.root, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it("names an unknown network", async function () {
    const run = await runHardhat(["deploy", "--network", "moonbase", "--no-compile"], testnetEnv(node, dirs));
    expect(run.code).to.not.equal(0);
    expect(run.stdout + run.stderr).to.include("Network moonbase doesn't exist");
    expect(await provider.getBlockNumber()).to.equal(blockBefore);
  });

  it("names every missing or malformed env variable at once", async function () {
    const run = await runHardhat(
      DEPLOY,
      testnetEnv(node, dirs, {
        DEPLOYER_PRIVATE_KEY: undefined,
        TESTNET_CHAIN_ID: "sepolia",
        ADMIN_PRIVATE_KEY: "0x12",
      }),
    );
    await expectRefused(
      run,
      "DEPLOYER_PRIVATE_KEY is not set",
      'TESTNET_CHAIN_ID is not a positive integer: "sepolia"',
      "ADMIN_PRIVATE_KEY is not a 32-byte hex private key",
    );
  });

  it("names a malformed deployer key", async function () {
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { DEPLOYER_PRIVATE_KEY: "0x1234" }));
    await expectRefused(run, "DEPLOYER_PRIVATE_KEY is not a 32-byte hex private key");
  });

  it("refuses an endpoint whose chain id differs from the configured one", async function () {
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { TESTNET_CHAIN_ID: "84532" }));
    await expectRefused(
      run,
      "wrong chain id: network testnet expects chain 84532 (TESTNET_CHAIN_ID)",
      "is chain 31337",
    );
  });

  it("refuses an unfunded deployer", async function () {
    const unfunded = Wallet.createRandom();
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { DEPLOYER_PRIVATE_KEY: unfunded.privateKey }));
    await expectRefused(run, `the deployer ${unfunded.address} has no funds on chain 31337`);
  });

  it("names a parameter file that is not JSON", async function () {
    const file = writeParams("broken.json", '{ "operators": [');
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { DEPLOY_PARAMETERS: file }));
    await expectRefused(run, `parameter file ${file} is not valid JSON`);
  });

  it("names every invalid value of a parameter file", async function () {
    const file = writeParams(
      "invalid.json",
      JSON.stringify({ operator: [], operators: ["0x123"], feeBps: 5000, arbiters: "0xabc" }),
    );
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { DEPLOY_PARAMETERS: file }));
    await expectRefused(
      run,
      `${file}: unknown key "operator"`,
      `${file}: "operators"[0] is not an address: "0x123"`,
      `${file}: "feeBps" must be an integer from 0 to 1000`,
      `${file}: "arbiters" must be a list of addresses`,
    );
  });

  it("names an admin delay that is not a number of seconds, and an empty list of arbiters", async function () {
    const file = writeParams("delay.json", JSON.stringify({ adminDelay: "2 days", arbiters: [] }));
    const run = await runHardhat(DEPLOY, testnetEnv(node, dirs, { DEPLOY_PARAMETERS: file }));
    await expectRefused(
      run,
      `${file}: "adminDelay" must be a whole number of seconds from 0 to 2592000 (30 days): "2 days"`,
      `${file}: "arbiters" is empty: a deployment needs at least one arbiter`,
    );
    // Milliseconds by mistake: two days in ms is far beyond the 30-day cap.
    const fromEnv = await runHardhat(DEPLOY, testnetEnv(node, dirs, { ADMIN_TRANSFER_DELAY_SECONDS: "172800000" }));
    await expectRefused(
      fromEnv,
      'ADMIN_TRANSFER_DELAY_SECONDS must be a whole number of seconds from 0 to 2592000 (30 days): "172800000"',
    );
  });

  it("names the missing explorer key for verification, and refuses to verify on a local chain", async function () {
    const noKey = await runHardhat(["deploy:verify", "--network", "testnet", "--no-compile"], testnetEnv(node, dirs));
    await expectRefused(noKey, "ETHERSCAN_API_KEY is not set");
    const local = await runHardhat(
      ["deploy:verify", "--network", "testnet", "--no-compile"],
      testnetEnv(node, dirs, { ETHERSCAN_API_KEY: "key" }),
    );
    await expectRefused(local, "chain 31337 (testnet) is a local chain: it has no explorer to verify on");
  });
});
