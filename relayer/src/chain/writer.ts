/**
 * The chain writer: claims ready commands, batches escrow calls into one transaction, signs with nonces it
 * owns, stores every signed transaction before broadcasting it, follows receipts to the confirmation depth,
 * replaces transactions that are not mined in time (same nonce, higher fees) and records each command's
 * outcome with the decoded custom error. Several signers work in parallel; each is leased to one process.
 */
import { Transaction, Wallet, isError, keccak256 } from "ethers";
import { getReceiptRaw, type RawReceipt } from "./rpc";
import type { Logger } from "pino";
import type { ChainContext } from "./context";
import { decodeRevertData, revertDataOf, RETRYABLE_ERRORS } from "./decodeError";
import { LeaseManager } from "./leases";
import type { Db } from "../store/db";
import {
  claimReadyCommands,
  commandsOfTx,
  markConfirmed,
  markFailed,
  markSubmitted,
  reclaimAbandoned,
  releaseCommands,
  reopenReorged,
  requeueRefused,
  returnClaims,
  runAgainSoon,
  type CommandRow,
} from "../store/commands";
import {
  insertTx,
  markDropped,
  markSiblingsReplaced,
  maxRecordedNonce,
  minedFromNonce,
  openTxs,
  reopenTx,
  setTxStatus,
  type ChainTxRow,
} from "../store/chainTxs";
import { recordRelaySpend } from "../store/relaySpend";
import { RELAYED_KINDS } from "../domain/command";
import type { DecodedRevert, JobDeps, JobHandler, JobRegistry, Prepared } from "./jobPort";
import type { Metrics } from "../metrics";

/** EIP-7825 caps one transaction at 2^24 gas; leave room for the estimate's margin. */
const TX_GAS_CAP = 16_000_000n;
const MAX_IN_FLIGHT_PER_SIGNER = 8;
const MAX_RETRIES = 30;
/** Full batches a signer sends back to back before the next tick (a backlog drains without waiting for ticks). */
const MAX_ROUNDS_PER_PASS = 8;

export interface WriterOptions {
  /** What each command kind prepares and what its outcome means (jobs/registry.ts). */
  jobs: JobRegistry;
  batchSize: number;
  confirmations: number;
  pollIntervalMs: number;
  replaceAfterMs: number;
  feeBumpPercent: number;
  leaseTtlMs: number;
  merchantKeySecret: string;
  arbiterKey?: string;
}

interface EscrowCall {
  cmd: CommandRow;
  data: string;
  gasBound?: bigint;
}

/** Where a writer pass spent its time (debug log of each transaction sent). */
interface PassTiming {
  commands: number;
  claimMs: number;
  prepareMs?: number;
  estimateMs?: number;
}

function roundedTiming(t?: PassTiming): Record<string, number> {
  if (!t) return {};
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v as number)]));
}

/**
 * `eth_sendRawTransaction` with the stored bytes. ethers' `broadcastTransaction` would parse the transaction
 * again and recover its sender (a signature recovery and a hash of a batch's whole calldata) only to build a
 * response object the writer does not use. Errors are ethers' own (`getRpcError`), as with broadcastTransaction.
 */
async function broadcastRaw(chain: ChainContext, raw: string): Promise<void> {
  await chain.provider.send("eth_sendRawTransaction", [raw]);
}

/**
 * Signs a type-2 transaction with the lane's key: one serialisation for the hash to sign and one for the
 * signed bytes (ethers' `signTransaction` copies and re-parses the request first).
 */
function signTx(wallet: Wallet, fields: Parameters<typeof Transaction.from>[0]): { raw: string; hash: string } {
  const tx = Transaction.from(fields);
  tx.signature = wallet.signingKey.sign(tx.unsignedHash);
  const raw = tx.serialized;
  return { raw, hash: keccak256(raw) };
}

/** The gas limit for a node's estimate: 20% and 20,000 more, as estimates can fall short by a little. */
function limitFromEstimate(estimate: bigint): bigint {
  return (estimate * 12n) / 10n + 20_000n;
}

/** Fixed cost of the batch transaction itself (21,000 base plus calldata and the loop), with margin. */
const BATCH_BASE_GAS = 60_000n;

/**
 * The gas limit of a batch from its calls' bounds, or null when one call has none or is a retry (a retry may
 * follow a batch that ran out of gas: it is estimated by the node instead).
 */
export function batchGasBound(calls: { cmd: { attempts: number }; gasBound?: bigint }[]): bigint | null {
  let sum = BATCH_BASE_GAS;
  for (const c of calls) {
    if (c.gasBound === undefined || c.cmd.attempts > 0) return null;
    sum += c.gasBound;
  }
  return sum;
}

/** Transactions paid for a merchant's gasless actions count against its gas budget. */

class SignerLane {
  nextNonce: bigint | null = null;
  busy = false;
  /** Offered back to the other processes by the lease refresh under way: no pass may start on it meanwhile. */
  releasing = false;
  needsRecovery = true;
  inFlight = 0;
  constructor(readonly wallet: Wallet) {}
  get address(): string {
    return this.wallet.address;
  }
}

export type Classified =
  | { kind: "network" }
  | { kind: "nonce_gap" }
  | { kind: "nonce_low" }
  | { kind: "funds" }
  | { kind: "known" }
  | { kind: "rejected"; message: string };

/** How a failed broadcast is treated; only a definitive refusal ("rejected", nonce errors) gives the nonce back. */
export function classifyBroadcastError(err: unknown): Classified {
  const msg = String((err as { message?: string })?.message ?? err).toLowerCase();
  if (msg.includes("already known") || msg.includes("known transaction")) return { kind: "known" };
  if (isError(err, "NONCE_EXPIRED") || msg.includes("nonce too low")) return { kind: "nonce_low" };
  if (msg.includes("nonce too high") || msg.includes("can't be queued")) return { kind: "nonce_gap" };
  if (isError(err, "INSUFFICIENT_FUNDS") || msg.includes("insufficient funds")) return { kind: "funds" };
  if (
    isError(err, "TIMEOUT") ||
    isError(err, "NETWORK_ERROR") ||
    // No answer for this request in a batch's response: the node may or may not have taken it.
    (isError(err, "BAD_DATA") && msg.includes("missing response")) ||
    // A node's own timeout (geth: -32002 "request timed out") while the transaction may still enter the pool.
    msg.includes("timed out") ||
    msg.includes("timeout") ||
    msg.includes("econnrefused") ||
    msg.includes("socket") ||
    msg.includes("fetch failed") ||
    msg.includes("econnreset")
  ) {
    return { kind: "network" };
  }
  if (isError(err, "SERVER_ERROR") || isError(err, "UNKNOWN_ERROR")) {
    const e = err as { error?: { code?: number } };
    if (e.error?.code === undefined) return { kind: "network" };
  }
  return { kind: "rejected", message: msg.slice(0, 300) };
}

export class ChainWriter {
  private readonly lanes = new Map<string, SignerLane>();
  private held: string[] = [];
  private readonly leases: LeaseManager;
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private readonly passes = new Set<Promise<void>>();
  private tracking: Promise<void> | null = null;
  private feeCache: { at: number; maxFee: bigint; priority: bigint } | null = null;
  private lastNonceCheck = 0;
  /** Recoveries under way: tracking pauses meanwhile, so a receipt read before a reorg cannot undo a reopen. */
  private recovering = 0;

  constructor(
    private readonly db: Db,
    private readonly chain: ChainContext,
    signerKeys: string[],
    private readonly opts: WriterOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    readonly instanceId: string,
  ) {
    for (const key of signerKeys) {
      const w = new Wallet(key);
      this.lanes.set(w.address, new SignerLane(w));
    }
    this.leases = new LeaseManager(db, instanceId, [...this.lanes.keys()], opts.leaseTtlMs);
  }

  private get jobs(): JobRegistry {
    return this.opts.jobs;
  }

  get operatorAddresses(): string[] {
    return [...this.lanes.keys()];
  }

  get heldSigners(): string[] {
    return [...this.held];
  }

  async start(): Promise<void> {
    this.running = true;
    await this.refreshLeases();
    // During an outage every pass fails the same way: log the first failure, then at most one line per 5 s.
    let lastLogged = 0;
    let suppressed = 0;
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => {
        if (!this.running) return;
        fn().catch((err) => {
          if (Date.now() - lastLogged < 5_000) {
            suppressed += 1;
            return;
          }
          this.log.error({ err: String(err), suppressedSinceLast: suppressed }, "writer loop error");
          lastLogged = Date.now();
          suppressed = 0;
        });
      }, ms);
      this.timers.push(t);
    };
    every(Math.max(500, Math.floor(this.opts.leaseTtlMs / 3)), () => this.refreshLeases());
    every(this.opts.pollIntervalMs, () => this.submitTick());
    every(this.opts.pollIntervalMs, () => this.trackTick());
  }

  /** Stops taking new work, lets the current ticks finish, returns unsent claims and the leases. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.passes, this.tracking]);
    await returnClaims(this.db, this.instanceId);
    await this.leases.releaseAll();
  }

  private async refreshLeases(): Promise<void> {
    const before = new Set(this.held);
    try {
      this.held = await this.leases.refresh((s) => {
        const lane = this.lanes.get(s);
        const idle = !!lane && !lane.busy && lane.inFlight === 0;
        // Until `held` says whether it went, the lane must not start signing with a lease it may have lost.
        if (idle) lane.releasing = true;
        return idle;
      });
    } finally {
      for (const lane of this.lanes.values()) lane.releasing = false;
    }
    for (const s of this.held) {
      if (!before.has(s)) {
        const lane = this.lanes.get(s)!;
        lane.needsRecovery = true;
        this.log.info({ signer: s }, "signer lease acquired");
      }
    }
    for (const s of before) if (!this.held.includes(s)) this.log.info({ signer: s }, "signer lease released");
    this.metrics.signersHeld.set(this.held.length);
    await reclaimAbandoned(this.db, this.opts.leaseTtlMs);
  }

  /**
   * Starts a pass on every free signer: it claims and sends a batch, and keeps going while its batches come back
   * full. Each signer runs on its own, so one waiting for its transaction to be mined never holds back another.
   * Resolves when the passes under way have ended.
   */
  submitTick(): Promise<void> {
    for (const address of this.held) {
      const lane = this.lanes.get(address);
      if (!lane || lane.busy || lane.releasing) continue;
      lane.busy = true;
      const pass: Promise<void> = this.lanePass(lane).finally(() => {
        lane.busy = false;
        this.passes.delete(pass);
      });
      this.passes.add(pass);
    }
    return Promise.all([...this.passes]).then(() => undefined);
  }

  private async lanePass(lane: SignerLane): Promise<void> {
    try {
      for (let round = 0; round < MAX_ROUNDS_PER_PASS; round++) {
        if (round > 0 && (!this.running || !this.held.includes(lane.address))) return;
        if (lane.needsRecovery) await this.recover(lane);
        if (lane.needsRecovery || lane.inFlight >= MAX_IN_FLIGHT_PER_SIGNER) return;
        if (!(await this.fill(lane))) return;
      }
    } catch (err) {
      this.log.warn({ err: String(err), signer: lane.address }, "signer pass failed");
    }
  }

  /**
   * Learns the signer's next nonce from the chain and from the transactions stored for it, and rebroadcasts
   * stored transactions the node does not have, in nonce order (after a crash or an RPC outage).
   */
  private async recover(lane: SignerLane): Promise<void> {
    this.recovering += 1;
    try {
      await this.tracking;
      await this.recoverLane(lane);
    } finally {
      this.recovering -= 1;
    }
  }

  private async recoverLane(lane: SignerLane): Promise<void> {
    const chainNonce = BigInt(await this.chain.provider.getTransactionCount(lane.address, "pending"));
    await this.reopenVanished(lane, chainNonce);
    const open = (await openTxs(this.db, [lane.address])).filter((t) => t.status === "sent");
    const latestPerNonce = new Map<string, ChainTxRow>();
    for (const t of open) {
      const cur = latestPerNonce.get(t.nonce);
      if (!cur || BigInt(t.id) > BigInt(cur.id)) latestPerNonce.set(t.nonce, t);
    }
    const pending = [...latestPerNonce.values()]
      .filter((t) => BigInt(t.nonce) >= chainNonce)
      .sort((a, b) => Number(BigInt(a.nonce) - BigInt(b.nonce)));
    for (const t of pending) {
      try {
        await broadcastRaw(this.chain, t.raw);
        this.log.info({ signer: lane.address, nonce: t.nonce, hash: t.hash }, "rebroadcast stored transaction");
      } catch (err) {
        const c = classifyBroadcastError(err);
        if (c.kind === "network") throw err;
        if (c.kind !== "known" && c.kind !== "nonce_low") {
          this.log.warn(
            { signer: lane.address, nonce: t.nonce, err: String(err) },
            "stored transaction refused on rebroadcast",
          );
        }
      }
    }
    const recorded = await maxRecordedNonce(this.db, lane.address);
    const afterRecorded = recorded === null ? 0n : recorded + 1n;
    lane.nextNonce = chainNonce > afterRecorded ? chainNonce : afterRecorded;
    lane.inFlight = latestPerNonce.size;
    lane.needsRecovery = false;
  }

  /**
   * Transactions recorded as mined (or final) at nonces the chain has not used: their blocks were reorged
   * away. They become open again and their commands submitted again, so recovery rebroadcasts them in nonce
   * order: the signer's nonces stay contiguous and no command's effect is lost. A create that the indexer
   * queued again meanwhile cannot double: the order id is the hash of its fixed terms, and the second
   * attempt is settled by OrderAlreadyExists with the escrow's status of that id (see settleExistingOrder).
   */
  private async reopenVanished(lane: SignerLane, chainNonce: bigint): Promise<void> {
    for (const t of await minedFromNonce(this.db, lane.address, chainNonce)) {
      if (await this.chain.provider.getTransactionReceipt(t.hash)) continue;
      await this.db.tx(async (q) => {
        await reopenTx(q, t.id);
        await reopenReorged(q, t.signer, t.nonce);
      });
      this.log.warn({ signer: lane.address, nonce: t.nonce, hash: t.hash }, "transaction reorged away; reopened");
    }
  }

  /**
   * The node no longer knows transactions this process signed (a reorg, a node restart): the signer recovers
   * before sending anything new. Checked at most once a second per signer.
   */
  private async checkNonces(): Promise<void> {
    if (Date.now() - this.lastNonceCheck < 1000) return;
    this.lastNonceCheck = Date.now();
    for (const s of this.held) {
      const lane = this.lanes.get(s)!;
      if (lane.busy || lane.needsRecovery || lane.nextNonce === null) continue;
      const expected = lane.nextNonce;
      const pending = BigInt(await this.chain.provider.getTransactionCount(s, "pending"));
      if (pending < expected && !lane.busy && lane.nextNonce === expected) {
        this.log.warn(
          { signer: s, chainNonce: String(pending), nextNonce: String(expected) },
          "node is missing transactions of this signer; recovering",
        );
        lane.needsRecovery = true;
      }
    }
  }

  /** Claims, prepares and sends one batch; true when the batch was full (more work is likely waiting). */
  private async fill(lane: SignerLane): Promise<boolean> {
    const started = performance.now();
    const claimed = await claimReadyCommands(this.db, this.instanceId, this.opts.batchSize);
    if (claimed.length === 0) return false;
    const timing: PassTiming = { claimMs: performance.now() - started, commands: claimed.length };
    const unsent = new Set(claimed.map((c) => c.id));
    try {
      const prepared: { cmd: CommandRow; p: Prepared }[] = [];
      for (const cmd of claimed) {
        try {
          prepared.push({ cmd, p: await this.prepare(cmd) });
        } catch (err) {
          prepared.push({ cmd, p: { type: "wait", delayMs: 1000, reason: String(err) } });
        }
      }
      timing.prepareMs = performance.now() - started - timing.claimMs;
      const escrowCalls: EscrowCall[] = [];
      const singles: { cmd: CommandRow; to: string; data: string; kind: string }[] = [];
      for (const { cmd, p } of prepared) {
        if (p.type === "escrow") escrowCalls.push({ cmd, data: p.data, gasBound: p.gasBound });
        else if (p.type === "tx") singles.push({ cmd, to: p.to, data: p.data, kind: p.kind });
        else if (p.type === "done") {
          await markConfirmed(this.db, [cmd.id]);
          await this.afterConfirmed(cmd);
          unsent.delete(cmd.id);
          this.metrics.commands.inc({ kind: cmd.kind, outcome: "confirmed" });
        } else if (p.type === "wait") {
          await releaseCommands(this.db, [cmd.id], p.delayMs);
          unsent.delete(cmd.id);
        } else {
          await this.fail(cmd, p.code, p.message);
          unsent.delete(cmd.id);
        }
      }
      if (escrowCalls.length > 0) {
        const sent = await this.sendBatch(lane, escrowCalls, timing);
        for (const id of sent) unsent.delete(id);
      }
      for (const s of singles) {
        if (lane.needsRecovery) break;
        const ok = await this.sendTx(lane, s.to, s.data, s.kind, [s.cmd]);
        if (ok) unsent.delete(s.cmd.id);
      }
    } finally {
      // Anything claimed but not handed to the chain goes back to the queue.
      await releaseCommands(this.db, [...unsent]).catch(() => undefined);
    }
    return claimed.length >= this.opts.batchSize && unsent.size === 0 && !lane.needsRecovery;
  }

  /**
   * Sends escrow calls as one non-atomic batch; splits it if it would exceed the per-transaction gas cap.
   * When every call has a known gas bound and is on its first attempt, the gas limit is the sum of the bounds
   * and nothing is estimated; otherwise the node estimates the batch (which also finds a batch that would
   * revert as a whole before any gas is spent).
   */
  private async sendBatch(lane: SignerLane, calls: EscrowCall[], timing?: PassTiming): Promise<string[]> {
    const bound = batchGasBound(calls);
    if (bound !== null && bound > TX_GAS_CAP && calls.length > 1) return this.sendHalves(lane, calls, timing);
    const data = this.chain.escrowAbi.encode("batch", [calls.map((c) => c.data), false]);
    let estimate: bigint | undefined;
    if (bound === null) {
      const t = performance.now();
      try {
        estimate = await this.chain.provider.estimateGas({ from: lane.address, to: this.chain.addresses.escrow, data });
      } catch (err) {
        const revert = revertDataOf(err);
        if (revert === undefined) throw err;
        const decoded = decodeRevertData(revert);
        this.log.error({ signer: lane.address, error: decoded.name }, "batch would revert as a whole");
        await releaseCommands(
          this.db,
          calls.map((c) => c.cmd.id),
          5000,
          true,
        );
        return calls.map((c) => c.cmd.id);
      } finally {
        if (timing) timing.estimateMs = (timing.estimateMs ?? 0) + performance.now() - t;
      }
      if ((estimate * 12n) / 10n > TX_GAS_CAP && calls.length > 1) return this.sendHalves(lane, calls, timing);
    }
    const ok = await this.sendTx(
      lane,
      this.chain.addresses.escrow,
      data,
      "batch",
      calls.map((c) => c.cmd),
      bound ?? limitFromEstimate(estimate!),
      timing,
    );
    return ok ? calls.map((c) => c.cmd.id) : [];
  }

  private async sendHalves(lane: SignerLane, calls: EscrowCall[], timing?: PassTiming): Promise<string[]> {
    const half = Math.ceil(calls.length / 2);
    const first = await this.sendBatch(lane, calls.slice(0, half), timing);
    if (lane.needsRecovery) return first;
    return [...first, ...(await this.sendBatch(lane, calls.slice(half), timing))];
  }

  private async fees(): Promise<{ maxFee: bigint; priority: bigint }> {
    if (this.feeCache && Date.now() - this.feeCache.at < 1000) return this.feeCache;
    const fd = await this.chain.provider.getFeeData();
    const priority = fd.maxPriorityFeePerGas ?? 1_000_000_000n;
    const maxFee = fd.maxFeePerGas ?? (fd.gasPrice ?? 2_000_000_000n) * 2n;
    this.feeCache = { at: Date.now(), maxFee: maxFee < priority ? priority : maxFee, priority };
    return this.feeCache;
  }

  /**
   * Signs with the lane's next nonce, stores the transaction and marks the commands submitted in one database
   * transaction, then broadcasts. Returns false if nothing was handed to the chain (commands stay claimed
   * for the caller to release).
   */
  private async sendTx(
    lane: SignerLane,
    to: string,
    data: string,
    kind: string,
    cmds: CommandRow[],
    knownGasLimit?: bigint,
    timing?: PassTiming,
  ): Promise<boolean> {
    let gasLimit = knownGasLimit;
    if (gasLimit === undefined) {
      try {
        gasLimit = limitFromEstimate(await this.chain.provider.estimateGas({ from: lane.address, to, data }));
      } catch (err) {
        const revert = revertDataOf(err);
        if (revert === undefined) throw err;
        // It would revert: decide without spending gas.
        await this.handleRevert(cmds[0], decodeRevertData(revert));
        return true;
      }
    }
    if (gasLimit > TX_GAS_CAP) gasLimit = TX_GAS_CAP;
    const { maxFee, priority } = await this.fees();
    const nonce = lane.nextNonce!;
    const { raw, hash } = signTx(lane.wallet, {
      type: 2,
      chainId: this.chain.chainId,
      nonce: Number(nonce),
      to,
      data,
      value: 0n,
      gasLimit,
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: priority,
    });
    await this.db.tx(async (q) => {
      await insertTx(q, {
        signer: lane.address,
        nonce,
        hash,
        raw,
        kind,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: priority,
        gasLimit,
      });
      await markSubmitted(
        q,
        cmds.map((c) => c.id),
        lane.address,
        nonce,
      );
    });
    lane.nextNonce = nonce + 1n;
    lane.inFlight += 1;
    const sendStarted = performance.now();
    for (const c of cmds) this.metrics.submitLatency.observe((Date.now() - new Date(c.created_at).getTime()) / 1000);
    try {
      await broadcastRaw(this.chain, raw);
      this.metrics.txs.inc({ outcome: "sent" });
      this.log.debug(
        {
          signer: lane.address,
          nonce: String(nonce),
          hash,
          kind,
          commands: cmds.length,
          gasLimit: String(gasLimit),
          ...roundedTiming(timing),
          broadcastMs: Math.round(performance.now() - sendStarted),
        },
        "transaction sent",
      );
    } catch (err) {
      const c = classifyBroadcastError(err);
      if (c.kind === "known") return true;
      if (c.kind === "network") {
        // Unknown whether the node has it: keep it stored; recovery rebroadcasts before anything newer.
        lane.needsRecovery = true;
        this.log.warn(
          { signer: lane.address, nonce: String(nonce), err: String(err) },
          "broadcast failed, will recover",
        );
        return true;
      }
      // Definitively refused: the nonce was not used; give it back and requeue the commands.
      await this.db.tx(async (q) => {
        await markDropped(q, hash);
        await requeueRefused(q, lane.address, nonce, 2000);
      });
      lane.inFlight -= 1;
      this.metrics.txs.inc({ outcome: "dropped" });
      if (c.kind === "nonce_gap" || c.kind === "nonce_low") lane.needsRecovery = true;
      else lane.nextNonce = nonce;
      this.log.warn(
        { signer: lane.address, nonce: String(nonce), reason: c.kind, err: String(err) },
        "transaction refused by the node",
      );
      return true;
    }
    return true;
  }

  /** Follows stored transactions to their receipts and the confirmation depth; replaces stuck ones. */
  trackTick(): Promise<void> {
    if (this.tracking) return this.tracking;
    if (this.recovering > 0) return Promise.resolve();
    this.tracking = (async () => {
      try {
        await this.track();
      } finally {
        this.tracking = null;
      }
    })();
    return this.tracking;
  }

  private async track(): Promise<void> {
    await this.checkNonces();
    const txs = await openTxs(this.db, this.held);
    if (txs.length === 0) {
      for (const s of this.held) this.lanes.get(s)!.inFlight = 0;
      return;
    }
    const head = BigInt(await this.chain.provider.getBlockNumber());
    const receipts = await Promise.all(txs.map((t) => getReceiptRaw(this.chain.provider, t.hash)));
    const groups = new Map<string, { txs: ChainTxRow[]; mined?: { tx: ChainTxRow; r: RawReceipt } }>();
    txs.forEach((t, i) => {
      const key = `${t.signer}:${t.nonce}`;
      const g = groups.get(key) ?? { txs: [] };
      g.txs.push(t);
      const r = receipts[i];
      if (r) g.mined = { tx: t, r };
      groups.set(key, g);
    });
    const inFlight = new Map<string, number>();
    for (const g of groups.values()) {
      const signer = g.txs[0].signer;
      if (g.mined) {
        const { tx, r } = g.mined;
        const depth = head - BigInt(r.blockNumber) + 1n;
        if (depth >= BigInt(this.opts.confirmations)) {
          await this.finalize(tx, r);
          continue;
        }
        if (tx.status !== "mined")
          await setTxStatus(this.db, tx.id, "mined", { blockNumber: BigInt(r.blockNumber), gasUsed: r.gasUsed });
      } else {
        const latest = g.txs.reduce((a, b) => (BigInt(a.id) > BigInt(b.id) ? a : b));
        if (Date.now() - new Date(latest.sent_at).getTime() > this.opts.replaceAfterMs) await this.replace(latest);
      }
      inFlight.set(signer, (inFlight.get(signer) ?? 0) + 1);
    }
    for (const s of this.held) this.lanes.get(s)!.inFlight = inFlight.get(s) ?? 0;
  }

  /** Re-signs the same nonce and payload with fees raised by the configured percentage. */
  private async replace(t: ChainTxRow): Promise<void> {
    const lane = this.lanes.get(t.signer);
    if (!lane || lane.busy) return;
    lane.busy = true;
    try {
      const known = await this.chain.provider.getTransaction(t.hash);
      const old = Transaction.from(t.raw);
      const bump = (v: bigint) => (v * BigInt(100 + this.opts.feeBumpPercent)) / 100n + 1n;
      const { maxFee } = await this.fees();
      const priority = bump(old.maxPriorityFeePerGas ?? 0n);
      let newMax = bump(old.maxFeePerGas ?? 0n);
      if (newMax < maxFee) newMax = maxFee;
      if (newMax < priority) newMax = priority;
      if (!known) {
        // The node lost it (restart, outage): send the stored bytes again before anything else.
        lane.needsRecovery = true;
        return;
      }
      const { raw, hash } = signTx(lane.wallet, {
        type: 2,
        chainId: old.chainId,
        nonce: old.nonce,
        to: old.to,
        data: old.data,
        value: old.value,
        gasLimit: old.gasLimit,
        maxFeePerGas: newMax,
        maxPriorityFeePerGas: priority,
      });
      await insertTx(this.db, {
        signer: t.signer,
        nonce: BigInt(t.nonce),
        hash,
        raw,
        kind: t.kind,
        maxFeePerGas: newMax,
        maxPriorityFeePerGas: priority,
        gasLimit: old.gasLimit,
        replaces: t.id,
      });
      try {
        await broadcastRaw(this.chain, raw);
        this.metrics.txs.inc({ outcome: "replaced" });
        this.log.info(
          { signer: t.signer, nonce: t.nonce, old: t.hash, hash, maxFeePerGas: String(newMax) },
          "transaction replaced with higher fees",
        );
      } catch (err) {
        const c = classifyBroadcastError(err);
        if (c.kind !== "known" && c.kind !== "network") {
          await markDropped(this.db, hash);
          this.log.warn({ signer: t.signer, nonce: t.nonce, err: String(err) }, "replacement refused");
        }
      }
    } finally {
      lane.busy = false;
    }
  }

  private async finalize(tx: ChainTxRow, r: RawReceipt): Promise<void> {
    const nonce = BigInt(tx.nonce);
    const cmds = await commandsOfTx(this.db, tx.signer, nonce);
    // The commands' outcomes are recorded before the transaction is closed: a crash in between leaves the
    // transaction open, so the next pass finalizes the commands still submitted instead of losing them.
    await this.settleCommands(tx, r, cmds);
    await this.db.tx(async (q) => {
      await setTxStatus(q, tx.id, r.status === 1 ? "confirmed" : "reverted", {
        blockNumber: BigInt(r.blockNumber),
        gasUsed: r.gasUsed,
      });
      await markSiblingsReplaced(q, tx.signer, nonce, tx.id);
    });
    this.metrics.txs.inc({ outcome: r.status === 1 ? "confirmed" : "reverted" });
    this.metrics.confirmationLatency.observe((Date.now() - new Date(tx.sent_at).getTime()) / 1000);
  }

  private async settleCommands(tx: ChainTxRow, r: RawReceipt, cmds: CommandRow[]): Promise<void> {
    if (tx.kind === "batch") {
      if (r.status !== 1) {
        await releaseCommands(
          this.db,
          cmds.map((c) => c.id),
          2000,
          true,
        );
        return;
      }
      const failures = new Map<number, string>();
      const failedTopic = this.chain.escrowAbi.topicOf("BatchItemFailed");
      const escrow = this.chain.addresses.escrow.toLowerCase();
      for (const log of r.logs) {
        // Only the failures are decoded: a batch of hundreds of orders carries hundreds of other events.
        if (log.topics[0] !== failedTopic || log.address.toLowerCase() !== escrow) continue;
        const ev = this.chain.escrowAbi.decode(log);
        if (ev) failures.set(Number(ev.values[0]), ev.values[1] as string);
      }
      const ok: CommandRow[] = [];
      for (const cmd of cmds) {
        const reason = failures.get(cmd.batch_index ?? -1);
        if (reason === undefined) ok.push(cmd);
        else await this.handleRevert(cmd, decodeRevertData(reason));
      }
      await markConfirmed(
        this.db,
        ok.map((c) => c.id),
      );
      for (const c of ok) {
        this.metrics.commands.inc({ kind: c.kind, outcome: "confirmed" });
        await this.afterConfirmed(c);
      }
      return;
    }
    for (const cmd of cmds) {
      if (RELAYED_KINDS.has(cmd.kind) && cmd.merchant_id) {
        const price = r.gasPrice;
        await recordRelaySpend(this.db, {
          merchantId: cmd.merchant_id,
          commandId: cmd.id,
          txHash: r.hash,
          gasUsed: r.gasUsed,
          costWei: r.gasUsed * price,
        });
      }
      if (r.status === 1) {
        await markConfirmed(this.db, [cmd.id]);
        this.metrics.commands.inc({ kind: cmd.kind, outcome: "confirmed" });
        await this.afterConfirmed(cmd);
      } else {
        const t = Transaction.from(tx.raw);
        let data: string | undefined;
        try {
          await this.chain.provider.call({ from: tx.signer, to: t.to!, data: t.data, blockTag: r.blockNumber - 1 });
        } catch (err) {
          data = revertDataOf(err);
        }
        await this.handleRevert(cmd, decodeRevertData(data));
      }
    }
  }

  /** What a revert means is the command's job's decision; the default retries retryable errors, then fails. */
  private async handleRevert(cmd: CommandRow, decoded: DecodedRevert): Promise<void> {
    const handler = this.jobs[cmd.kind] as JobHandler | undefined;
    const decision = (await handler?.onReverted?.(cmd, decoded, this.jobDeps())) ?? { type: "default" as const };
    if (decision.type === "confirmed") {
      await markConfirmed(this.db, [cmd.id]);
      this.metrics.commands.inc({ kind: cmd.kind, outcome: "confirmed" });
      return;
    }
    if (decision.type === "fail") {
      await this.fail(cmd, decision.code, decision.message);
      return;
    }
    if (RETRYABLE_ERRORS.has(decoded.name) && cmd.attempts < MAX_RETRIES) {
      await releaseCommands(this.db, [cmd.id], 500, true);
      return;
    }
    await this.fail(
      cmd,
      decoded.name,
      `${decoded.name}(${Object.entries(decoded.args)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")})`,
    );
  }

  /** The command fails; its job says what that does to the records it serves, in the same transaction. */
  private async fail(cmd: CommandRow, code: string, message: string): Promise<void> {
    const handler = this.jobs[cmd.kind] as JobHandler | undefined;
    await this.db.tx(async (q) => {
      await markFailed(q, cmd.id, code, message);
      await handler?.onFailed?.(q, cmd, code, message);
    });
    this.metrics.commands.inc({ kind: cmd.kind, outcome: "failed" });
    this.log.warn({ command: cmd.id, kind: cmd.kind, code, message }, "command failed");
  }

  private async afterConfirmed(cmd: CommandRow): Promise<void> {
    const handler = this.jobs[cmd.kind] as JobHandler | undefined;
    if ((await handler?.onConfirmed?.(cmd, this.jobDeps())) === "again") await runAgainSoon(this.db, cmd.id, 1000);
  }

  /** The command's job prepares it; a kind without a job (a row written by something else) fails. */
  private async prepare(cmd: CommandRow): Promise<Prepared> {
    const handler = this.jobs[cmd.kind] as JobHandler | undefined;
    if (!handler) return { type: "fail", code: "UnknownCommand", message: `no handler for command kind ${cmd.kind}` };
    return handler.prepare(cmd, this.jobDeps());
  }

  private jobDeps(): JobDeps {
    return {
      db: this.db,
      chain: this.chain,
      operatorAddresses: this.operatorAddresses,
      merchantKeySecret: this.opts.merchantKeySecret,
      arbiterKey: this.opts.arbiterKey,
    };
  }
}
