/**
 * The submitter against nodes that are not a friendly automining Hardhat node: errors it has never seen, a
 * signer that runs out of ETH, base-fee spikes and stuck nonces. Same bench as submitter.test.ts.
 */
import { expect } from "chai";
import { Transaction, makeError } from "ethers";
import { classifyBroadcastError } from "../../relayer/src/chain/submitter/broadcast";
import { SECOND, SECOND_KEY, SIGNER, SIGNER_KEY, SubmitterBench, useSubmitterBench } from "./support/submitterBench";

const GWEI = 10n ** 9n;

describe("submitter against hostile and lagging nodes", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  useSubmitterBench((bench) => (b = bench));

  /** A few rounds of the writer's loops while the chain mines. */
  async function rounds(n: number, mine = true): Promise<void> {
    for (let i = 0; i < n; i++) {
      await b.dueNow();
      await b.writer.submitTick();
      if (mine) b.node.mine();
      await b.writer.trackTick();
    }
  }

  for (const [node, message, code] of [
    ["Nethermind", "AlreadyKnown", -32010],
    ["OpenEthereum", "Transaction with the same hash was already imported.", -32010],
    ["an unknown client", "internal error: txpool busy", -32603],
    ["a load-balanced node that had already mined it", "nonce too low: next nonce 1, tx nonce 0", -32000],
    ["geth, which queues a transaction above a gap", "nonce too high", -32000],
  ] as const) {
    it(`a node that took the transaction but answered an error the writer does not know (${node}: "${message}"): the nonce is not reused and the command runs once`, async () => {
      await b.start({ confirmations: 1 });
      const [id] = await b.enqueue(1);
      b.node.sendFaults.push({ code, message, taken: true });
      await b.writer.submitTick();
      await rounds(4);
      await new Promise((r) => setTimeout(r, 1_050));
      await rounds(3);
      expect(b.executions(id)).to.equal(1);
      expect(await b.statuses()).to.deep.equal(["confirmed"]);
      expect(b.node.nonceOf(SIGNER)).to.equal(1);
    });
  }

  it("a definite refusal the writer knows (transaction underpriced) still gives the nonce back", async () => {
    await b.start({ confirmations: 1 });
    const [id] = await b.enqueue(1);
    b.node.sendFaults.push({ code: -32000, message: "transaction underpriced" });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped"]);
    await rounds(2);
    expect(b.executions(id)).to.equal(1);
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["0", "confirmed"],
    ]);
  });

  it("a signer out of ETH pauses instead of looping: nothing is re-sent while it is dry, the command says why, and it lands once after re-funding", async () => {
    await b.start({ confirmations: 1, fundsRecheckMs: 0 });
    b.node.balances.set(SIGNER.toLowerCase(), 0n);
    const [id] = await b.enqueue(1);
    await b.writer.submitTick();
    const sentWhileDry = b.node.broadcasts.length;
    expect(sentWhileDry).to.equal(1);
    await rounds(5, false);
    expect(b.node.broadcasts.length, "no retries while the signer cannot pay").to.equal(sentWhileDry);
    const [cmd] = await b.commands();
    expect(cmd.status).to.equal("pending");
    expect(cmd.error_message).to.match(/out of funds/);
    expect(b.writer.signerStates()).to.deep.equal([{ signer: SIGNER, canPay: false, reason: "insufficient_funds" }]);
    expect(await b.metrics.registry.getSingleMetricAsString("relayer_signer_can_pay")).to.include(
      `relayer_signer_can_pay{signer="${SIGNER}"} 0`,
    );

    b.node.balances.delete(SIGNER.toLowerCase());
    await rounds(3);
    expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect(b.writer.signerStates()).to.deep.equal([{ signer: SIGNER, canPay: true, reason: null }]);
  });

  it("a dry signer's work moves to a signer that can pay", async () => {
    await b.start({ confirmations: 1, fundsRecheckMs: 60_000 }, [SIGNER_KEY, SECOND_KEY]);
    b.node.balances.set(SIGNER.toLowerCase(), 0n);
    const ids = await b.enqueue(3);
    await rounds(4);
    for (const id of ids) expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    const senders = new Set([...b.node.mined.values()].map((m) => m.tx.from));
    expect([...senders]).to.deep.equal([SECOND]);
  });

  it("fee spike: no transaction offers more than the configured ceiling, new or replacement", async () => {
    const ceiling = 50n * GWEI;
    await b.start({ confirmations: 1, replaceAfterMs: 0, maxFeePerGas: ceiling, maxReplacements: 20 });
    b.node.baseFee = 400n * GWEI;
    await b.enqueue(1);
    await b.writer.submitTick();
    for (let i = 0; i < 10; i++) await b.writer.trackTick();
    const fees = b.node.broadcasts.map((r) => Transaction.from(r).maxFeePerGas!);
    expect(fees.every((f) => f <= ceiling)).to.equal(true);
    expect(await b.metrics.registry.getSingleMetricAsString("relayer_fee_cap_reached_total")).to.match(/ [1-9]\d*$/m);
  });

  it("a stuck nonce: only the lowest unmined nonce is replaced, at most maxReplacements times, and the cap is reported", async () => {
    await b.start({ confirmations: 1, replaceAfterMs: 0, batchSize: 1, maxReplacements: 3 });
    b.jobs.prepare = () => ({ type: "tx", to: b.chain.addresses.inventory, data: "0x01", kind: "single" });
    await b.enqueue(3);
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.nonce)).to.deep.equal(["0", "1", "2"]);
    for (let i = 0; i < 8; i++) await b.writer.trackTick();
    const replaced = (await b.txs()).filter((t) => t.replaces !== null);
    expect(replaced.map((t) => t.nonce)).to.deep.equal(["0", "0", "0"]);
    expect(await b.metrics.registry.getSingleMetricAsString("relayer_replacements_capped_total")).to.match(
      / [1-9]\d*$/m,
    );
  });

  it("a node that fails one receipt (load-balanced backend): the other transactions still confirm; that one waits", async () => {
    await b.start({ confirmations: 1, batchSize: 1 });
    b.jobs.prepare = () => ({ type: "tx", to: b.chain.addresses.inventory, data: "0x01", kind: "single" });
    await b.enqueue(2);
    await b.writer.submitTick();
    const [first, second] = await b.txs();
    b.node.receiptFaults.add(second.hash);
    b.node.mine();
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed", "sent"]);
    b.node.receiptFaults.clear();
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed", "confirmed"]);
    expect(first.nonce).to.equal("0");
  });

  it("an RPC outage: a failing signer pass backs off instead of hammering the node, and resumes when it answers", async () => {
    await b.start({ confirmations: 1 });
    const [id] = await b.enqueue(1);
    b.node.down = true;
    await b.writer.submitTick();
    const callsAfterFirst = b.node.calls.length;
    for (let i = 0; i < 20; i++) await b.writer.submitTick();
    expect(b.node.calls.length, "no request while backing off").to.equal(callsAfterFirst);
    b.node.down = false;
    await new Promise((r) => setTimeout(r, 600));
    await rounds(2);
    expect(b.executions(id)).to.equal(1);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
  });
});

describe("classifyBroadcastError: only a definite refusal gives a nonce back", () => {
  const rpcError = (message: string, code = -32000) =>
    makeError(message, "UNKNOWN_ERROR", { error: { code, message } } as never);

  it("a node that already holds the transaction, in each client's words", () => {
    for (const m of [
      "already known",
      "AlreadyKnown",
      "Transaction with the same hash was already imported.",
      "known transaction: 0xabc",
      "transaction already exists",
    ]) {
      expect(classifyBroadcastError(rpcError(m)).kind, m).to.equal("known");
    }
  });

  it("definite refusals", () => {
    expect(classifyBroadcastError(rpcError("nonce too low: next nonce 5, tx nonce 4")).kind).to.equal("nonce_low");
    expect(classifyBroadcastError(rpcError("nonce too high")).kind).to.equal("nonce_gap");
    expect(classifyBroadcastError(rpcError("insufficient funds for gas * price + value")).kind).to.equal("funds");
    expect(
      classifyBroadcastError(
        rpcError("Sender doesn't have enough funds to send tx. The max upfront cost is: 63003000000001"),
      ).kind,
    ).to.equal("funds");
    expect(classifyBroadcastError(rpcError("replacement transaction underpriced")).kind).to.equal(
      "underpriced_replacement",
    );
    for (const m of [
      "transaction underpriced",
      "max fee per gas less than block base fee: address 0x..",
      "intrinsic gas too low",
      "exceeds block gas limit",
      "oversized data",
      "tx fee (1.20 ether) exceeds the configured cap (1.00 ether)",
      "invalid sender",
    ]) {
      expect(classifyBroadcastError(rpcError(m)).kind, m).to.equal("rejected");
    }
  });

  it("anything else, including errors never seen before, keeps the transaction tracked", () => {
    for (const m of ["internal error", "txpool is full", "Transaction pool busy, try later", "unexpected EOF"]) {
      expect(classifyBroadcastError(rpcError(m, -32603)).kind, m).to.equal("network");
    }
  });
});
