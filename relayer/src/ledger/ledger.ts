/**
 * The bookkeeping ledger: double-entry lines per merchant and token, derived from indexed escrow events.
 *
 * Accounts (per merchant and token):
 *   escrow           funds of the merchant's orders held by the escrow contract (debit = in)
 *   buyers           buyers' side: credited when they pay, debited when they are refunded
 *   merchant_payouts released to the order's payee (the merchant's payout wallet: today the merchant itself)
 *   platform_fees    released to the fee recipient
 * Every event posts lines whose debits equal their credits, so the escrow account's balance is exactly what
 * the escrow still holds for the merchant.
 */
import type { Queryable } from "../store/db";

export const ACCOUNTS = ["escrow", "buyers", "merchant_payouts", "platform_fees"] as const;
export type Account = (typeof ACCOUNTS)[number];

interface EventRow {
  id: string;
  name: string;
  order_id: string;
  args: Record<string, string>;
  block_number: string;
  block_time: string | null;
  tx_hash: string;
}

type Line = { account: Account; debit: bigint; credit: bigint };

/** The balanced lines an escrow event posts, or none for events that move no money. */
export function linesFor(name: string, args: Record<string, string>): Line[] {
  switch (name) {
    case "OrderPaid": {
      const a = BigInt(args.amount);
      return [
        { account: "escrow", debit: a, credit: 0n },
        { account: "buyers", debit: 0n, credit: a },
      ];
    }
    case "OrderRefunded": {
      const a = BigInt(args.amount);
      return [
        { account: "buyers", debit: a, credit: 0n },
        { account: "escrow", debit: 0n, credit: a },
      ];
    }
    case "OrderCompleted": {
      const m = BigInt(args.payeeAmount);
      const f = BigInt(args.fee);
      return [
        { account: "merchant_payouts", debit: m, credit: 0n },
        { account: "platform_fees", debit: f, credit: 0n },
        { account: "escrow", debit: 0n, credit: m + f },
      ];
    }
    case "DisputeResolved": {
      // Whoever ended the dispute (arbiter, accepted settlement, default after the deadline), the split is
      // the same: the buyer's share, the payee's share and the fee (taken from the payee's share).
      const b = BigInt(args.buyerAmount);
      const m = BigInt(args.payeeAmount);
      const f = BigInt(args.fee);
      return [
        { account: "buyers", debit: b, credit: 0n },
        { account: "merchant_payouts", debit: m, credit: 0n },
        { account: "platform_fees", debit: f, credit: 0n },
        { account: "escrow", debit: 0n, credit: b + m + f },
      ];
    }
    default:
      return [];
  }
}

/** Posts the ledger lines of the escrow events indexed in [fromBlock, toBlock]. */
export async function postLedger(q: Queryable, fromBlock: number, toBlock: number): Promise<void> {
  const events = await q.query<EventRow & { merchant_id: string | null; token: string | null }>(
    `select e.id, e.name, e.order_id, e.args, e.block_number, e.block_time, e.tx_hash, o.merchant_id, o.token
     from chain_events e
     left join orders o on o.chain_order_id = e.order_id
     where e.block_number between $1 and $2 and e.contract = 'PaymentEscrow'
       and e.name in ('OrderPaid', 'OrderRefunded', 'OrderCompleted', 'DisputeResolved')
       and not exists (select 1 from ledger_entries l where l.event_id = e.id)
     order by e.block_number, e.log_index`,
    [fromBlock, toBlock],
  );
  for (const e of events.rows) {
    if (!e.merchant_id || !e.token) continue; // an order this relayer does not manage
    for (const line of linesFor(e.name, e.args)) {
      if (line.debit === 0n && line.credit === 0n) continue;
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
  }
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

export async function ledgerEntries(q: Queryable, f: LedgerFilter) {
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
  const r = await q.query<{
    id: string;
    order_id: string;
    token: string;
    account: string;
    debit: string;
    credit: string;
    block_number: string;
    block_time: string | null;
    tx_hash: string;
  }>(`select * from ledger_entries where ${where.join(" and ")} order by id${limit}`, params);
  return r.rows.map((e) => ({
    id: String(e.id),
    chainOrderId: e.order_id,
    token: e.token,
    account: e.account,
    debit: String(e.debit),
    credit: String(e.credit),
    blockNumber: Number(e.block_number),
    at: e.block_time ? new Date(Number(e.block_time) * 1000).toISOString() : null,
    txHash: e.tx_hash,
  }));
}

/** Balance (debits minus credits) of every account, per token. */
export async function ledgerBalances(q: Queryable, merchantId: string, token?: string) {
  const r = await q.query<{ token: string; account: string; debit: string; credit: string }>(
    `select token, account, sum(debit) as debit, sum(credit) as credit from ledger_entries
     where merchant_id = $1 ${token ? "and lower(token) = lower($2)" : ""} group by token, account order by token, account`,
    token ? [merchantId, token] : [merchantId],
  );
  const out: Record<string, Record<string, string>> = {};
  for (const row of r.rows) {
    out[row.token] ??= Object.fromEntries(ACCOUNTS.map((a) => [a, "0"]));
    out[row.token][row.account] = (BigInt(row.debit) - BigInt(row.credit)).toString();
  }
  return out;
}

export function toCsv(rows: Awaited<ReturnType<typeof ledgerEntries>>): string {
  const head = "id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit";
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return (
    [
      head,
      ...rows.map((r) =>
        [r.id, r.at, r.blockNumber, r.txHash, r.chainOrderId, r.token, r.account, r.debit, r.credit].map(esc).join(","),
      ),
    ].join("\n") + "\n"
  );
}
