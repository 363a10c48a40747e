/**
 * Reconciliation: proves the ledger equals the chain. It recomputes, from the escrow's logs read straight
 * from the node (not from the relayer's database), every order's escrowed amount and every payout, and
 * compares:
 *   1. the escrow contract's balance of each token = open escrow positions + payouts credited and not yet
 *      withdrawn (the contract's own invariant);
 *   2. per merchant and token, the ledger's escrow account = that merchant's open positions on chain;
 *   3. per merchant and token, the ledger's merchant_payouts = the sum of its release events on chain.
 */
import { ZeroAddress } from "ethers";
import type { ChainContext } from "../chain/context";
import type { Queryable } from "../store/db";
import { lastIndexedBlock, ledgerTokens, ledgerTotalsByLowerToken, merchantAddresses } from "../store/ledger";
import { MockStablecoin__factory } from "../../../typechain-types";

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
    Record<string, { ledgerEscrow: string; chainEscrow: string; ledgerPayouts: string; chainPayouts: string }>
  >;
  differences: Difference[];
}

const CHUNK = 5_000;

export async function reconcile(chain: ChainContext, q: Queryable): Promise<ReconciliationReport> {
  // Compare at the indexer's checkpoint: the ledger is exactly the events up to that block.
  const head = (await lastIndexedBlock(q)) ?? (await chain.provider.getBlockNumber());
  const iface = chain.escrow.interface;
  const logs = [];
  for (let from = chain.addresses.startBlock; from <= head; from += CHUNK) {
    logs.push(
      ...(await chain.provider.getLogs({
        address: chain.addresses.escrow,
        fromBlock: from,
        toBlock: Math.min(head, from + CHUNK - 1),
      })),
    );
  }
  const orderToken = new Map<string, string>();
  const orderMerchant = new Map<string, string>();
  const escrowed = new Map<string, bigint>();
  const payouts = new Map<string, bigint>(); // key merchantAddress|token
  const credited = new Map<string, bigint>(); // token
  for (const log of logs) {
    const ev = (() => {
      try {
        return iface.parseLog(log);
      } catch {
        return null;
      }
    })();
    if (!ev) continue;
    const a = ev.args;
    const id = (a.orderId as string | undefined)?.toLowerCase();
    const add = (m: Map<string, bigint>, k: string, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);
    switch (ev.name) {
      case "OrderCreated":
        orderToken.set(id!, (a.terms.token as string).toLowerCase());
        orderMerchant.set(id!, (a.merchant as string).toLowerCase());
        break;
      case "OrderPaid":
        add(escrowed, id!, a.amount as bigint);
        break;
      case "OrderRefunded":
        add(escrowed, id!, -(a.amount as bigint));
        break;
      case "OrderCompleted":
        add(escrowed, id!, -((a.payeeAmount as bigint) + (a.fee as bigint)));
        add(payouts, `${(a.merchant as string).toLowerCase()}|${orderToken.get(id!)}`, a.payeeAmount as bigint);
        break;
      case "DisputeResolved":
        add(escrowed, id!, -((a.buyerAmount as bigint) + (a.payeeAmount as bigint) + (a.fee as bigint)));
        add(payouts, `${(a.merchant as string).toLowerCase()}|${orderToken.get(id!)}`, a.payeeAmount as bigint);
        break;
      case "PayoutCredited":
        add(credited, (a.token as string).toLowerCase(), a.amount as bigint);
        break;
      case "PayoutWithdrawn":
        add(credited, (a.token as string).toLowerCase(), -(a.amount as bigint));
        break;
      default:
        break;
    }
  }
  const differences: Difference[] = [];
  const openByToken = new Map<string, bigint>();
  const openByMerchantToken = new Map<string, bigint>();
  for (const [id, amount] of escrowed) {
    const token = orderToken.get(id)!;
    openByToken.set(token, (openByToken.get(token) ?? 0n) + amount);
    const k = `${orderMerchant.get(id)}|${token}`;
    openByMerchantToken.set(k, (openByMerchantToken.get(k) ?? 0n) + amount);
  }
  const tokens: ReconciliationReport["tokens"] = {};
  const tokenSet = new Set<string>([...openByToken.keys(), ...credited.keys()]);
  for (const token of await ledgerTokens(q)) tokenSet.add(token);
  for (const token of tokenSet) {
    const balance =
      token === ZeroAddress.toLowerCase()
        ? await chain.provider.getBalance(chain.addresses.escrow, head)
        : await MockStablecoin__factory.connect(token, chain.provider).balanceOf(chain.addresses.escrow, {
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
  for (const m of await merchantAddresses(q)) {
    const bal = await ledgerTotalsByLowerToken(q, m.id);
    const ledger = new Map<string, bigint>();
    for (const r of bal) ledger.set(`${r.token}|${r.account}`, BigInt(r.debit) - BigInt(r.credit));
    const addr = m.address.toLowerCase();
    const mTokens = new Set<string>();
    for (const k of [...openByMerchantToken.keys(), ...payouts.keys()])
      if (k.startsWith(`${addr}|`)) mTokens.add(k.split("|")[1]);
    for (const r of bal) mTokens.add(r.token);
    for (const token of mTokens) {
      const chainEscrow = openByMerchantToken.get(`${addr}|${token}`) ?? 0n;
      const chainPayouts = payouts.get(`${addr}|${token}`) ?? 0n;
      const ledgerEscrow = ledger.get(`${token}|escrow`) ?? 0n;
      const ledgerPayouts = ledger.get(`${token}|merchant_payouts`) ?? 0n;
      merchants[m.id] ??= {};
      merchants[m.id][token] = {
        ledgerEscrow: ledgerEscrow.toString(),
        chainEscrow: chainEscrow.toString(),
        ledgerPayouts: ledgerPayouts.toString(),
        chainPayouts: chainPayouts.toString(),
      };
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
          check: "ledger payouts = release events on chain",
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
