/**
 * The bookkeeping ledger's lines (ledger_entries, one row per account and escrow event), the escrow events not
 * posted yet, and what reconciliation reads besides (the indexer's checkpoint, the merchants' addresses).
 */
import type { Queryable } from "./db";

/** An indexed escrow event that moves money, with the merchant and token of its order if the relayer has it. */
export interface UnpostedEventRow {
  id: string;
  name: string;
  order_id: string;
  args: Record<string, string>;
  block_number: string;
  block_time: string | null;
  tx_hash: string;
  merchant_id: string | null;
  token: string | null;
}

/**
 * The escrow events indexed in [fromBlock, toBlock] that move money and have no ledger lines yet, in chain
 * order. The merchant and token are null for an order this relayer does not manage.
 */
export async function unpostedEscrowEvents(
  q: Queryable,
  fromBlock: number,
  toBlock: number,
): Promise<UnpostedEventRow[]> {
  const events = await q.query<UnpostedEventRow>(
    `select e.id, e.name, e.order_id, e.args, e.block_number, e.block_time, e.tx_hash, o.merchant_id, o.token
     from chain_events e
     left join orders o on o.chain_order_id = e.order_id
     where e.block_number between $1 and $2 and e.contract = 'PaymentEscrow'
       and e.name in ('OrderPaid', 'OrderRefunded', 'OrderCompleted', 'DisputeResolved')
       and not exists (select 1 from ledger_entries l where l.event_id = e.id)
     order by e.block_number, e.log_index`,
    [fromBlock, toBlock],
  );
  return events.rows;
}

/** Posts one ledger line of the event `e` (of an order the relayer manages: merchant and token known). */
export async function insertLedgerLine(
  q: Queryable,
  e: UnpostedEventRow,
  line: { account: string; debit: bigint; credit: bigint },
): Promise<void> {
  await q.query(
    `insert into ledger_entries (event_id, merchant_id, order_id, token, account, debit, credit, block_number, block_time, tx_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      e.id,
      e.merchant_id,
      e.order_id,
      e.token,
      line.account,
      line.debit.toString(),
      line.credit.toString(),
      e.block_number,
      e.block_time,
      e.tx_hash,
    ],
  );
}

export interface LedgerFilter {
  merchantId: string;
  token?: string;
  orderChainId?: string;
  from?: Date;
  to?: Date;
  afterId?: string;
  limit?: number;
}

export interface LedgerEntryRow {
  id: string;
  order_id: string;
  token: string;
  account: string;
  debit: string;
  credit: string;
  block_number: string;
  block_time: string | null;
  tx_hash: string;
}

/** The merchant's ledger lines matching the filter (token in any letter case, block time in [from, to)), by id. */
export async function findLedgerEntries(q: Queryable, f: LedgerFilter): Promise<LedgerEntryRow[]> {
  const where = ["merchant_id = $1"];
  const params: unknown[] = [f.merchantId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (f.token) add("lower(token) = lower(?)", f.token);
  if (f.orderChainId) add("order_id = lower(?)", f.orderChainId);
  if (f.from) add("block_time >= ?", Math.floor(f.from.getTime() / 1000));
  if (f.to) add("block_time < ?", Math.floor(f.to.getTime() / 1000));
  if (f.afterId) add("id > ?", f.afterId);
  const limit = f.limit ? ` limit ${Math.floor(f.limit)}` : "";
  const r = await q.query<LedgerEntryRow>(
    `select * from ledger_entries where ${where.join(" and ")} order by id${limit}`,
    params,
  );
  return r.rows;
}

/** Sums of debits and credits of the merchant's accounts, per token (as written) and account, optionally of one token. */
export async function ledgerTotals(
  q: Queryable,
  merchantId: string,
  token?: string,
): Promise<{ token: string; account: string; debit: string; credit: string }[]> {
  const r = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select token, account, sum(debit) as debit, sum(credit) as credit from ledger_entries
     where merchant_id = $1 ${token ? "and lower(token) = lower($2)" : ""} group by token, account order by token, account`,
    token ? [merchantId, token] : [merchantId],
  );
  return r.rows;
}

/** Sums of debits and credits of the merchant's accounts, per lower-cased token and account. */
export async function ledgerTotalsByLowerToken(
  q: Queryable,
  merchantId: string,
): Promise<{ token: string; account: string; debit: string; credit: string }[]> {
  const bal = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select lower(token) as token, account, sum(debit) as debit, sum(credit) as credit from ledger_entries where merchant_id = $1 group by 1, 2`,
    [merchantId],
  );
  return bal.rows;
}

/** Every token (lower-cased) the ledger has a line in. */
export async function ledgerTokens(q: Queryable): Promise<string[]> {
  const r = await q.query<{ token: string }>(`select distinct lower(token) as token from ledger_entries`);
  return r.rows.map((row) => row.token);
}

/** The last block the indexer has processed (its checkpoint), or null before its first pass. */
export async function lastIndexedBlock(q: Queryable): Promise<number | null> {
  const cp = await q.query<{ last_block: string }>(`select last_block from indexer_state where id = 1`);
  return cp.rows[0] ? Number(cp.rows[0].last_block) : null;
}

/** Every merchant's id and on-chain address. */
export async function merchantAddresses(q: Queryable): Promise<{ id: string; address: string }[]> {
  return (await q.query<{ id: string; address: string }>(`select id, address from merchants`)).rows;
}
