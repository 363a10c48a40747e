/**
 * One call the node estimates above the per-transaction gas cap (EIP-7825) cannot be split: it fails with
 * GasAboveTransactionCap instead of going out with a limit it must run out of. Below the cap, the estimate's
 * margin is trimmed to the cap. Same bench as submitter.test.ts.
 */
import { expect } from "chai";
import { Transaction } from "ethers";
import { TX_GAS_CAP } from "../../relayer/src/chain/submitter/gas";
import { ADDRESSES, SubmitterBench, useSubmitterBench, callData } from "./support/submitterBench";

describe("a call above the per-transaction gas cap (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  useSubmitterBench((bench) => (b = bench));

  const sentGasLimits = () => b.node.broadcasts.map((raw) => Transaction.from(raw).gasLimit);

  it("a stock addition estimated above the cap fails GasAboveTransactionCap through its job, and nothing is sent", async () => {
    await b.start();
    b.jobs.prepare = (cmd) => ({ type: "tx", to: ADDRESSES.inventory, data: callData(cmd), kind: "add_stock" });
    b.node.estimate = TX_GAS_CAP + 1n;
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    expect(b.node.broadcasts).to.have.length(0);
    const [cmd] = await b.commands();
    expect(cmd).to.include({ status: "failed", error_code: "GasAboveTransactionCap" });
    expect(cmd.error_message).to.match(/needs 16000001 gas/);
    expect(b.jobs.failed).to.deep.equal([{ id, code: "GasAboveTransactionCap", inTx: true }]);
  });

  it("a single escrow call whose bound is above the cap is estimated; above the cap it fails, nothing is sent for it, and the next call goes out", async () => {
    await b.start({ batchSize: 1 });
    const [big, small] = await b.enqueue(2);
    b.jobs.prepare = (cmd) => ({
      type: "escrow",
      data: callData(cmd),
      gasBound: cmd.id === big ? TX_GAS_CAP * 2n : 50_000n,
    });
    b.node.estimate = TX_GAS_CAP + 1n;
    await b.writer.submitTick();
    b.node.estimate = 100_000n;
    await b.writer.submitTick();
    await b.settle();
    const byId = Object.fromEntries((await b.commands()).map((c) => [c.id, c]));
    expect(byId[big]).to.include({ status: "failed", error_code: "GasAboveTransactionCap" });
    expect(byId[small].status).to.equal("confirmed");
    expect(sentGasLimits(), "one transaction, the small call's").to.deep.equal([60_000n + 50_000n]);
  });

  it("a call estimated just below the cap goes out with the cap as its limit: the margin is trimmed, the call fits", async () => {
    await b.start();
    b.jobs.prepare = (cmd) => ({ type: "tx", to: ADDRESSES.inventory, data: callData(cmd), kind: "add_stock" });
    b.node.estimate = TX_GAS_CAP - 1_000_000n;
    await b.enqueue(1);
    await b.writer.submitTick();
    expect(sentGasLimits()).to.deep.equal([TX_GAS_CAP]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);
  });
});
