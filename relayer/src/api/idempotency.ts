/**
 * `Idempotency-Key` on POST: the first response is stored in the same database transaction as the change it
 * reports, so a replay returns it exactly and a crash can never leave one without the other. The same key
 * with a different request is refused (409).
 *
 * A key belongs to the merchant (the admin and the arbiter have a scope each; a caller without a key has its
 * client address's, so a stranger cannot take a buyer's key first and have the buyer's request refused): two
 * API keys of one merchant sending the same key never both execute. Only the API key that made the first
 * request gets its replay, another gets 409, since a stored response may hold a secret (a new API key, a
 * webhook's) that the other key could not obtain itself. A key is kept `IDEMPOTENCY_TTL_HOURS` (24 h by
 * default) from its first request; after that it is forgotten: ignored, taken over by a new request, purged.
 */
import crypto from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";
import { clientOf } from "./rateLimit";
import { decryptPrivateKey, encryptPrivateKey } from "../domain/keys";
import { describeError } from "../domain/redact";
import type { Principal, ServiceDeps } from "../services/context";
import type { Db, Queryable } from "../store/db";
import {
  claimIdempotencyKey,
  findIdempotentResponse,
  purgeExpiredIdempotencyKeys,
  saveIdempotentResponse,
  type StoredResponse,
} from "../store/idempotency";

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export function requestHash(req: FastifyRequest): string {
  return crypto
    .createHash("sha256")
    .update(
      `${req.method} ${req.routeOptions.url ?? req.url} ${JSON.stringify(req.params ?? {})} ${JSON.stringify(canonical(req.body ?? null))}`,
    )
    .digest("hex");
}

declare module "fastify" {
  interface FastifyInstance {
    /** Encrypts secrets (new API keys, webhook secrets) inside stored idempotent responses. */
    idempotencySealKey?: string;
    /** How long a key is kept from its first request. */
    idempotencyTtlSeconds?: number;
  }
}

export const DEFAULT_IDEMPOTENCY_TTL_HOURS = 24;

/** How long keys are kept: the deps' `idempotencyTtlHours` (IDEMPOTENCY_TTL_HOURS), 24 h by default. */
export function idempotencyTtlSeconds(deps: ServiceDeps): number {
  return Math.round((deps.config.idempotencyTtlHours ?? DEFAULT_IDEMPOTENCY_TTL_HOURS) * 3600);
}

/** Expired keys are deleted at start and then every hour, in batches, by each process (any may do it). */
const PURGE_EVERY_MS = 3600_000;

export function scheduleIdempotencyPurge(app: FastifyInstance, deps: ServiceDeps, ttlSeconds: number): void {
  let timer: NodeJS.Timeout | undefined;
  const purge = async () => {
    try {
      while ((await purgeExpiredIdempotencyKeys(deps.db, ttlSeconds)) > 0) {
        if (!timer) return; // closing
      }
    } catch (err) {
      deps.log.warn({ cause: describeError(err) }, "expired idempotency keys not purged; retrying later");
    }
  };
  app.decorate("idempotencyTtlSeconds", ttlSeconds);
  app.addHook("onReady", async () => {
    timer = setInterval(() => void purge(), PURGE_EVERY_MS);
    timer.unref();
    void purge();
  });
  app.addHook("onClose", async () => {
    clearInterval(timer);
    timer = undefined;
  });
}

function sealKey(req: FastifyRequest): string {
  const k = req.server.idempotencySealKey;
  if (!k) throw new Error("idempotencySealKey is not configured");
  return k;
}

/**
 * A stored response is replayed byte for byte, so a response that shows a secret once (a new API key, a webhook
 * secret) would otherwise sit in the database in clear: every `secret` field is stored encrypted instead.
 */
export function sealSecrets(v: unknown, key: string): unknown {
  if (Array.isArray(v)) return v.map((x) => sealSecrets(x, key));
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) =>
        k === "secret" && typeof x === "string"
          ? [k, { $sealed: encryptPrivateKey(x, key) }]
          : [k, sealSecrets(x, key)],
      ),
    );
  }
  return v;
}

export function unsealSecrets(v: unknown, key: string): unknown {
  if (Array.isArray(v)) return v.map((x) => unsealSecrets(x, key));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.$sealed === "string" && Object.keys(o).length === 1) return decryptPrivateKey(o.$sealed, key);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unsealSecrets(x, key)]));
  }
  return v;
}

export interface IdempotencyClaim {
  scope: string;
  key: string;
  hash: string;
  /** The API key making the request (null without one): only it gets the stored response replayed. */
  apiKeyId: string | null;
  ttlSeconds: number;
}

/**
 * Whose keys a request's Idempotency-Key is among: its merchant's, the admin's, the arbiter's, or without a key its
 * client's (the address the per-IP rate limit counts: an IPv6 client is its /64).
 */
export function idempotencyScope(p: Principal | undefined, client: string): string {
  if (!p) return `anonymous:${client}`;
  // Merchant ids (`mch_…`) never equal the other scopes' names.
  return p.kind === "merchant" && p.merchantId ? p.merchantId : p.kind;
}

/** The request's Idempotency-Key (validated) with its scope and request hash, or null without one. */
export function idempotencyOf(req: FastifyRequest): IdempotencyClaim | null {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined) return null;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (!KEY_PATTERN.test(key)) {
    throw new AppError("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  return {
    scope: idempotencyScope(req.principal, clientOf(req)),
    key,
    hash: requestHash(req),
    apiKeyId: req.principal?.keyId ?? null,
    ttlSeconds: req.server.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_HOURS * 3600,
  };
}

/**
 * The stored first response for a key already used: the replay, or 409 when the request differs. `T` is what the
 * route returned the first time: the same request (its hash matched) on the same route stored it.
 */
function replayOf<T>(prior: StoredResponse, claim: IdempotencyClaim, req: FastifyRequest) {
  if (prior.api_key_id !== claim.apiKeyId) {
    throw new AppError("idempotency_key_reused", "this Idempotency-Key was used by another API key", {
      idempotencyKey: claim.key,
    });
  }
  if (prior.request_hash !== claim.hash) {
    throw new AppError("idempotency_key_reused", "this Idempotency-Key was used with a different request", {
      idempotencyKey: claim.key,
    });
  }
  if (prior.status_code === null) {
    throw new AppError(
      "idempotency_request_in_progress",
      "a request with this Idempotency-Key is still being processed",
      {
        idempotencyKey: claim.key,
      },
    );
  }
  return { replay: true as const, status: prior.status_code, body: unsealSecrets(prior.response, sealKey(req)) as T };
}

/**
 * For routes that store their response in the same statement as their change (see `createOrder`): answers
 * with the stored response of `claim`, or returns null when nothing is stored under it.
 */
export async function replayIfStored<T>(
  db: Queryable,
  req: FastifyRequest,
  reply: FastifyReply,
  claim: IdempotencyClaim,
): Promise<{ body: T } | null> {
  const prior = (await findIdempotentResponse(db, claim.scope, claim.key, claim.ttlSeconds))[0];
  if (!prior) return null;
  const out = replayOf<T>(prior, claim, req);
  reply.code(out.status);
  reply.header("idempotent-replayed", "true");
  return { body: out.body };
}

/** Runs `fn` in one transaction, honouring the request's Idempotency-Key. */
export async function mutate<T>(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  fn: (q: Queryable) => Promise<T>,
): Promise<T> {
  const claim = idempotencyOf(req);
  if (claim === null) {
    const result = await db.tx(fn);
    reply.code(status);
    return result;
  }
  const out = await db.tx(async (q) => {
    const prior = await claimIdempotencyKey(q, { ...claim, requestHash: claim.hash });
    if (prior) return replayOf<T>(prior, claim, req);
    const body = await fn(q);
    await saveIdempotentResponse(q, claim.scope, claim.key, status, sealSecrets(body, sealKey(req)));
    return { replay: false as const, status, body };
  });
  reply.code(out.status);
  if (out.replay) reply.header("idempotent-replayed", "true");
  return out.body;
}
