import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { deploy } from "../../deploy/deploy";
import { ADMIN_TRANSFER_DELAY, WELL_KNOWN_ACCOUNTS, loadDeployPlan } from "../../deploy/parameters";
import { connectDeployment } from "../../deploy/record";

describe("deploy: programmatic entry on the in-process network", function () {
  let snapshot: string;
  let dir: string;
  before(async function () {
    snapshot = (await hre.network.provider.request({ method: "evm_snapshot" })) as string;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-inprocess-test-"));
  });
  after(async function () {
    await hre.network.provider.request({ method: "evm_revert", params: [snapshot] });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("returns a working record with the local parameters and writes no file", async function () {
    const lines: string[] = [];
    const record = await deploy(hre, { deploymentsDir: dir, log: (l) => lines.push(l), env: {} });
    expect(fs.readdirSync(dir)).to.deep.equal([]);
    expect(lines.join("\n")).to.include("record not written");
    expect(record.chainId).to.equal(31337);
    expect(record.roles.operators).to.have.length(4);
    expect(record.settings.feeBps).to.equal(100);
    const { escrow, stablecoin } = connectDeployment(record, hre.ethers.provider);
    expect(await escrow.isTokenAllowed(await stablecoin!.getAddress())).to.equal(true);
    expect(await escrow.hasRole(await escrow.ARBITER_ROLE(), record.roles.arbiters[0])).to.equal(true);
    expect(record.roles.arbiters, "well-known account #2").to.deep.equal([WELL_KNOWN_ACCOUNTS[2]]);
    // Locally the deployer stays admin and a later transfer needs no wait; real networks default to two days.
    expect(record.roles.admin).to.equal(record.deployer);
    expect(record.roles.pendingAdmin).to.equal(undefined);
    expect(await escrow.defaultAdmin()).to.equal(record.deployer);
    expect(await escrow.defaultAdminDelay()).to.equal(0n);
    expect(record.settings.adminDelay).to.equal(0);
  });

  it("plans a two-day admin delay and requires an arbiter on a chain that is not local", function () {
    const deployer = WELL_KNOWN_ACCOUNTS[0];
    const base = {
      FEE_RECIPIENT: WELL_KNOWN_ACCOUNTS[1],
      OPERATOR_ADDRESSES: WELL_KNOWN_ACCOUNTS[4],
      PAUSER_ADDRESSES: WELL_KNOWN_ACCOUNTS[3],
    };
    const input = { network: "sepolia", local: false, deployer, parametersDir: dir };
    expect(() => loadDeployPlan({ ...input, env: base })).to.throw(/"arbiters" is required on sepolia/);
    const { plan } = loadDeployPlan({ ...input, env: { ...base, ARBITER_ADDRESSES: WELL_KNOWN_ACCOUNTS[2] } });
    expect(plan.adminDelay)
      .to.equal(ADMIN_TRANSFER_DELAY)
      .and.to.equal(2 * 24 * 3600);
    const { plan: shorter } = loadDeployPlan({
      ...input,
      env: { ...base, ARBITER_ADDRESSES: WELL_KNOWN_ACCOUNTS[2], ADMIN_TRANSFER_DELAY_SECONDS: "86400" },
    });
    expect(shorter.adminDelay).to.equal(86_400);
  });
});
