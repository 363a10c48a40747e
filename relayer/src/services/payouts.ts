/**
 * The merchant's payout address: where its revenue goes instead of the custodial address the relayer holds.
 * A change is pending for a delay (announced by a webhook, cancellable by any owner key), then the relayer
 * relays the merchant's signed setPayoutAddress; new orders pay it once the chain shows it. Sweeps move what
 * already sits at the custodial address (escrow credits, token balances) to the payout address.
 */
import { getAddress, isAddress, ZeroAddress } from "ethers";
import { AppError } from "../domain/errors";
import { newId } from "../domain/model";
import { chainNotReady } from "../domain/unavailable";
import { recordAudit } from "../store/audit";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import { getMerchant, type MerchantRow } from "../store/merchants";
import {
  cancelPendingPayout,
  getPayout,
  addressOfAnotherMerchant,
  insertMerchantEvent,
  requestPayoutChange,
  type PayoutRow,
} from "../store/payouts";
import { enqueueDeliveries } from "../store/webhooks";
import type { Principal, ServiceDeps } from "./context";
import { assertOwnerKey } from "./merchants";

/** Chains where nobody's money is at stake: a payout change applies at once unless configured otherwise. */
const LOCAL_CHAIN_IDS = [31337n, 1337n];
export const DEFAULT_PAYOUT_CHANGE_DELAY_S = 24 * 3600;

/** How long a requested payout change waits before it is applied (PAYOUT_CHANGE_DELAY_SECONDS). */
export function payoutChangeDelay(deps: ServiceDeps): number {
  const configured = deps.config.payoutChangeDelaySeconds;
  if (configured !== undefined) return configured;
  return LOCAL_CHAIN_IDS.includes(deps.chain.chainId) ? 0 : DEFAULT_PAYOUT_CHANGE_DELAY_S;
}

export type PayoutState = "none" | "pending" | "applying" | "active";

export function payoutView(custodialAddress: string, row: PayoutRow | undefined, now = new Date()) {
  const pending = row?.pending_address ? row : null;
  const state: PayoutState = pending
    ? new Date(pending.pending_due_at!) > now
      ? "pending"
      : "applying"
    : row?.address
      ? "active"
      : "none";
  return {
    state,
    address: row?.address ?? null,
    activatedAt: row?.activated_at ? new Date(row.activated_at).toISOString() : null,
    pending: pending
      ? {
          address: pending.pending_address!,
          dueAt: new Date(pending.pending_due_at!).toISOString(),
          requestedAt: new Date(pending.pending_requested_at!).toISOString(),
          requestedBy: pending.pending_requested_by,
        }
      : null,
    custodialAddress,
  };
}

/**
 * Refuses what needs the custodial key for a merchant whose own wallet signs (external): its revenue is paid to
 * that wallet already (the payee of its orders), and the wallet `does` the rest itself.
 */
function assertCustodial(m: MerchantRow, does: string): void {
  if (m.signer_kind !== "external") return;
  throw new AppError(
    "merchant_signs_itself",
    `the merchant's own wallet ${m.address} signs for it, and the relayer holds no key of it: its revenue is paid there already, and the wallet ${does}`,
    { address: m.address, signer: "external" },
  );
}

async function merchantOr404(q: Queryable, merchantId: string) {
  const m = await getMerchant(q, merchantId);
  if (!m) throw new AppError("not_found", `merchant ${merchantId} not found`, { merchantId });
  return m;
}

export async function getPayoutAddress(q: Queryable, merchantId: string) {
  const m = await merchantOr404(q, merchantId);
  return payoutView(m.address, await getPayout(q, merchantId));
}

const PAYOUT_PROBLEMS: Record<string, string> = {
  zero_address: "the zero address",
  escrow: "the escrow",
  inventory: "the inventory",
  forwarder: "the forwarder",
  custodial_address: "the merchant's custodial address (it is the default already)",
  another_merchants_address:
    "another merchant's address or payout address: a credit the escrow holds for it could not be told apart",
};

/** Why `address` cannot receive the merchant's money, or null. */
function payoutProblem(deps: ServiceDeps, custodial: string, address: string): string | null {
  const a = address.toLowerCase();
  if (a === ZeroAddress) return "zero_address";
  const { escrow, inventory, forwarder } = deps.chain.addresses;
  if (a === escrow.toLowerCase()) return "escrow";
  if (a === inventory.toLowerCase()) return "inventory";
  if (a === forwarder.toLowerCase()) return "forwarder";
  if (a === custodial.toLowerCase()) return "custodial_address";
  return null;
}

/**
 * Requests the change of the payout address to `address`: pending for the configured delay (a stolen owner key
 * is seen, announced and cancellable before any money moves), then applied on chain.
 */
export async function requestPayoutAddress(
  deps: ServiceDeps,
  q: Queryable,
  who: Principal,
  merchantId: string,
  address: string,
) {
  await assertOwnerKey(q, who, "manage the payout address");
  const m = await merchantOr404(q, merchantId);
  assertCustodial(m, "changes its payout address by calling setPayoutAddress on the escrow");
  if (!isAddress(address))
    throw new AppError("validation_failed", "address must be a 0x address", { field: "address" });
  const payout = getAddress(address);
  const reason =
    payoutProblem(deps, m.address, payout) ??
    ((await addressOfAnotherMerchant(q, merchantId, payout)) ? "another_merchants_address" : null);
  if (reason) {
    throw new AppError("payout_address_forbidden", `the payout address cannot be ${PAYOUT_PROBLEMS[reason]}`, {
      address: payout,
      reason,
    });
  }
  const current = await getPayout(q, merchantId);
  // The same request again: the change already waits (its delay is not restarted).
  if (current?.pending_address === payout) return payoutView(m.address, current);
  // A change past its delay may be on its way to the chain: another now could leave the escrow's registry and the
  // relayer naming different addresses, and orders refused for their payee. Its transaction decides first.
  if (payoutView(m.address, current).state === "applying") {
    throw new AppError(
      "payout_change_in_progress",
      "the previous payout address change is being applied on chain; ask again once it is active",
      { pending: current!.pending_address },
    );
  }
  if (current?.address === payout && !current.pending_address) {
    throw new AppError("payout_address_unchanged", `${payout} is already the payout address`, { address: payout });
  }
  const delaySeconds = payoutChangeDelay(deps);
  const row = await requestPayoutChange(q, { merchantId, address: payout, delaySeconds, requestedBy: who.keyId });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "payout_address.requested",
    resourceType: "merchant",
    resourceId: merchantId,
    details: {
      address: payout,
      previous: current?.address ?? null,
      dueAt: new Date(row.pending_due_at!).toISOString(),
    },
  });
  const view = payoutView(m.address, row);
  await announcePending(q, merchantId, view);
  return view;
}

/** `merchant.payout_address_pending`: every endpoint of the merchant that subscribes hears of the change. */
async function announcePending(q: Queryable, merchantId: string, view: ReturnType<typeof payoutView>) {
  const id = newId("evt");
  const type = "merchant.payout_address_pending";
  const payload = JSON.stringify({
    id,
    type,
    createdAt: new Date().toISOString(),
    data: { merchantId, ...view },
  });
  await insertMerchantEvent(q, { id, merchantId, type, payload });
  await enqueueDeliveries(q, [{ id, merchantId, orderId: "", type, sequence: 0, payload }]);
}

/** Cancels the pending change while it is not due. */
export async function cancelPayoutAddress(q: Queryable, who: Principal, merchantId: string) {
  await assertOwnerKey(q, who, "manage the payout address");
  const m = await merchantOr404(q, merchantId);
  const cancelled = await cancelPendingPayout(q, merchantId);
  if (!cancelled) {
    const row = await getPayout(q, merchantId);
    throw new AppError(
      "no_payout_change_pending",
      row?.pending_address
        ? "the payout address change is due and being applied; it can no longer be cancelled"
        : "no payout address change is pending",
      { state: payoutView(m.address, row).state },
    );
  }
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "payout_address.cancelled",
    resourceType: "merchant",
    resourceId: merchantId,
    details: { address: cancelled.address },
  });
  return payoutView(m.address, await getPayout(q, merchantId));
}

/**
 * Moves what sits at the custodial address in `token` to the active payout address: the escrow's credits of
 * payouts the token refused, and the custodial address's token balance.
 */
export async function sweepPayouts(deps: ServiceDeps, q: Queryable, who: Principal, merchantId: string, token: string) {
  const m = await merchantOr404(q, merchantId);
  assertCustodial(m, "withdraws any escrow credit of its address by calling withdraw(token, to) on the escrow");
  const row = await getPayout(q, merchantId);
  if (!row?.address) {
    throw new AppError("payout_address_not_set", "the merchant has no active payout address to sweep to", {
      state: payoutView(m.address, row).state,
    });
  }
  const tokenAddress = token === "native" ? ZeroAddress : token;
  if (tokenAddress !== ZeroAddress && !isAddress(tokenAddress))
    throw new AppError("validation_failed", 'token must be "native" or a 0x address', { field: "token" });
  const normalized = tokenAddress === ZeroAddress ? ZeroAddress : getAddress(tokenAddress);
  let credited: bigint;
  let allowed: boolean;
  try {
    allowed = await deps.chain.escrow.isTokenAllowed(normalized);
    credited = await deps.chain.escrow.credited(m.address, normalized);
  } catch (err) {
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
  // Only tokens the escrow accepts: the sweep calls the token and signs in its EIP-712 domain, so a contract a
  // caller names could burn the relayer's gas or have the custodial key sign for another token.
  if (!allowed)
    throw new AppError("token_not_allowed", `token ${token} is not accepted by the escrow`, { token: normalized });
  const commandId = await enqueueCommand(q, {
    kind: "sweep_payouts",
    merchantId,
    payload: { token: normalized },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId,
    apiKeyId: who.keyId,
    action: "payouts.swept",
    resourceType: "merchant",
    resourceId: merchantId,
    details: { token: normalized, to: row.address, credited: credited.toString() },
  });
  return {
    token: token === "native" ? "native" : normalized,
    from: m.address,
    to: row.address,
    credited: credited.toString(),
    command: { id: commandId, kind: "sweep_payouts", status: "pending" },
  };
}
