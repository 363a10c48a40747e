/**
 * The bookkeeping ledger's lines (ledger_entries, one row per account and escrow event), the escrow events not
 * posted yet, and what reconciliation reads besides (the indexer's checkpoint, the merchants' addresses) and
 * keeps: its own reading of the escrow's logs (reconcile_state, reconcile_orders, reconcile_movements).
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
       and e.name in ('OrderPaid', 'OrderRefunded', 'OrderCompleted', 'DisputeResolved', 'OrderReturned')
       and not exists (select 1 from ledger_entries l where l.event_id = e.id)
     order by e.block_number, e.log_index`,
    [fromBlock, toBlock],
  );
  return events.rows;
}

/**
 * Posts one ledger line of the event `e` (of an order the relayer manages: merchant and token known) and adds it
 * to its account's running totals, in one statement.
 */
export async function insertLedgerLine(
  q: Queryable,
  e: UnpostedEventRow,
  line: { account: string; debit: bigint; credit: bigint },
): Promise<void> {
  await q.query(
    `with l as (
       insert into ledger_entries (event_id, merchant_id, order_id, token, account, debit, credit, block_number, block_time, tx_hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       returning merchant_id, token, account, debit, credit
     )
     insert into ledger_balances as b (merchant_id, token, account, debit, credit, balance)
     select merchant_id, token, account, debit, credit, debit - credit from l
     on conflict (merchant_id, token, account) do update
       set debit = b.debit + excluded.debit, credit = b.credit + excluded.credit, balance = b.balance + excluded.balance`,
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

/**
 * A reorg's rollback to block `ancestor`: deletes the ledger lines of the blocks after it and takes them out of
 * their accounts' running totals. Run it in the rollback's transaction, before the events
 * go (their lines would go with them, uncounted).
 */
export async function retractLedgerAfter(q: Queryable, ancestor: number): Promise<void> {
  await q.query(
    `with gone as (
       delete from ledger_entries where block_number > $1 returning merchant_id, token, account, debit, credit
     ), s as (
       select merchant_id, token, account, sum(debit) as debit, sum(credit) as credit from gone group by 1, 2, 3
     )
     update ledger_balances b
     set debit = b.debit - s.debit, credit = b.credit - s.credit, balance = b.balance - (s.debit - s.credit)
     from s
     where b.merchant_id = s.merchant_id and b.token = s.token and b.account = s.account`,
    [ancestor],
  );
  // An account left without lines has no totals, as before its first line.
  await q.query(`delete from ledger_balances where debit = 0 and credit = 0`);
}

/** Where a page of ledger lines starts: after the line `id` of block time `time` (seconds; 0 when unknown). */
export interface LedgerCursor {
  time: number;
  id: string;
}

export interface LedgerFilter {
  merchantId: string;
  token?: string;
  orderChainId?: string;
  from?: Date;
  to?: Date;
  after?: LedgerCursor;
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

/**
 * The query of the merchant's ledger lines matching the filter (token in any letter case, block time in
 * [from, to)), in (block time, id) order: the order of the index ledger_merchant_block_time, a line of unknown
 * time counting as time 0.
 */
export function ledgerEntriesQuery(f: LedgerFilter): { sql: string; params: unknown[] } {
  const where = ["merchant_id = $1"];
  const params: unknown[] = [f.merchantId];
  const add = (sql: string, ...v: unknown[]) => {
    let text = sql;
    for (const x of v) {
      params.push(x);
      text = text.replace("?", `$${params.length}`);
    }
    where.push(text);
  };
  if (f.token) add("lower(token) = lower(?)", f.token);
  if (f.orderChainId) add("order_id = lower(?)", f.orderChainId);
  if (f.from) add("coalesce(block_time, 0) >= ?", Math.floor(f.from.getTime() / 1000));
  if (f.to) add("coalesce(block_time, 0) < ?", Math.floor(f.to.getTime() / 1000));
  if (f.after) add("(coalesce(block_time, 0), id) > (?::bigint, ?::bigint)", f.after.time, f.after.id);
  const limit = f.limit ? ` limit ${Math.floor(f.limit)}` : "";
  return {
    sql: `select * from ledger_entries where ${where.join(" and ")} order by coalesce(block_time, 0), id${limit}`,
    params,
  };
}

/** The merchant's ledger lines matching the filter, in (block time, id) order (see `ledgerEntriesQuery`). */
export async function findLedgerEntries(q: Queryable, f: LedgerFilter): Promise<LedgerEntryRow[]> {
  const { sql, params } = ledgerEntriesQuery(f);
  return (await q.query<LedgerEntryRow>(sql, params)).rows;
}

/** The block time (seconds) of the merchant's ledger line `id`, 0 when unknown; undefined when there is no such line. */
export async function ledgerLineTime(q: Queryable, merchantId: string, id: string): Promise<number | undefined> {
  const r = await q.query<{ t: string }>(
    `select coalesce(block_time, 0) as t from ledger_entries where merchant_id = $1 and id = $2`,
    [merchantId, id],
  );
  return r.rows[0] ? Number(r.rows[0].t) : undefined;
}

/**
 * Totals of debits and credits of the merchant's accounts, per token (as written) and account, optionally of
 * one token: the running totals kept with the lines.
 */
export async function ledgerTotals(
  q: Queryable,
  merchantId: string,
  token?: string,
): Promise<{ token: string; account: string; debit: string; credit: string }[]> {
  const r = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select token, account, debit, credit from ledger_balances
     where merchant_id = $1 ${token ? "and lower(token) = lower($2)" : ""} order by token, account`,
    token ? [merchantId, token] : [merchantId],
  );
  return r.rows;
}

/**
 * Sums of debits and credits of the merchant's accounts, per lower-cased token and account; only the lines of
 * blocks up to `upToBlock` when given: the running totals less the few lines of later blocks (read on
 * ledger_merchant_time).
 */
export async function ledgerTotalsByLowerToken(
  q: Queryable,
  merchantId: string,
  upToBlock?: number,
): Promise<{ token: string; account: string; debit: string; credit: string }[]> {
  const bal = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select lower(b.token) as token, b.account,
       sum(b.debit - coalesce(x.debit, 0)) as debit, sum(b.credit - coalesce(x.credit, 0)) as credit
     from ledger_balances b
     left join lateral (
       select sum(l.debit) as debit, sum(l.credit) as credit from ledger_entries l
       where l.merchant_id = b.merchant_id and l.token = b.token and l.account = b.account and l.block_number > $2
     ) x on $2::bigint is not null
     where b.merchant_id = $1
     group by 1, 2`,
    [merchantId, upToBlock ?? null],
  );
  return bal.rows;
}

/** Every token (lower-cased) the ledger has a line in; of blocks up to `upToBlock` when given. */
export async function ledgerTokens(q: Queryable, upToBlock?: number): Promise<string[]> {
  const r = await q.query<{ token: string }>(
    `select distinct lower(b.token) as token from ledger_balances b
     where exists (
       select 1 from ledger_entries l
       where l.merchant_id = b.merchant_id and l.token = b.token and ($1::bigint is null or l.block_number <= $1)
     )`,
    [upToBlock ?? null],
  );
  return r.rows.map((row) => row.token);
}

/** The last block the indexer has processed (its checkpoint), or null before its first pass. */
export async function lastIndexedBlock(q: Queryable): Promise<number | null> {
  const cp = await q.query<{ last_block: string }>(`select last_block from indexer_state where id = 1`);
  return cp.rows[0] ? Number(cp.rows[0].last_block) : null;
}

/**
 * Each merchant's address and, lower case, every payout address it named on chain (PayoutAddressSet) up to block
 * `upToBlock`: the current one and those it replaced, which keep their credits until they withdraw them. Another
 * merchant's custodial address is that merchant's (as unpostedWithdrawals books it), not a payout address here.
 */
export async function merchantAddresses(
  q: Queryable,
  upToBlock: number,
): Promise<{ id: string; address: string; payouts: string[] }[]> {
  return (
    await q.query<{ id: string; address: string; payouts: string[] }>(
      `with named as (
         select distinct lower(s.args->>'merchant') as merchant, lower(s.args->>'payout') as payout
         from chain_events s
         where s.order_id is null and s.contract = 'PaymentEscrow' and s.name = 'PayoutAddressSet'
           and s.block_number <= $1
       )
       select m.id, m.address, coalesce(array_agg(n.payout) filter (where n.payout is not null), '{}') as payouts
       from merchants m
       left join named n on n.merchant = lower(m.address)
         and not exists (select 1 from merchants c where lower(c.address) = n.payout)
       group by m.id, m.address`,
      [upToBlock],
    )
  ).rows;
}

/** How far reconciliation has read the escrow's logs; `generation` changes with every reorg rollback. */
export interface ReconcileScan {
  scannedTo: number;
  generation: number;
}

/**
 * Reconciliation's reading so far. The first call records that nothing is read: up to `beforeStart`, the block
 * before the deployment. (The row exists before any reading starts, so a rollback always finds it to reset.)
 */
export async function reconcileScan(q: Queryable, beforeStart: number): Promise<ReconcileScan> {
  await q.query(`insert into reconcile_state (id, scanned_to) values (1, $1) on conflict (id) do nothing`, [
    beforeStart,
  ]);
  const r = await q.query<{ scanned_to: string; generation: string }>(
    `select scanned_to, generation from reconcile_state where id = 1`,
  );
  return { scannedTo: Number(r.rows[0].scanned_to), generation: Number(r.rows[0].generation) };
}

/** An OrderCreated as reconciliation keeps it (addresses lower-cased). */
export interface ReconcileOrder {
  orderId: string;
  merchant: string;
  token: string;
  blockNumber: number;
}

/**
 * A money-moving escrow event as the changes it makes: to its order's escrowed amount, to the payouts of the
 * payee `merchant`, to the payouts credited and not withdrawn in `token` (null where it changes nothing).
 */
export interface ReconcileMovement {
  blockNumber: number;
  logIndex: number;
  orderId: string | null;
  merchant: string | null;
  token: string | null;
  escrowed: bigint | null;
  paidOut: bigint | null;
  credited: bigint | null;
}

/**
 * Records the orders and movements read from block `expected.scannedTo + 1` to `scannedTo`, if nothing moved
 * the reading meanwhile (another report, or a reorg rollback). False, with nothing written, when something
 * did: the caller reads the state again. Run it in a transaction; its first statement locks the state row.
 */
export async function recordReconcileScan(
  q: Queryable,
  expected: ReconcileScan,
  scannedTo: number,
  orders: ReconcileOrder[],
  movements: ReconcileMovement[],
): Promise<boolean> {
  const moved = await q.query(
    `update reconcile_state set scanned_to = $1, updated_at = now()
     where id = 1 and scanned_to = $2 and generation = $3`,
    [scannedTo, expected.scannedTo, expected.generation],
  );
  if (moved.rowCount !== 1) return false;
  if (orders.length > 0) {
    await q.query(
      `insert into reconcile_orders (order_id, merchant, token, block_number)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
       on conflict (order_id) do update set merchant = excluded.merchant, token = excluded.token,
         block_number = excluded.block_number`,
      [
        orders.map((o) => o.orderId),
        orders.map((o) => o.merchant),
        orders.map((o) => o.token),
        orders.map((o) => o.blockNumber),
      ],
    );
  }
  if (movements.length > 0) {
    const s = (v: bigint | null) => (v === null ? null : v.toString());
    await q.query(
      `insert into reconcile_movements (block_number, log_index, order_id, merchant, token, escrowed, paid_out, credited)
       select * from unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[])
       on conflict (block_number, log_index) do nothing`,
      [
        movements.map((m) => m.blockNumber),
        movements.map((m) => m.logIndex),
        movements.map((m) => m.orderId),
        movements.map((m) => m.merchant),
        movements.map((m) => m.token),
        movements.map((m) => s(m.escrowed)),
        movements.map((m) => s(m.paidOut)),
        movements.map((m) => s(m.credited)),
      ],
    );
  }
  return true;
}

/**
 * A reorg's rollback to block `ancestor`: reconciliation forgets what it read after it, and a reading in
 * progress (of blocks the reorg may have replaced) can no longer be recorded.
 */
export async function resetReconciliation(q: Queryable, ancestor: number): Promise<void> {
  await q.query(
    `update reconcile_state set scanned_to = least(scanned_to, $1), generation = generation + 1, updated_at = now()
     where id = 1`,
    [ancestor],
  );
  await q.query(`delete from reconcile_movements where block_number > $1`, [ancestor]);
  await q.query(`delete from reconcile_orders where block_number > $1`, [ancestor]);
}

/** What the escrow's logs up to a block add up to, from reconciliation's reading (amounts as decimal strings). */
export interface ReconcileTotals {
  /** Escrowed now, per merchant (the order's) and token. */
  open: { merchant: string; token: string; amount: string }[];
  /** Released to the payee, per merchant (the event's payee) and the order's token. */
  payouts: { merchant: string; token: string; amount: string }[];
  /** Payouts credited and not withdrawn, per token. */
  credited: { token: string; amount: string }[];
}

/** Sums reconciliation's reading of the blocks up to `upToBlock`. */
export async function reconcileTotals(q: Queryable, upToBlock: number): Promise<ReconcileTotals> {
  const open = await q.query<{ merchant: string; token: string; amount: string }>(
    `select o.merchant, o.token, sum(m.escrowed)::text as amount
     from reconcile_movements m join reconcile_orders o on o.order_id = m.order_id
     where m.block_number <= $1 and m.escrowed is not null group by 1, 2`,
    [upToBlock],
  );
  const payouts = await q.query<{ merchant: string; token: string; amount: string }>(
    `select m.merchant, o.token, sum(m.paid_out)::text as amount
     from reconcile_movements m join reconcile_orders o on o.order_id = m.order_id
     where m.block_number <= $1 and m.paid_out is not null group by 1, 2`,
    [upToBlock],
  );
  const credited = await q.query<{ token: string; amount: string }>(
    `select token, sum(credited)::text as amount from reconcile_movements
     where block_number <= $1 and credited is not null group by 1`,
    [upToBlock],
  );
  return { open: open.rows, payouts: payouts.rows, credited: credited.rows };
}
