/**
 * The relayer's store on PGlite: PostgreSQL compiled to WebAssembly and run in this process, with the relayer's
 * own migrations. Unit tests of the submitter and the jobs run their real SQL on it without a database server.
 * Values come back as node-postgres returns them (int8 as strings), so the store code reads them unchanged.
 */
import { PGlite, types } from "@electric-sql/pglite";
import type { Db, Queryable } from "../../../relayer/src/store/db";
import { listMigrations } from "../../../relayer/src/store/migrate";

export interface MemoryDb extends Db {
  pg: PGlite;
}

function wrap(run: { query: PGlite["query"]; exec: PGlite["exec"] }): Queryable {
  return {
    async query<T>(sql: string, params: unknown[] = []) {
      // node-postgres sends a bigint as its decimal text; PGlite's serializers do not know bigint.
      const values = params.map((p) => (typeof p === "bigint" ? p.toString() : p));
      const r = await run.query<T>(sql, values);
      return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
    },
    async exec(sql: string) {
      await run.exec(sql);
    },
  };
}

/** A fresh in-memory database with every migration applied. */
export async function openMemoryDb(): Promise<MemoryDb> {
  const pg = await PGlite.create({ parsers: { [types.INT8]: (v: string) => v } });
  for (const m of listMigrations()) await pg.exec(m.sql);
  const base = wrap({ query: pg.query.bind(pg), exec: pg.exec.bind(pg) });
  return {
    pg,
    ...base,
    tx: <T>(fn: (q: Queryable) => Promise<T>) =>
      pg.transaction((t) => fn(wrap({ query: t.query.bind(t), exec: t.exec.bind(t) }))),
    close: () => pg.close(),
  };
}
