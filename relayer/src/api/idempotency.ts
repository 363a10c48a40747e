/**
 * `Idempotency-Key` on POST: the first response is stored in the same database transaction as the change it
 * reports, so a replay returns it exactly and a crash can never leave one without the other. The same key
 * with a different request is refused (409).
 */
import crypto from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../domain/errors";
import { decryptPrivateKey, encryptPrivateKey } from "../domain/keys";
import type { Db, Queryable } from "../store/db";
import { claimIdempotencyKey, findIdempotentResponse, saveIdempotentResponse } from "../store/idempotency";

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
  }
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
}

/** The request's Idempotency-Key (validated) with its scope and request hash, or null without one. */
export function idempotencyOf(req: FastifyRequest): IdempotencyClaim | null {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined) return null;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (!KEY_PATTERN.test(key)) {
    throw new AppError("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  return { scope: req.principal?.keyId ?? "anonymous", key, hash: requestHash(req) };
}

type Stored = { request_hash: string; status_code: number | null; response: unknown };

/**
 * The stored first response for a key already used: the replay, or 409 when the request differs. `T` is what the
 * route returned the first time: the same request (its hash matched) on the same route stored it.
 */
function replayOf<T>(prior: Stored, claim: IdempotencyClaim, req: FastifyRequest) {
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
  const prior = (await findIdempotentResponse(db, claim.scope, claim.key))[0];
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
    const prior = await claimIdempotencyKey(q, claim.scope, claim.key, claim.hash);
    if (prior) return replayOf<T>(prior, claim, req);
    const body = await fn(q);
    await saveIdempotentResponse(q, claim.scope, claim.key, status, sealSecrets(body, sealKey(req)));
    return { replay: false as const, status, body };
  });
  reply.code(out.status);
  if (out.replay) reply.header("idempotent-replayed", "true");
  return out.body;
}
