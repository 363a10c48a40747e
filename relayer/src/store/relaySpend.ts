/**
 * Gas the relayer spent for merchants: every mined transaction's gas, shared between the commands it carried
 * (relay_spend, one row per command and transaction), and its sums per merchant and UTC day (merchant_gas_daily),
 * which the gas budgets read.
 */
import type { Queryable } from "./db";
import { buyerCausedRevertSpendSql } from "./relayReverts";

/** A command a transaction carried, as far as its gas is concerned. */
export interface SpendingCommand {
  id: string;
  merchant_id: string | null;
}

/**
 * Records a mined transaction's gas against the merchants of its commands. Each command is charged an equal
 * share of the transaction's gas (the first `gasUsed mod n` one gas more, so the shares add up to gasUsed) at the
 * price the transaction paid; a command without a merchant takes its share and charges nobody. Recording the
 * same transaction's commands again (a transaction finalized again after a crash) changes nothing.
 */
export async function recordGasSpend(
  q: Queryable,
  tx: { hash: string; gasUsed: bigint; gasPrice: bigint },
  commands: SpendingCommand[],
): Promise<void> {
  if (commands.length === 0) return;
  const n = BigInt(commands.length);
  const charged = commands
    .map((c, i) => ({ c, gas: tx.gasUsed / n + (BigInt(i) < tx.gasUsed % n ? 1n : 0n) }))
    .filter((s) => s.c.merchant_id !== null);
  if (charged.length === 0) return;
  await q.query(
    `with spent as (
       insert into relay_spend (merchant_id, command_id, tx_hash, gas_used, cost_wei)
       select s.merchant_id, s.command_id, $4, s.gas_used, s.gas_used * $5::numeric
       from unnest($1::text[], $2::bigint[], $3::numeric[]) as s(merchant_id, command_id, gas_used)
       on conflict (command_id, tx_hash) do nothing
       returning merchant_id, gas_used, cost_wei, created_at
     )
     insert into merchant_gas_daily (merchant_id, day, gas_used, cost_wei)
     select merchant_id, (created_at at time zone 'UTC')::date, sum(gas_used), sum(cost_wei) from spent group by 1, 2
     on conflict (merchant_id, day) do update
       set gas_used = merchant_gas_daily.gas_used + excluded.gas_used,
           cost_wei = merchant_gas_daily.cost_wei + excluded.cost_wei`,
    [
      charged.map((s) => s.c.merchant_id),
      charged.map((s) => s.c.id),
      charged.map((s) => s.gas.toString()),
      tx.hash,
      tx.gasPrice.toString(),
    ],
  );
}

export interface MerchantGasSpend {
  /** The merchant's own budget (wei); null: the configured default. */
  budget_wei: string | null;
  /**
   * Charged over the last `periodDays` UTC days, today included (wei): the metered spend less the gas of the
   * buyers' relays that reverted by the buyers' own doing (store/relayReverts.ts).
   */
  spent_wei: string;
  /** The gas of that spend. */
  gas_used: string;
  /** The merchant's commands accepted and not yet final (pending, claimed or submitted): not metered yet. */
  queued: string;
  /** What one of the merchant's last 100 metered commands cost on average (wei); null before the first. */
  recent_cost_wei: string | null;
  /** Whether spent plus what the queued commands reserve is below the budget: a new command may be queued. */
  within: boolean;
}

/** What the budget's figures are computed with: the default budget and what a command reserves before the first. */
export interface GasBudgetTerms {
  periodDays: number;
  defaultWei: bigint;
  firstCommandReserveWei: bigint;
}

/**
 * Two CTEs, `gas_gate` and `gas_budget`, for the merchant the SQL expression `merchant` names: its budget's
 * figures (`MerchantGasSpend`, one row; none for no such merchant). With `lock`, `gas_gate` takes the merchant's
 * running count of queued commands (merchant_gas_queue, 020) for update: the checks of a merchant run one after
 * another, and the statement that holds it reads the count as the previous check's transaction committed it,
 * its own commands then counted when it inserts them. Nothing here walks the queue: the counts are running
 * totals, the spend a sum of at most `periodDays` daily rows, the recent cost 100 rows.
 */
export function gasBudgetCtes(merchant: string, terms: GasBudgetTerms, lock: boolean): string {
  const days = terms.periodDays;
  if (!Number.isSafeInteger(days) || days <= 0) throw new Error(`bad period: ${days}`);
  const defaultWei = BigInt(terms.defaultWei).toString();
  const firstWei = BigInt(terms.firstCommandReserveWei).toString();
  return `gas_gate as materialized (
       select merchant_id, opened from merchant_gas_queue where merchant_id = ${merchant}${lock ? " for update" : ""}
     ), gas_budget as materialized (
       select f.budget_wei, f.spent_wei, f.gas_used, f.queued, f.recent_cost_wei,
              f.spent_wei + f.queued * coalesce(f.recent_cost_wei, ${firstWei}::numeric)
                < coalesce(f.budget_wei, ${defaultWei}::numeric) as within
       from (
         select m.gas_budget_wei as budget_wei, d.cost_wei - b.cost_wei as spent_wei, d.gas_used - b.gas_used as gas_used,
                g.opened - r.released as queued, e.recent_cost_wei
         from gas_gate g
         join merchants m on m.id = g.merchant_id
         join merchant_gas_released r on r.merchant_id = g.merchant_id
         cross join lateral (
           select coalesce(sum(cost_wei), 0) as cost_wei, coalesce(sum(gas_used), 0) as gas_used
           from merchant_gas_daily where merchant_id = g.merchant_id and day > (now() at time zone 'UTC')::date - ${days}
         ) d
         cross join lateral (${buyerCausedRevertSpendSql("g.merchant_id", days)}) b
         cross join lateral (
           select round(avg(s.cost_wei)) as recent_cost_wei from (
             select cost_wei from relay_spend where merchant_id = g.merchant_id order by created_at desc limit 100
           ) s
         ) e
       ) f
     )`;
}

/** The figures of `gasBudgetCtes` as text (numeric columns as node-postgres returns them). */
export const GAS_BUDGET_COLUMNS = `gas_budget.budget_wei::text as budget_wei, gas_budget.spent_wei::text as spent_wei,
  gas_budget.gas_used::text as gas_used, gas_budget.queued::text as queued,
  gas_budget.recent_cost_wei::text as recent_cost_wei, gas_budget.within`;

/**
 * The merchant's own budget, what it was charged over the last `periodDays` days and what its queue reserves;
 * undefined for no such merchant. With `lock`, the merchant's budget stays locked until the caller's transaction
 * ends (the caller then queues its commands in that transaction: the next check counts them).
 */
export async function merchantGasSpend(
  q: Queryable,
  merchantId: string,
  terms: GasBudgetTerms,
  lock = false,
): Promise<MerchantGasSpend | undefined> {
  const r = await q.query<MerchantGasSpend>(
    `with ${gasBudgetCtes("$1::text", terms, lock)} select ${GAS_BUDGET_COLUMNS} from gas_budget`,
    [merchantId],
  );
  return r.rows[0];
}

/**
 * Takes the merchants' running counts of queued commands (merchant_gas_queue) for update, in merchant order, until
 * the transaction ends. A transaction that closes commands and then queues new ones for the same merchants (a
 * confirmation's follow-up, a failure's consequence) takes them first, as every acceptance does, so the two count
 * rows of a merchant are always taken in the same order and never deadlock.
 */
export async function lockMerchantGasQueues(q: Queryable, merchantIds: (string | null)[]): Promise<void> {
  const ids = [...new Set(merchantIds.filter((m): m is string => m !== null))].sort();
  if (ids.length === 0) return;
  await q.query(
    `select 1 from merchant_gas_queue where merchant_id = any($1::text[]) order by merchant_id for update`,
    [ids],
  );
}
