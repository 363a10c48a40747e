/**
 * A command's outcome, reported by the submitter and given meaning by the command's job: confirmed (with what
 * the job writes in the same transaction, then its follow-up), reverted (the job decides, else retry a retryable
 * error a bounded number of times), failed (the job updates the records the command served, in the same
 * transaction).
 */
import type { CommandRow } from "../../store/commands";
import { markConfirmed, markFailed, releaseCommands, runAgainSoon } from "../../store/commands";
import { lockMerchantGasQueues } from "../../store/relaySpend";
import { RETRYABLE_ERRORS } from "../decodeError";
import type { DecodedRevert, JobDeps, JobHandler, Prepared } from "../jobPort";
import type { SubmitterContext } from "./lane";

/** Attempts after which a retryable revert fails the command. */
export const MAX_RETRIES = 30;

export class CommandOutcomes {
  constructor(
    private readonly ctx: SubmitterContext,
    private readonly operatorAddresses: () => string[],
  ) {}

  private handler(cmd: CommandRow): JobHandler | undefined {
    return this.ctx.opts.jobs[cmd.kind] as JobHandler | undefined;
  }

  /** The command's job prepares it; a kind without a job (a row written by something else) fails. */
  async prepare(cmd: CommandRow): Promise<Prepared> {
    const handler = this.handler(cmd);
    if (!handler) return { type: "fail", code: "UnknownCommand", message: `no handler for command kind ${cmd.kind}` };
    return handler.prepare(cmd, this.deps());
  }

  /**
   * The commands' effects are on chain: their jobs' follow-ups read the chain first; a command with a next step
   * ("again": a sweep's withdrawal before its transfer) goes back to the queue without ever showing `confirmed`
   * (a client polling it, or a merchant's next request, never sees it done halfway); the others are confirmed,
   * with what their jobs write in the same transaction. A follow-up the node keeps failing leaves the transaction
   * open: the next pass finalizes its commands again.
   */
  async confirmed(cmds: CommandRow[]): Promise<void> {
    if (cmds.length === 0) return;
    const done: CommandRow[] = [];
    const again: CommandRow[] = [];
    for (const c of cmds) ((await this.followUp(c)) === "again" ? again : done).push(c);
    await this.recordConfirmed(done);
    for (const c of done) this.ctx.metrics.commands.inc({ kind: c.kind, outcome: "confirmed" });
    for (const c of again) await runAgainSoon(this.ctx.db, c.id, 1000);
  }

  /** What a revert means is the command's job's decision; the default retries retryable errors, then fails. */
  async reverted(cmd: CommandRow, decoded: DecodedRevert): Promise<void> {
    const decision = (await this.handler(cmd)?.onReverted?.(cmd, decoded, this.deps())) ?? {
      type: "default" as const,
    };
    if (decision.type === "confirmed") {
      await this.recordConfirmed([cmd]);
      this.ctx.metrics.commands.inc({ kind: cmd.kind, outcome: "confirmed" });
      return;
    }
    if (decision.type === "fail") {
      await this.failed(cmd, decision.code, decision.message);
      return;
    }
    if (RETRYABLE_ERRORS.has(decoded.name) && cmd.attempts < MAX_RETRIES) {
      await releaseCommands(this.ctx.db, [cmd.id], 500, true);
      return;
    }
    await this.failed(
      cmd,
      decoded.name,
      `${decoded.name}(${Object.entries(decoded.args)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")})`,
    );
  }

  /** The command fails; its job says what that does to the records it serves, in the same transaction. */
  async failed(cmd: CommandRow, code: string, message: string): Promise<void> {
    const handler = this.handler(cmd);
    await this.ctx.db.tx(async (q) => {
      if (handler?.onFailed) await lockMerchantGasQueues(q, [cmd.merchant_id]);
      await markFailed(q, cmd.id, code, message);
      await handler?.onFailed?.(q, cmd, code, message);
    });
    this.ctx.metrics.commands.inc({ kind: cmd.kind, outcome: "failed" });
    this.ctx.log.warn({ command: cmd.id, kind: cmd.kind, code, message }, "command failed");
  }

  /**
   * The job's follow-up of a confirmed command (read the chain, then "again" or "done"), tried again over a few
   * seconds when the node fails to answer: the command is confirmed already, so a follow-up lost to one failed
   * read (a sweep's next step, a merchant's activation) would never run.
   */
  private async followUp(c: CommandRow): Promise<"again" | "done" | void> {
    const onConfirmed = this.handler(c)?.onConfirmed;
    if (!onConfirmed) return;
    for (let attempt = 0; ; attempt++) {
      try {
        return await onConfirmed(c, this.deps());
      } catch (err) {
        if (attempt >= 4) throw err;
        this.ctx.log.warn({ command: c.id, kind: c.kind, err: String(err), attempt }, "follow-up failed; trying again");
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  private async recordConfirmed(cmds: CommandRow[]): Promise<void> {
    const ids = cmds.map((c) => c.id);
    const writing = cmds.filter((c) => this.handler(c)?.onConfirmedInTransaction);
    // A batch of order creations, the hot path, writes nothing more: one statement, no transaction.
    if (writing.length === 0) return markConfirmed(this.ctx.db, ids);
    await this.ctx.db.tx(async (q) => {
      await lockMerchantGasQueues(
        q,
        writing.map((c) => c.merchant_id),
      );
      await markConfirmed(q, ids);
      for (const c of writing) await this.handler(c)!.onConfirmedInTransaction!(q, c);
    });
  }

  private deps(): JobDeps {
    return {
      db: this.ctx.db,
      chain: this.ctx.chain,
      operatorAddresses: this.operatorAddresses(),
      merchantKeySecret: this.ctx.opts.merchantKeySecret,
      arbiterKey: this.ctx.opts.arbiterKey,
    };
  }
}
