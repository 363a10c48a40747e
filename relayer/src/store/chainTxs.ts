/** Signed transactions, stored before broadcast: the source of truth for a signer's nonces. */
import type { Queryable } from "./db";

export interface ChainTxRow {
  id: string;
  signer: string;
  nonce: string;
  hash: string;
  raw: string;
  kind: string;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  gas_limit: string;
  status: "sent" | "mined" | "confirmed" | "replaced" | "reverted" | "dropped";
  block_number: string | null;
  replaces: string | null;
  /** The commands it carried (null for rows written before they were recorded). */
  command_ids: (string | number)[] | null;
  sent_at: Date;
}

export async function insertTx(
  q: Queryable,
  t: {
    signer: string;
    nonce: bigint;
    hash: string;
    raw: string;
    kind: string;
    maxFeePerGas: bigint;
    maxPriorityFeePerGas: bigint;
    gasLimit: bigint;
    replaces?: string | null;
    /** The commands it carries, in batch order. */
    commandIds?: string[];
  },
): Promise<string> {
  // Signing the same fields again gives the same bytes: a transaction the node refused earlier (dropped) is
  // the one being sent now, so its row is opened again instead of failing on the unique hash.
  const r = await q.query<{ id: string }>(
    `insert into chain_txs (signer, nonce, hash, raw, kind, max_fee_per_gas, max_priority_fee_per_gas, gas_limit, replaces,
       command_ids)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint[])
     on conflict (hash) do update set status = 'sent', sent_at = now(), block_number = null, gas_used = null,
       mined_at = null, command_ids = coalesce(excluded.command_ids, chain_txs.command_ids)
     where chain_txs.status = 'dropped'
     returning id`,
    [
      t.signer,
      t.nonce.toString(),
      t.hash,
      t.raw,
      t.kind,
      t.maxFeePerGas.toString(),
      t.maxPriorityFeePerGas.toString(),
      t.gasLimit.toString(),
      t.replaces ?? null,
      t.commandIds ?? null,
    ],
  );
  if (r.rows.length === 0) throw new Error(`transaction ${t.hash} is already stored and open`);
  return String(r.rows[0].id);
}

/** The commands a stored transaction carried, when recorded. */
export function carriedIds(t: ChainTxRow): string[] | null {
  return t.command_ids === null ? null : t.command_ids.map(String);
}

/** Transactions of `signers` not yet final, oldest nonce first. */
export async function openTxs(q: Queryable, signers: string[]): Promise<ChainTxRow[]> {
  if (signers.length === 0) return [];
  const r = await q.query<ChainTxRow>(
    `select * from chain_txs where signer = any($1::text[]) and status in ('sent', 'mined') order by signer, nonce, id`,
    [signers],
  );
  return r.rows;
}

/**
 * The signer's transactions the node refused (dropped, with the commands they carried recorded) at nonces above
 * its last transaction mined: a backend may have taken one all the same, and after a restart only these rows
 * tell which commands it ran. Oldest nonce first.
 */
export async function unsettledRefusals(
  q: Queryable,
  signer: string,
): Promise<{ nonce: string; hash: string; ids: string[] }[]> {
  const r = await q.query<{ nonce: string; hash: string; ids: string[] }>(
    `select nonce::text, hash, command_ids::text[] as ids from chain_txs
     where signer = $1 and status = 'dropped' and command_ids is not null
       and nonce > coalesce((select max(nonce) from chain_txs
                             where signer = $1 and status in ('mined', 'confirmed', 'reverted')), -1)
     order by nonce, id`,
    [signer],
  );
  return r.rows;
}

export async function maxRecordedNonce(q: Queryable, signer: string): Promise<bigint | null> {
  const r = await q.query<{ n: string | null }>(
    `select max(nonce) as n from chain_txs where signer = $1 and status <> 'dropped'`,
    [signer],
  );
  return r.rows[0]?.n == null ? null : BigInt(r.rows[0].n);
}

export async function setTxStatus(
  q: Queryable,
  id: string,
  status: ChainTxRow["status"],
  extra: { blockNumber?: bigint; gasUsed?: bigint } = {},
): Promise<void> {
  await q.query(
    `update chain_txs set status = $2, block_number = coalesce($3, block_number), gas_used = coalesce($4, gas_used),
       mined_at = case when $3::bigint is not null then coalesce(mined_at, now()) else mined_at end
     where id = $1`,
    [id, status, extra.blockNumber?.toString() ?? null, extra.gasUsed?.toString() ?? null],
  );
}

/** Marks the other transactions of the same signer and nonce as replaced by the one that was mined. */
export async function markSiblingsReplaced(q: Queryable, signer: string, nonce: bigint, keepId: string): Promise<void> {
  await q.query(
    `update chain_txs set status = 'replaced' where signer = $1 and nonce = $2 and id <> $3 and status in ('sent', 'mined')`,
    [signer, nonce.toString(), keepId],
  );
}

/** Transactions recorded as mined or final at nonces from `fromNonce` on, in nonce order (reorg candidates). */
export async function minedFromNonce(q: Queryable, signer: string, fromNonce: bigint): Promise<ChainTxRow[]> {
  const r = await q.query<ChainTxRow>(
    `select * from chain_txs where signer = $1 and nonce >= $2 and status in ('mined', 'confirmed', 'reverted')
     order by nonce`,
    [signer, fromNonce.toString()],
  );
  return r.rows;
}

/** A mined transaction whose block was reorged away is open (sent) again. */
export async function reopenTx(q: Queryable, id: string): Promise<void> {
  await q.query(
    `update chain_txs set status = 'sent', block_number = null, gas_used = null, mined_at = null where id = $1`,
    [id],
  );
}

/** Every transaction stored at `signer`'s `nonce`, whatever its status, oldest first. */
export async function txsAtNonce(q: Queryable, signer: string, nonce: bigint): Promise<ChainTxRow[]> {
  const r = await q.query<ChainTxRow>(`select * from chain_txs where signer = $1 and nonce = $2 order by id`, [
    signer,
    nonce.toString(),
  ]);
  return r.rows;
}

/**
 * Another transaction used `signer`'s `nonce` on chain, confirmed: none of the open transactions stored at it can
 * be mined any more; they are closed as dropped.
 */
export async function markNonceTaken(q: Queryable, signer: string, nonce: bigint): Promise<void> {
  await q.query(
    `update chain_txs set status = 'dropped' where signer = $1 and nonce = $2 and status in ('sent', 'mined')`,
    [signer, nonce.toString()],
  );
}

/** The node refused the transaction with `hash`: it was never mined. */
export async function markDropped(q: Queryable, hash: string): Promise<void> {
  await q.query(`update chain_txs set status = 'dropped' where hash = $1`, [hash]);
}

/**
 * The chain used `signer`'s `nonce` after the node refused our transaction `hash` there: the refusal may have been
 * false (a balancer's backend took it). The transaction is tracked again, and those of its commands still waiting
 * in the queue are bound to the nonce again (not sent elsewhere meanwhile); the tracker decides from the receipts.
 * Returns the ids bound again.
 */
export async function reclaimRefusedTx(
  q: Queryable,
  signer: string,
  nonce: bigint,
  hash: string,
  commandIds: string[],
): Promise<string[]> {
  await q.query(`update chain_txs set status = 'sent' where hash = $1 and status = 'dropped'`, [hash]);
  const r = await q.query<{ id: string }>(
    `update commands set status = 'submitted', tx_signer = $2, tx_nonce = $3,
       batch_index = array_position($1::bigint[], id) - 1, updated_at = now()
     where id = any($1::bigint[]) and status = 'pending'
     returning id`,
    [commandIds, signer, nonce.toString()],
  );
  return r.rows.map((x) => String(x.id));
}

/**
 * The newest block whose state the relayer has acted on: the highest block holding one of its transactions, or
 * the indexer's checkpoint if that is higher (0 before either). A node answering as of an older block (a
 * lagging backend behind a load balancer) has not seen what the relayer's own commands did.
 */
export async function seenStateBlock(q: Queryable): Promise<bigint> {
  const r = await q.query<{ block: string | null }>(
    `select greatest(
       (select max(block_number) from chain_txs where block_number is not null),
       (select last_block from indexer_state where id = 1)
     )::text as block`,
  );
  return BigInt(r.rows[0]?.block ?? 0);
}
