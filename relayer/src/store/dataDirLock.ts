/**
 * One process per data folder. Two relayers on the same DATA_DIR would each stop and restart the other's
 * embedded PostgreSQL server and lose each other's acknowledged writes, so the folder is locked for the whole
 * life of the process that uses it.
 *
 * The lock is proper-lockfile's (an atomic mkdir, kept fresh while the process lives and taken over once it is
 * stale). A process killed with SIGKILL leaves its lock behind; its owner's pid is recorded beside it, so a
 * restart on the same host takes over at once instead of waiting for the lock to go stale.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number | undefined,
  ) {
    super(
      `DATA_DIR ${dir} is in use by another process${ownerPid ? ` (pid ${ownerPid})` : ""}: ` +
        `stop it first, or give this one another DATA_DIR`,
    );
  }
}

export interface DataDirLock {
  readonly dir: string;
  release(): Promise<void>;
}

/** A lock older than this without a refresh belongs to a process that is gone or frozen. */
const STALE_MS = 30_000;
const UPDATE_MS = 5_000;

interface Owner {
  pid: number;
  host: string;
}

function lockPath(dir: string): string {
  return path.join(dir, ".lock");
}
function ownerFile(dir: string): string {
  return path.join(dir, ".lock-owner.json");
}

function readOwner(dir: string): Owner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(ownerFile(dir), "utf8")) as Owner;
    return typeof o.pid === "number" && typeof o.host === "string" ? o : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Locks `dir` (created if missing) for this process. Throws DataDirInUseError when a live process holds it.
 * `onLost` runs if the lock is taken away while held (the process was frozen for longer than the stale time):
 * the caller must stop using the folder.
 */
export async function lockDataDir(dir: string, onLost: (err: Error) => void): Promise<DataDirLock> {
  const abs = path.resolve(dir);
  fs.mkdirSync(abs, { recursive: true });
  const options = {
    realpath: false,
    lockfilePath: lockPath(abs),
    stale: STALE_MS,
    update: UPDATE_MS,
    onCompromised: onLost,
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(abs, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
    const owner = readOwner(abs);
    // Left behind by a process of this host that no longer runs: take it over now.
    if (owner && owner.host === os.hostname() && owner.pid !== process.pid && !alive(owner.pid)) {
      fs.rmSync(lockPath(abs), { recursive: true, force: true });
      try {
        release = await lockfile.lock(abs, options);
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code === "ELOCKED") throw new DataDirInUseError(abs, readOwner(abs)?.pid);
        throw again;
      }
    } else {
      throw new DataDirInUseError(abs, owner?.pid);
    }
  }
  fs.writeFileSync(ownerFile(abs), JSON.stringify({ pid: process.pid, host: os.hostname() } satisfies Owner));
  let released = false;
  return {
    dir: abs,
    async release() {
      if (released) return;
      released = true;
      fs.rmSync(ownerFile(abs), { force: true });
      await release().catch(() => undefined);
    },
  };
}
