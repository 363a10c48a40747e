/**
 * The merchant's keeper switches and what the keepers cost it, and the owner's change of them (audited). The
 * keepers themselves run in relayer/src/keepers/.
 */
import { AppError } from "../domain/errors";
import { recordAudit } from "../store/audit";
import type { Queryable } from "../store/db";
import { keeperGasSpend, keeperSettings, setKeeperSettings, type KeeperSettings } from "../store/keepers";
import type { Principal } from "./context";
import { assertOwnerKey } from "./merchants";

/** The period of the keepers' gas shown with the settings: the gas budget's (services/gasBudget.ts). */
const GAS_PERIOD_DAYS = 30;

const apiView = (s: KeeperSettings) => ({ release: s.release, expire: s.expire, disputeDefault: s.dispute_default });

export async function keepersView(q: Queryable, merchantId: string, settings?: KeeperSettings) {
  const s = settings ?? (await keeperSettings(q, merchantId));
  if (!s) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  const gas = await keeperGasSpend(q, merchantId, GAS_PERIOD_DAYS);
  return { ...apiView(s), gas: { periodDays: GAS_PERIOD_DAYS, gasUsed: gas.gas_used, costWei: gas.cost_wei } };
}

/** Turns the given keepers on or off for the merchant: owner keys only, audited as merchant.keepers_set. */
export async function setKeepers(
  q: Queryable,
  who: Principal,
  merchantId: string,
  change: { release?: boolean; expire?: boolean; disputeDefault?: boolean },
) {
  await assertOwnerKey(q, who, "turn keepers on or off");
  const changed = await setKeeperSettings(q, merchantId, {
    release: change.release,
    expire: change.expire,
    dispute_default: change.disputeDefault,
  });
  if (!changed) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "merchant.keepers_set",
    resourceType: "merchant",
    resourceId: merchantId,
    details: { before: apiView(changed.before), after: apiView(changed.after) },
  });
  return keepersView(q, merchantId, changed.after);
}
