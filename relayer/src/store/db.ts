/**
 * The database interface the store works through: a node-postgres pool on a PostgreSQL server (the one named
 * by DATABASE_URL, or the relayer's embedded server, see embeddedPostgres.ts).
 */
import { Pool, type PoolClient } from "pg";
import Cursor from "pg-cursor";

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * The rows of one query in batches of at most `batchSize`, read from a server-side cursor on a connection of
   * its own: memory stays one batch whatever the result's size. Ending the iteration early (a client that
   * leaves) closes the cursor and gives the connection back.
   */
  cursor?<T>(sql: string, params: unknown[], batchSize: number): AsyncGenerator<T[]>;
}

class PostgresDb implements Db {
  constructor(private readonly pool: Pool) {}

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[]; rowCount: number }> {
    const r = await this.pool.query(sql, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const q: Queryable = {
        query: async <R>(sql: string, params: unknown[] = []) => {
          const r = await client.query(sql, params);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
      };
      const result = await fn(q);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async *cursor<T>(sql: string, params: unknown[], batchSize: number): AsyncGenerator<T[]> {
    const client: PoolClient = await this.pool.connect();
    const cursor = client.query(new Cursor<T>(sql, params));
    let failed: Error | undefined;
    try {
      for (;;) {
        const rows = await cursor.read(batchSize);
        if (rows.length === 0) return;
        yield rows;
      }
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A connection whose query failed, or whose cursor did not close cleanly, is discarded rather than reused.
      if (failed) client.release(failed);
      else
        await cursor.close().then(
          () => client.release(),
          (err: Error) => client.release(err),
        );
    }
  }
}

/**
 * True when `err` is a unique-constraint violation (SQLSTATE 23505), optionally on one of `constraints`:
 * the database's own answer when two transactions insert the same key at the same time.
 */
export function isUniqueViolation(err: unknown, constraints?: string[]): boolean {
  const e = err as { code?: unknown; constraint?: unknown };
  if (e?.code !== "23505") return false;
  return !constraints || (typeof e.constraint === "string" && constraints.includes(e.constraint));
}

/**
 * Makes the open transaction read one snapshot (REPEATABLE READ): every later query in it sees the database as of
 * its first query. Must be the transaction's first statement.
 */
export async function useOneSnapshot(q: Queryable): Promise<void> {
  await q.query("set transaction isolation level repeatable read");
}

/** Resolves when the database answers a query (readiness). */
export async function databaseAnswers(q: Queryable): Promise<void> {
  await q.query("select 1");
}

/** Opens a pool on the PostgreSQL server at `databaseUrl` and checks that it answers. */
export async function openDb(opts: { databaseUrl: string; poolSize?: number }): Promise<Db> {
  const pool = new Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
  // pg returns NUMERIC/BIGINT as strings by default; the store converts explicitly where needed.
  pool.on("error", () => undefined);
  try {
    await pool.query("select 1");
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return new PostgresDb(pool);
}

/**
 * SQL for a list cursor's time: the column in UTC, microseconds kept, in one fixed form
 * (2026-05-01 12:00:00.123456+00) whatever the session's DateStyle and TimeZone; read back as timestamptz.
 */
export const cursorTime = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US"+00"')`;
