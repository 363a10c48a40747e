/** Authentication (Bearer keys) and authorisation (role and scope) for routes. */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";
import { hashSecret, safeEqual } from "../domain/keys";
import type { Scope } from "../domain/model";
import { findApiKeyByHash } from "../store/apiKeys";
import type { Principal, ServiceDeps } from "../services/context";
import { charge, clientOf } from "./rateLimit";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

function bearer(h: string | undefined): string {
  if (!h) throw new AppError("unauthenticated", "missing Authorization header; send `Authorization: Bearer <api key>`");
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw new AppError("unauthenticated", "Authorization header must be `Bearer <api key>`");
  return m[1];
}

/** The principal of an `Authorization` header value, or `unauthenticated`. */
export async function authenticate(deps: ServiceDeps, authorization: string | undefined): Promise<Principal> {
  const secret = bearer(authorization);
  if (safeEqual(secret, deps.config.adminApiKey))
    return { kind: "admin", keyId: "admin", merchantId: null, scopes: [] };
  if (deps.config.arbiterApiKey && safeEqual(secret, deps.config.arbiterApiKey)) {
    return { kind: "arbiter", keyId: "arbiter", merchantId: null, scopes: [] };
  }
  const hash = hashSecret(secret);
  const load = () => findApiKeyByHash(deps.db, hash);
  const key = deps.keyCache ? await deps.keyCache.lookup(hash, load) : await load();
  if (!key) throw new AppError("unauthenticated", "API key not recognised");
  if (key.revoked_at) throw new AppError("unauthenticated", "API key has been revoked", { keyId: key.id });
  return { kind: key.role, keyId: key.id, merchantId: key.merchant_id, scopes: key.scopes };
}

/**
 * The request's principal, within the rate limits: a refused key counts against the client IP's allowance (a
 * key guesser costs a key lookup per try), an accepted merchant key against its own and its merchant's (all of
 * the merchant's keys together). The admin's and the
 * arbiter's keys, held by the operator, are not limited.
 */
async function authenticateLimited(deps: ServiceDeps, req: FastifyRequest): Promise<Principal> {
  const limits = req.server.rateLimits;
  let p: Principal;
  try {
    p = await authenticate(deps, req.headers.authorization);
  } catch (err) {
    if (err instanceof AppError && err.code === "unauthenticated")
      charge(limits.perIp, clientOf(req), "from this address");
    throw err;
  }
  if (p.kind === "merchant") {
    charge(limits.perKey, p.keyId, "with this API key");
    if (p.merchantId) charge(limits.perMerchant, p.merchantId, "by this merchant's API keys together");
  }
  return p;
}

export function requireAdmin(deps: ServiceDeps) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const p = await authenticateLimited(deps, req);
    if (p.kind !== "admin") throw new AppError("forbidden", "this route needs the admin key");
    req.principal = p;
  };
}

/** The arbiter's key only: the admin, who runs the platform, never rules on disputes (separation of duties). */
export function requireArbiter(deps: ServiceDeps) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const p = await authenticateLimited(deps, req);
    if (p.kind !== "arbiter") throw new AppError("forbidden", "this route needs the arbiter key");
    req.principal = p;
  };
}

/** A merchant key with `scope` (`read` is implied by every other scope for GET routes). */
export function requireMerchant(deps: ServiceDeps, scope: Scope) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const p = await authenticateLimited(deps, req);
    if (p.kind !== "merchant" || !p.merchantId) throw new AppError("forbidden", "this route needs a merchant API key");
    const ok = p.scopes.includes(scope) || (scope === "read" && p.scopes.length > 0);
    if (!ok)
      throw new AppError("insufficient_scope", `this key lacks the "${scope}" scope`, {
        required: scope,
        held: p.scopes,
      });
    req.principal = p;
  };
}
