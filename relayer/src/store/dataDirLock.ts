/**
 * One process per data folder. Two relayers on the same DATA_DIR would each stop and restart the other's
 * embedded PostgreSQL server and lose each other's acknowledged writes, so the folder is locked for the whole
 * life of the process that uses it (the local stack locks its own folder the same way).
 *
 * The lock is proper-lockfile's (an atomic mkdir of `<dir>/.lock`, refreshed while the process lives, taken over
 * once it has not been refreshed for STALE_MS). A process killed with SIGKILL leaves its lock behind; its owner
 * is recorded beside it (pid, process start time, the lock folder's inode), so a restart on the same host takes
 * the lock over at once instead of waiting for it to go stale:
 * - the owner counts as gone only if its pid is not running, or runs a process that started at another time
 *   (a reused pid, e.g. pid 1 of a restarted container);
 * - the record must describe the lock folder that is there now (same inode): a lock taken a moment ago whose
 *   record is not written yet is never mistaken for the old one;
 * - the stale folder is moved away by an atomic rename, which only one of several starting processes can do.
 */
import crypto from "node:crypto";
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
  /** The process's start time (Linux: /proc/<pid>/stat field 22), to tell a reused pid from the owner. */
  started?: string;
  /** Inode of the lock folder this record belongs to. */
  lockIno: number;
  /** Random per lock taken, so a lock of this very process is told from one of an earlier process. */
  token: string;
}

/** Locks this process holds, by token. */
const held = new Set<string>();

const lockPath = (dir: string) => path.join(dir, ".lock");
const ownerFile = (dir: string) => path.join(dir, ".lock-owner.json");

function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function readOwner(dir: string): Owner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(ownerFile(dir), "utf8")) as Owner;
    return typeof o.pid === "number" && typeof o.lockIno === "number" ? o : undefined;
  } catch {
    return undefined;
  }
}

function lockIno(dir: string): number | undefined {
  try {
    return fs.statSync(lockPath(dir)).ino;
  } catch {
    return undefined;
  }
}

/** True when the recorded owner certainly no longer runs (on this host). */
function ownerGone(o: Owner): boolean {
  if (o.host !== os.hostname()) return false;
  if (o.pid === process.pid) return !held.has(o.token);
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
  const now = startTime(o.pid);
  return o.started !== undefined && now !== undefined && now !== o.started;
}

/**
 * Moves away the lock folder of an owner that is gone and returns where it went (undefined when the lock is not,
 * or no longer, that one). The caller removes it only after recording its own lock: while the old folder exists
 * its inode cannot be reused by the new lock folder, which would make a concurrent taker see the old record as
 * describing the new lock.
 */
function takeOverStale(dir: string): string | undefined {
  const owner = readOwner(dir);
  if (!owner || !ownerGone(owner) || lockIno(dir) !== owner.lockIno) return undefined;
  const aside = `${lockPath(dir)}.stale-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  try {
    fs.renameSync(lockPath(dir), aside);
  } catch {
    return undefined; // another process moved it first
  }
  if (fs.statSync(aside).ino !== owner.lockIno) {
    // Replaced between the check and the rename: it belongs to a live process; put it back.
    try {
      fs.renameSync(aside, lockPath(dir));
    } catch {
      // a newer lock is in place already; the moved one's owner will find its lock compromised
    }
    return undefined;
  }
  return aside;
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
  let aside: string | undefined;
  try {
    release = await lockfile.lock(abs, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
    aside = takeOverStale(abs);
    if (!aside) throw new DataDirInUseError(abs, readOwner(abs)?.pid);
    try {
      release = await lockfile.lock(abs, options);
    } catch (again) {
      fs.rmSync(aside, { recursive: true, force: true });
      if ((again as NodeJS.ErrnoException).code === "ELOCKED") throw new DataDirInUseError(abs, readOwner(abs)?.pid);
      throw again;
    }
  }
  const token = crypto.randomBytes(8).toString("hex");
  held.add(token);
  const owner: Owner = {
    pid: process.pid,
    host: os.hostname(),
    started: startTime(process.pid),
    lockIno: lockIno(abs)!,
    token,
  };
  const tmp = `${ownerFile(abs)}.${token}`;
  fs.writeFileSync(tmp, JSON.stringify(owner));
  fs.renameSync(tmp, ownerFile(abs));
  if (aside) fs.rmSync(aside, { recursive: true, force: true });
  let released = false;
  return {
    dir: abs,
    async release() {
      if (released) return;
      released = true;
      held.delete(token);
      if (readOwner(abs)?.token === token) fs.rmSync(ownerFile(abs), { force: true });
      await release().catch(() => undefined);
    },
  };
}
