/**
 * Gas the relayer spent for merchants: every mined transaction's gas, shared between the commands it carried
 * (relay_spend, one row per command and transaction), and its sums per merchant and UTC day (merchant_gas_daily),
 * which the gas budgets read.
 */
import type { Queryable } from "./db";

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
  /** Spent over the last `periodDays` UTC days, today included (wei). */
  spent_wei: string;
  /** The gas of that spend. */
  gas_used: string;
  /** The merchant's commands accepted and not yet final (pending, claimed or submitted): not metered yet. */
  queued: string;
  /** What one of the merchant's last 100 metered commands cost on average (wei); null before the first. */
  recent_cost_wei: string | null;
}

/** The merchant's own budget and what it spent over the last `periodDays` days; undefined for no such merchant. */
export async function merchantGasSpend(
  q: Queryable,
  merchantId: string,
  periodDays: number,
): Promise<MerchantGasSpend | undefined> {
  const r = await q.query<MerchantGasSpend>(
    `select m.gas_budget_wei as budget_wei, coalesce(sum(d.cost_wei), 0) as spent_wei,
            coalesce(sum(d.gas_used), 0) as gas_used,
            (select count(*) from commands c
              where c.merchant_id = m.id and c.status in ('pending', 'claimed', 'submitted')) as queued,
            (select round(avg(r.cost_wei)) from (
               select s.cost_wei from relay_spend s where s.merchant_id = m.id order by s.created_at desc limit 100
             ) r) as recent_cost_wei
     from merchants m
     left join merchant_gas_daily d
       on d.merchant_id = m.id and d.day > (now() at time zone 'UTC')::date - $2::int
     where m.id = $1
     group by m.id, m.gas_budget_wei`,
    [merchantId, periodDays],
  );
  return r.rows[0];
}

/**
 * Serialises the merchant's budget checks until the transaction ends: two requests accepted at once cannot both
 * see the room that only one of them fits in.
 */
export async function lockMerchantGasBudget(q: Queryable, merchantId: string): Promise<void> {
  await q.query(`select pg_advisory_xact_lock(hashtext('gas_budget'), hashtext($1))`, [merchantId]);
}
