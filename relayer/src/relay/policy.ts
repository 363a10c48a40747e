/**
 * The relay policy: how many gasless requests a buyer and a merchant may send per minute, and the merchant's
 * gas budget. Checked before a buyer's request is queued, so nothing over the limits costs gas.
 */
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import { relayUsage } from "../store/relayPolicy";

export interface RelayPolicy {
  perBuyerPerMinute: number;
  perMerchantPerMinute: number;
}

export const DEFAULT_POLICY: RelayPolicy = { perBuyerPerMinute: 12, perMerchantPerMinute: 600 };

/** Throws when `buyer` or the merchant reached their rate limit, or the merchant's gas budget is used up. */
export async function enforceRelayPolicy(q: Queryable, merchantId: string, buyer: string, policy: RelayPolicy) {
  const row = await relayUsage(q, merchantId, buyer);
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
  if (row.budget !== null && BigInt(row.spent ?? "0") >= BigInt(row.budget)) {
    throw new AppError("gas_budget_exhausted", "the merchant's gas budget for gasless actions is used up", {
      budgetWei: row.budget,
      spentWei: row.spent ?? "0",
    });
  }
}
