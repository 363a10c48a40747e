/**
 * The keepers' SQL: each merchant's keeper settings, the orders due for a keeper action and their commands (one
 * live or carried out per order and action, migrations 011 and 015; failed ones tried again with a backoff, up to
 * a cap), what became of them, and the gas they cost.
 */
import type { KeeperKind } from "../domain/command";
import { KEEPER_KINDS } from "../domain/command";
import type { OrderStatus } from "../domain/model";
import type { Queryable } from "./db";

/** A merchant's keeper switches (all on by default). */
export interface KeeperSettings {
  release: boolean;
  expire: boolean;
  dispute_default: boolean;
}

/** The merchant's keeper switches; undefined for no such merchant. */
export async function keeperSettings(q: Queryable, merchantId: string): Promise<KeeperSettings | undefined> {
  const r = await q.query<KeeperSettings>(
    `select keeper_release as release, keeper_expire as expire, keeper_dispute_default as dispute_default
     from merchants where id = $1`,
    [merchantId],
  );
  return r.rows[0];
}

/**
 * Sets the switches named in `change` (the others keep their value). Returns the settings before and after,
 * or undefined for no such merchant.
 */
export async function setKeeperSettings(
  q: Queryable,
  merchantId: string,
  change: Partial<KeeperSettings>,
): Promise<{ before: KeeperSettings; after: KeeperSettings } | undefined> {
  const r = await q.query<KeeperSettings & { old_release: boolean; old_expire: boolean; old_dispute_default: boolean }>(
    `update merchants m set keeper_release = coalesce($2, m.keeper_release),
       keeper_expire = coalesce($3, m.keeper_expire),
       keeper_dispute_default = coalesce($4, m.keeper_dispute_default)
     from (select id, keeper_release, keeper_expire, keeper_dispute_default from merchants where id = $1 for update) old
     where m.id = old.id
     returning m.keeper_release as release, m.keeper_expire as expire, m.keeper_dispute_default as dispute_default,
       old.keeper_release as old_release, old.keeper_expire as old_expire,
       old.keeper_dispute_default as old_dispute_default`,
    [merchantId, change.release ?? null, change.expire ?? null, change.dispute_default ?? null],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    before: { release: row.old_release, expire: row.old_expire, dispute_default: row.old_dispute_default },
    after: { release: row.release, expire: row.expire, dispute_default: row.dispute_default },
  };
}

/**
 * One keeper pass at a time across every relayer process on the database: true when this transaction took the
 * pass (held until it ends), false when another process is running one now (this one skips its turn).
 */
export async function tryTakeKeeperPass(q: Queryable): Promise<boolean> {
  const r = await q.query<{ taken: boolean }>(`select pg_try_advisory_xact_lock(hashtext('keeper_pass')) as taken`);
  return r.rows[0].taken;
}

/** What a keeper looks for: orders in `status` whose on-chain deadline is before `chainTime`. */
export interface DueSelection {
  action: keyof KeeperSettings;
  kind: KeeperKind;
  /** The order's status while the action is due. */
  status: OrderStatus;
  /** The chain's latest block timestamp (unix seconds): the escrow's clock, not this machine's. */
  chainTime: bigint;
  /** Attempts after failed ones: how many in all, and the wait after the first failure (doubling after each). */
  retry?: KeeperRetry;
}

/** How a keeper action that failed for an order is tried again. */
export interface KeeperRetry {
  /** Attempts per order and action in all; after that many failures the order is left to the merchant. */
  maxAttempts: number;
  /** The wait after the first failure, doubled after each further one, capped at `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
}

/** Five attempts in all, a minute after the first failure, doubling (the keepers' default interval is 15 s). */
export const DEFAULT_KEEPER_RETRY: KeeperRetry = { maxAttempts: 5, backoffMs: 60_000, maxBackoffMs: 3_600_000 };

/*
 * An order is due for a keeper action when its merchant has that keeper on, its status (as indexed) calls for it,
 * its deadline (the escrow's, as indexed) is before the chain's time, no command of that kind is live or carried out
 * for it (a failed one is not: the action is tried again), no command of the order is unfinished (a refund or
 * cancellation the merchant asked for goes first; the keeper looks again once it is done), and, after failed
 * attempts, fewer than the cap failed and the backoff since the last failure has passed.
 */
const DUE_ORDERS = `
  from orders o join merchants m on m.id = o.merchant_id
  cross join lateral (
    select count(*)::int as failures, max(f.updated_at) as last_failed_at from commands f
    where f.order_id = o.id and f.kind = $4 and f.status = 'failed') f
  where o.status = $1 and (o.record->>'deadline')::bigint < $2::bigint
    and case $3::text when 'release' then m.keeper_release when 'expire' then m.keeper_expire
                      else m.keeper_dispute_default end
    and not exists (
      select 1 from commands c
      where c.order_id = o.id
        and ((c.kind = $4 and c.status <> 'failed') or c.status in ('pending', 'claimed', 'submitted')))
    and f.failures < $5::int
    and (f.failures = 0 or f.last_failed_at + least($6::float8 * power(2, f.failures - 1), $7::float8)
           * interval '1 millisecond' <= now())`;

const dueParams = (s: DueSelection) => [
  s.status,
  s.chainTime.toString(),
  s.action,
  s.kind,
  (s.retry ?? DEFAULT_KEEPER_RETRY).maxAttempts,
  (s.retry ?? DEFAULT_KEEPER_RETRY).backoffMs,
  (s.retry ?? DEFAULT_KEEPER_RETRY).maxBackoffMs,
];

/** How many orders are due for the action and have no keeper command yet. */
export async function countDueOrders(q: Queryable, s: DueSelection): Promise<number> {
  const r = await q.query<{ n: string }>(`select count(*) as n ${DUE_ORDERS}`, dueParams(s));
  return Number(r.rows[0].n);
}

/** An order a pass queued the keeper's command for; `attempt` is 1 for the first, more after failed ones. */
export interface QueuedKeeperCommand {
  order_id: string;
  merchant_id: string;
  chain_order_id: string;
  attempt: number;
}

/**
 * Queues the action's command for up to `limit` due orders, the longest overdue first. A pair (order, kind)
 * that already has its live command (another process queued it a moment ago) is skipped by the unique index
 * `commands_keeper_once`. Returns the orders queued.
 */
export async function enqueueDueKeeperCommands(
  q: Queryable,
  s: DueSelection,
  limit: number,
): Promise<QueuedKeeperCommand[]> {
  const r = await q.query<QueuedKeeperCommand>(
    `with due as (
       select o.id, o.merchant_id, o.chain_order_id, (o.record->>'deadline')::bigint as deadline,
         f.failures + 1 as attempt ${DUE_ORDERS}
       order by deadline, o.id
       limit $8
     ), queued as (
       insert into commands (kind, merchant_id, order_id, payload)
       select $4, due.merchant_id, due.id,
         jsonb_build_object('chainOrderId', due.chain_order_id, 'attempt', due.attempt) from due
       on conflict do nothing
       returning order_id
     )
     select due.id as order_id, due.merchant_id, due.chain_order_id, due.attempt
     from queued join due on due.id = queued.order_id order by due.deadline, due.id`,
    [...dueParams(s), limit],
  );
  return r.rows;
}

/**
 * The keeper command had nothing to do: the order had already moved on chain (`reason`, e.g. the buyer
 * confirmed it meanwhile). Noted on the command, which is then confirmed rather than failed.
 */
export async function noteKeeperMoot(q: Queryable, commandId: string, reason: string): Promise<void> {
  await q.query(`update commands set payload = payload || jsonb_build_object('moot', $2::text) where id = $1`, [
    commandId,
    reason,
  ]);
}

/** Whether the keeper command was noted moot (noteKeeperMoot). */
export async function keeperCommandWasMoot(q: Queryable, commandId: string): Promise<boolean> {
  const r = await q.query<{ moot: boolean }>(`select payload ? 'moot' as moot from commands where id = $1`, [
    commandId,
  ]);
  return r.rows[0]?.moot === true;
}

/**
 * Whether the order's latest `eventName` event was emitted by a transaction that carried a keeper command of the
 * order (any version of that transaction: a fee replacement keeps the signer and nonce).
 */
export async function movedByKeeper(
  q: Queryable,
  orderId: string,
  chainOrderId: string,
  eventName: string,
): Promise<boolean> {
  const r = await q.query<{ by_keeper: boolean }>(
    `select exists (
       select 1 from (
         select tx_hash from chain_events where order_id = $2 and name = $3
         order by block_number desc, log_index desc limit 1
       ) e
       join chain_txs t on t.hash = e.tx_hash
       join commands c on c.tx_signer = t.signer and c.tx_nonce = t.nonce
       where c.order_id = $1 and c.kind = any($4::text[])
     ) as by_keeper`,
    [orderId, chainOrderId, eventName, KEEPER_KINDS],
  );
  return r.rows[0].by_keeper;
}

/** Gas (wei) the keepers' commands for the merchant's orders cost over the last `periodDays` UTC days. */
export async function keeperGasSpend(
  q: Queryable,
  merchantId: string,
  periodDays: number,
): Promise<{ gas_used: string; cost_wei: string }> {
  const r = await q.query<{ gas_used: string; cost_wei: string }>(
    `select coalesce(sum(s.gas_used), 0) as gas_used, coalesce(sum(s.cost_wei), 0) as cost_wei
     from relay_spend s join commands c on c.id = s.command_id
     where s.merchant_id = $1 and c.kind = any($3::text[])
       and (s.created_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - $2::int`,
    [merchantId, periodDays, KEEPER_KINDS],
  );
  return { gas_used: String(r.rows[0].gas_used), cost_wei: String(r.rows[0].cost_wei) };
}
