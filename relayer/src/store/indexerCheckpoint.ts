/**
 * How far the indexer has followed the chain: its checkpoint (`indexer_state`, one row) and the hashes of the
 * recent blocks it indexed (`indexed_blocks`), the evidence it compares with the chain to find a reorg's common
 * ancestor.
 */
import type { Queryable } from "./db";

/** The last indexed block and its hash; none before the indexer's first step. */
export async function readCheckpoint(
  q: Queryable,
): Promise<{ lastBlock: bigint; lastHash: string | null } | undefined> {
  const r = await q.query<{ last_block: string; last_hash: string | null }>(
    "select last_block, last_hash from indexer_state where id = 1",
  );
  if (r.rows.length === 0) return undefined;
  return { lastBlock: BigInt(r.rows[0].last_block), lastHash: r.rows[0].last_hash };
}

/** Everything up to `lastBlock` (whose hash is `lastHash`, null for the block before the deployment) is indexed. */
export async function saveCheckpoint(q: Queryable, lastBlock: number, lastHash: string | null): Promise<void> {
  await q.query(
    `insert into indexer_state (id, last_block, last_hash, updated_at) values (1, $1, $2, now())
     on conflict (id) do update set last_block = excluded.last_block, last_hash = excluded.last_hash, updated_at = now()`,
    [lastBlock, lastHash],
  );
}

/**
 * The transaction's commit does not wait for the disk. Only for a transaction that writes nothing but what is
 * derived from the chain, checkpoint included: if a crash loses its commit, the checkpoint goes with it and the
 * work is done again.
 */
export async function commitWithoutFlush(q: Queryable): Promise<void> {
  await q.query("set local synchronous_commit = off");
}

/**
 * Stores the hashes of indexed blocks in one statement, in block order (two indexers writing the same blocks
 * lock them in the same order); a block indexed again replaces its old hashes.
 */
export async function rememberBlocks(
  q: Queryable,
  blocks: Iterable<[number, { hash: string; parentHash: string }]>,
): Promise<void> {
  const rows = [...blocks].sort((a, b) => a[0] - b[0]);
  if (rows.length === 0) return;
  await q.query(
    `insert into indexed_blocks (number, hash, parent_hash)
     select n, h, p from unnest($1::bigint[], $2::text[], $3::text[]) as u(n, h, p) order by n
     on conflict (number) do update set hash = excluded.hash, parent_hash = excluded.parent_hash`,
    [rows.map(([n]) => n), rows.map(([, b]) => b.hash), rows.map(([, b]) => b.parentHash)],
  );
}

/** Forgets the hashes of blocks older than `number`: too deep for a reorg to be expected. */
export async function forgetBlocksBefore(q: Queryable, number: number): Promise<void> {
  await q.query(`delete from indexed_blocks where number < $1`, [number]);
}

/** Forgets the hashes of blocks after `number` (a reorg's common ancestor): they are no longer on the chain. */
export async function forgetBlocksAfter(q: Queryable, number: number): Promise<void> {
  await q.query(`delete from indexed_blocks where number > $1`, [number]);
}

/** The stored hashes of blocks up to `number`, newest first: the candidates for a reorg's common ancestor. */
export async function rememberedBlocksUpTo(q: Queryable, number: number): Promise<{ number: string; hash: string }[]> {
  const r = await q.query<{ number: string; hash: string }>(
    `select number, hash from indexed_blocks where number <= $1 order by number desc`,
    [number],
  );
  return r.rows;
}

/** The stored hashes of those of `numbers` the indexer remembers, by block number. */
export async function rememberedHashes(q: Queryable, numbers: number[]): Promise<Map<number, string>> {
  const r = await q.query<{ number: string; hash: string }>(
    `select number, hash from indexed_blocks where number = any($1::bigint[])`,
    [numbers],
  );
  return new Map(r.rows.map((row) => [Number(row.number), row.hash]));
}
