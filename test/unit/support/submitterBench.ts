/**
 * The submitter on a bench: a writer with scripted jobs, a chain in memory (fakeChain.ts) and the store on
 * PGlite (memoryDb.ts). Tests drive its ticks by hand and read what it stored and what the node received.
 */
import { Wallet } from "ethers";
import pino from "pino";
import { ChainWriter, type WriterOptions } from "../../../relayer/src/chain/submitter/submitter";
import { TAKEN_MIN_DEPTH } from "../../../relayer/src/chain/submitter/tracker";
import { makeChainContext, type ChainContext } from "../../../relayer/src/chain/context";
import type { JobHandler, JobRegistry, Prepared, RevertDecision } from "../../../relayer/src/chain/jobPort";
import { COMMAND_KINDS, type CommandKind } from "../../../relayer/src/domain/command";
import { enqueueCommand, type CommandRow } from "../../../relayer/src/store/commands";
import { createMetrics, type Metrics } from "../../../relayer/src/metrics";
import { FakeChain } from "./fakeChain";
import { openMemoryDb, type MemoryDb } from "./memoryDb";

/** Hardhat's well-known test keys (local chains only). */
export const SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const SECOND_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
export const SIGNER = new Wallet(SIGNER_KEY).address;
export const SECOND = new Wallet(SECOND_KEY).address;
export const ADDRESSES = {
  escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  inventory: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  forwarder: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  startBlock: 0,
};

/** The calldata a scripted job sends for a command: its id, so each execution can be counted on the chain. */
export function callData(cmd: { id: string }): string {
  return `0x${BigInt(cmd.id).toString(16).padStart(8, "0")}`;
}

/** A job per kind whose decisions each test scripts; it records what the submitter reported. */
export class ScriptedJobs {
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
        // Read through the transaction that marks the command failed: 'failed' only if it runs inside it.
        const r = await q.query<{ status: string }>("select status from commands where id = $1", [cmd.id]);
        this.failed.push({ id: cmd.id, code, inTx: r.rows[0].status === "failed" });
      },
    };
    return Object.fromEntries(COMMAND_KINDS.map((k) => [k, handler])) as JobRegistry;
  }
}

export interface CommandState {
  id: string;
  status: string;
  attempts: number;
  tx_nonce: string | null;
  error_code: string | null;
  error_message: string | null;
}

export interface TxState {
  id: string;
  signer: string;
  nonce: string;
  hash: string;
  status: string;
  replaces: string | null;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
}

export class SubmitterBench {
  node!: FakeChain;
  chain!: ChainContext;
  jobs!: ScriptedJobs;
  writer!: ChainWriter;
  metrics!: Metrics;

  private constructor(readonly db: MemoryDb) {}

  static async open(): Promise<SubmitterBench> {
    return new SubmitterBench(await openMemoryDb());
  }

  /** A fresh chain, store tables and writer holding `keys` (default the first test key); ticks are driven by hand. */
  async start(opts: Partial<Omit<WriterOptions, "jobs">> = {}, keys = [SIGNER_KEY]): Promise<void> {
    await this.db.exec("truncate commands, chain_txs, signer_leases, relay_spend restart identity cascade");
    this.node = new FakeChain();
    this.chain = makeChainContext(this.node, 31337n, ADDRESSES);
    this.jobs = new ScriptedJobs();
    this.metrics = createMetrics();
    await this.newWriter(opts, keys);
  }

  /** A process restart: the writer stops and a new one, with nothing in memory, takes over the same store and chain. */
  async restart(opts: Partial<Omit<WriterOptions, "jobs">> = {}, keys = [SIGNER_KEY]): Promise<void> {
    await this.writer.stop();
    await this.newWriter(opts, keys);
  }

  private async newWriter(opts: Partial<Omit<WriterOptions, "jobs">>, keys: string[]): Promise<void> {
    this.writer = new ChainWriter(
      this.db,
      this.chain,
      keys,
      {
        batchSize: 50,
        confirmations: 2,
        pollIntervalMs: 3_600_000,
        replaceAfterMs: 3_600_000,
        feeBumpPercent: 20,
        leaseTtlMs: 3_600_000,
        merchantKeySecret: "unit-test-secret",
        // The fake chain's id is a local one; the bench decides taken nonces as on a public chain unless told.
        takenNonceChecks: "twice",
        ...opts,
        jobs: this.jobs.registry(),
      },
      pino({ level: "silent" }),
      this.metrics,
      "unit-1",
    );
    await this.writer.start();
  }

  async stop(): Promise<void> {
    await this.writer?.stop();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async enqueue(n: number, kind: CommandKind = "ship_order"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await enqueueCommand(this.db, { kind, payload: { n: i } }));
    return ids;
  }

  async commands(): Promise<CommandState[]> {
    return (
      await this.db.query<CommandState>(
        "select id, status, attempts, tx_nonce, error_code, error_message from commands order by id",
      )
    ).rows;
  }

  async statuses(): Promise<string[]> {
    return (await this.commands()).map((c) => c.status);
  }

  async txs(): Promise<TxState[]> {
    return (
      await this.db.query<TxState>(
        "select id, signer, nonce, hash, status, replaces, max_fee_per_gas, max_priority_fee_per_gas from chain_txs order by id",
      )
    ).rows;
  }

  /** Requeued commands wait a little before they run again; the test does not. */
  async dueNow(): Promise<void> {
    await this.db.query("update commands set not_before = now() where status = 'pending'");
  }

  /** Mines what the node holds, one more block for depth, and tracks. */
  async settle(): Promise<void> {
    this.node.mine();
    this.node.advance(1);
    await this.writer.trackTick();
  }

  /**
   * Two tracker passes at different heads, each TAKEN_MIN_DEPTH blocks further and past the once-a-second limit:
   * what closes a nonce taken by another transaction.
   */
  async checkTakenTwice(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      this.node.advance(TAKEN_MIN_DEPTH);
      await new Promise((r) => setTimeout(r, 1_050));
      await this.writer.trackTick();
    }
  }

  /** How many mined transactions carried the command's call (a batch's calldata contains it). */
  executions(cmdId: string): number {
    const needle = callData({ id: cmdId }).slice(2);
    return [...this.node.mined.values()].filter((m) => m.status === 1 && m.tx.data.includes(needle)).length;
  }
}

/**
 * One bench for the enclosing describe block, handed to `set` once open: its writer stopped after each test, the
 * bench closed after the last.
 */
export function useSubmitterBench(set: (bench: SubmitterBench) => void): void {
  let bench: SubmitterBench | undefined;
  before(async () => {
    bench = await SubmitterBench.open();
    set(bench);
  });
  after(async () => {
    await bench?.close();
  });
  afterEach(async () => {
    await bench?.stop();
  });
}
