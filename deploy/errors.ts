/**
 * The errors the deploy commands print as one message (no stack trace) with exit code 1.
 *
 * Imported by deploy/tasks.ts while Hardhat reads its config, before anything is compiled: this file must import
 * nothing (in particular no TypeChain output from typechain-types/ and no artifacts).
 */

/** A deployment problem the user can act on: the CLI prints its message (no stack trace) and exits with 1. */
export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployError";
  }
}

/** A deployment record file that is missing or does not have the documented shape (see deploy/record.ts). */
export class DeploymentRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeploymentRecordError";
  }
}
