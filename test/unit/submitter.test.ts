/**
 * The submitter's state machine without a node or a database server: a chain in memory behind ethers' provider
 * and the relayer's store on PGlite (support/submitterBench.ts). Each test drives the writer's ticks by hand and
 * checks what it stored and what the node received.
 */
import { expect } from "chai";
import { Transaction, Wallet, ZeroHash, makeError } from "ethers";
import { replacementFees } from "../../relayer/src/chain/submitter/fees";
import type { Prepared } from "../../relayer/src/chain/jobPort";
import { ADDRESSES, SIGNER, SIGNER_KEY, SubmitterBench, callData, useSubmitterBench } from "./support/submitterBench";

describe("submitter (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let b: SubmitterBench;
  const signer = SIGNER;

  useSubmitterBench((bench) => (b = bench));
  const startWriter = (opts: { confirmations?: number; replaceAfterMs?: number; batchSize?: number } = {}) =>
    b.start(opts);

  it("sends the claimed escrow calls as one batch at the signer's next nonce, stores it before broadcast, and confirms at depth", async () => {
    await startWriter({ confirmations: 2 });
    const ids = await b.enqueue(3);
    await b.writer.submitTick();
    expect(b.node.broadcasts).to.have.length(1);
    const [t] = await b.txs();
    expect(t).to.include({ nonce: "0", status: "sent" });
    expect(Transaction.from(b.node.broadcasts[0]).nonce).to.equal(0);
    expect(await b.statuses()).to.deep.equal(["submitted", "submitted", "submitted"]);

    b.node.mine();
    await b.writer.trackTick();
    expect((await b.txs())[0].status).to.equal("mined");
    expect(await b.statuses()).to.deep.equal(["submitted", "submitted", "submitted"]);
    expect(b.jobs.confirmed).to.deep.equal([]);

    b.node.advance(1);
    await b.writer.trackTick();
    expect((await b.txs())[0].status).to.equal("confirmed");
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    expect(b.jobs.confirmed).to.deep.equal(ids);
  });

  it("a definite refusal gives the nonce back and requeues the commands; the next transaction reuses that nonce", async () => {
    await startWriter();
    await b.enqueue(2);
    b.node.sendFaults.push({ code: -32000, message: "intrinsic gas too low" });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["dropped"]);
    expect(await b.statuses()).to.deep.equal(["pending", "pending"]);

    await b.dueNow();
    await b.writer.submitTick();
    const [, second] = await b.txs();
    expect(second).to.include({ nonce: "0", status: "sent" });
    await b.settle();
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(b.node.nonceOf(signer)).to.equal(1);
  });

  it("lagging RPC: a broadcast whose answer is lost keeps its nonce; recovery sends the stored bytes again before anything newer, and each command runs once", async () => {
    await startWriter();
    await b.enqueue(1);
    b.node.sendFaults.push("taken");
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);

    await b.enqueue(1);
    await b.writer.submitTick();
    // Recovery finds the node holds nonce 0, so it is not sent again; the new command goes at nonce 1.
    expect(b.node.broadcasts.map((r) => Transaction.from(r).nonce)).to.deep.equal([0, 1]);
    await b.settle();
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(b.jobs.confirmed).to.have.length(2);
    expect(b.node.mined.size).to.equal(2);
  });

  it("a broadcast lost before the node saw it is sent again from storage with the same nonce and bytes", async () => {
    await startWriter();
    await b.enqueue(1);
    b.node.sendFaults.push("lost");
    await b.writer.submitTick();
    expect(b.node.pool.size).to.equal(0);
    await b.writer.submitTick();
    expect(b.node.broadcasts).to.have.length(2);
    expect(b.node.broadcasts[1]).to.equal(b.node.broadcasts[0]);
    await b.settle();
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed"]);
  });

  it("'already known' counts as sent", async () => {
    await startWriter();
    await b.enqueue(1);
    b.node.sendFaults.push({ code: -32000, message: "already known" });
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await b.statuses()).to.deep.equal(["submitted"]);
  });

  it("another sender used the nonce (nonce too low): once the chain confirms it, the transaction is dropped, its commands requeued, and the signer goes on from the chain's nonce", async () => {
    await startWriter();
    await b.writer.submitTick(); // nothing to send: the signer learns its nonce (0)
    const foreign = await new Wallet(SIGNER_KEY).signTransaction({
      type: 2,
      chainId: 31337n,
      nonce: 0,
      to: ADDRESSES.escrow,
      gasLimit: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    await b.node.send("eth_sendRawTransaction", [foreign]);
    b.node.mine();
    await b.enqueue(1);
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "sent"]]);
    await b.checkTakenTwice(); // the foreign transaction is deep enough, seen so on two checks
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    expect(await b.statuses()).to.deep.equal(["pending"]);

    await b.dueNow();
    await b.writer.submitTick();
    expect((await b.txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "sent"],
    ]);
    await b.settle();
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
  });

  it("a transaction not mined in time is replaced (same nonce and payload, fees raised by the bump); its commands confirm once, from the replacement", async () => {
    await startWriter({ replaceAfterMs: 0 });
    await b.enqueue(2);
    await b.writer.submitTick();
    const old = Transaction.from(b.node.broadcasts[0]);
    await new Promise((r) => setTimeout(r, 5));
    await b.writer.trackTick();
    const [first, second] = await b.txs();
    expect(second).to.include({ nonce: "0", replaces: first.id, status: "sent" });
    const repl = Transaction.from(b.node.broadcasts[1]);
    expect(repl.nonce).to.equal(old.nonce);
    expect(repl.data).to.equal(old.data);
    expect(repl.maxPriorityFeePerGas).to.equal((old.maxPriorityFeePerGas! * 120n) / 100n + 1n);
    expect(repl.maxFeePerGas).to.equal((old.maxFeePerGas! * 120n) / 100n + 1n);
    expect([...b.node.pool.keys()]).to.deep.equal([second.hash]);

    b.node.mine();
    b.node.advance(1);
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["replaced", "confirmed"]);
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(b.jobs.confirmed).to.have.length(2);
  });

  it("a replacement the node refuses is marked dropped and the original stays tracked", async () => {
    await startWriter({ replaceAfterMs: 0 });
    await b.enqueue(1);
    await b.writer.submitTick();
    await new Promise((r) => setTimeout(r, 5));
    b.node.sendFaults.push({ code: -32000, message: "replacement transaction underpriced" });
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["sent", "dropped"]);
    b.node.mine();
    b.node.advance(1);
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed", "dropped"]);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
  });

  it("reorg: a transaction recorded as mined whose block the node forgot is reopened, sent again from storage, and its commands confirm once", async () => {
    await startWriter({ confirmations: 3 });
    await b.enqueue(1);
    await b.writer.submitTick();
    b.node.mine();
    await b.writer.trackTick();
    expect((await b.txs())[0].status).to.equal("mined");
    b.node.reorg(1);
    expect(b.node.pool.size).to.equal(0);
    await new Promise((r) => setTimeout(r, 1_050)); // the nonce check runs at most once a second
    await b.writer.trackTick(); // notices the node is missing the signer's nonce 0
    await b.writer.submitTick(); // recovery: reopen, rebroadcast
    expect(b.node.broadcasts).to.have.length(2);
    expect(b.node.broadcasts[1]).to.equal(b.node.broadcasts[0]);
    expect((await b.txs())[0].status).to.equal("sent");
    b.node.mine();
    b.node.advance(2);
    await b.writer.trackTick();
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["confirmed"]);
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
    expect(b.jobs.confirmed).to.have.length(1);
  });

  it("a failed item inside a batch (BatchItemFailed) is reverted alone through its job; the other calls confirm", async () => {
    await startWriter({ confirmations: 1 });
    const ids = await b.enqueue(3);
    await b.writer.submitTick();
    const reason = b.chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    const log = b.chain.escrow.interface.encodeEventLog("BatchItemFailed", [1, reason]);
    b.node.outcomes.push({ status: 1, logs: [{ address: ADDRESSES.escrow, topics: log.topics, data: log.data }] });
    b.jobs.onReverted = () => ({ type: "fail", code: "Gone", message: "the order is gone" });
    b.node.mine();
    await b.writer.trackTick();
    expect(b.jobs.reverted).to.deep.equal([{ id: ids[1], name: "OrderNotFound" }]);
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([
      ["confirmed", null],
      ["failed", "Gone"],
      ["confirmed", null],
    ]);
    expect(b.jobs.failed).to.deep.equal([{ id: ids[1], code: "Gone", inTx: true }]);
    expect(b.jobs.confirmed).to.deep.equal([ids[0], ids[2]]);
  });

  it("a reverted transaction: a retryable error is retried with an attempt counted; any other fails the command with the decoded error", async () => {
    await startWriter({ confirmations: 1 });
    b.jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "single" });
    await b.enqueue(1);
    await b.writer.submitTick();
    b.node.outcomes.push({ status: 0 });
    b.node.callRevert = b.chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    b.node.mine();
    await b.writer.trackTick();
    expect((await b.commands()).map((c) => [c.status, c.attempts])).to.deep.equal([["pending", 1]]);

    await b.dueNow();
    await b.writer.submitTick();
    b.node.outcomes.push({ status: 0 });
    b.node.callRevert = b.chain.escrow.interface.encodeErrorResult("OrderAlreadyExists", [ZeroHash]);
    b.node.mine();
    await b.writer.trackTick();
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["failed", "OrderAlreadyExists"]]);
    expect(b.jobs.failed).to.have.length(1);
    expect((await b.txs()).map((t) => t.status)).to.deep.equal(["reverted", "reverted"]);
  });

  it("a job's decision on a revert wins: 'confirmed' means the effect is on chain after all", async () => {
    await startWriter({ confirmations: 1 });
    b.jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "single" });
    b.jobs.onReverted = () => ({ type: "confirmed" });
    await b.enqueue(1);
    await b.writer.submitTick();
    b.node.outcomes.push({ status: 0 });
    b.node.callRevert = b.chain.escrow.interface.encodeErrorResult("OrderAlreadyExists", [ZeroHash]);
    b.node.mine();
    await b.writer.trackTick();
    expect(await b.statuses()).to.deep.equal(["confirmed"]);
  });

  it("prepare decisions: done confirms without a transaction, wait puts the command back, fail fails it through the job in the same transaction", async () => {
    await startWriter();
    const ids = await b.enqueue(3);
    const decisions: Record<string, Prepared> = {
      [ids[0]]: { type: "done", note: "already on chain" },
      [ids[1]]: { type: "wait", delayMs: 60_000, reason: "not yet" },
      [ids[2]]: { type: "fail", code: "SkuUnknown", message: "no such SKU" },
    };
    b.jobs.prepare = (cmd) => decisions[cmd.id];
    await b.writer.submitTick();
    expect(b.node.broadcasts).to.have.length(0);
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([
      ["confirmed", null],
      ["pending", null],
      ["failed", "SkuUnknown"],
    ]);
    expect(b.jobs.confirmed).to.deep.equal([ids[0]]);
    expect(b.jobs.failed).to.deep.equal([{ id: ids[2], code: "SkuUnknown", inTx: true }]);
  });

  it("a prepare that throws (the node is down) puts the command back instead of failing it", async () => {
    await startWriter();
    b.jobs.prepare = () => {
      throw new Error("fetch failed");
    };
    await b.enqueue(1);
    await b.writer.submitTick();
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["pending", null]]);
  });

  it("a command whose call can never be encoded (a value out of its Solidity type) fails instead of retrying forever", async () => {
    await startWriter();
    b.jobs.prepare = () => {
      throw makeError("value out-of-bounds", "NUMERIC_FAULT", { operation: "toTwos", fault: "overflow", value: 0 });
    };
    await b.enqueue(1);
    await b.writer.submitTick();
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["failed", "UnencodableCommand"]]);
    expect(b.jobs.failed).to.have.length(1);
  });

  it("a command kind without a job fails UnknownCommand", async () => {
    await startWriter();
    await b.db.query("insert into commands (kind, payload) values ('no_such_kind', '{}')");
    await b.writer.submitTick();
    expect((await b.commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["failed", "UnknownCommand"]]);
  });

  it("a batch that would revert as a whole is put back with an attempt counted, and nothing is sent", async () => {
    await startWriter();
    b.jobs.prepare = (cmd) => ({ type: "escrow", data: callData(cmd) });
    b.node.estimateRevert = b.chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    await b.enqueue(2);
    await b.writer.submitTick();
    expect(b.node.broadcasts).to.have.length(0);
    expect((await b.commands()).map((c) => [c.status, c.attempts])).to.deep.equal([
      ["pending", 1],
      ["pending", 1],
    ]);
  });

  it("a batch above the per-transaction gas cap is split and sent at consecutive nonces", async () => {
    await startWriter({ confirmations: 1 });
    b.jobs.prepare = (cmd) => ({ type: "escrow", data: callData(cmd), gasBound: 9_000_000n });
    await b.enqueue(2);
    await b.writer.submitTick();
    expect(b.node.broadcasts.map((r) => Transaction.from(r).nonce)).to.deep.equal([0, 1]);
    b.node.mine();
    await b.writer.trackTick();
    expect(await b.statuses()).to.deep.equal(["confirmed", "confirmed"]);
  });

  it("a stopped writer hands its unsent claims back", async () => {
    await startWriter();
    await b.enqueue(1);
    await b.db.query("update commands set status = 'claimed', claimed_by = 'unit-1', claimed_at = now()");
    await b.writer.stop();
    expect(await b.statuses()).to.deep.equal(["pending"]);
  });
});

describe("replacement fees", () => {
  it("raise both fees by the bump and one wei, never below today's quote or the tip", () => {
    expect(replacementFees({ maxFee: 100n, priority: 10n }, { maxFee: 50n, priority: 5n }, 20)).to.deep.equal({
      maxFee: 121n,
      priority: 13n,
    });
    expect(replacementFees({ maxFee: 100n, priority: 10n }, { maxFee: 500n, priority: 5n }, 20).maxFee).to.equal(500n);
    expect(replacementFees({ maxFee: 10n, priority: 100n }, { maxFee: 1n, priority: 1n }, 10)).to.deep.equal({
      maxFee: 111n,
      priority: 111n,
    });
  });
});
