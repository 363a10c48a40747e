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
import {
  findLedgerEntries,
  insertLedgerLine,
  ledgerTotals,
  unpostedEscrowEvents,
  type LedgerFilter,
} from "../store/ledger";

export type { LedgerFilter } from "../store/ledger";

export const ACCOUNTS = ["escrow", "buyers", "merchant_payouts", "platform_fees"] as const;
export type Account = (typeof ACCOUNTS)[number];

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
  const events = await unpostedEscrowEvents(q, fromBlock, toBlock);
  for (const e of events) {
    if (!e.merchant_id || !e.token) continue; // an order this relayer does not manage
    for (const line of linesFor(e.name, e.args)) {
      if (line.debit === 0n && line.credit === 0n) continue;
      await insertLedgerLine(q, e, line);
    }
  }
}

export async function ledgerEntries(q: Queryable, f: LedgerFilter) {
  const rows = await findLedgerEntries(q, f);
  return rows.map((e) => ({
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
  const out: Record<string, Record<string, string>> = {};
  for (const row of await ledgerTotals(q, merchantId, token)) {
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
