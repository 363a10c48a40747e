/**
 * Reconciliation: proves the ledger equals the chain. It recomputes, from the escrow's logs read straight
 * from the node (not from the relayer's indexed events), every order's escrowed amount and every payout, and
 * compares:
 *   1. the escrow contract's balance of each token = open escrow positions + payouts credited and not yet
 *      withdrawn (the contract's own invariant);
 *   2. per merchant and token, the ledger's escrow account = that merchant's open positions on chain;
 *   3. per merchant and token, the ledger's merchant_payouts = the sum of its release events on chain minus
 *      its returns after completion (OrderReturned, funded by the payee);
 *   4. per merchant and token, the ledger's escrow_credits = the credits outstanding on chain (PayoutCredited
 *      minus PayoutWithdrawn) of its address and of every payout address it named (PayoutAddressSet).
 *
 * The logs read are kept in the store (`reconcile_*`, with the block read up to): a report reads from the
 * node only the blocks no report read before, through the indexer's `LogReader` (ranges the provider accepts,
 * answers checked against the blocks' headers). The indexer's reorg rollback takes the kept reading back to
 * the common ancestor in its own transaction, and a reading that overlapped a rollback is not recorded.
 */
import { ZeroAddress } from "ethers";
import type { DecodedLog } from "../chain/abi";
import type { ChainContext } from "../chain/context";
import type { RawLog } from "../chain/rpc";
import { chainNotReady } from "../domain/unavailable";
import { BlockNotYetAvailable, LogReader } from "../indexer/logReader";
import { useOneSnapshot, type Db } from "../store/db";
import { readCheckpoint, rememberedHashes } from "../store/indexerCheckpoint";
import {
  ledgerTokens,
  ledgerTotalsByLowerToken,
  merchantAddresses,
  reconcileScan,
  reconcileTotals,
  recordReconcileScan,
  type ReconcileMovement,
  type ReconcileOrder,
} from "../store/ledger";
import { reconcileCreditsByAccount } from "../store/payouts";
import { IERC20__factory } from "../../../typechain-types";

export interface Difference {
  check: string;
  merchantId?: string;
  token: string;
  expected: string;
  actual: string;
}

export interface ReconciliationReport {
  ok: boolean;
  checkedAt: string;
  headBlock: number;
  tokens: Record<string, { contractBalance: string; openPositions: string; creditedOutstanding: string }>;
  merchants: Record<
    string,
    Record<
      string,
      {
        ledgerEscrow: string;
        chainEscrow: string;
        ledgerPayouts: string;
        chainPayouts: string;
        ledgerCredits: string;
        chainCredits: string;
      }
    >
  >;
  differences: Difference[];
}

/** The largest block range of one `eth_getLogs` call (narrowed while the provider refuses it). */
const MAX_SPAN = 5_000;
/** Tries of a report whose reading a reorg rollback overtook, or whose head block a backend lacked. */
const ATTEMPTS = 5;
const RETRY_MS = 200;

/** One reader per chain connection: the span the provider accepts is remembered from one report to the next. */
const readers = new WeakMap<ChainContext, LogReader>();
function readerOf(chain: ChainContext): LogReader {
  let r = readers.get(chain);
  if (!r) {
    r = new LogReader(chain.provider, [chain.addresses.escrow], { maxSpan: MAX_SPAN });
    readers.set(chain, r);
  }
  return r;
}

function decodeOrNull(chain: ChainContext, log: RawLog): DecodedLog | null {
  try {
    return chain.escrowAbi.decode(log);
  } catch {
    return null;
  }
}

/** The escrow's logs as reconciliation keeps them: orders created, and the money each event moves. */
function decodeLogs(chain: ChainContext, logs: RawLog[]): { orders: ReconcileOrder[]; movements: ReconcileMovement[] } {
  const orders: ReconcileOrder[] = [];
  const movements: ReconcileMovement[] = [];
  for (const log of logs) {
    const ev = decodeOrNull(chain, log);
    if (!ev) continue;
    const a: Record<string, unknown> = {};
    ev.fragment.inputs.forEach((input, i) => (a[input.name] = ev.values[i]));
    const id = typeof a.orderId === "string" ? a.orderId.toLowerCase() : null;
    const merchant = typeof a.merchant === "string" ? a.merchant.toLowerCase() : null;
    const at = { blockNumber: log.blockNumber, logIndex: log.index };
    const move = (m: Partial<ReconcileMovement>) =>
      movements.push({
        ...at,
        orderId: id,
        merchant: null,
        token: null,
        escrowed: null,
        paidOut: null,
        credited: null,
        ...m,
      });
    switch (ev.name) {
      case "OrderCreated": {
        const terms = ev.fragment.inputs.find((i) => i.name === "terms")!;
        const token = (a.terms as unknown[])[terms.components!.findIndex((c) => c.name === "token")] as string;
        orders.push({ orderId: id!, merchant: merchant!, token: token.toLowerCase(), blockNumber: log.blockNumber });
        break;
      }
      case "OrderPaid":
        move({ escrowed: a.amount as bigint });
        break;
      case "OrderRefunded":
        move({ escrowed: -(a.amount as bigint) });
        break;
      case "OrderCompleted":
        move({
          escrowed: -((a.payeeAmount as bigint) + (a.fee as bigint)),
          merchant,
          paidOut: a.payeeAmount as bigint,
        });
        break;
      case "DisputeResolved":
        move({
          escrowed: -((a.buyerAmount as bigint) + (a.payeeAmount as bigint) + (a.fee as bigint)),
          merchant,
          paidOut: a.payeeAmount as bigint,
        });
        break;
      case "OrderReturned":
        // Funded by the payee: the payouts shrink, the escrow's positions do not move.
        move({ merchant, paidOut: -(a.amount as bigint) });
        break;
      // The credited account is kept as the movement's `merchant` (check 4 sums them per account).
      case "PayoutCredited":
        move({
          orderId: null,
          merchant: (a.account as string).toLowerCase(),
          token: (a.token as string).toLowerCase(),
          credited: a.amount as bigint,
        });
        break;
      case "PayoutWithdrawn":
        move({
          orderId: null,
          merchant: (a.account as string).toLowerCase(),
          token: (a.token as string).toLowerCase(),
          credited: -(a.amount as bigint),
        });
        break;
      default:
        break;
    }
  }
  return { orders, movements };
}

/**
 * Reads the escrow's logs of the blocks after the kept reading up to `head`, range by range, each range
 * recorded in its own transaction (what was read stays read, even if the request ends). A range the chain
 * gives with other hashes than the indexer stored is a reorg the indexer has not rolled back yet: not ready.
 */
async function readUpTo(chain: ChainContext, db: Db, head: number): Promise<void> {
  const reader = readerOf(chain);
  const beforeStart = chain.addresses.startBlock - 1;
  for (;;) {
    const scan = await reconcileScan(db, beforeStart);
    if (scan.scannedTo >= head) return;
    const range = await reader.read(scan.scannedTo + 1, head, head);
    const known = await rememberedHashes(db, [...range.blocks.keys()]);
    for (const [n, b] of range.blocks) {
      const stored = known.get(n);
      if (stored && stored !== b.hash)
        throw chainNotReady(
          new Error(`block ${n} is ${b.hash} on the node, ${stored} in the index`),
          "the chain reorganised and the indexer has not rolled back yet; retry later",
        );
    }
    const { orders, movements } = decodeLogs(chain, range.logs);
    // False when another report recorded the range first, or a rollback reset the reading: read the state again.
    await db.tx((q) => recordReconcileScan(q, scan, range.to, orders, movements));
  }
}

export async function reconcile(chain: ChainContext, db: Db): Promise<ReconciliationReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      const report = await reconcileOnce(chain, db);
      if (report) return report;
    } catch (err) {
      if (!(err instanceof BlockNotYetAvailable)) throw err;
      if (attempt >= ATTEMPTS)
        throw chainNotReady(err, "the endpoint does not give the indexer's latest blocks yet; retry later");
    }
    if (attempt >= ATTEMPTS) throw chainNotReady(new Error("reorg rollbacks overtook the reading"), "retry later");
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

/** One report, or null when a reorg rollback reset the reading before it was summed (the caller tries again). */
async function reconcileOnce(chain: ChainContext, db: Db): Promise<ReconciliationReport | null> {
  const beforeStart = chain.addresses.startBlock - 1;
  // Compare at the indexer's checkpoint: the ledger is exactly the events up to that block.
  const checkpoint = await readCheckpoint(db);
  const head = checkpoint ? Number(checkpoint.lastBlock) : beforeStart;
  if (checkpoint?.lastHash) {
    // The checkpoint must still be the chain's: else the ledger is about to be rolled back.
    const b = await readerOf(chain).header(head);
    if (b.hash !== checkpoint.lastHash)
      throw chainNotReady(
        new Error(`block ${head} is ${b.hash} on the node, ${checkpoint.lastHash} in the index`),
        "the chain reorganised and the indexer has not rolled back yet; retry later",
      );
  }
  await readUpTo(chain, db, head);
  // The chain's totals and the ledger's, as of one snapshot and of the same block.
  const read = await db.tx(async (q) => {
    await useOneSnapshot(q);
    const scan = await reconcileScan(q, beforeStart);
    if (scan.scannedTo < head) return null;
    const merchants = [];
    for (const m of await merchantAddresses(q, head))
      merchants.push({ ...m, ledger: await ledgerTotalsByLowerToken(q, m.id, head) });
    return {
      totals: await reconcileTotals(q, head),
      ledgerTokens: await ledgerTokens(q, head),
      credits: await reconcileCreditsByAccount(q, head),
      merchants,
    };
  });
  if (!read) return null;
  const openByToken = new Map<string, bigint>();
  const openByMerchantToken = new Map<string, bigint>();
  for (const r of read.totals.open) {
    openByToken.set(r.token, (openByToken.get(r.token) ?? 0n) + BigInt(r.amount));
    openByMerchantToken.set(`${r.merchant}|${r.token}`, BigInt(r.amount));
  }
  const payouts = new Map<string, bigint>(
    read.totals.payouts.map((r) => [`${r.merchant}|${r.token}`, BigInt(r.amount)]),
  );
  const credited = new Map<string, bigint>(read.totals.credited.map((r) => [r.token, BigInt(r.amount)]));
  const creditsByAccount = new Map<string, bigint>(
    read.credits.map((r) => [`${r.account}|${r.token}`, BigInt(r.amount)]),
  );
  const differences: Difference[] = [];
  const tokens: ReconciliationReport["tokens"] = {};
  const tokenSet = new Set<string>([...openByToken.keys(), ...credited.keys()]);
  for (const token of read.ledgerTokens) tokenSet.add(token);
  for (const token of tokenSet) {
    const balance =
      token === ZeroAddress.toLowerCase()
        ? await chain.provider.getBalance(chain.addresses.escrow, head)
        : await IERC20__factory.connect(token, chain.provider).balanceOf(chain.addresses.escrow, {
            blockTag: head,
          });
    const open = openByToken.get(token) ?? 0n;
    const cred = credited.get(token) ?? 0n;
    tokens[token] = {
      contractBalance: balance.toString(),
      openPositions: open.toString(),
      creditedOutstanding: cred.toString(),
    };
    if (balance !== open + cred) {
      differences.push({
        check: "contract balance = open positions + credited",
        token,
        expected: (open + cred).toString(),
        actual: balance.toString(),
      });
    }
  }
  const merchants: ReconciliationReport["merchants"] = {};
  for (const m of read.merchants) {
    const bal = m.ledger;
    const ledger = new Map<string, bigint>();
    for (const r of bal) ledger.set(`${r.token}|${r.account}`, BigInt(r.debit) - BigInt(r.credit));
    const addr = m.address.toLowerCase();
    const mTokens = new Set<string>();
    for (const k of [...openByMerchantToken.keys(), ...payouts.keys(), ...creditsByAccount.keys()])
      if (k.startsWith(`${addr}|`) || m.payouts.some((p) => k.startsWith(`${p}|`))) mTokens.add(k.split("|")[1]);
    for (const r of bal) mTokens.add(r.token);
    for (const token of mTokens) {
      const chainEscrow = openByMerchantToken.get(`${addr}|${token}`) ?? 0n;
      const chainPayouts = payouts.get(`${addr}|${token}`) ?? 0n;
      const ledgerEscrow = ledger.get(`${token}|escrow`) ?? 0n;
      const ledgerPayouts = ledger.get(`${token}|merchant_payouts`) ?? 0n;
      // Credited at its custodial address or at a payout address it named (a payout wallet the token refused).
      let chainCredits = creditsByAccount.get(`${addr}|${token}`) ?? 0n;
      for (const p of m.payouts) chainCredits += creditsByAccount.get(`${p}|${token}`) ?? 0n;
      const ledgerCredits = ledger.get(`${token}|escrow_credits`) ?? 0n;
      merchants[m.id] ??= {};
      merchants[m.id][token] = {
        ledgerEscrow: ledgerEscrow.toString(),
        chainEscrow: chainEscrow.toString(),
        ledgerPayouts: ledgerPayouts.toString(),
        chainPayouts: chainPayouts.toString(),
        ledgerCredits: ledgerCredits.toString(),
        chainCredits: chainCredits.toString(),
      };
      if (ledgerCredits !== chainCredits) {
        differences.push({
          check: "ledger escrow credits = credits outstanding on chain",
          merchantId: m.id,
          token,
          expected: chainCredits.toString(),
          actual: ledgerCredits.toString(),
        });
      }
      if (ledgerEscrow !== chainEscrow) {
        differences.push({
          check: "ledger escrow = open positions on chain",
          merchantId: m.id,
          token,
          expected: chainEscrow.toString(),
          actual: ledgerEscrow.toString(),
        });
      }
      if (ledgerPayouts !== chainPayouts) {
        differences.push({
          check: "ledger payouts = release events minus returns on chain",
          merchantId: m.id,
          token,
          expected: chainPayouts.toString(),
          actual: ledgerPayouts.toString(),
        });
      }
    }
  }
  return {
    ok: differences.length === 0,
    checkedAt: new Date().toISOString(),
    headBlock: head,
    tokens,
    merchants,
    differences,
  };
}
