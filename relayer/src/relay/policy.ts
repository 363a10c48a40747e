/**
 * The relay policy: how many gasless requests a buyer and a merchant may send per minute, how many of a buyer's
 * relays may revert by its own doing (it front-ran the relayer: used or cancelled its authorization, moved its
 * tokens away, used its forwarder nonce) before it is relayed for no more, and the merchant's gas budget
 * (services/gasBudget.ts). Checked before a buyer's request is queued, so nothing over the limits costs gas.
 * Forwarded requests and ERC-3009 authorizations count towards the same limits.
 *
 * Who pays for a buyer's revert: not the merchant (its budget does not count that gas). The relayer's operator
 * does, at most `maxBuyerRevertsPerDay` relays per buyer address per day.
 */
import { AppError } from "../domain/errors";
import type { Queryable } from "../store/db";
import { relayUsage } from "../store/relayPolicy";
import { buyerCausedReverts } from "../store/relayReverts";
import { assertGasBudgetOf, DEFAULT_GAS_BUDGET_WEI } from "../services/gasBudget";

export interface RelayPolicy {
  perBuyerPerMinute: number;
  perMerchantPerMinute: number;
  /** Relays of one buyer that reverted by its doing, over the last 24 hours, after which it is refused (default 3). */
  maxBuyerRevertsPerDay?: number;
}

export const DEFAULT_POLICY: RelayPolicy = {
  perBuyerPerMinute: 12,
  perMerchantPerMinute: 600,
  maxBuyerRevertsPerDay: 3,
};

/**
 * Throws when `buyer` or the merchant reached their rate limit, the buyer's relays reverted by its doing too often
 * (403 relay_policy_violation, reason buyer_relays_reverted), or the merchant's gas budget is used up (its own, or
 * `defaultBudgetWei`).
 */
export async function enforceRelayPolicy(
  q: Queryable,
  merchantId: string,
  buyer: string,
  policy: RelayPolicy,
  defaultBudgetWei: bigint = DEFAULT_GAS_BUDGET_WEI,
) {
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
  const reverted = await buyerCausedReverts(q, buyer, 24);
  const limit = policy.maxBuyerRevertsPerDay ?? DEFAULT_POLICY.maxBuyerRevertsPerDay!;
  if (reverted >= limit) {
    throw new AppError(
      "relay_policy_violation",
      `buyer ${buyer}'s gasless requests reverted on chain by its own transactions ${reverted} times in the last ` +
        "24 hours; it is relayed for no more, and pays on chain itself",
      { reason: "buyer_relays_reverted", reverted, limit, windowHours: 24 },
    );
  }
  // Spent plus what the merchant's queued commands reserve, as for the merchant's own commands.
  await assertGasBudgetOf(q, merchantId, defaultBudgetWei);
}
