/**
 * Step-by-step progress output: one line per step with a check mark (or a cross and the reason), its duration,
 * and indented details. On a terminal the running step is shown while it runs, and colours are used.
 */
import { ApiError } from "../../sdk/api/client";

export interface StepOutcome {
  /** The step's one-line result. */
  line: string;
  /** Indented lines under it: transactions, amounts, where to look. */
  details?: string[];
}

export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly cause: unknown,
  ) {
    super(`step "${step}" failed: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "StepFailed";
  }
}

export class Progress {
  private readonly tty: boolean;
  readonly started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = !!out.isTTY && !process.env.NO_COLOR;
  }

  private paint(code: string, s: string): string {
    return this.tty ? `\x1b[${code}m${s}\x1b[0m` : s;
  }
  green = (s: string) => this.paint("32", s);
  red = (s: string) => this.paint("31", s);
  dim = (s: string) => this.paint("2", s);
  bold = (s: string) => this.paint("1", s);

  print(line = ""): void {
    this.out.write(`${line}\n`);
  }

  /** Runs one step; prints its result line, or a cross with the step's name and the error, and rethrows. */
  async step<T extends StepOutcome>(title: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    if (this.tty) this.out.write(this.dim(`  … ${title}`));
    const clear = () => this.tty && this.out.write("\r\x1b[2K");
    try {
      const result = await fn();
      clear();
      this.print(`  ${this.green("✓")} ${result.line} ${this.dim(`(${seconds(Date.now() - t0)})`)}`);
      for (const d of result.details ?? []) this.print(this.dim(`      ${d}`));
      return result;
    } catch (e) {
      clear();
      this.print(`  ${this.red("✗")} ${title}: ${this.red("FAILED")} ${this.dim(`(${seconds(Date.now() - t0)})`)}`);
      // A refusal by the API shows its status and stable code, not only its message.
      const message =
        e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : ((e as Error)?.message ?? String(e));
      for (const l of message.split("\n").slice(0, 12)) this.print(`      ${l}`);
      throw new StepFailed(title, e);
    }
  }
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
