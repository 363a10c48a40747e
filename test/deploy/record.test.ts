import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import {
  DeploymentRecordError,
  readDeployment,
  validateDeployment,
  writeDeployment,
  type DeploymentRecord,
} from "../../deploy/record";

const ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const HASH = `0x${"ab".repeat(32)}`;

function sampleRecord(): DeploymentRecord {
  const contract = (artifact: string) => ({ address: ADDRESS, artifact, blockNumber: 3, txHash: HASH });
  return {
    chainId: 84532,
    network: "baseSepolia",
    deployer: ADDRESS,
    gitCommit: "0123456789abcdef0123456789abcdef01234567",
    deployedAt: "2025-01-01T00:00:00.000Z",
    startBlock: 3,
    contracts: {
      Forwarder: contract("contracts/Forwarder.sol:Forwarder"),
      PaymentEscrow: contract("contracts/PaymentEscrow.sol:PaymentEscrow"),
      InventoryToken: contract("contracts/InventoryToken.sol:InventoryToken"),
    },
    roles: { admin: ADDRESS, operators: [ADDRESS], arbiters: [ADDRESS], pausers: [ADDRESS] },
    settings: { feeBps: 100, feeRecipient: ADDRESS, tokens: [ZeroAddress], adminDelay: 172_800 },
  };
}

describe("deploy: the record file", function () {
  let dir: string;
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-record-test-"));
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("round-trips a record written for a chain id", function () {
    const file = writeDeployment(sampleRecord(), dir);
    expect(file).to.equal(path.join(dir, "84532.json"));
    expect(readDeployment(84532, dir)).to.deep.equal(sampleRecord());
  });

  it("says which file is missing and how to create it", function () {
    expect(() => readDeployment(11155111, dir))
      .to.throw(DeploymentRecordError)
      .with.property("message")
      .that.includes(`${path.join(dir, "11155111.json")} does not exist`)
      .and.includes("npm run deploy -- --network");
  });

  it("names the malformed fields of a record", function () {
    const bad = sampleRecord() as unknown as Record<string, any>;
    bad.contracts.PaymentEscrow.address = "0x12";
    delete bad.contracts.InventoryToken;
    bad.roles.operators = "nobody";
    bad.settings.feeBps = -1;
    bad.settings.adminDelay = "2 days";
    bad.roles.pendingAdmin = { account: "nobody", acceptAfter: "soon" };
    fs.writeFileSync(path.join(dir, "84532.json"), JSON.stringify(bad));
    expect(() => readDeployment(84532, dir))
      .to.throw(DeploymentRecordError)
      .with.property("message")
      .that.includes('contracts.PaymentEscrow.address is not an address ("0x12")')
      .and.includes("contracts.InventoryToken is missing")
      .and.includes("roles.operators is not a list of addresses")
      .and.includes("settings.feeBps is not an integer")
      .and.includes("settings.adminDelay is not a number of seconds")
      .and.includes('roles.pendingAdmin.account is not an address ("nobody")')
      .and.includes("roles.pendingAdmin.acceptAfter is not an ISO date");
  });

  it("refuses a file that is not JSON or belongs to another chain", function () {
    fs.writeFileSync(path.join(dir, "84532.json"), "{ not json");
    expect(() => readDeployment(84532, dir)).to.throw(DeploymentRecordError, "is not valid JSON");
    fs.writeFileSync(path.join(dir, "1.json"), JSON.stringify(sampleRecord()));
    expect(() => readDeployment(1, dir)).to.throw(DeploymentRecordError, "chainId is 84532, expected 1");
  });

  it("accepts a record without the optional mock stablecoin and reports nothing", function () {
    expect(validateDeployment(sampleRecord())).to.deep.equal([]);
  });

  it("round-trips a pending transfer of the admin role", function () {
    const pending = sampleRecord();
    pending.roles.pendingAdmin = { account: ADDRESS, acceptAfter: "2025-01-03T00:00:00.000Z" };
    expect(validateDeployment(pending)).to.deep.equal([]);
    writeDeployment(pending, dir);
    expect(readDeployment(84532, dir).roles.pendingAdmin).to.deep.equal(pending.roles.pendingAdmin);
  });
});
