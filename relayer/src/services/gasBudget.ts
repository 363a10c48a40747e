/**
 * Gas budgets: how much gas (wei) the relayer may spend for a merchant over the last 30 days. The gas of every
 * command of the merchant's orders, SKUs and identity is metered when its transaction is final (a batch's gas
 * shared equally between its calls; store/relaySpend.ts). Once the merchant spent its budget, the new commands
 * it or its buyers ask for are refused with 402 gas_budget_exhausted; commands already accepted still run, so
 * the spend can end above the budget by what was queued. The arbiter's rulings are never refused. A merchant
 * without a budget of its own has the configured default (GAS_BUDGET_DEFAULT_ETH), never an unlimited one.
 */
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import { recordAudit } from "../store/audit";
import { setMerchantGasBudget } from "../store/merchants";
import { merchantGasSpend } from "../store/relaySpend";
import type { Principal, ServiceDeps } from "./context";

/** The budget's period: the last 30 UTC days, today included (a rolling window: no cliff at a month's start). */
export const GAS_BUDGET_PERIOD_DAYS = 30;

/** The default budget when the deps name none (GAS_BUDGET_DEFAULT_ETH's default): 1 ETH. */
export const DEFAULT_GAS_BUDGET_WEI = 10n ** 18n;

const defaultBudget = (deps: ServiceDeps) => deps.config.gasBudgetDefaultWei ?? DEFAULT_GAS_BUDGET_WEI;

/** Throws 402 gas_budget_exhausted when `spentWei` reached the budget (`ownWei`, or the default when null). */
export function checkGasBudget(ownWei: string | null, spentWei: string, defaultWei: bigint): void {
  const budget = ownWei === null ? defaultWei : BigInt(ownWei);
  if (BigInt(spentWei) < budget) return;
  throw new AppError(
    "gas_budget_exhausted",
    `the merchant's gas budget for the last ${GAS_BUDGET_PERIOD_DAYS} days is used up; the admin can raise it`,
    { budgetWei: budget.toString(), spentWei: BigInt(spentWei).toString() },
  );
}

/** Throws 402 gas_budget_exhausted when the merchant spent its gas budget. */
export async function assertGasBudget(deps: ServiceDeps, q: Queryable, merchantId: string): Promise<void> {
  const spend = await merchantGasSpend(q, merchantId, GAS_BUDGET_PERIOD_DAYS);
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  checkGasBudget(spend.budget_wei, spend.spent_wei, defaultBudget(deps));
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
  const spend = await merchantGasSpend(q, merchantId, GAS_BUDGET_PERIOD_DAYS);
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  const budget = spend.budget_wei === null ? defaultBudget(deps) : BigInt(spend.budget_wei);
  const spent = BigInt(spend.spent_wei);
  return {
    merchantId,
    budgetWei: budget.toString(),
    isDefault: spend.budget_wei === null,
    periodDays: GAS_BUDGET_PERIOD_DAYS,
    spentWei: spent.toString(),
    gasUsed: BigInt(spend.gas_used).toString(),
    remainingWei: (spent < budget ? budget - spent : 0n).toString(),
    exhausted: spent >= budget,
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
