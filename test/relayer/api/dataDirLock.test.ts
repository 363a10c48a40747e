/**
 * The data-folder lock: a lock left by a process that is gone is taken over at once, by one taker only, and a
 * lock that may belong to a live process is never taken.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { DataDirInUseError, lockDataDir } from "../../../relayer/src/store/dataDirLock";

/** A pid that no process has any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid!;
}

/** Leaves `dir` locked as a process with `pid` would have, recording `ino` as its lock folder's inode. */
function leaveLock(dir: string, pid: number, ino?: number): void {
  fs.mkdirSync(path.join(dir, ".lock"));
  const owner = {
    pid,
    host: os.hostname(),
    lockIno: ino ?? fs.statSync(path.join(dir, ".lock")).ino,
    token: "earlier-process",
  };
  fs.writeFileSync(path.join(dir, ".lock-owner.json"), JSON.stringify(owner));
}

describe("relayer store: the DATA_DIR lock", function () {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-lock-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("takes over at once the lock of a process that is gone (killed with SIGKILL)", async () => {
    leaveLock(dir, deadPid());
    const lock = await lockDataDir(dir, () => undefined);
    expect(JSON.parse(fs.readFileSync(path.join(dir, ".lock-owner.json"), "utf8")).pid).to.equal(process.pid);
    await lock.release();
    expect(fs.existsSync(path.join(dir, ".lock"))).to.equal(false);
  });

  it("gives a stale lock to exactly one of two processes taking it over at the same time (50 rounds)", async () => {
    // Fifty rounds: the old lock folder's inode must not be reused by the new one while the loser looks.
    for (let round = 0; round < 50; round++) {
      fs.rmSync(path.join(dir, ".lock"), { recursive: true, force: true });
      leaveLock(dir, deadPid());
      const results = await Promise.allSettled([lockDataDir(dir, () => undefined), lockDataDir(dir, () => undefined)]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
      expect(won, `round ${round}`).to.have.length(1);
      expect(lost, `round ${round}`).to.have.length(1);
      expect(lost[0].reason).to.be.instanceOf(DataDirInUseError);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      expect(
        fs.readdirSync(dir).filter((f) => f.includes(".stale-")),
        "moved-aside folders removed",
      ).to.deep.equal([]);
    }
  });

  it("takes over a lock recorded for this very pid by an earlier process (pid 1 of a restarted container)", async () => {
    leaveLock(dir, process.pid);
    const lock = await lockDataDir(dir, () => undefined);
    await lock.release();
  });

  it("refuses, rather than takes, a lock whose record describes an older lock folder (taken a moment ago)", async () => {
    leaveLock(dir, deadPid(), 1);
    const err = await lockDataDir(dir, () => undefined).then(
      async (l) => {
        await l.release();
        return null;
      },
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(DataDirInUseError);
    expect(fs.existsSync(path.join(dir, ".lock"))).to.equal(true);
  });

  it("refuses a second lock in the same process while the first is held", async () => {
    const first = await lockDataDir(dir, () => undefined);
    const err = await lockDataDir(dir, () => undefined).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(DataDirInUseError);
    expect((err as DataDirInUseError).ownerPid).to.equal(process.pid);
    await first.release();
  });
});
