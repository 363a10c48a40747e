/**
 * One database interface over PostgreSQL (node-postgres pool) and embedded PGlite, so the same SQL and
 * migrations run on both. PGlite is a single connection: its transactions are serialised by PGlite itself.
 */
import fs from "node:fs";
import { Pool, type PoolClient } from "pg";

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

class PostgresDb implements Db {
  readonly kind = "postgres" as const;
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
}

interface PGliteTx {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

interface PGliteLike extends PGliteTx {
  transaction<T>(fn: (tx: PGliteTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

class PGliteDb implements Db {
  readonly kind = "pglite" as const;
  constructor(private readonly pg: PGliteLike) {}

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[]; rowCount: number }> {
    const r = await this.pg.query<T>(sql, params);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (t) =>
      fn({
        query: async <R>(sql: string, params: unknown[] = []) => {
          const r = await t.query<R>(sql, params);
          return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
        },
        exec: async (sql: string) => {
          await t.exec(sql);
        },
      }),
    );
  }

  async close(): Promise<void> {
    await this.pg.close();
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

/** Opens PostgreSQL when `databaseUrl` is set, else PGlite in `dataDir` (created if missing). */
export async function openDb(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Db> {
  if (opts.databaseUrl) {
    const pool = new Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
    // pg returns NUMERIC/BIGINT as strings by default; the store converts explicitly where needed.
    pool.on("error", () => undefined);
    await pool.query("select 1");
    return new PostgresDb(pool);
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PGlite } = require("@electric-sql/pglite") as { PGlite: new (dir: string) => PGliteLike };
  const pg = new PGlite(opts.dataDir);
  await pg.query("select 1");
  return new PGliteDb(pg);
}
