import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { deploy } from "../../deploy/deploy";
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
  });
});
