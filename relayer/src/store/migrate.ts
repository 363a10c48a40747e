/** Numbered SQL migrations (`migrations/NNN_name.sql`), applied in order at start, each in a transaction. */
import fs from "node:fs";
import path from "node:path";
import type { Db } from "./db";

const MIGRATIONS_DIR = path.join(__dirname, "migrations");
/** Arbitrary constant: the advisory lock that serialises migrations of concurrently starting relayers. */
const MIGRATION_LOCK = 727_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(dir, f), "utf8") }));
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Db): Promise<string[]> {
  return db.tx(async (q) => {
    await q.query("select pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await q.query(
      "create table if not exists schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())",
    );
    const done = new Set(
      (await q.query<{ version: number }>("select version from schema_migrations")).rows.map((r) => r.version),
    );
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await q.exec(m.sql);
      await q.query("insert into schema_migrations (version, name) values ($1, $2)", [m.version, m.name]);
      applied.push(m.name);
    }
    return applied;
  });
}
