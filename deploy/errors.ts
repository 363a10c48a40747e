/** A deployment problem the user can act on: the CLI prints its message (no stack trace) and exits with 1. */
export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployError";
  }
}
