/**
 * The submitter's state machine without a node or a database server: a chain in memory behind ethers' provider
 * (support/fakeChain.ts) and the relayer's store on PGlite (support/memoryDb.ts). Each test drives the writer's
 * ticks by hand and checks what it stored and what the node received.
 */
import { expect } from "chai";
import { Transaction, Wallet, ZeroHash } from "ethers";
import pino from "pino";
import { ChainWriter } from "../../relayer/src/chain/submitter/submitter";
import { replacementFees } from "../../relayer/src/chain/submitter/fees";
import { makeChainContext, type ChainContext } from "../../relayer/src/chain/context";
import type { JobHandler, JobRegistry, Prepared, RevertDecision } from "../../relayer/src/chain/jobPort";
import { COMMAND_KINDS, type CommandKind } from "../../relayer/src/domain/command";
import { enqueueCommand, type CommandRow } from "../../relayer/src/store/commands";
import { createMetrics } from "../../relayer/src/metrics";
import { FakeChain } from "./support/fakeChain";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";

/** Hardhat's well-known first and second test keys (local chains only). */
const SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESSES = {
  escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  inventory: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  forwarder: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  startBlock: 0,
};

/** A job per kind whose decisions each test scripts; it records what the submitter reported. */
class ScriptedJobs {
  prepare: (cmd: CommandRow) => Prepared = (cmd) => ({ type: "escrow", data: callData(cmd), gasBound: 50_000n });
  onReverted: ((cmd: CommandRow, name: string) => RevertDecision) | undefined;
  readonly confirmed: string[] = [];
  readonly failed: { id: string; code: string; inTx: boolean }[] = [];
  readonly reverted: { id: string; name: string }[] = [];

  registry(): JobRegistry {
    const handler: JobHandler = {
      prepare: async (cmd) => this.prepare(cmd),
      onReverted: async (cmd, error) => {
        this.reverted.push({ id: cmd.id, name: error.name });
        return this.onReverted?.(cmd, error.name) ?? { type: "default" };
      },
      onConfirmed: async (cmd) => {
        this.confirmed.push(cmd.id);
        return "done";
      },
      onFailed: async (q, cmd, code) => {
        // Written through the transaction that marks the command failed: visible only if that one commits.
        const r = await q.query<{ status: string }>("select status from commands where id = $1", [cmd.id]);
        this.failed.push({ id: cmd.id, code, inTx: r.rows[0].status === "failed" });
      },
    };
    return Object.fromEntries(COMMAND_KINDS.map((k) => [k, handler])) as JobRegistry;
  }
}

function callData(cmd: CommandRow): string {
  return `0x${BigInt(cmd.id).toString(16).padStart(8, "0")}`;
}

describe("submitter (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let db: MemoryDb;
  let node: FakeChain;
  let chain: ChainContext;
  let jobs: ScriptedJobs;
  let writer: ChainWriter;
  const signer = new Wallet(SIGNER_KEY).address;

  before(async () => {
    db = await openMemoryDb();
  });
  after(async () => {
    await db.close();
  });

  async function startWriter(opts: { confirmations?: number; replaceAfterMs?: number; batchSize?: number } = {}) {
    await db.exec("truncate commands, chain_txs, signer_leases, relay_spend restart identity cascade");
    node = new FakeChain();
    chain = makeChainContext(node, 31337n, ADDRESSES);
    jobs = new ScriptedJobs();
    writer = new ChainWriter(
      db,
      chain,
      [SIGNER_KEY],
      {
        jobs: jobs.registry(),
        batchSize: opts.batchSize ?? 50,
        confirmations: opts.confirmations ?? 2,
        // The ticks are driven by the test.
        pollIntervalMs: 3_600_000,
        replaceAfterMs: opts.replaceAfterMs ?? 3_600_000,
        feeBumpPercent: 20,
        leaseTtlMs: 3_600_000,
        merchantKeySecret: "unit-test-secret",
      },
      pino({ level: "silent" }),
      createMetrics(),
      "unit-1",
    );
    await writer.start();
    expect(writer.heldSigners).to.deep.equal([signer]);
  }
  afterEach(async () => {
    await writer?.stop();
  });

  async function enqueue(n: number, kind: CommandKind = "ship_order"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await enqueueCommand(db, { kind, payload: { n: i } }));
    return ids;
  }
  async function commands(): Promise<
    { id: string; status: string; attempts: number; tx_nonce: string | null; error_code: string | null }[]
  > {
    return (await db.query<never>("select id, status, attempts, tx_nonce, error_code from commands order by id")).rows;
  }
  async function txs(): Promise<
    {
      id: string;
      nonce: string;
      hash: string;
      status: string;
      replaces: string | null;
      max_fee_per_gas: string;
      max_priority_fee_per_gas: string;
    }[]
  > {
    return (
      await db.query<never>(
        "select id, nonce, hash, status, replaces, max_fee_per_gas, max_priority_fee_per_gas from chain_txs order by id",
      )
    ).rows;
  }
  /** Requeued commands wait a little before they run again; the test does not. */
  const dueNow = () => db.query("update commands set not_before = now() where status = 'pending'");
  const statuses = async () => (await commands()).map((c) => c.status);
  async function settle(): Promise<void> {
    node.mine();
    node.advance(1);
    await writer.trackTick();
  }

  it("sends the claimed escrow calls as one batch at the signer's next nonce, stores it before broadcast, and confirms at depth", async () => {
    await startWriter({ confirmations: 2 });
    const ids = await enqueue(3);
    await writer.submitTick();
    expect(node.broadcasts).to.have.length(1);
    const [t] = await txs();
    expect(t).to.include({ nonce: "0", status: "sent" });
    expect(Transaction.from(node.broadcasts[0]).nonce).to.equal(0);
    expect(await statuses()).to.deep.equal(["submitted", "submitted", "submitted"]);

    node.mine();
    await writer.trackTick();
    expect((await txs())[0].status).to.equal("mined");
    expect(await statuses()).to.deep.equal(["submitted", "submitted", "submitted"]);
    expect(jobs.confirmed).to.deep.equal([]);

    node.advance(1);
    await writer.trackTick();
    expect((await txs())[0].status).to.equal("confirmed");
    expect(await statuses()).to.deep.equal(["confirmed", "confirmed", "confirmed"]);
    expect(jobs.confirmed).to.deep.equal(ids);
  });

  it("a definite refusal gives the nonce back and requeues the commands; the next transaction reuses that nonce", async () => {
    await startWriter();
    await enqueue(2);
    node.sendFaults.push({ code: -32000, message: "intrinsic gas too low" });
    await writer.submitTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["dropped"]);
    expect(await statuses()).to.deep.equal(["pending", "pending"]);

    await dueNow();
    await writer.submitTick();
    const [, second] = await txs();
    expect(second).to.include({ nonce: "0", status: "sent" });
    await settle();
    expect(await statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(node.nonceOf(signer)).to.equal(1);
  });

  it("lagging RPC: a broadcast whose answer is lost keeps its nonce; recovery sends the stored bytes again before anything newer, and each command runs once", async () => {
    await startWriter();
    await enqueue(1);
    node.sendFaults.push("taken");
    await writer.submitTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await statuses()).to.deep.equal(["submitted"]);

    await enqueue(1);
    await writer.submitTick();
    // Recovery finds the node holds nonce 0, so it is not sent again; the new command goes at nonce 1.
    expect(node.broadcasts.map((r) => Transaction.from(r).nonce)).to.deep.equal([0, 1]);
    await settle();
    expect(await statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(jobs.confirmed).to.have.length(2);
    expect(node.mined.size).to.equal(2);
  });

  it("a broadcast lost before the node saw it is sent again from storage with the same nonce and bytes", async () => {
    await startWriter();
    await enqueue(1);
    node.sendFaults.push("lost");
    await writer.submitTick();
    expect(node.pool.size).to.equal(0);
    await writer.submitTick();
    expect(node.broadcasts).to.have.length(2);
    expect(node.broadcasts[1]).to.equal(node.broadcasts[0]);
    await settle();
    expect(await statuses()).to.deep.equal(["confirmed"]);
    expect((await txs()).map((t) => t.status)).to.deep.equal(["confirmed"]);
  });

  it("'already known' counts as sent", async () => {
    await startWriter();
    await enqueue(1);
    node.sendFaults.push({ code: -32000, message: "already known" });
    await writer.submitTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["sent"]);
    expect(await statuses()).to.deep.equal(["submitted"]);
  });

  it("another sender used the nonce (nonce too low): the transaction is dropped, its commands requeued, and the signer goes on from the chain's nonce", async () => {
    await startWriter();
    await writer.submitTick(); // nothing to send: the signer learns its nonce (0)
    const foreign = await new Wallet(SIGNER_KEY).signTransaction({
      type: 2,
      chainId: 31337n,
      nonce: 0,
      to: ADDRESSES.escrow,
      gasLimit: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    await node.send("eth_sendRawTransaction", [foreign]);
    node.mine();
    await enqueue(1);
    await writer.submitTick();
    expect((await txs()).map((t) => [t.nonce, t.status])).to.deep.equal([["0", "dropped"]]);
    expect(await statuses()).to.deep.equal(["pending"]);

    await dueNow();
    await writer.submitTick();
    expect((await txs()).map((t) => [t.nonce, t.status])).to.deep.equal([
      ["0", "dropped"],
      ["1", "sent"],
    ]);
    await settle();
    expect(await statuses()).to.deep.equal(["confirmed"]);
  });

  it("a transaction not mined in time is replaced (same nonce and payload, fees raised by the bump); its commands confirm once, from the replacement", async () => {
    await startWriter({ replaceAfterMs: 0 });
    await enqueue(2);
    await writer.submitTick();
    const old = Transaction.from(node.broadcasts[0]);
    await new Promise((r) => setTimeout(r, 5));
    await writer.trackTick();
    const [first, second] = await txs();
    expect(second).to.include({ nonce: "0", replaces: first.id, status: "sent" });
    const repl = Transaction.from(node.broadcasts[1]);
    expect(repl.nonce).to.equal(old.nonce);
    expect(repl.data).to.equal(old.data);
    expect(repl.maxPriorityFeePerGas).to.equal((old.maxPriorityFeePerGas! * 120n) / 100n + 1n);
    expect(repl.maxFeePerGas).to.equal((old.maxFeePerGas! * 120n) / 100n + 1n);
    expect([...node.pool.keys()]).to.deep.equal([second.hash]);

    node.mine();
    node.advance(1);
    await writer.trackTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["replaced", "confirmed"]);
    expect(await statuses()).to.deep.equal(["confirmed", "confirmed"]);
    expect(jobs.confirmed).to.have.length(2);
  });

  it("a replacement the node refuses is marked dropped and the original stays tracked", async () => {
    await startWriter({ replaceAfterMs: 0 });
    await enqueue(1);
    await writer.submitTick();
    await new Promise((r) => setTimeout(r, 5));
    node.sendFaults.push({ code: -32000, message: "replacement transaction underpriced" });
    await writer.trackTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["sent", "dropped"]);
    node.mine();
    node.advance(1);
    await writer.trackTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["confirmed", "dropped"]);
    expect(await statuses()).to.deep.equal(["confirmed"]);
  });

  it("reorg: a transaction recorded as mined whose block the node forgot is reopened, sent again from storage, and its commands confirm once", async () => {
    await startWriter({ confirmations: 3 });
    await enqueue(1);
    await writer.submitTick();
    node.mine();
    await writer.trackTick();
    expect((await txs())[0].status).to.equal("mined");
    node.reorg(1);
    expect(node.pool.size).to.equal(0);
    await new Promise((r) => setTimeout(r, 1_050)); // the nonce check runs at most once a second
    await writer.trackTick(); // notices the node is missing the signer's nonce 0
    await writer.submitTick(); // recovery: reopen, rebroadcast
    expect(node.broadcasts).to.have.length(2);
    expect(node.broadcasts[1]).to.equal(node.broadcasts[0]);
    expect((await txs())[0].status).to.equal("sent");
    node.mine();
    node.advance(2);
    await writer.trackTick();
    expect((await txs()).map((t) => t.status)).to.deep.equal(["confirmed"]);
    expect(await statuses()).to.deep.equal(["confirmed"]);
    expect(jobs.confirmed).to.have.length(1);
  });

  it("a failed item inside a batch (BatchItemFailed) is reverted alone through its job; the other calls confirm", async () => {
    await startWriter({ confirmations: 1 });
    const ids = await enqueue(3);
    await writer.submitTick();
    const reason = chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    const log = chain.escrow.interface.encodeEventLog("BatchItemFailed", [1, reason]);
    node.outcomes.push({ status: 1, logs: [{ address: ADDRESSES.escrow, topics: log.topics, data: log.data }] });
    jobs.onReverted = () => ({ type: "fail", code: "Gone", message: "the order is gone" });
    node.mine();
    await writer.trackTick();
    expect(jobs.reverted).to.deep.equal([{ id: ids[1], name: "OrderNotFound" }]);
    expect((await commands()).map((c) => [c.status, c.error_code])).to.deep.equal([
      ["confirmed", null],
      ["failed", "Gone"],
      ["confirmed", null],
    ]);
    expect(jobs.failed).to.deep.equal([{ id: ids[1], code: "Gone", inTx: true }]);
    expect(jobs.confirmed).to.deep.equal([ids[0], ids[2]]);
  });

  it("a reverted transaction: a retryable error is retried with an attempt counted; any other fails the command with the decoded error", async () => {
    await startWriter({ confirmations: 1 });
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "single" });
    await enqueue(1);
    await writer.submitTick();
    node.outcomes.push({ status: 0 });
    node.callRevert = chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    node.mine();
    await writer.trackTick();
    expect((await commands()).map((c) => [c.status, c.attempts])).to.deep.equal([["pending", 1]]);

    await dueNow();
    await writer.submitTick();
    node.outcomes.push({ status: 0 });
    node.callRevert = chain.escrow.interface.encodeErrorResult("OrderAlreadyExists", [ZeroHash]);
    node.mine();
    await writer.trackTick();
    expect((await commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["failed", "OrderAlreadyExists"]]);
    expect(jobs.failed).to.have.length(1);
    expect((await txs()).map((t) => t.status)).to.deep.equal(["reverted", "reverted"]);
  });

  it("a job's decision on a revert wins: 'confirmed' means the effect is on chain after all", async () => {
    await startWriter({ confirmations: 1 });
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "single" });
    jobs.onReverted = () => ({ type: "confirmed" });
    await enqueue(1);
    await writer.submitTick();
    node.outcomes.push({ status: 0 });
    node.callRevert = chain.escrow.interface.encodeErrorResult("OrderAlreadyExists", [ZeroHash]);
    node.mine();
    await writer.trackTick();
    expect(await statuses()).to.deep.equal(["confirmed"]);
  });

  it("prepare decisions: done confirms without a transaction, wait puts the command back, fail fails it through the job in the same transaction", async () => {
    await startWriter();
    const ids = await enqueue(3);
    const decisions: Record<string, Prepared> = {
      [ids[0]]: { type: "done", note: "already on chain" },
      [ids[1]]: { type: "wait", delayMs: 60_000, reason: "not yet" },
      [ids[2]]: { type: "fail", code: "SkuUnknown", message: "no such SKU" },
    };
    jobs.prepare = (cmd) => decisions[cmd.id];
    await writer.submitTick();
    expect(node.broadcasts).to.have.length(0);
    expect((await commands()).map((c) => [c.status, c.error_code])).to.deep.equal([
      ["confirmed", null],
      ["pending", null],
      ["failed", "SkuUnknown"],
    ]);
    expect(jobs.confirmed).to.deep.equal([ids[0]]);
    expect(jobs.failed).to.deep.equal([{ id: ids[2], code: "SkuUnknown", inTx: true }]);
  });

  it("a prepare that throws (the node is down) puts the command back instead of failing it", async () => {
    await startWriter();
    jobs.prepare = () => {
      throw new Error("fetch failed");
    };
    await enqueue(1);
    await writer.submitTick();
    expect((await commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["pending", null]]);
  });

  it("a command kind without a job fails UnknownCommand", async () => {
    await startWriter();
    await db.query("insert into commands (kind, payload) values ('no_such_kind', '{}')");
    await writer.submitTick();
    expect((await commands()).map((c) => [c.status, c.error_code])).to.deep.equal([["failed", "UnknownCommand"]]);
  });

  it("a batch that would revert as a whole is put back with an attempt counted, and nothing is sent", async () => {
    await startWriter();
    jobs.prepare = (cmd) => ({ type: "escrow", data: callData(cmd) });
    node.estimateRevert = chain.escrow.interface.encodeErrorResult("OrderNotFound", [ZeroHash]);
    await enqueue(2);
    await writer.submitTick();
    expect(node.broadcasts).to.have.length(0);
    expect((await commands()).map((c) => [c.status, c.attempts])).to.deep.equal([
      ["pending", 1],
      ["pending", 1],
    ]);
  });

  it("a batch above the per-transaction gas cap is split and sent at consecutive nonces", async () => {
    await startWriter({ confirmations: 1 });
    jobs.prepare = (cmd) => ({ type: "escrow", data: callData(cmd), gasBound: 9_000_000n });
    await enqueue(2);
    await writer.submitTick();
    expect(node.broadcasts.map((r) => Transaction.from(r).nonce)).to.deep.equal([0, 1]);
    node.mine();
    await writer.trackTick();
    expect(await statuses()).to.deep.equal(["confirmed", "confirmed"]);
  });

  it("a stopped writer hands its unsent claims back", async () => {
    await startWriter();
    await enqueue(1);
    await db.query("update commands set status = 'claimed', claimed_by = 'unit-1', claimed_at = now()");
    await writer.stop();
    expect(await statuses()).to.deep.equal(["pending"]);
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
