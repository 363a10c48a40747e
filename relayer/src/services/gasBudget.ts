/**
 * Gas budgets: how much gas (wei) the relayer may spend for a merchant over the last 30 days. The gas of every
 * command of the merchant's orders, SKUs and identity is metered when its transaction is final (a batch's gas
 * shared equally between its calls; store/relaySpend.ts). A command is metered only once its transaction is
 * final, so from its acceptance until then it reserves what the merchant's commands cost lately (the average of
 * its last 100 metered ones; 150,000 gas at 1 gwei before the first): once what the merchant spent plus what its
 * queue reserves reaches the budget, the new commands it asks for are refused with 402 gas_budget_exhausted, however
 * fast it sends them, from however many relayer processes (the checks of one merchant run one at a time: each
 * takes the merchant's running count of queued commands for update, store/relaySpend.ts; an order's acceptance
 * checks and queues in one statement, store/orders.ts). The spend can end above the budget by about
 * one command, or by what the chain's fees rose since the reserving commands were priced. The arbiter's rulings are
 * never refused. A merchant without a budget of its own has the configured default (GAS_BUDGET_DEFAULT_ETH), never
 * an unlimited one. A buyer's gasless relay that reverted by the buyer's own doing is not charged to the merchant
 * (store/relayReverts.ts; relay/policy.ts caps those per buyer).
 */
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import { recordAudit } from "../store/audit";
import { setMerchantGasBudget } from "../store/merchants";
import { merchantGasSpend, type GasBudgetTerms, type MerchantGasSpend } from "../store/relaySpend";
import type { Principal, ServiceDeps } from "./context";

/** The budget's period: the last 30 UTC days, today included (a rolling window: no cliff at a month's start). */
export const GAS_BUDGET_PERIOD_DAYS = 30;

/** The default budget when the deps name none (GAS_BUDGET_DEFAULT_ETH's default): 1 ETH. */
export const DEFAULT_GAS_BUDGET_WEI = 10n ** 18n;

const defaultBudget = (deps: ServiceDeps) => deps.config.gasBudgetDefaultWei ?? DEFAULT_GAS_BUDGET_WEI;

/** What a command is expected to cost before the merchant has a metered one: 150,000 gas at 1 gwei. */
export const FIRST_COMMAND_RESERVE_WEI = 150_000n * 10n ** 9n;

/** The terms the store computes a budget's figures with, for a default budget of `defaultWei`. */
export const gasBudgetTerms = (defaultWei: bigint): GasBudgetTerms => ({
  periodDays: GAS_BUDGET_PERIOD_DAYS,
  defaultWei,
  firstCommandReserveWei: FIRST_COMMAND_RESERVE_WEI,
});

/** `gasBudgetTerms` with the deps' default budget. */
export const gasBudgetTermsOf = (deps: ServiceDeps) => gasBudgetTerms(defaultBudget(deps));

/** What the merchant's accepted, not yet metered commands are expected to cost. */
export function reservedWei(spend: Pick<MerchantGasSpend, "queued" | "recent_cost_wei">): bigint {
  const each = spend.recent_cost_wei === null ? FIRST_COMMAND_RESERVE_WEI : BigInt(spend.recent_cost_wei);
  return BigInt(spend.queued) * each;
}

/**
 * The 402 gas_budget_exhausted refusal of a merchant whose `spend` (the store's figures, `within` false) leaves no
 * room for a command: what it spent plus what its queued commands reserve reached its budget (its own, or
 * `defaultWei` when it has none).
 */
export function gasBudgetExhausted(spend: MerchantGasSpend, defaultWei: bigint): AppError {
  const budget = spend.budget_wei === null ? defaultWei : BigInt(spend.budget_wei);
  const spent = BigInt(spend.spent_wei);
  return new AppError(
    "gas_budget_exhausted",
    spent >= budget
      ? `the merchant's gas budget for the last ${GAS_BUDGET_PERIOD_DAYS} days is used up; the admin can raise it`
      : `the merchant's gas budget for the last ${GAS_BUDGET_PERIOD_DAYS} days is taken by commands still queued; ` +
          "try again once they are on chain, or the admin can raise it",
    { budgetWei: budget.toString(), spentWei: spent.toString(), reservedWei: reservedWei(spend).toString() },
  );
}

/**
 * Throws 402 gas_budget_exhausted when what the merchant spent plus what its queued commands reserve reached its
 * gas budget. Holds the merchant's budget (its running count of queued commands) until the caller's transaction
 * ends, so the command it then queues is counted by the next check.
 */
export async function assertGasBudget(deps: ServiceDeps, q: Queryable, merchantId: string): Promise<void> {
  await assertGasBudgetOf(q, merchantId, defaultBudget(deps));
}

/** `assertGasBudget` with the default budget given (the relay policy's callers pass it). */
export async function assertGasBudgetOf(q: Queryable, merchantId: string, defaultWei: bigint): Promise<void> {
  const spend = await merchantGasSpend(q, merchantId, gasBudgetTerms(defaultWei), true);
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  if (!spend.within) throw gasBudgetExhausted(spend, defaultWei);
}

/**
 * The early refusal of a merchant whose budget is spent, before anything else is read for its request (chain
 * reads among them). It locks nothing and proves nothing: the statement that queues checks again.
 */
export async function refuseSpentGasBudget(deps: ServiceDeps, q: Queryable, merchantId: string): Promise<void> {
  const spend = await merchantGasSpend(q, merchantId, gasBudgetTermsOf(deps));
  if (!spend) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  if (!spend.within) throw gasBudgetExhausted(spend, defaultBudget(deps));
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
  const spend = await merchantGasSpend(q, merchantId, gasBudgetTermsOf(deps));
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
