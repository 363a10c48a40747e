/**
 * The relay policy: how many gasless requests a buyer and a merchant may send per minute, and the merchant's
 * gas budget (services/gasBudget.ts). Checked before a buyer's request is queued, so nothing over the limits
 * costs gas.
 */
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import { relayUsage } from "../store/relayPolicy";
import { checkGasBudget, DEFAULT_GAS_BUDGET_WEI, GAS_BUDGET_PERIOD_DAYS } from "../services/gasBudget";

export interface RelayPolicy {
  perBuyerPerMinute: number;
  perMerchantPerMinute: number;
}

export const DEFAULT_POLICY: RelayPolicy = { perBuyerPerMinute: 12, perMerchantPerMinute: 600 };

/**
 * Throws when `buyer` or the merchant reached their rate limit, or the merchant's gas budget is used up (its
 * own, or `defaultBudgetWei`).
 */
export async function enforceRelayPolicy(
  q: Queryable,
  merchantId: string,
  buyer: string,
  policy: RelayPolicy,
  defaultBudgetWei: bigint = DEFAULT_GAS_BUDGET_WEI,
) {
  const row = await relayUsage(q, merchantId, buyer, GAS_BUDGET_PERIOD_DAYS);
  if (Number(row.buyer_n) >= policy.perBuyerPerMinute) {
    throw new AppError("rate_limited", `buyer ${buyer} sent too many gasless requests; try again in a minute`, {
      limitPerMinute: policy.perBuyerPerMinute,
    });
  }
  if (Number(row.merchant_n) >= policy.perMerchantPerMinute) {
    throw new AppError("rate_limited", "too many gasless requests for this merchant; try again in a minute", {
      limitPerMinute: policy.perMerchantPerMinute,
    });
  }
  checkGasBudget(row.budget, row.spent, defaultBudgetWei);
}
