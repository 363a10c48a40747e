/**
 * Buyers' gasless relays that reverted on chain for a reason the buyer controls (it used or cancelled its own
 * authorization, moved its tokens away, used its forwarder nonce itself) after the relayer's simulation passed:
 * the gas they cost (relay_spend) and how many there were. The relay refuses further gasless requests of a buyer
 * with too many (relay/policy.ts), and their gas is not counted against the merchant's budget (services/gasBudget.ts).
 */
import type { Queryable } from "./db";

/** The revert codes (command error codes) that only the buyer's own transactions cause between check and mining. */
export const BUYER_CAUSED_REVERTS = [
  "AuthorizationUsedOrCanceled",
  "ERC20InsufficientBalance",
  "ERC20InsufficientAllowance",
  "ERC2771ForwarderInvalidSigner",
] as const;

/** How many of `buyer`'s (any letter case) relays reverted by its doing over the last `windowHours`, gas spent. */
export async function buyerCausedReverts(q: Queryable, buyer: string, windowHours: number): Promise<number> {
  // The kinds and the status are literals, as in the partial index commands_relay_failed_buyer (017) they
  // must match: the buyer's failed relays only, never its whole history.
  const r = await q.query<{ n: number }>(
    `select count(*)::int as n from commands c
     where c.kind in ('relay_forward', 'relay_authorization') and c.status = 'failed'
       and lower(c.payload->>'buyer') = lower($1) and c.error_code = any($2::text[])
       and c.updated_at > now() - make_interval(hours => $3::int)
       and exists (select 1 from relay_spend s where s.command_id = c.id)`,
    [buyer, BUYER_CAUSED_REVERTS, windowHours],
  );
  return r.rows[0].n;
}

/**
 * How many of a merchant's buyer-caused reverts per budget period the platform pays for. Beyond them the merchant's
 * budget pays again: fresh buyer addresses cost an attacker nothing, and without a bound a griefer (or a merchant
 * colluding with one) could make the platform pay for reverts at the relay's rate limit.
 */
export const BUYER_REVERTS_EXEMPT_PER_PERIOD = 100;

/**
 * The gas (and its cost, wei) of the merchant's buyers' reverts by their own doing over the last `periodDays`, the
 * first BUYER_REVERTS_EXEMPT_PER_PERIOD of them.
 */
export async function buyerCausedRevertSpend(
  q: Queryable,
  merchantId: string,
  periodDays: number,
): Promise<{ gas_used: bigint; cost_wei: bigint }> {
  const r = await q.query<{ gas_used: string; cost_wei: string }>(
    `select gas_used::text, cost_wei::text from (${buyerCausedRevertSpendSql("$1", periodDays)}) x`,
    [merchantId],
  );
  return { gas_used: BigInt(r.rows[0].gas_used), cost_wei: BigInt(r.rows[0].cost_wei) };
}

/**
 * `buyerCausedRevertSpend` as a subquery (one row: gas_used, cost_wei) for the merchant the SQL expression
 * `merchant` names: the gas budget's check reads it in its own statement.
 */
export function buyerCausedRevertSpendSql(merchant: string, periodDays: number): string {
  if (!Number.isSafeInteger(periodDays) || periodDays <= 0) throw new Error(`bad period: ${periodDays}`);
  const codes = BUYER_CAUSED_REVERTS.map((c) => `'${c}'`).join(", ");
  // Runs under the merchant's budget lock on every order and relay: it reads the merchant's failed relays only
  // (partial index commands_relay_failed_merchant, 017), never its whole spending history. The period is the
  // budget's: the last `periodDays` UTC days, today included.
  return `select coalesce(sum(x.gas_used), 0) as gas_used, coalesce(sum(x.cost_wei), 0) as cost_wei
     from (
       select s.gas_used, s.cost_wei
       from commands c join relay_spend s on s.command_id = c.id
       where c.merchant_id = ${merchant} and c.kind in ('relay_forward', 'relay_authorization') and c.status = 'failed'
         and c.error_code = any(array[${codes}]::text[])
         and c.updated_at >= (((now() at time zone 'UTC')::date - ${periodDays} + 1)::timestamp at time zone 'UTC')
         and (s.created_at at time zone 'UTC')::date > (now() at time zone 'UTC')::date - ${periodDays}
       order by c.updated_at, c.id
       limit ${BUYER_REVERTS_EXEMPT_PER_PERIOD}
     ) x`;
}
