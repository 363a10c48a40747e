/**
 * The gas limit of the escrow batches the writer sends: on a local chain, the sum of the create_order jobs' bounds
 * (nothing estimated); on chains whose gas also pays for posting the data to L1 (OP-stack, Arbitrum), or with
 * GAS_LIMITS=estimate, the node's estimate with its margin, whatever the bounds say. An estimate the node fails
 * to answer sends nothing and fails nothing: the pass fails visibly and the next one estimates again. A fake chain
 * answers the estimate; the store is PGlite.
 */
import { expect } from "chai";
import { Transaction, ZeroAddress, ZeroHash, toQuantity, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import pino from "pino";
import { makeChainContext } from "../../relayer/src/chain/context";
import type { JobRegistry } from "../../relayer/src/chain/jobPort";
import { TX_GAS_CAP } from "../../relayer/src/chain/submitter/gas";
import { ChainWriter } from "../../relayer/src/chain/submitter/submitter";
import { loadConfig } from "../../relayer/src/config";
import { createOrder } from "../../relayer/src/jobs/createOrder";
import { createMetrics } from "../../relayer/src/metrics";
import { enqueueCommand } from "../../relayer/src/store/commands";
import { createWorkers } from "../../relayer/src/workers";
import { FakeChain, type RpcFault } from "./support/fakeChain";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";
import { ADDRESSES, SIGNER_KEY, ScriptedJobs } from "./support/submitterBench";

/** A fake chain whose eth_estimateGas can answer an error that carries no revert (a node's own failure). */
class EstimatingChain extends FakeChain {
  estimateFault: RpcFault | undefined;
  /** What eth_call answers while set (a node's own error, or a revert). */
  callFault: RpcFault | undefined;

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const list = Array.isArray(payload) ? payload : [payload];
    for (const [method, fault] of [
      ["eth_estimateGas", this.estimateFault],
      ["eth_call", this.callFault],
    ] as const) {
      if (fault && list.some((p) => p.method === method)) {
        this.calls.push(method);
        return list.map((p) => ({ id: p.id, error: fault }) as unknown as JsonRpcResult);
      }
    }
    return super._send(payload);
  }
}

/** Two orders, with 1 and 3 line items: bound 60k (the batch) + 70k + 45k, + 70k + 3 × 45k. */
const ITEMS = [1, 3];
const BOUND = 60_000n + (70_000n + 45_000n) + (70_000n + 3n * 45_000n);

function orderPayload(n: number, items: number) {
  return {
    orderId: `order-${n}`,
    terms: {
      merchant: ADDRESSES.forwarder,
      payee: ADDRESSES.forwarder,
      buyer: ZeroAddress,
      token: ZeroAddress,
      amount: "1000",
      maxFeeBps: "100",
      paymentDeadline: "1900000000",
      shipWithin: "86400",
      protectionPeriod: "86400",
      refundWindow: "0",
      itemsHash: ZeroHash,
      salt: ZeroHash,
    },
    items: Array.from({ length: items }, (_, i) => ({ skuId: String(i + 1), quantity: "1" })),
  };
}

describe("gas limits of the writer's transactions (fake chain, in-memory store)", function () {
  this.timeout(60_000);
  let db: MemoryDb;
  let node: EstimatingChain;
  let writer: { submitTick(): Promise<void>; stop(): Promise<void> } | undefined;
  let logged: { level: number; msg: string; err?: string }[];

  before(async function () {
    this.timeout(180_000); // PGlite starts and runs every migration
    db = await openMemoryDb();
  });
  after(async () => {
    await db.close();
  });
  afterEach(async () => {
    await writer?.stop();
    writer = undefined;
  });

  const capturingLogger = () => {
    logged = [];
    return pino({ level: "info" }, { write: (s: string) => void logged.push(JSON.parse(s)) });
  };

  async function freshChain(chainId: bigint, estimate: bigint) {
    await db.exec("truncate commands, chain_txs, signer_leases, relay_spend restart identity cascade");
    node = new EstimatingChain(chainId);
    node.estimate = estimate;
    return makeChainContext(node, chainId, ADDRESSES);
  }

  /** A writer holding the first test key on `chainId`, with the real create_order job; ticks are driven by hand. */
  async function startWriter(
    chainId: bigint,
    estimate: bigint,
    estimateAllGas?: boolean,
    extra: Partial<ConstructorParameters<typeof ChainWriter>[3]> = {},
  ) {
    const chain = await freshChain(chainId, estimate);
    const scripted = new ScriptedJobs();
    const jobs: JobRegistry = { ...scripted.registry(), create_order: createOrder };
    const w = new ChainWriter(
      db,
      chain,
      [SIGNER_KEY],
      {
        jobs,
        batchSize: 50,
        confirmations: 1,
        pollIntervalMs: 3_600_000,
        replaceAfterMs: 3_600_000,
        feeBumpPercent: 20,
        leaseTtlMs: 3_600_000,
        merchantKeySecret: "unit-test-secret",
        estimateAllGas,
        ...extra,
      },
      capturingLogger(),
      createMetrics(),
      "unit-1",
    );
    await w.start();
    writer = w;
    return { w, jobs: scripted };
  }

  /** The writer as `createWorkers` wires it from the environment (GAS_LIMITS included). */
  async function startConfiguredWriter(chainId: bigint, estimate: bigint, env: Record<string, string>) {
    const chain = await freshChain(chainId, estimate);
    const config = loadConfig({
      SIGNER_KEYS: SIGNER_KEY,
      ADMIN_API_KEY: "unit-test-admin-key",
      MERCHANT_KEY_SECRET: "unit-test-secret-0",
      POLL_INTERVAL_MS: "60000",
      LEASE_TTL_MS: "600000",
      ...env,
    });
    const w = createWorkers(config, db, chain, capturingLogger(), createMetrics(), "unit-1").writer;
    await w.start();
    writer = w;
    return w;
  }

  async function enqueueOrders(): Promise<void> {
    for (const [n, items] of ITEMS.entries()) {
      await enqueueCommand(db, { kind: "create_order", payload: orderPayload(n, items) });
    }
  }

  const commands = async () =>
    (
      await db.query<{ status: string; attempts: number; error_code: string | null }>(
        "select status, attempts, error_code from commands order by id",
      )
    ).rows;
  const statuses = async () => (await commands()).map((c) => c.status);
  /** What the writer logged at warning level or above: the message and the error it names. */
  const warnings = () => logged.filter((l) => l.level >= 40).map((l) => (l.err ? `${l.msg}: ${l.err}` : l.msg));

  /** The gas limit of each transaction the node received. */
  const gasLimits = () => node.broadcasts.map((raw) => Transaction.from(raw).gasLimit);
  const estimates = () => node.calls.filter((m) => m === "eth_estimateGas").length;

  it("on a local chain a batch of first attempts is sent with its bound (60k + 70k per order + 45k per item), nothing estimated", async () => {
    const { w } = await startWriter(31337n, 2_000_000n);
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([BOUND]);
    expect(BOUND).to.equal(380_000n);
    expect(estimates()).to.equal(0);
    expect(await statuses()).to.deep.equal(["submitted", "submitted"]);
  });

  for (const [name, chainId] of [
    ["Base", 8453n],
    ["Arbitrum One", 42161n],
    ["OP Mainnet", 10n],
  ] as const) {
    it(`on ${name} (${chainId}) the L1 data cost can exceed the bound: the gas limit is the node's estimate × 1.2 + 20k`, async () => {
      const { w } = await startWriter(chainId, 2_000_000n);
      await enqueueOrders();
      await w.submitTick();
      expect(gasLimits()).to.deep.equal([2_420_000n]);
      expect(gasLimits()[0]).to.be.greaterThan(BOUND);
      expect(estimates()).to.equal(1);
      expect(await statuses()).to.deep.equal(["submitted", "submitted"]);
    });
  }

  it("on an L1-data chain an estimate below the bound is used as well (the bound is not a floor)", async () => {
    const { w } = await startWriter(8453n, 100_000n);
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([140_000n]);
  });

  it("with the estimate option on, a local chain's batch gets the estimate's limit too", async () => {
    const { w } = await startWriter(31337n, 2_000_000n, true);
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([2_420_000n]);
    expect(estimates()).to.equal(1);
  });

  it("GAS_LIMITS=estimate on a local chain: the configured writer sends the estimate's limit", async () => {
    const w = await startConfiguredWriter(31337n, 2_000_000n, { GAS_LIMITS: "estimate" });
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([2_420_000n]);
  });

  it("GAS_LIMITS=bounds on Base overrides the chain's default: the configured writer sends the bound, nothing estimated", async () => {
    const w = await startConfiguredWriter(8453n, 2_000_000n, { GAS_LIMITS: "bounds" });
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([BOUND]);
    expect(estimates()).to.equal(0);
  });

  it("without GAS_LIMITS the configured writer on Base estimates (the chain's default)", async () => {
    const w = await startConfiguredWriter(8453n, 2_000_000n, {});
    await enqueueOrders();
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([2_420_000n]);
  });

  it("a node that fails to estimate a batch on Base ('internal error', no revert): nothing is sent with a guessed limit, no attempt is counted, the failure is logged, and the pass after the back-off sends the estimate's limit", async () => {
    const { w } = await startWriter(8453n, 2_000_000n);
    node.estimateFault = { code: -32603, message: "internal error" };
    await enqueueOrders();
    await w.submitTick();
    expect(node.broadcasts, "transactions sent").to.deep.equal([]);
    expect(estimates()).to.equal(1);
    expect(await commands()).to.deep.equal([
      { status: "pending", attempts: 0, error_code: null },
      { status: "pending", attempts: 0, error_code: null },
    ]);
    expect(warnings()).to.deep.equal([
      "signer pass failed: Error: the node failed to answer estimateGas: internal error (code -32603)",
    ]);

    // The node estimates again: after the signer's back-off (0.5 s after a first failure) the batch goes out.
    node.estimateFault = undefined;
    await w.submitTick();
    expect(node.broadcasts, "nothing during the back-off").to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 600));
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([2_420_000n]);
    expect((await commands()).map((c) => c.status)).to.deep.equal(["submitted", "submitted"]);
  });

  it("a node that fails to estimate a transaction of its own (a stock addition) on Base: the command is not failed as a revert; it waits and is sent with the estimate's limit once the node answers", async () => {
    const { w, jobs } = await startWriter(8453n, 300_000n);
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "mint_stock" });
    node.estimateFault = { code: -32000, message: "header not found" };
    await enqueueCommand(db, { kind: "mint_stock", payload: {} });
    await w.submitTick();
    expect(node.broadcasts, "transactions sent").to.deep.equal([]);
    expect(await commands()).to.deep.equal([{ status: "pending", attempts: 0, error_code: null }]);
    expect(warnings()).to.deep.equal([
      "signer pass failed: Error: the node failed to answer estimateGas: header not found (code -32000)",
    ]);

    node.estimateFault = undefined;
    await new Promise((r) => setTimeout(r, 600));
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([380_000n]);
    expect((await commands()).map((c) => c.status)).to.deep.equal(["submitted"]);
  });

  it("an estimate answered 'execution reverted' without data is still a revert: the transaction of its own is not sent and its command fails UnknownRevert", async () => {
    const { w, jobs } = await startWriter(8453n, 300_000n);
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "mint_stock" });
    node.estimateFault = { code: 3, message: "execution reverted" };
    node.callRevert = "0x"; // and so does the call on the newest state the relayer has seen
    await enqueueCommand(db, { kind: "mint_stock", payload: {} });
    await w.submitTick();
    expect(node.broadcasts).to.deep.equal([]);
    expect(await commands()).to.deep.equal([{ status: "failed", attempts: 0, error_code: "UnknownRevert" }]);
    expect(node.calls.filter((m) => m === "eth_call")).to.have.length(1);
  });

  for (const [node_, message] of [
    ["Hardhat", "Received invalid block tag 12. Latest block number is 10"],
    ["Anvil", "BlockOutOfRangeError: block height is 10 but requested was 12"],
    ["Erigon", "block not found: 12"],
  ] as const) {
    it(`a reverting estimate whose check on the seen state is answered by a node without that block (${node_}: "${message.slice(0, 30)}…"): no revert, nothing fails, the command waits`, async () => {
      const { w, jobs } = await startWriter(8453n, 300_000n);
      jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "mint_stock" });
      node.estimateFault = { code: 3, message: "execution reverted", data: "0x" };
      node.callFault = { code: -32000, message };
      await enqueueCommand(db, { kind: "mint_stock", payload: {} });
      await w.submitTick();
      expect(node.broadcasts, "transactions sent").to.deep.equal([]);
      expect(await commands()).to.deep.equal([{ status: "pending", attempts: 0, error_code: null }]);
      node.callFault = undefined;
    });
  }

  it("an estimate that keeps reverting while the seen state never holds the cause (nothing newer mined or indexed): after maxStaleVerdicts waits the node's revert fails the command; the check runs with the transaction gas cap", async () => {
    const { w, jobs } = await startWriter(8453n, 300_000n, undefined, { staleRetryMs: 0, maxStaleVerdicts: 3 });
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "mint_stock" });
    node.estimateFault = { code: 3, message: "execution reverted", data: "0x" };
    const gasOfCalls: (string | undefined)[] = [];
    const send = node._send.bind(node);
    node._send = async (payload) => {
      for (const p of Array.isArray(payload) ? payload : [payload])
        if (p.method === "eth_call") gasOfCalls.push((p.params as { gas?: string }[])[0].gas);
      return send(payload);
    };
    await enqueueCommand(db, { kind: "mint_stock", payload: {} });
    for (let i = 0; i < 3; i++) {
      await w.submitTick();
      expect(await commands(), `wait ${i + 1}`).to.deep.equal([{ status: "pending", attempts: 0, error_code: null }]);
    }
    await w.submitTick();
    expect(node.broadcasts, "transactions sent").to.deep.equal([]);
    expect(await commands()).to.deep.equal([{ status: "failed", attempts: 0, error_code: "UnknownRevert" }]);
    expect(gasOfCalls).to.deep.equal(Array(3).fill(toQuantity(TX_GAS_CAP)));
  });

  it("an estimate that reverts while the call does not on the newest state the relayer has seen (a lagging backend answered the estimate): nothing is sent, nothing fails, the command waits and is sent once the estimate passes", async () => {
    const { w, jobs } = await startWriter(8453n, 300_000n);
    jobs.prepare = () => ({ type: "tx", to: ADDRESSES.inventory, data: "0x01", kind: "mint_stock" });
    node.estimateFault = { code: 3, message: "execution reverted", data: "0x" };
    await enqueueCommand(db, { kind: "mint_stock", payload: {} });
    await w.submitTick();
    expect(node.broadcasts, "transactions sent").to.deep.equal([]);
    expect(await commands()).to.deep.equal([{ status: "pending", attempts: 0, error_code: null }]);
    expect(logged.filter((l) => l.msg.startsWith("an estimate reverted on a state older"))).to.have.length(1);

    node.estimateFault = undefined;
    await new Promise((r) => setTimeout(r, 1100));
    await w.submitTick();
    expect(gasLimits()).to.deep.equal([380_000n]);
    expect((await commands()).map((c) => c.status)).to.deep.equal(["submitted"]);
  });
});
