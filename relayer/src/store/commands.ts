/** Durable chain commands: enqueue, claim with SKIP LOCKED, and record outcomes. */
import type { CommandKind, CommandStatus } from "../domain/command";
import { MERCHANT_LANE_KINDS } from "../domain/command";
import type { Queryable } from "./db";

export interface CommandRow {
  id: string;
  kind: CommandKind;
  merchant_id: string | null;
  order_id: string | null;
  sku_id: string | null;
  payload: Record<string, unknown>;
  status: CommandStatus;
  attempts: number;
  tx_signer: string | null;
  tx_nonce: string | null;
  batch_index: number | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
}

export async function enqueueCommand(
  q: Queryable,
  c: {
    kind: CommandKind;
    merchantId?: string | null;
    orderId?: string | null;
    skuId?: string | null;
    payload: Record<string, unknown>;
    apiKeyId?: string | null;
  },
): Promise<string> {
  const r = await q.query<{ id: string }>(
    `insert into commands (kind, merchant_id, order_id, sku_id, payload, api_key_id)
     values ($1, $2, $3, $4, $5, $6) returning id`,
    [c.kind, c.merchantId ?? null, c.orderId ?? null, c.skuId ?? null, JSON.stringify(c.payload), c.apiKeyId ?? null],
  );
  return String(r.rows[0].id);
}

/**
 * Queues the `mint_stock` commands that put the goods of the return command `returnCommandId` back into the
 * merchant's stock, one per SKU, unless that return's restock is queued already: confirming a return more than
 * once (two writers settling one receipt) restocks once. Run it in the transaction that confirms the return,
 * after its update, which holds the return's row: a second confirmation waits for the first and then sees its
 * commands. Returns how many it queued.
 */
export async function enqueueRestock(
  q: Queryable,
  r: {
    returnCommandId: string;
    merchantId: string | null;
    merchant: string;
    orderId: string | null;
    items: { skuId: string; quantity: string }[];
  },
): Promise<number> {
  if (r.items.length === 0) return 0;
  const res = await q.query(
    `insert into commands (kind, merchant_id, payload)
     select 'mint_stock', $2::text,
            jsonb_build_object('merchant', $3::text, 'skuId', u.sku, 'quantity', u.quantity,
                               'returnOf', $4::text, 'restockOf', $1::text)
     from unnest($5::text[], $6::text[]) with ordinality as u(sku, quantity, n)
     where not exists (
       select 1 from commands c
       where c.merchant_id = $2::text and c.id > $1::bigint and c.kind = 'mint_stock'
         and c.payload->>'restockOf' = $1::text)
     order by u.n`,
    [
      r.returnCommandId,
      r.merchantId,
      r.merchant,
      r.orderId,
      r.items.map((i) => i.skuId),
      r.items.map((i) => i.quantity),
    ],
  );
  return res.rowCount ?? 0;
}

/**
 * Claims up to `limit` commands that are ready: pending, due, and not behind an unfinished earlier command of
 * the same order or (for inventory and identity work) of the same merchant. Rows locked by another claimer
 * are skipped, so concurrent workers and processes take disjoint sets.
 */
export async function claimReadyCommands(q: Queryable, owner: string, limit: number): Promise<CommandRow[]> {
  const r = await q.query<CommandRow>(
    `with ready as (
       select c.id from commands c
       where c.status = 'pending' and c.not_before <= now()
         and not exists (
           select 1 from commands p
           where c.order_id is not null and p.order_id = c.order_id and p.id < c.id
             and p.status in ('pending', 'claimed', 'submitted'))
         and not exists (
           select 1 from commands p
           where c.merchant_id is not null and p.merchant_id = c.merchant_id and p.id < c.id
             and p.kind = any($3::text[]) and p.status in ('pending', 'claimed', 'submitted'))
         -- Requests signed with one forwarder nonce sequence run one after another: the arbiter's
         -- resolutions, and each buyer's relayed actions.
         and not (c.kind = 'resolve_dispute' and exists (
           select 1 from commands p
           where p.kind = 'resolve_dispute' and p.id < c.id and p.status in ('pending', 'claimed', 'submitted')))
         and not (c.kind = 'relay_forward' and exists (
           select 1 from commands p
           where p.kind = 'relay_forward' and p.payload->>'buyer' = c.payload->>'buyer' and p.id < c.id
             and p.status in ('pending', 'claimed', 'submitted')))
       order by c.id
       limit $2
       for update skip locked
     )
     update commands set status = 'claimed', claimed_by = $1, claimed_at = now(), updated_at = now()
     where id in (select id from ready)
     returning *`,
    [owner, limit, MERCHANT_LANE_KINDS],
  );
  return r.rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/*
 * Every status transition of a command is one named function here:
 *   claimReadyCommands        pending -> claimed
 *   releaseCommands           claimed/submitted -> pending (not sent, or its transaction failed as a whole)
 *   returnClaims              claimed -> pending (a writer that stops gives back what it has not sent)
 *   reclaimAbandoned          claimed -> pending (the claimer died)
 *   markSubmitted             claimed -> submitted
 *   requeueRefused            submitted -> pending (the node definitely refused the transaction, or another
 *                             transaction took its nonce: either way it never ran)
 *   markConfirmed             submitted -> confirmed
 *   reopenReorged             confirmed -> submitted (its transaction was reorged away)
 *   runAgainSoon              confirmed -> pending (its effect is not on chain yet: run it once more)
 *   requeueReorgedCreates     confirmed -> pending (a create_order whose order a reorg took back)
 *   markFailed                -> failed
 *   sleepCommand              claimed -> pending, not before it is woken (wakeMerchantSetup)
 *   reclaimRefusedTx          pending -> submitted (chainTxs.ts: a refused transaction the chain shows mined after all)
 * Every way back to pending sets BACK_TO_PENDING: the command is as if new, with no claim and no transaction of an
 * earlier attempt (a pending command with a signer and nonce would read as sent at that nonce).
 */

/** The columns of a command sent back to pending: no claim, no transaction, no place in a batch. */
const BACK_TO_PENDING = `status = 'pending', claimed_by = null, claimed_at = null, tx_signer = null, tx_nonce = null,
       batch_index = null, updated_at = now()`;

/** Puts claimed commands back (not sent), optionally after a delay. */
export async function releaseCommands(q: Queryable, ids: string[], delayMs = 0, countAttempt = false): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `update commands set ${BACK_TO_PENDING}, not_before = now() + ($2::int * interval '1 millisecond'),
       attempts = attempts + $3::int
     where id = any($1::bigint[]) and status in ('claimed', 'submitted')`,
    [ids, delayMs, countAttempt ? 1 : 0],
  );
}

/**
 * The claimed command `id` waits, pending, until something wakes it (store/merchants.ts wakeMerchantSetup): it
 * keeps its place ahead of its merchant's later commands, and says why it waits.
 */
export async function sleepCommand(q: Queryable, id: string, code: string, message: string): Promise<void> {
  await q.query(
    `update commands set ${BACK_TO_PENDING}, not_before = 'infinity', error_code = $2, error_message = $3
     where id = $1 and status = 'claimed'`,
    [id, code, message],
  );
}

/**
 * Claims left behind by a process that died are returned to the queue (nothing was sent for them). A claim of a
 * process that still heartbeats is left alone, however long its pass takes (a loaded machine): taken back
 * meanwhile, the command could be claimed and sent a second time while the first pass sends it too.
 */
export async function reclaimAbandoned(q: Queryable, olderThanMs: number): Promise<number> {
  const r = await q.query(
    `update commands c set ${BACK_TO_PENDING}
     where c.status = 'claimed' and c.claimed_at < now() - ($1::int * interval '1 millisecond')
       and not exists (
         select 1 from relayer_instances i
         where i.id = c.claimed_by and i.heartbeat_at > now() - ($1::int * interval '1 millisecond'))`,
    [olderThanMs],
  );
  return r.rowCount;
}

/** Gives back the commands `owner` claimed and has not sent (a writer that stops). */
export async function returnClaims(q: Queryable, owner: string): Promise<void> {
  await q.query(
    `update commands set ${BACK_TO_PENDING}
     where status = 'claimed' and claimed_by = $1`,
    [owner],
  );
}

/**
 * The transaction at `signer`'s `nonce` will never run (the node definitely refused it, or another transaction
 * used the nonce on chain): its commands are queued again.
 */
export async function requeueRefused(q: Queryable, signer: string, nonce: bigint, delayMs: number): Promise<void> {
  await q.query(
    `update commands set ${BACK_TO_PENDING}, attempts = attempts + 1,
       not_before = now() + ($3::int * interval '1 millisecond')
     where tx_signer = $1 and tx_nonce = $2 and status = 'submitted'`,
    [signer, nonce.toString(), delayMs],
  );
}

/** The transaction at `signer`'s `nonce` was reorged away: its confirmed commands are submitted again. */
export async function reopenReorged(q: Queryable, signer: string, nonce: string): Promise<void> {
  await q.query(
    `update commands set status = 'submitted', updated_at = now()
     where tx_signer = $1 and tx_nonce = $2 and status = 'confirmed'`,
    [signer, nonce],
  );
}

/**
 * After a reorg: a confirmed create_order whose order no longer exists on chain (no view, still pending) is queued
 * again, counting an attempt. Its chain order id is deterministic, so running it again cannot create a second order.
 */
export async function requeueReorgedCreates(q: Queryable): Promise<void> {
  await q.query(
    `update commands set ${BACK_TO_PENDING}, not_before = now(), attempts = attempts + 1
     where kind = 'create_order' and status = 'confirmed'
       and order_id in (select id from orders where record is null and status = 'pending')`,
  );
}

/** A confirmed command whose effect is not on chain (yet, or reorged away) runs once more after `delayMs`. */
export async function runAgainSoon(q: Queryable, id: string, delayMs: number): Promise<void> {
  await q.query(
    `update commands set ${BACK_TO_PENDING}, not_before = now() + ($2::int * interval '1 millisecond')
     where id = $1`,
    [id, delayMs],
  );
}

export async function markSubmitted(q: Queryable, ids: string[], signer: string, nonce: bigint): Promise<void> {
  await q.query(
    `update commands set status = 'submitted', tx_signer = $2, tx_nonce = $3,
       batch_index = array_position($1::bigint[], id) - 1, updated_at = now()
     where id = any($1::bigint[])`,
    [ids, signer, nonce.toString()],
  );
}

export async function markConfirmed(q: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `update commands set status = 'confirmed', error_code = null, error_message = null, updated_at = now()
     where id = any($1::bigint[])`,
    [ids],
  );
}

/**
 * Says why pending commands wait (a signer out of funds), without changing their status: the order shows it
 * until the command is confirmed (markConfirmed clears it) or fails.
 */
export async function noteWaiting(q: Queryable, ids: string[], code: string, message: string): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `update commands set error_code = $2, error_message = $3, updated_at = now()
     where id = any($1::bigint[]) and status = 'pending'`,
    [ids, code, message],
  );
}

export async function markFailed(q: Queryable, id: string, code: string, message: string): Promise<void> {
  await q.query(
    `update commands set status = 'failed', error_code = $2, error_message = $3, updated_at = now() where id = $1`,
    [id, code, message],
  );
}

export async function commandsOfTx(q: Queryable, signer: string, nonce: bigint): Promise<CommandRow[]> {
  const r = await q.query<CommandRow>(
    `select * from commands where tx_signer = $1 and tx_nonce = $2 and status = 'submitted' order by batch_index`,
    [signer, nonce.toString()],
  );
  return r.rows;
}

export async function queueDepth(q: Queryable): Promise<Record<string, number>> {
  const r = await q.query<{ status: string; n: string }>(
    `select status, count(*) as n from commands where status in ('pending', 'claimed', 'submitted') group by status`,
  );
  const out: Record<string, number> = { pending: 0, claimed: 0, submitted: 0 };
  for (const row of r.rows) out[row.status] = Number(row.n);
  return out;
}
