/**
 * A command's outcome, reported by the submitter and given meaning by the command's job: confirmed (with the
 * job's follow-up), reverted (the job decides, else retry a retryable error a bounded number of times), failed
 * (the job updates the records the command served, in the same transaction).
 */
import type { CommandRow } from "../../store/commands";
import { markConfirmed, markFailed, releaseCommands, runAgainSoon } from "../../store/commands";
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

  /** The commands' effects are on chain: they are confirmed and their jobs' follow-ups run. */
  async confirmed(cmds: CommandRow[]): Promise<void> {
    if (cmds.length === 0) return;
    await markConfirmed(
      this.ctx.db,
      cmds.map((c) => c.id),
    );
    for (const c of cmds) {
      this.ctx.metrics.commands.inc({ kind: c.kind, outcome: "confirmed" });
      if ((await this.handler(c)?.onConfirmed?.(c, this.deps())) === "again")
        await runAgainSoon(this.ctx.db, c.id, 1000);
    }
  }

  /** What a revert means is the command's job's decision; the default retries retryable errors, then fails. */
  async reverted(cmd: CommandRow, decoded: DecodedRevert): Promise<void> {
    const decision = (await this.handler(cmd)?.onReverted?.(cmd, decoded, this.deps())) ?? {
      type: "default" as const,
    };
    if (decision.type === "confirmed") {
      await markConfirmed(this.ctx.db, [cmd.id]);
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
      await markFailed(q, cmd.id, code, message);
      await handler?.onFailed?.(q, cmd, code, message);
    });
    this.ctx.metrics.commands.inc({ kind: cmd.kind, outcome: "failed" });
    this.ctx.log.warn({ command: cmd.id, kind: cmd.kind, code, message }, "command failed");
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
