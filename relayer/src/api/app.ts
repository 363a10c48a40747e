/**
 * `buildApp(deps)`: the HTTP API as a fastify instance (tested with `inject()`); `main.ts` only wires and
 * listens. Every error leaves as `{ "error": { "code", "message", "details" } }` with a stable code.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import AjvCompiler from "@fastify/ajv-compiler";
import { AppError, type ErrorCode } from "../domain/errors";
import { describeError, redactUrls } from "../domain/redact";
import { fitsUint, isUintType, UINT_MAX, type UintType } from "../domain/uints";
import { chainNotReady, isChainUnavailable } from "../domain/unavailable";
import type { ServiceDeps } from "../services/context";
import { registerAuditRoutes } from "./routes-audit";
import { registerKeysRoutes } from "./routes-keys";
import { registerMerchantsRoutes } from "./routes-merchants";
import { registerOrdersRoutes } from "./routes-orders";
import { registerPayoutsRoutes } from "./routes-payouts";
import { registerSkusRoutes } from "./routes-skus";
import { registerOps } from "./ops";
import { registerArbiterRoutes } from "./routes-arbiter";
import { registerCheckoutRoutes } from "./routes-checkout";
import { registerLedgerRoutes } from "./routes-ledger";
import { registerWebhookRoutes } from "./routes-webhooks";
import { registerKeeperRoutes } from "./routes-keepers";
import { errors, SHARED_SCHEMAS, SOLIDITY_FORMATS } from "./schemas";
import { registerWeb } from "./web";
import { registerWebRoutes } from "./routes-web";
import { idempotencyTtlSeconds, scheduleIdempotencyPurge } from "./idempotency";
import { RateLimits } from "./rateLimit";

export interface AppOptions {
  logger?: boolean | object;
  bodyLimit?: number;
  /** Serve the web pages (default true). Without them nothing is built or read from web/dist: the OpenAPI
   * document (scripts/openapi.ts) is the same, since the pages are kept out of it. */
  pages?: boolean;
}

/** JSON Schema formats of on-chain integers (decimal strings): `format: "uint256"` bounds the value by its type. */
const UINT_FORMATS: Record<string, { type: "string"; validate: (v: string) => boolean }> = Object.fromEntries(
  (Object.keys(UINT_MAX) as UintType[]).map((type) => [
    type,
    { type: "string" as const, validate: (v: string) => fitsUint(v, type) },
  ]),
);

function fromFastifyError(err: FastifyError): AppError {
  const tooLarge = err.validation?.find((v) => v.keyword === "format" && isUintType(v.params?.format));
  if (tooLarge) {
    const type = tooLarge.params.format as UintType;
    return new AppError("value_out_of_range", `${tooLarge.instancePath} is larger than a ${type} holds`, {
      path: tooLarge.instancePath,
      type,
      max: UINT_MAX[type].toString(),
    });
  }
  if (err.validation) {
    return new AppError("validation_failed", `request ${err.validationContext ?? "input"} is invalid: ${err.message}`, {
      // `path` is a JSON pointer to the offending field, including a missing one inside an array item.
      issues: err.validation.map((v) => {
        const missing = (v.params as { missingProperty?: string })?.missingProperty;
        return { path: missing ? `${v.instancePath}/${missing}` : v.instancePath, message: v.message ?? "" };
      }),
    });
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("payload_too_large", "request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("unsupported_media_type", "send JSON with Content-Type: application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new AppError("validation_failed", "request body is not valid JSON");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("validation_failed", "Content-Length does not match the body");
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
    return new AppError("validation_failed", err.message);
  }
  return new AppError("internal_error", "internal error");
}

/**
 * Query strings and path parameters arrive as text, so their validators coerce ("10" -> 10). A JSON body
 * already carries its types: coercing it would accept `{"amount": 12345678901234567890}` as the string
 * "12345678901234567000" (a different amount) or `["ref"]` as "ref". Bodies are validated without coercion.
 */
function validatorFactory() {
  type RouteSchema = { schema: unknown; httpPart?: string; method?: string; url?: string };
  type Build = (externalSchemas: unknown, options: { customOptions?: object }) => (route: RouteSchema) => unknown;
  const pool = AjvCompiler() as unknown as Build;
  return (externalSchemas: unknown, options: { customOptions?: object }) => {
    const coercing = pool(externalSchemas, options);
    const exact = pool(externalSchemas, {
      ...options,
      customOptions: { ...options.customOptions, coerceTypes: false },
    });
    return (route: RouteSchema) => (route.httpPart === "body" ? exact(route) : coercing(route));
  };
}

/** JSON pointer of the first string (key or value) inside `root` holding U+0000, or null. Iterative: a
 * body may nest far deeper than the call stack. */
function findNul(root: unknown): string | null {
  const stack: [unknown, string][] = [[root, ""]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return path;
    } else if (v && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes("\u0000")) return `${path}/${k}`;
        stack.push([child, `${path}/${k}`]);
      }
    }
  }
  return null;
}

/** TRUST_PROXY as fastify takes it: a number of hops trusts the nearest proxies. */
function proxyTrust(t: boolean | number | string[] | undefined) {
  return typeof t === "number" ? (_address: string, hop: number) => hop < t : (t ?? false);
}

/** Longest path parameter the router matches; ids are at most 128 characters (schemas.ts). */
const MAX_PARAM_LENGTH = 200;

export async function buildApp(deps: ServiceDeps, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 256 * 1024,
    ajv: {
      customOptions: { allErrors: false, coerceTypes: "array", removeAdditional: false, formats: UINT_FORMATS },
    },
    schemaController: { compilersFactory: { buildValidator: validatorFactory() as never } },
    // The serializer picks a union's branch by validating it: the Solidity formats of responses must be known.
    serializerOpts: { ajv: { formats: SOLIDITY_FORMATS } },
    // Errors the router raises before any route runs (a malformed URL, a path parameter longer than the
    // router accepts) bypass the error handler: answer them in the API's error shape too.
    frameworkErrors: (err, _req, reply) => {
      const e =
        err.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? new AppError("validation_failed", "a path parameter is too long", { maxLength: MAX_PARAM_LENGTH })
          : new AppError("validation_failed", "the request URL is malformed");
      deps.metrics.apiErrors.inc({ code: e.code });
      void (reply as FastifyReply).code(e.status).send(e.toJSON());
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    genReqId: () => `req_${Math.random().toString(36).slice(2, 12)}`,
    return503OnClosing: true,
    // Which address is the client's (per-IP rate limits): the peer's, or behind trusted proxies (TRUST_PROXY)
    // the one they report in X-Forwarded-For.
    trustProxy: proxyTrust(deps.config.trustProxy),
  });
  app.decorate("rateLimits", new RateLimits(deps.config.rateLimits ?? { perKeyPerMinute: 0, perIpPerMinute: 0 }));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "orderchain relayer API",
        version: "1.0.0",
        description:
          "Merchants create SKUs, stock and escrowed orders; the relayer carries them onto the chain exactly once and reports what the chain says. Every POST that changes something accepts an Idempotency-Key header.",
        license: { name: "MIT", url: "https://spdx.org/licenses/MIT.html" },
      },
      // Relative: the relayer that serves this document.
      servers: [{ url: "/" }],
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
    // Shared schemas (the error body) keep their $id as their name under components/schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  // Fastify parses text/plain by default; the API speaks JSON only, so any other body is a 415.
  app.removeContentTypeParser("text/plain");

  // The one place errors become answers. A chain that cannot answer is a 503 not_ready wherever it surfaces;
  // it and anything unexpected are logged once, through the relayer's logger, without secrets.
  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    const e =
      err instanceof AppError
        ? err
        : isChainUnavailable(err)
          ? chainNotReady(err)
          : fromFastifyError(err as FastifyError);
    if (e.code === "not_ready" || e.code === "internal_error") {
      const cause = e === err ? (e.cause ?? e) : err;
      const at = { reqId: req.id, method: req.method, route: req.routeOptions.url ?? null, code: e.code };
      if (e.code === "not_ready") deps.log.warn({ ...at, cause: describeError(cause) }, e.message);
      else
        deps.log.error(
          { ...at, cause: describeError(cause), stack: redactUrls(String((cause as Error)?.stack ?? "")) },
          "unhandled error",
        );
    }
    deps.metrics.apiErrors.inc({ code: e.code });
    // A limit says when to come back; the relay policy's per-minute counts at most a minute later.
    if (e.code === "rate_limited") reply.header("retry-after", String(e.details.retryAfterSeconds ?? 60));
    void reply.code(e.status).send(e.toJSON());
  });
  // Which methods each route path answers: a path served under other methods is 405 with Allow, not 404.
  const served: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook("onRoute", (route) => {
    const source = `^${route.url
      .split("/")
      .map((part) =>
        part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("/")}/?$`;
    let entry = served.find((x) => x.pattern.source === new RegExp(source).source);
    if (!entry) served.push((entry = { pattern: new RegExp(source), methods: new Set() }));
    for (const m of [route.method].flat()) entry.methods.add(m);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0];
    const allowed = new Set(served.filter((x) => x.pattern.test(path)).flatMap((x) => [...x.methods]));
    const e =
      allowed.size > 0
        ? new AppError("method_not_allowed", `${path} does not answer ${req.method}`, {
            allowed: [...allowed].sort(),
          })
        : new AppError("route_not_found" as ErrorCode, `no route ${req.method} ${path}`);
    deps.metrics.apiErrors.inc({ code: e.code });
    if (allowed.size > 0) reply.header("allow", [...allowed].sort().join(", "));
    void reply.code(e.status).send(e.toJSON());
  });

  // PostgreSQL text cannot hold U+0000: refuse it in any input instead of failing in the database.
  app.addHook("preValidation", async (req) => {
    for (const [part, value] of [
      ["params", req.params],
      ["querystring", req.query],
      ["body", req.body],
    ] as const) {
      const at = findNul(value);
      if (at !== null)
        throw new AppError("validation_failed", `request ${part} contains a NUL character`, {
          issues: [{ path: at, message: "must not contain U+0000" }],
        });
    }
  });

  // Every route behind a key is rate limited (the key's allowance; a refused key counts against its IP): its
  // document lists 429 rate_limited. The routes without a key that are limited list it themselves.
  app.addHook("onRoute", (route) => {
    const schema = route.schema as { security?: unknown[]; response?: Record<string, unknown> } | undefined;
    if (schema?.response && schema.security?.length && !schema.response[429])
      Object.assign(schema.response, errors(429));
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.decorate("idempotencySealKey", deps.config.merchantKeySecret);
  // Authentication and authorisation run as `onRequest` hooks, before the body is read or validated: a caller
  // without a valid key learns nothing about the request schemas (401/403 win over 400/413/415).
  // One encapsulated plugin per resource: what a resource adds (hooks, decorators) stays within it; the shared
  // schemas, the hooks above and the error handler apply to all.
  const resources: ((scope: FastifyInstance, deps: ServiceDeps) => void)[] = [
    registerMerchantsRoutes,
    registerKeysRoutes,
    registerSkusRoutes,
    registerOrdersRoutes,
    registerPayoutsRoutes,
    registerAuditRoutes,
    (scope, d) => registerCheckoutRoutes(scope, d, d.config.relayPolicy),
    registerArbiterRoutes,
    registerWebhookRoutes,
    registerLedgerRoutes,
    registerKeeperRoutes,
    registerOps,
    registerWebRoutes,
  ];
  for (const register of resources) await app.register(async (scope) => register(scope, deps));
  scheduleIdempotencyPurge(app, deps, idempotencyTtlSeconds(deps));
  if (opts.pages !== false) await registerWeb(app, deps);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
