/**
 * Gas budgets: how much gas (wei) the relayer may spend for a merchant over the last 30 days. The gas of every
 * command of the merchant's orders, SKUs and identity is metered when its transaction is final (a batch's gas
 * shared equally between its calls; store/relaySpend.ts). A command is metered only once its transaction is
 * final, so from its acceptance until then it reserves what the merchant's commands cost lately (the average of
 * its last 100 metered ones; 150,000 gas at 1 gwei before the first): once what the merchant spent plus what its
 * queue reserves reaches the budget, the new commands it asks for are refused with 402 gas_budget_exhausted, however
 * fast it sends them (the checks of one merchant run one at a time). The spend can end above the budget by about
 * one command, or by what the chain's fees rose since the reserving commands were priced. The arbiter's rulings are
 * never refused. A merchant without a budget of its own has the configured default (GAS_BUDGET_DEFAULT_ETH), never
 * an unlimited one. A buyer's gasless relay that reverted by the buyer's own doing is not charged to the merchant
 * (store/relayReverts.ts; relay/policy.ts caps those per buyer).
 */
import { AppError } from "../domain/errors";
import type { Db, Queryable } from "../store/db";
import { recordAudit } from "../store/audit";
import { setMerchantGasBudget } from "../store/merchants";
import { lockMerchantGasBudget, merchantGasSpend, type MerchantGasSpend } from "../store/relaySpend";
import { buyerCausedRevertSpend } from "../store/relayReverts";
import type { Principal, ServiceDeps } from "./context";

/** The budget's period: the last 30 UTC days, today included (a rolling window: no cliff at a month's start). */
export const GAS_BUDGET_PERIOD_DAYS = 30;

/** The default budget when the deps name none (GAS_BUDGET_DEFAULT_ETH's default): 1 ETH. */
export const DEFAULT_GAS_BUDGET_WEI = 10n ** 18n;

const defaultBudget = (deps: ServiceDeps) => deps.config.gasBudgetDefaultWei ?? DEFAULT_GAS_BUDGET_WEI;

/** What a command is expected to cost before the merchant has a metered one: 150,000 gas at 1 gwei. */
export const FIRST_COMMAND_RESERVE_WEI = 150_000n * 10n ** 9n;

/** What the merchant's accepted, not yet metered commands are expected to cost. */
export function reservedWei(spend: Pick<MerchantGasSpend, "queued" | "recent_cost_wei">): bigint {
  const each = spend.recent_cost_wei === null ? FIRST_COMMAND_RESERVE_WEI : BigInt(spend.recent_cost_wei);
  return BigInt(spend.queued) * each;
}

/**
 * Throws 402 gas_budget_exhausted when `spentWei` plus `reserved` (what accepted commands are expected to cost)
 * reached the budget (`ownWei`, or the default when null).
 */
export function checkGasBudget(ownWei: string | null, spentWei: string, defaultWei: bigint, reserved = 0n): void {
  const budget = ownWei === null ? defaultWei : BigInt(ownWei);
  if (BigInt(spentWei) + reserved < budget) return;
  throw new AppError(
    "gas_budget_exhausted",
    BigInt(spentWei) >= budget
      ? `the merchant's gas budget for the last ${GAS_BUDGET_PERIOD_DAYS} days is used up; the admin can raise it`
      : `the merchant's gas budget for the last ${GAS_BUDGET_PERIOD_DAYS} days is taken by commands still queued; ` +
          "try again once they are on chain, or the admin can raise it",
    { budgetWei: budget.toString(), spentWei: BigInt(spentWei).toString(), reservedWei: reserved.toString() },
  );
}

/**
 * Throws 402 gas_budget_exhausted when what the merchant spent plus what its queued commands reserve reached its
 * gas budget. Holds the merchant's budget lock until the caller's transaction ends, so the command it then
 * queues is counted by the next check.
 */
export async function assertGasBudget(deps: ServiceDeps, q: Queryable, merchantId: string): Promise<void> {
  await assertGasBudgetOf(q, merchantId, defaultBudget(deps));
}

/** `assertGasBudget` with the default budget given (the relay policy's callers pass it). */
export async function assertGasBudgetOf(q: Queryable, merchantId: string, defaultWei: bigint): Promise<void> {
  await lockMerchantGasBudget(q, merchantId);
  const spend = await chargedSpend(q, merchantId);
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  checkGasBudget(spend.budget_wei, spend.spent_wei, defaultWei, reservedWei(spend));
}

/**
 * What the merchant is charged over the period: its metered spend, less the gas of its buyers' relays that reverted
 * by the buyers' own doing (front-running the relayer; relay/policy.ts caps those per buyer instead).
 */
async function chargedSpend(q: Queryable, merchantId: string): Promise<MerchantGasSpend | undefined> {
  const spend = await merchantGasSpend(q, merchantId, GAS_BUDGET_PERIOD_DAYS);
  if (!spend) return undefined;
  const buyers = await buyerCausedRevertSpend(q, merchantId, GAS_BUDGET_PERIOD_DAYS);
  return {
    ...spend,
    spent_wei: (BigInt(spend.spent_wei) - buyers.cost_wei).toString(),
    gas_used: (BigInt(spend.gas_used) - buyers.gas_used).toString(),
  };
}

/**
 * `fn(q)` (which queues commands for the merchant) run in one transaction with the budget check, so that requests
 * racing each other are counted one after another: in `q`'s transaction when `q` is one, else in a new one.
 */
export async function queueWithinGasBudget<T>(
  deps: ServiceDeps,
  q: Queryable | Db,
  merchantId: string,
  fn: (q: Queryable) => Promise<T>,
): Promise<T> {
  const run = async (tq: Queryable) => {
    await assertGasBudget(deps, tq, merchantId);
    return fn(tq);
  };
  return "tx" in q ? q.tx(run) : run(q);
}

/** `fn` (which queues commands for the merchant), run only while the merchant's gas budget is not spent. */
export function withinGasBudget<T>(deps: ServiceDeps, merchantId: string, fn: (q: Queryable) => Promise<T>) {
  return async (q: Queryable): Promise<T> => {
    await assertGasBudget(deps, q, merchantId);
    return fn(q);
  };
}

/** The merchant's budget, what it spent over the period and what is left. */
export async function gasBudgetView(deps: ServiceDeps, q: Queryable, merchantId: string) {
  const spend = await chargedSpend(q, merchantId);
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  const budget = spend.budget_wei === null ? defaultBudget(deps) : BigInt(spend.budget_wei);
  const spent = BigInt(spend.spent_wei);
  const reserved = reservedWei(spend);
  return {
    merchantId,
    budgetWei: budget.toString(),
    isDefault: spend.budget_wei === null,
    periodDays: GAS_BUDGET_PERIOD_DAYS,
    spentWei: spent.toString(),
    gasUsed: BigInt(spend.gas_used).toString(),
    reservedWei: reserved.toString(),
    queuedCommands: Number(spend.queued),
    remainingWei: (spent + reserved < budget ? budget - spent - reserved : 0n).toString(),
    exhausted: spent + reserved >= budget,
  };
}

/** Sets the merchant's gas budget (null: back to the default), with an audit line the merchant sees. */
export async function setGasBudget(
  deps: ServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  budgetWei: string | null,
) {
  const prior = await setMerchantGasBudget(q, merchantId, budgetWei);
  if (!prior) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "merchant.gas_budget_set",
    resourceType: "merchant",
    resourceId: merchantId,
    details: { budgetWei, previousBudgetWei: prior.previous === null ? null : BigInt(prior.previous).toString() },
  });
  return gasBudgetView(deps, q, merchantId);
}
