/**
 * Merchant onboarding and API keys. A merchant's address is a custodial identity the relayer generates and signs
 * for, or (external) the merchant's own wallet, which signs its operator approvals (operatorApprovals.ts).
 */
import { getAddress, isAddress, Wallet, ZeroAddress } from "ethers";
import { AppError } from "../domain/errors";
import { encryptPrivateKey, hashSecret, newApiSecret } from "../domain/keys";
import { newId, SCOPES } from "../domain/model";
import { chainNotReady } from "../domain/unavailable";
import { enqueueCommand } from "../store/commands";
import { isUniqueViolation, type Queryable } from "../store/db";
import {
  getMerchant,
  getMerchantByAddress,
  insertDormantMerchantSetup,
  insertMerchant,
  listMerchants,
  relayerSignerAddresses,
  type MerchantRow,
} from "../store/merchants";
import { addressOfAnotherMerchant } from "../store/payouts";
import {
  countActiveApiKeysLocked,
  getApiKey,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  type ApiKeyRow,
} from "../store/apiKeys";
import { recordAudit } from "../store/audit";
import type { Principal, ServiceDeps } from "./context";
import { listPage } from "./listPage";

/** Active API keys a merchant may hold when MAX_API_KEYS_PER_MERCHANT is not set. */
export const DEFAULT_MAX_API_KEYS = 25;

export function merchantView(m: MerchantRow) {
  return {
    id: m.id,
    name: m.name,
    address: m.address,
    status: m.status,
    signer: m.signer_kind === "external" ? ("external" as const) : ("custodial" as const),
    createdAt: new Date(m.created_at).toISOString(),
  };
}

export function keyView(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    merchantId: k.merchant_id,
    scopes: k.scopes,
    prefix: k.prefix,
    createdBy: k.created_by,
    createdAt: new Date(k.created_at).toISOString(),
    revokedAt: k.revoked_at ? new Date(k.revoked_at).toISOString() : null,
  };
}

/**
 * Creates a merchant. Without `address`: a fresh custodial identity, and the operator authorisation queued (the
 * relayer signs it). With `address`: the merchant's own wallet, which signs the authorisation itself
 * (operatorApprovals); its setup command is queued but not due until the wallet's signatures arrive.
 */
export async function createMerchant(deps: ServiceDeps, q: Queryable, who: Principal, name: string, address?: string) {
  if (address !== undefined) return createExternalMerchant(deps, q, who, name, address);
  const wallet = Wallet.createRandom();
  const id = newId("mch");
  await insertMerchant(q, {
    id,
    name,
    address: wallet.address,
    encryptedKey: encryptPrivateKey(wallet.privateKey, deps.config.merchantKeySecret),
  });
  await enqueueCommand(q, {
    kind: "merchant_setup",
    merchantId: id,
    payload: { merchant: wallet.address },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: id,
    apiKeyId: who.keyId,
    action: "merchant.created",
    resourceType: "merchant",
    resourceId: id,
    details: { name },
  });
  return merchantView((await getMerchant(q, id))!);
}

async function createExternalMerchant(deps: ServiceDeps, q: Queryable, who: Principal, name: string, raw: string) {
  if (!isAddress(raw)) throw new AppError("validation_failed", "address must be a 0x address", { field: "address" });
  const address = getAddress(raw);
  const reason = await merchantAddressProblem(deps, q, address);
  if (reason) {
    throw new AppError(
      "merchant_address_forbidden",
      `a merchant's address cannot be ${reason === "relayer_signer" ? "a relayer signer" : `the ${reason.replaceAll("_", " ")}`}`,
      { address, reason },
    );
  }
  const taken = await getMerchantByAddress(q, address);
  if (taken) throw addressTaken(address, taken.id);
  // Another merchant's payout address: the escrow's credits name only the account, their books would mix.
  if (await addressOfAnotherMerchant(q, "", address)) throw addressTaken(address);
  const id = newId("mch");
  try {
    await insertMerchant(q, { id, name, address, encryptedKey: null });
  } catch (err) {
    // Another request took the address between the check and the insert.
    if (isUniqueViolation(err, ["merchants_address_key", "merchants_address_lower"])) throw addressTaken(address);
    throw err;
  }
  // Not due until the wallet's signatures arrive; the merchant's SKU and stock commands wait behind it.
  await insertDormantMerchantSetup(q, {
    merchantId: id,
    payload: { merchant: address, signer: "external" },
    apiKeyId: who.keyId,
  });
  await recordAudit(q, {
    merchantId: id,
    apiKeyId: who.keyId,
    action: "merchant.created",
    resourceType: "merchant",
    resourceId: id,
    details: { name, signer: "external", address },
  });
  return merchantView((await getMerchant(q, id))!);
}

const addressTaken = (address: string, merchantId?: string) =>
  new AppError("merchant_address_taken", `another merchant already uses ${address}`, {
    address,
    ...(merchantId ? { merchantId } : {}),
  });

/**
 * Why `address` cannot be a merchant's own address, or null: money or approvals given to it would be owed to
 * nobody (the zero address, the contracts) or to the relayer itself (a signer, which would be its own operator).
 */
async function merchantAddressProblem(deps: ServiceDeps, q: Queryable, address: string): Promise<string | null> {
  const a = address.toLowerCase();
  if (a === ZeroAddress) return "zero_address";
  const { escrow, inventory, forwarder } = deps.chain.addresses;
  if (a === escrow.toLowerCase()) return "escrow";
  if (a === inventory.toLowerCase()) return "inventory";
  if (a === forwarder.toLowerCase()) return "forwarder";
  if ((await relayerSignerAddresses(q)).some((s) => s.toLowerCase() === a)) return "relayer_signer";
  try {
    // A signer of another relayer process not started yet is known to the escrow by its role.
    if (await deps.chain.escrow.hasRole(await deps.chain.escrow.OPERATOR_ROLE(), address)) return "relayer_signer";
  } catch (err) {
    throw chainNotReady(err, "the chain is unreachable; retry later");
  }
  return null;
}

export async function getMerchantOr404(q: Queryable, id: string) {
  const m = await getMerchant(q, id);
  if (!m) throw new AppError("not_found", `merchant ${id} not found`, { merchantId: id });
  return m;
}

/** A page of every merchant, in creation order. */
export async function listAllMerchants(q: Queryable, page: { cursor?: string; limit?: number } = {}) {
  return listPage(
    page,
    (after, limit) => listMerchants(q, { after, limit }),
    (m) => merchantView(m),
  );
}

/** Issues an API key; the secret is returned once and only its hash is stored. */
export async function issueKey(
  q: Queryable,
  who: Principal,
  opts: {
    merchantId: string | null;
    role: "merchant" | "arbiter";
    name: string;
    scopes: string[];
    /** Active keys the merchant may hold: a tenant cannot mint keys without end (each has its own rate limit). */
    maxActiveKeys?: number;
  },
) {
  const scopes = [...new Set(opts.scopes)];
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s))
      throw new AppError("validation_failed", `unknown scope "${s}"`, { allowed: SCOPES });
  }
  if (who.kind === "merchant" && scopes.some((s) => !who.scopes.includes(s))) {
    throw new AppError("insufficient_scope", "a key cannot grant scopes it does not have", {
      requested: scopes,
      held: who.scopes,
    });
  }
  if (opts.merchantId !== null && opts.maxActiveKeys !== undefined) {
    const active = await countActiveApiKeysLocked(q, opts.merchantId);
    if (active >= opts.maxActiveKeys) {
      throw new AppError(
        "api_key_limit_reached",
        `the merchant holds ${active} active API keys, the most it may; revoke one first`,
        { activeKeys: active, maxActiveKeys: opts.maxActiveKeys },
      );
    }
  }
  const secret = newApiSecret(opts.role === "arbiter" ? "oca" : "ock");
  const id = newId("key");
  await insertApiKey(q, {
    id,
    merchantId: opts.merchantId,
    role: opts.role,
    name: opts.name,
    scopes,
    keyHash: hashSecret(secret),
    prefix: secret.slice(0, 10),
    createdBy: who.keyId,
  });
  await recordAudit(q, {
    merchantId: opts.merchantId,
    apiKeyId: who.keyId,
    action: "api_key.created",
    resourceType: "api_key",
    resourceId: id,
    details: { name: opts.name, scopes },
  });
  return { ...keyView((await getApiKey(q, id))!), secret };
}

/**
 * Throws 403 owner_key_required unless `who` is one of the merchant's owner keys (issued by the admin, not
 * revoked): only they decide where the merchant's money goes and what the relayer does with it on its own.
 */
export async function assertOwnerKey(q: Queryable, who: Principal, what: string): Promise<void> {
  const key = who.kind === "merchant" ? await getApiKey(q, who.keyId) : undefined;
  if (!key || key.created_by !== "admin" || key.revoked_at) {
    throw new AppError("owner_key_required", `only an owner key (issued by the admin) may ${what}`, {
      keyId: who.keyId,
    });
  }
}

/**
 * Revokes a key of the merchant. A merchant key may revoke only keys whose scopes it holds all of (itself
 * included), and only an owner key may revoke an owner key: a staff key managing keys cannot lock out the owner
 * (who could then no longer cancel a payout address change) or a key more powerful than its own.
 */
export async function revokeKey(q: Queryable, who: Principal, merchantId: string | null, keyId: string) {
  const k = await getApiKey(q, keyId);
  if (!k || (merchantId !== null && k.merchant_id !== merchantId))
    throw new AppError("not_found", `API key ${keyId} not found`, { keyId });
  if (who.kind === "merchant" && k.created_by === "admin" && k.id !== who.keyId)
    await assertOwnerKey(q, who, "revoke an owner key");
  const beyond = who.kind === "merchant" ? k.scopes.filter((s) => !who.scopes.includes(s)) : [];
  if (beyond.length > 0) {
    throw new AppError("insufficient_scope", "a key cannot revoke a key with scopes it does not have", {
      keyId,
      scopes: k.scopes,
      held: who.scopes,
    });
  }
  await revokeApiKey(q, keyId);
  await recordAudit(q, {
    merchantId: k.merchant_id,
    apiKeyId: who.keyId,
    action: "api_key.revoked",
    resourceType: "api_key",
    resourceId: keyId,
  });
  return keyView((await getApiKey(q, keyId))!);
}

/** A page of the merchant's keys in creation order; revoked keys only with `includeRevoked`. */
export async function listKeys(
  q: Queryable,
  merchantId: string,
  page: { cursor?: string; limit?: number; includeRevoked?: boolean } = {},
) {
  const includeRevoked = page.includeRevoked ?? false;
  return listPage(
    page,
    (after, limit) => listApiKeys(q, merchantId, { after, limit, includeRevoked }),
    (k) => keyView(k),
  );
}

// ------------------------------------------------------------------ an external merchant's operator approvals
