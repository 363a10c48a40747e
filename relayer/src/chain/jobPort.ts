/**
 * What the writer needs from the jobs: how to carry a command out on chain, and what its outcome means for the
 * records it serves. jobs/registry.ts implements it, one handler per command kind; the writer is handed the
 * registry, so the chain layer only submits and tracks, and never imports jobs/.
 */
import type { CommandKind } from "../domain/command";
import type { CommandRow } from "../store/commands";
import type { Db, Queryable } from "../store/db";
import type { ChainContext } from "./context";

/** What a command turns into now. */
export type Prepared =
  /** An escrow call, batched with others. `gasBound`: an upper bound of its gas inside a batch, when known. */
  | { type: "escrow"; data: string; gasBound?: bigint }
  /** A transaction of its own. */
  | { type: "tx"; to: string; data: string; kind: string }
  /** Nothing to send: the effect is already on chain. */
  | { type: "done"; note: string }
  /** Not yet: try again after `delayMs`. */
  | { type: "wait"; delayMs: number; reason: string }
  /** Not until something outside wakes it (a merchant's new signatures); `reason` is shown meanwhile. */
  | { type: "sleep"; code: string; reason: string }
  /** Never: the command fails with `code`. */
  | { type: "fail"; code: string; message: string };

export interface JobDeps {
  db: Db;
  chain: ChainContext;
  /** The relayer's signer addresses: every merchant approves them as operators. */
  operatorAddresses: string[];
  merchantKeySecret: string;
  /** The arbiter's key, held by the relayer so resolutions are relayed without the arbiter needing gas. */
  arbiterKey?: string;
}

/** A revert decoded against the escrow's, inventory's and forwarder's errors. */
export interface DecodedRevert {
  name: string;
  args: Record<string, string>;
}

/**
 * What a revert means: the command's effect is on chain after all (`confirmed`), it fails for good (`fail`), or
 * the writer's default applies (retry a retryable error a bounded number of times, else fail with the error).
 */
export type RevertDecision =
  { type: "confirmed" } | { type: "fail"; code: string; message: string } | { type: "default" };

export interface JobHandler {
  /** The chain call that carries the command out, or why not now. */
  prepare(cmd: CommandRow, deps: JobDeps): Promise<Prepared>;
  /** What a revert of the command's call means; without it the writer's default applies. */
  onReverted?(cmd: CommandRow, error: DecodedRevert, deps: JobDeps): Promise<RevertDecision>;
  /**
   * What confirming the command writes, in the transaction that marks it confirmed (commands it queues, such
   * as a return's restock): a crash loses both or neither, and a command left submitted is confirmed again.
   * It may run more than once for one command (two writers settling one receipt): what it writes is idempotent.
   */
  onConfirmedInTransaction?(q: Queryable, cmd: CommandRow): Promise<void>;
  /** Effects of a confirmed command, checked against the chain; `again` runs the command once more. */
  onConfirmed?(cmd: CommandRow, deps: JobDeps): Promise<"done" | "again">;
  /** What a failed command does to the records it serves, in the transaction that marks it failed. */
  onFailed?(q: Queryable, cmd: CommandRow, code: string, message: string): Promise<void>;
}

/** One handler per command kind: a kind without a handler does not compile. */
export type JobRegistry = Record<CommandKind, JobHandler>;
