/**
 * Merchants' money outside the escrow: the payout address (payout_addresses) and its pending changes, the
 * commands that move money from a merchant's custodial address (payout changes, sweeps, returns), the returns
 * in flight per order, and the escrow events of returns for the ledger.
 */
import type { Queryable } from "./db";
import type { UnpostedEventRow } from "./ledger";

export interface PayoutRow {
  merchant_id: string;
  /** The payout address the escrow's registry shows; null: none (the custodial address is paid). */
  address: string | null;
  activated_at: Date | null;
  pending_address: string | null;
  pending_due_at: Date | null;
  pending_requested_at: Date | null;
  pending_requested_by: string | null;
  pending_command_id: string | null;
  updated_at: Date;
}

export async function getPayout(q: Queryable, merchantId: string): Promise<PayoutRow | undefined> {
  return (await q.query<PayoutRow>(`select * from payout_addresses where merchant_id = $1`, [merchantId])).rows[0];
}

/**
 * The payee of orders accepted now: the active payout address, or null for the custodial address. Null too while a
 * due change is being applied: the escrow accepts an operator's order for the merchant itself or the address its
 * registry shows, and during the switch only the merchant itself is sure to be accepted.
 *
 * Read in the transaction that stores the order and its create_order command, with the payout row key-share-locked
 * until it commits (the weakest row lock: acceptances and the row's own updates do not wait for each other): the
 * change's job takes the row for update before sending it (lockPayoutSwitch), which waits for the acceptance, so no
 * order naming the address a change replaces can be stored unseen while the change goes to the chain. Due-ness is
 * read at the clock's time, not the transaction's start.
 */
export async function activePayoutAddress(q: Queryable, merchantId: string): Promise<string | null> {
  const r = await q.query<{ address: string | null; switching: boolean }>(
    `select address, (pending_address is not null and pending_due_at <= clock_timestamp()) as switching
     from payout_addresses where merchant_id = $1 for key share`,
    [merchantId],
  );
  const row = r.rows[0];
  return row && !row.switching ? row.address : null;
}

/**
 * Waits for the orders being accepted with the merchant's current payee to be stored (their transactions hold the
 * payout row, activePayoutAddress), then holds the row until the caller's transaction ends: checked right after,
 * the orders in flight include every order that can name the address being replaced.
 */
export async function lockPayoutSwitch(q: Queryable, merchantId: string): Promise<void> {
  await q.query(`select 1 from payout_addresses where merchant_id = $1 for update`, [merchantId]);
}

/**
 * True while orders of the merchant accepted with a payee other than the merchant itself and `next` still wait
 * to be created: the registry must not change under them (the escrow would refuse them).
 */
export async function ordersWithOtherPayeeInFlight(
  q: Queryable,
  merchantId: string,
  merchantAddress: string,
  next: string,
): Promise<boolean> {
  const r = await q.query(
    `select 1 from commands
     where merchant_id = $1 and kind = 'create_order' and status in ('pending', 'claimed', 'submitted')
       and lower(payload->'terms'->>'payee') not in (lower($2), lower($3))
     limit 1`,
    [merchantId, merchantAddress, next],
  );
  return r.rowCount !== 0;
}

/**
 * Records a requested change to `address`, due in `delaySeconds`, with the command that applies it (not run
 * before it is due); a change still pending is replaced (its command then finds itself superseded). The row is
 * locked for the rest of the caller's transaction.
 */
export async function requestPayoutChange(
  q: Queryable,
  c: { merchantId: string; address: string; delaySeconds: number; requestedBy: string },
): Promise<PayoutRow> {
  // A change still pending is replaced: its command will not run.
  await q.query(
    `update commands set status = 'failed', error_code = 'PayoutChangeReplaced',
       error_message = 'a later payout address change replaced this one', updated_at = now()
     where status = 'pending' and id = (select pending_command_id from payout_addresses
       where merchant_id = $1 and pending_due_at > now())`,
    [c.merchantId],
  );
  const cmd = await q.query<{ id: string }>(
    `insert into commands (kind, merchant_id, payload, api_key_id, not_before)
     values ('set_payout_address', $1, $2, $3, now() + make_interval(secs => $4)) returning id`,
    [c.merchantId, JSON.stringify({ address: c.address }), c.requestedBy, c.delaySeconds],
  );
  const r = await q.query<PayoutRow>(
    `insert into payout_addresses (merchant_id, pending_address, pending_due_at, pending_requested_at,
       pending_requested_by, pending_command_id)
     values ($1, $2, now() + make_interval(secs => $3), now(), $4, $5)
     on conflict (merchant_id) do update set pending_address = excluded.pending_address,
       pending_due_at = excluded.pending_due_at, pending_requested_at = excluded.pending_requested_at,
       pending_requested_by = excluded.pending_requested_by, pending_command_id = excluded.pending_command_id,
       updated_at = now()
     returning *`,
    [c.merchantId, c.address, c.delaySeconds, c.requestedBy, cmd.rows[0].id],
  );
  return r.rows[0];
}

/**
 * Cancels the merchant's pending change while it is not due yet, and fails its command. Returns the cancelled
 * change, or undefined when none was pending (or it is already being applied).
 */
export async function cancelPendingPayout(
  q: Queryable,
  merchantId: string,
): Promise<{ address: string; commandId: string } | undefined> {
  const r = await q.query<{ address: string; command_id: string }>(
    `update payout_addresses p set pending_address = null, pending_due_at = null, pending_requested_at = null,
       pending_requested_by = null, pending_command_id = null, updated_at = now()
     from (select merchant_id, pending_address, pending_command_id from payout_addresses
           where merchant_id = $1 and pending_address is not null and pending_due_at > now() for update) old
     where p.merchant_id = old.merchant_id
     returning old.pending_address as address, old.pending_command_id as command_id`,
    [merchantId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  await q.query(
    `update commands set status = 'failed', error_code = 'PayoutChangeCancelled',
       error_message = 'the payout address change was cancelled before it was due', updated_at = now()
     where id = $1 and status = 'pending'`,
    [row.command_id],
  );
  return { address: row.address, commandId: String(row.command_id) };
}

/** The chain shows the pending change of command `commandId`: it becomes the active payout address. */
export async function activatePayout(q: Queryable, merchantId: string, commandId: string): Promise<boolean> {
  const r = await q.query(
    `update payout_addresses set address = pending_address, activated_at = now(), pending_address = null,
       pending_due_at = null, pending_requested_at = null, pending_requested_by = null, pending_command_id = null,
       updated_at = now()
     where merchant_id = $1 and pending_command_id = $2`,
    [merchantId, commandId],
  );
  return r.rowCount === 1;
}

/**
 * The command `commandId` that was to apply the merchant's pending change failed: the change is dropped, and the
 * active payout address (the one the chain still shows) stays. A later request's change is left alone.
 */
export async function dropFailedPayoutChange(q: Queryable, merchantId: string, commandId: string): Promise<boolean> {
  const r = await q.query(
    `update payout_addresses set pending_address = null, pending_due_at = null, pending_requested_at = null,
       pending_requested_by = null, pending_command_id = null, updated_at = now()
     where merchant_id = $1 and pending_command_id = $2`,
    [merchantId, commandId],
  );
  return r.rowCount === 1;
}

/**
 * True when an earlier command of the merchant that the custodial key signs for (a forward request or a permit,
 * each with its own nonce sequence) is not finished: this one waits its turn. An earlier command that is itself
 * waiting a moment (its turn, a retry) counts, else both would sign with the same nonce; one scheduled further
 * ahead (a payout change in its delay) does not hold the others back.
 */
export async function custodialWorkAhead(q: Queryable, merchantId: string, commandId: string): Promise<boolean> {
  const r = await q.query(
    `select 1 from commands
     where merchant_id = $1 and id < $2 and status in ('pending', 'claimed', 'submitted')
       and not_before <= now() + interval '10 seconds'
       and kind in ('merchant_setup', 'set_payout_address', 'sweep_payouts', 'return_order')
     limit 1`,
    [merchantId, commandId],
  );
  return r.rowCount !== 0;
}

/** Locks the order for the rest of the caller's transaction: two returns of one order are accepted in turn. */
export async function lockOrderForReturn(q: Queryable, orderId: string): Promise<void> {
  await q.query(`select 1 from orders where id = $1 for update`, [orderId]);
}

/** What the order's returns accepted and not yet confirmed or failed add up to (base units). */
/** The chain SKU ids and quantities the order's earlier returns (not failed) put, or will put, back into stock. */
export async function restockedByReturns(q: Queryable, orderId: string): Promise<Map<string, number>> {
  const r = await q.query<{ sku_id: string; quantity: string }>(
    `select item->>'skuId' as sku_id, sum((item->>'quantity')::numeric)::text as quantity
     from commands c, jsonb_array_elements(coalesce(c.payload->'restockItems', '[]'::jsonb)) as item
     where c.order_id = $1 and c.kind = 'return_order' and c.status <> 'failed'
     group by 1`,
    [orderId],
  );
  return new Map(r.rows.map((x) => [x.sku_id, Number(x.quantity)]));
}

/** A return of the order not settled yet, with the signer and nonce of its transaction once it has one. */
export interface ReturnInFlight {
  amount: bigint;
  signer: string | null;
  nonce: number | null;
}

export async function returnsInFlight(q: Queryable, orderId: string): Promise<ReturnInFlight[]> {
  const r = await q.query<{ amount: string; tx_signer: string | null; tx_nonce: string | null }>(
    `select payload->>'amount' as amount, tx_signer, tx_nonce from commands
     where order_id = $1 and kind = 'return_order' and status in ('pending', 'claimed', 'submitted')`,
    [orderId],
  );
  return r.rows.map((x) => ({
    amount: BigInt(x.amount),
    signer: x.tx_signer,
    nonce: x.tx_nonce === null ? null : Number(x.tx_nonce),
  }));
}

/**
 * The payout credits and withdrawals (PayoutCredited, PayoutWithdrawn) indexed in [fromBlock, toBlock] of
 * merchants' addresses, without ledger lines yet. The merchant is the one whose custodial address was credited,
 * else the one that last named the credited account its payout address on chain (PayoutAddressSet) by then: a
 * payout wallet replaced since keeps its credit, and withdraws it later, in its merchant's books. The naming
 * events have no order: read on chain_events_order's null order ids.
 */
export async function unpostedWithdrawals(
  q: Queryable,
  fromBlock: number,
  toBlock: number,
): Promise<UnpostedEventRow[]> {
  const r = await q.query<UnpostedEventRow>(
    `select e.id, e.name, e.order_id, e.args, e.block_number, e.block_time, e.tx_hash, owner.merchant_id,
       e.args->>'token' as token
     from chain_events e
     cross join lateral (
       select x.merchant_id from (
         select m.id as merchant_id, 0 as rank, 0::bigint as block_number, 0 as log_index
         from merchants m where lower(m.address) = lower(e.args->>'account')
         union all
         select m.id, 1, s.block_number, s.log_index
         from chain_events s join merchants m on lower(m.address) = lower(s.args->>'merchant')
         where s.order_id is null and s.contract = 'PaymentEscrow' and s.name = 'PayoutAddressSet'
           and lower(s.args->>'payout') = lower(e.args->>'account') and s.block_number <= e.block_number
       ) x
       order by x.rank, x.block_number desc, x.log_index desc
       limit 1
     ) owner
     where e.block_number between $1 and $2 and e.contract = 'PaymentEscrow' and e.name in ('PayoutCredited', 'PayoutWithdrawn')
       and not exists (select 1 from ledger_entries l where l.event_id = e.id)
     order by e.block_number, e.log_index`,
    [fromBlock, toBlock],
  );
  return r.rows;
}

/** A webhook event about the merchant rather than one of its orders (no order, no per-order sequence). */
export async function insertMerchantEvent(
  q: Queryable,
  e: { id: string; merchantId: string; type: string; payload: string },
): Promise<void> {
  await q.query(
    `insert into webhook_events (id, merchant_id, order_id, type, sequence, payload) values ($1, $2, null, $3, 0, $4::jsonb)`,
    [e.id, e.merchantId, e.type, e.payload],
  );
}

/**
 * Credits outstanding per credited account and token (lower-cased) in reconciliation's reading of the blocks up
 * to `upToBlock`: the movements of PayoutCredited and PayoutWithdrawn name their account as `merchant`.
 */
export async function reconcileCreditsByAccount(
  q: Queryable,
  upToBlock: number,
): Promise<{ account: string; token: string; amount: string }[]> {
  const r = await q.query<{ account: string; token: string; amount: string }>(
    `select merchant as account, token, sum(credited)::text as amount from reconcile_movements
     where block_number <= $1 and order_id is null and merchant is not null and credited is not null
     group by 1, 2`,
    [upToBlock],
  );
  return r.rows;
}

/**
 * Whether `address` (any letter case) is another merchant's own address or its payout address, active or pending:
 * an escrow credit names only the account, so the books could not tell whose it is.
 */
export async function addressOfAnotherMerchant(q: Queryable, merchantId: string, address: string): Promise<boolean> {
  const r = await q.query(
    `select 1 from merchants where lower(address) = lower($2) and id <> $1
     union all
     select 1 from payout_addresses
     where merchant_id <> $1 and (lower(address) = lower($2) or lower(pending_address) = lower($2))
     limit 1`,
    [merchantId, address],
  );
  return r.rowCount !== 0;
}
