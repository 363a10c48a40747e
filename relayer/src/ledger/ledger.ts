/**
 * The bookkeeping ledger: double-entry lines per merchant and token, derived from indexed escrow events.
 *
 * Accounts (per merchant and token):
 *   escrow           funds of the merchant's orders held by the escrow contract (debit = in)
 *   buyers           buyers' side: credited when they pay, debited when they are refunded
 *   merchant_payouts released to the order's payee (the merchant's payout address, or its custodial address),
 *                    less what returns after completion took back from the payee
 *   platform_fees    released to the fee recipient
 *   escrow_credits   payouts to the merchant's custodial address or to a payout address it named that the token
 *                    refused, held by the escrow as a credit (debit = credited, credit = withdrawn)
 *   payout_wallet    the correction of merchant_payouts for those credits: a credited payout has not reached the
 *                    wallet (credit) until it is withdrawn (debit)
 * Every event posts lines whose debits equal their credits, so the escrow account's balance is exactly what
 * the escrow still holds for the merchant. A return (OrderReturned) is funded by the payee, not by the escrow:
 * it moves money from merchant_payouts to the buyer.
 */
import type { Queryable } from "../store/db";
import { unpostedWithdrawals } from "../store/payouts";
import {
  findLedgerEntries,
  insertLedgerLine,
  ledgerTotals,
  unpostedEscrowEvents,
  type LedgerEntryRow,
  type LedgerFilter,
} from "../store/ledger";

export type { LedgerFilter } from "../store/ledger";

export const ACCOUNTS = [
  "escrow",
  "buyers",
  "merchant_payouts",
  "platform_fees",
  "escrow_credits",
  "payout_wallet",
] as const;
export type Account = (typeof ACCOUNTS)[number];

type Line = { account: Account; debit: bigint; credit: bigint };

/** `amount` moved from the `from` account to the `to` account: a debit to `to`, a credit to `from`. */
function move(to: Account, from: Account, amount: bigint): Line[] {
  return [
    { account: to, debit: amount, credit: 0n },
    { account: from, debit: 0n, credit: amount },
  ];
}

/** The balanced lines an escrow event posts, or none for events that move no money. */
export function linesFor(name: string, args: Record<string, string>): Line[] {
  switch (name) {
    case "OrderPaid":
      return move("escrow", "buyers", BigInt(args.amount));
    case "OrderRefunded":
      return move("buyers", "escrow", BigInt(args.amount));
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
    case "OrderReturned":
      // Paid by the order's payee (pulled by the escrow, passed straight to the buyer).
      return move("buyers", "merchant_payouts", BigInt(args.amount));
    case "PayoutCredited":
      return move("escrow_credits", "payout_wallet", BigInt(args.amount));
    case "PayoutWithdrawn":
      return move("payout_wallet", "escrow_credits", BigInt(args.amount));
    default:
      return [];
  }
}

/** Posts the ledger lines of the escrow events indexed in [fromBlock, toBlock]. */
export async function postLedger(q: Queryable, fromBlock: number, toBlock: number): Promise<void> {
  const events = [
    ...(await unpostedEscrowEvents(q, fromBlock, toBlock)),
    ...(await unpostedWithdrawals(q, fromBlock, toBlock)),
  ].sort((a, b) => Number(a.block_number) - Number(b.block_number) || Number(a.id) - Number(b.id));
  for (const e of events) {
    if (!e.merchant_id || !e.token) continue; // an order this relayer does not manage
    for (const line of linesFor(e.name, e.args)) {
      if (line.debit === 0n && line.credit === 0n) continue;
      await insertLedgerLine(q, e, line);
    }
  }
}

/** A ledger line as the API shows it. */
export function ledgerEntryJson(e: LedgerEntryRow) {
  return {
    id: String(e.id),
    chainOrderId: e.order_id,
    token: e.token,
    account: e.account,
    debit: String(e.debit),
    credit: String(e.credit),
    blockNumber: Number(e.block_number),
    at: e.block_time ? new Date(Number(e.block_time) * 1000).toISOString() : null,
    txHash: e.tx_hash,
  };
}

/** The ledger lines the filter selects, in (block time, id) order. */
export async function ledgerEntries(q: Queryable, f: LedgerFilter) {
  return (await findLedgerEntries(q, f)).map(ledgerEntryJson);
}

/** Balance (debits minus credits) of every account, per token: the running totals kept with the lines. */
export async function ledgerBalances(q: Queryable, merchantId: string, token?: string) {
  const out: Record<string, Record<string, string>> = {};
  for (const row of await ledgerTotals(q, merchantId, token)) {
    out[row.token] ??= Object.fromEntries(ACCOUNTS.map((a) => [a, "0"]));
    out[row.token][row.account] = (BigInt(row.debit) - BigInt(row.credit)).toString();
  }
  return out;
}

/** The CSV header line of a ledger export. */
export const CSV_HEADER = "id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit\n";

/** The CSV lines of `rows`, each ended by a newline, without the header. */
export function csvLines(rows: ReturnType<typeof ledgerEntryJson>[]): string {
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  let out = "";
  for (const r of rows)
    out +=
      [r.id, r.at, r.blockNumber, r.txHash, r.chainOrderId, r.token, r.account, r.debit, r.credit].map(esc).join(",") +
      "\n";
  return out;
}

/** The CSV of `rows`, header first. */
export function toCsv(rows: ReturnType<typeof ledgerEntryJson>[]): string {
  return CSV_HEADER + csvLines(rows);
}
