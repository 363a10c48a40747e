/** Merchant onboarding and API keys. */
import { Wallet } from "ethers";
import { AppError } from "../domain/errors";
import { encryptPrivateKey, hashSecret, newApiSecret } from "../domain/keys";
import { newId, SCOPES } from "../domain/model";
import { enqueueCommand } from "../store/commands";
import type { Queryable } from "../store/db";
import { getMerchant, insertMerchant, listMerchants, type MerchantRow } from "../store/merchants";
import { getApiKey, insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from "../store/apiKeys";
import { recordAudit } from "../store/audit";
import type { Principal, ServiceDeps } from "./context";

export function merchantView(m: MerchantRow) {
  return {
    id: m.id,
    name: m.name,
    address: m.address,
    status: m.status,
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

/** Creates a merchant with a fresh custodial on-chain identity and queues the operator authorisation. */
export async function createMerchant(deps: ServiceDeps, q: Queryable, who: Principal, name: string) {
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

export async function getMerchantOr404(q: Queryable, id: string) {
  const m = await getMerchant(q, id);
  if (!m) throw new AppError("not_found", `merchant ${id} not found`, { merchantId: id });
  return m;
}

export async function listAllMerchants(q: Queryable) {
  return (await listMerchants(q)).map(merchantView);
}

/** Issues an API key; the secret is returned once and only its hash is stored. */
export async function issueKey(
  q: Queryable,
  who: Principal,
  opts: { merchantId: string | null; role: "merchant" | "arbiter"; name: string; scopes: string[] },
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
 * Revokes a key of the merchant. A merchant key may revoke only keys whose scopes it holds all of (itself
 * included): a staff key managing keys cannot lock out the owner or a key more powerful than its own.
 */
export async function revokeKey(q: Queryable, who: Principal, merchantId: string | null, keyId: string) {
  const k = await getApiKey(q, keyId);
  if (!k || (merchantId !== null && k.merchant_id !== merchantId))
    throw new AppError("not_found", `API key ${keyId} not found`, { keyId });
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

export async function listKeys(q: Queryable, merchantId: string) {
  return (await listApiKeys(q, merchantId)).map(keyView);
}
