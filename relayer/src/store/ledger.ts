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

/**
 * Sums of debits and credits of the merchant's accounts, per lower-cased token and account; only the lines of
 * blocks up to `upToBlock` when given.
 */
export async function ledgerTotalsByLowerToken(
  q: Queryable,
  merchantId: string,
  upToBlock?: number,
): Promise<{ token: string; account: string; debit: string; credit: string }[]> {
  const bal = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select lower(token) as token, account, sum(debit) as debit, sum(credit) as credit from ledger_entries
     where merchant_id = $1 and ($2::bigint is null or block_number <= $2) group by 1, 2`,
    [merchantId, upToBlock ?? null],
  );
  return bal.rows;
}

/** Every token (lower-cased) the ledger has a line in; of blocks up to `upToBlock` when given. */
export async function ledgerTokens(q: Queryable, upToBlock?: number): Promise<string[]> {
  const r = await q.query<{ token: string }>(
    `select distinct lower(token) as token from ledger_entries where $1::bigint is null or block_number <= $1`,
    [upToBlock ?? null],
  );
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
