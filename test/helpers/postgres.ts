/**
 * The PostgreSQL server the tests create their databases on, found once per test process:
 * TEST_DATABASE_URL (or TEST_PG_URL) when set; else a server at 127.0.0.1:5432 (user postgres, no password) when
 * one answers; else the project's own embedded PostgreSQL server (the relayer's, see
 * relayer/src/store/embeddedPostgres.ts), started once in a temporary folder and stopped when the process exits.
 * A fresh machine with nothing but Node.js and npm therefore runs every test.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { startEmbeddedPostgres } from "../../relayer/src/store/embeddedPostgres";

const LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestServer {
  /** Connection string of a database on the server that may create and drop databases. */
  url: string;
  source: "TEST_DATABASE_URL" | "local server" | "embedded";
}

let found: Promise<TestServer> | undefined;

async function answers(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function find(): Promise<TestServer> {
  const named = process.env.TEST_DATABASE_URL || process.env.TEST_PG_URL;
  if (named) return { url: named, source: "TEST_DATABASE_URL" };
  if (await answers(LOCAL_SERVER)) return { url: LOCAL_SERVER, source: "local server" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-test-pg-"));
  // Run as root, the server runs as another OS user, which must be able to enter the folder.
  fs.chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dir });
  // The server's own exit hook stops it first (registered earlier); then its folder goes.
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  process.stderr.write(
    `  (tests use an embedded PostgreSQL server on 127.0.0.1:${server.port}: no server at 127.0.0.1:5432)\n`,
  );
  return { url: server.superuserUrl, source: "embedded" };
}

/** The server for this test process (found on first use). */
export function testServer(): Promise<TestServer> {
  found ??= find();
  return found;
}
