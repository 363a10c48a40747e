/**
 * The OpenAPI document (`sdk/api/openapi.json`) as a contract the test suites hold the API to: every answer a
 * test receives must be one the document promises for that operation. Its status is listed, its content type
 * is listed for that status, and a JSON body validates against the schema listed for both. An integrator
 * generates a client from the document; an answer it does not describe is an answer that client mishandles.
 *
 * The document is given to Ajv whole, so a response schema's `$ref`s ("#/components/schemas/Order") resolve
 * inside it; the formats are the ones the app itself validates with (ajv-formats, and the on-chain integer
 * formats of relayer/src/domain/uints.ts). The call helpers of the API and commerce tests run
 * `assertConforms` on every answer, so a mismatch fails the test that made the request.
 */
import fs from "node:fs";
import path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { SOLIDITY_FORMATS } from "../../../relayer/src/api/schemas";
import { fitsUint, UINT_MAX, type UintType } from "../../../relayer/src/domain/uints";

export const OPENAPI_DOCUMENT = path.join(__dirname, "..", "..", "..", "sdk", "api", "openapi.json");

/** The part of an OpenAPI 3.0 document the checker reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

interface OperationObject {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

/** One request and the answer it got, as a test saw them. */
export interface Exchange {
  method: string;
  /** The request's path, with its query string if any; an absolute URL is reduced to its path. */
  url: string;
  status: number;
  /** The answer's Content-Type header (absent when it had none). */
  contentType?: string | null;
  /** The answer's body as sent. */
  body: string;
}

export type ViolationKind =
  "unknown_route" | "undocumented_status" | "undocumented_content_type" | "invalid_json" | "schema_mismatch";

/** What the answer does that the document does not promise. */
export interface Violation {
  kind: ViolationKind;
  /** `METHOD /path/{template}` of the operation, or the request's own method and path when none matches. */
  route: string;
  operationId: string | null;
  status: number;
  /** One sentence naming the route, the status and what is wrong. */
  message: string;
  /** Ajv's errors, for a body that does not validate. */
  errors: ErrorObject[];
}

export class OpenApiContractError extends Error {
  constructor(readonly violation: Violation) {
    super(violation.message);
    this.name = "OpenApiContractError";
  }
}

/**
 * Paths the app serves but keeps out of the document on purpose (`schema.hide`): the document itself, its
 * viewer and the web pages with their assets (relayer/src/api/web.ts).
 */
export const HIDDEN_PATHS: readonly RegExp[] = [
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  /^\/$/,
  /^\/checkout\/[^/]+$/,
  /^\/[^/]+\.(html|js|css|map|svg|txt|ico|png)$/,
];

/** The document's own fields and the OpenAPI 3.0 Schema Object keywords that JSON Schema does not have. */
const OPENAPI_KEYWORDS = [
  "openapi",
  "info",
  "servers",
  "paths",
  "components",
  "tags",
  "security",
  "externalDocs",
  "discriminator",
  "xml",
  "example",
];
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const DOC_ID = "openapi.json";
const MAX_ERRORS_SHOWN = 8;
const MAX_BODY_SHOWN = 400;

interface Route {
  method: string;
  template: string;
  segments: string[];
  statics: number;
  operation: OperationObject;
}

/** A JSON pointer token, as it appears in a `$ref` URI fragment. */
const pointerToken = (s: string) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"));

const mediaTypeOf = (contentType: string | null | undefined) => (contentType ?? "").split(";")[0].trim().toLowerCase();

const isJsonMediaType = (mediaType: string) => mediaType === "application/json" || mediaType.endsWith("+json");

function pathOf(url: string): string {
  const noOrigin = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "");
  return noOrigin.split(/[?#]/)[0] || "/";
}

function describeErrors(errors: ErrorObject[]): string {
  const shown = errors.slice(0, MAX_ERRORS_SHOWN).map((e) => {
    const at = e.instancePath || "(body)";
    const extra =
      e.keyword === "additionalProperties"
        ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
        : e.keyword === "enum"
          ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues).slice(0, 200)})`
          : "";
    return `${at} ${e.message ?? e.keyword}${extra}`;
  });
  const more = errors.length > MAX_ERRORS_SHOWN ? `; and ${errors.length - MAX_ERRORS_SHOWN} more` : "";
  return `${shown.join("; ")}${more}`;
}

const shorten = (text: string) => (text.length > MAX_BODY_SHOWN ? `${text.slice(0, MAX_BODY_SHOWN)}…` : text);

export class OpenApiContract {
  private readonly ajv: Ajv;
  private readonly routes: Route[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    // Strict, so a keyword or a format Ajv does not know fails the compilation instead of passing everything
    // (`nullable` it knows); the document's own fields and OpenAPI's schema keywords are declared as keywords
    // that check nothing. validateSchema: false because the document as a whole is not a JSON Schema.
    this.ajv = new Ajv({
      strict: true,
      strictTypes: false,
      strictTuples: false,
      // Each referenced schema is compiled once and shared, not copied into every response that refers to it.
      inlineRefs: false,
      allErrors: true,
      validateSchema: false,
    });
    this.ajv.addVocabulary(OPENAPI_KEYWORDS);
    addFormats(this.ajv);
    for (const type of Object.keys(UINT_MAX) as UintType[]) {
      this.ajv.addFormat(type, { type: "string", validate: (v: string) => fitsUint(v, type) });
    }
    for (const [name, format] of Object.entries(SOLIDITY_FORMATS)) {
      if (!(name in UINT_MAX)) this.ajv.addFormat(name, format);
    }
    this.ajv.addSchema(document, DOC_ID);
    for (const [template, item] of Object.entries(document.paths ?? {})) {
      const segments = template.split("/");
      const statics = segments.filter((s) => !/^\{[^}]+\}$/.test(s)).length;
      for (const method of METHODS) {
        const operation = item[method] as OperationObject | undefined;
        if (operation) this.routes.push({ method: method.toUpperCase(), template, segments, statics, operation });
      }
    }
    // As a router does: a path with more literal segments wins over one with parameters in their place.
    this.routes.sort((a, b) => b.statics - a.statics);
  }

  /** The document committed as sdk/api/openapi.json. */
  static load(file = OPENAPI_DOCUMENT): OpenApiContract {
    return new OpenApiContract(JSON.parse(fs.readFileSync(file, "utf8")) as OpenApiDocument);
  }

  /** The documented operation a request goes to: its method and the path template its path matches. */
  operation(method: string, url: string): { template: string; operationId: string | null } | null {
    const route = this.route(method, url);
    return route ? { template: route.template, operationId: route.operation.operationId ?? null } : null;
  }

  /** Compiles the schema of every JSON response the document lists (a schema Ajv cannot compile throws). */
  compileAll(): number {
    let n = 0;
    for (const route of this.routes) {
      for (const [status, response] of Object.entries(route.operation.responses ?? {})) {
        for (const mediaType of Object.keys(response.content ?? {})) {
          if (!isJsonMediaType(mediaType.toLowerCase())) continue;
          this.validator(route, status, mediaType);
          n += 1;
        }
      }
    }
    return n;
  }

  /** What the answer does that the document does not promise, or null when the document promises it. */
  check(ex: Exchange): Violation | null {
    const method = ex.method.toUpperCase();
    const route = this.route(method, ex.url);
    const violation = (kind: ViolationKind, what: string, errors: ErrorObject[] = []): Violation => {
      const name = route ? `${route.method} ${route.template}` : `${method} ${pathOf(ex.url)}`;
      const id = route?.operation.operationId ?? null;
      return {
        kind,
        route: name,
        operationId: id,
        status: ex.status,
        message: `OpenAPI contract: ${name}${id ? ` (${id})` : ""} answered ${ex.status}: ${what}`,
        errors,
      };
    };
    if (!route) return violation("unknown_route", `the document has no operation ${method} ${pathOf(ex.url)}`);

    const responses = route.operation.responses ?? {};
    const statusKey = [String(ex.status), `${String(ex.status)[0]}XX`, "default"].find((k) => k in responses);
    if (statusKey === undefined) {
      return violation(
        "undocumented_status",
        `status ${ex.status} is not documented (documented: ${Object.keys(responses).join(", ")}); body: ${shorten(ex.body)}`,
      );
    }

    const content = responses[statusKey].content ?? {};
    const documentedTypes = Object.keys(content);
    const mediaType = mediaTypeOf(ex.contentType);
    if (documentedTypes.length === 0) {
      if (ex.body === "") return null;
      return violation(
        "undocumented_content_type",
        `the document promises no body for ${statusKey}, but one came (${mediaType || "no content type"}): ${shorten(ex.body)}`,
      );
    }
    const documented = documentedTypes.find((t) => {
      const want = t.toLowerCase();
      if (want === mediaType || want === "*/*") return true;
      return want.endsWith("/*") && mediaType.startsWith(want.slice(0, -1));
    });
    if (documented === undefined) {
      return violation(
        "undocumented_content_type",
        `content type ${mediaType || "(none)"} is not documented for ${statusKey} (documented: ${documentedTypes.join(", ")}); body: ${shorten(ex.body)}`,
      );
    }
    if (method === "HEAD" || !isJsonMediaType(documented) || content[documented].schema === undefined) return null;

    let body: unknown;
    try {
      body = JSON.parse(ex.body);
    } catch {
      return violation("invalid_json", `the ${documented} body is not JSON: ${shorten(ex.body)}`);
    }
    const validate = this.validator(route, statusKey, documented);
    if (validate(body)) return null;
    const errors = validate.errors ?? [];
    return violation(
      "schema_mismatch",
      `the body does not match the documented ${statusKey} ${documented} schema: ${describeErrors(errors)}; body: ${shorten(ex.body)}`,
      errors,
    );
  }

  /**
   * Throws OpenApiContractError unless the answer is one the document promises. Two answers the document
   * cannot describe are let through: those of the paths kept out of it on purpose (`HIDDEN_PATHS`), and the
   * API's 404 route_not_found for a path it has no route for and its 405 method_not_allowed for a method a path
   * does not answer, whose body is the documented Error.
   */
  assertConforms(ex: Exchange): void {
    const v = this.check(ex);
    if (!v) return;
    if (v.kind === "unknown_route") {
      const p = pathOf(ex.url);
      if (HIDDEN_PATHS.some((re) => re.test(p)) || this.isRouteNotFound(ex)) return;
    }
    throw new OpenApiContractError(v);
  }

  /**
   * Why `value` does not match the document's component schema `name` (components/schemas/<name>), or null when
   * it does: for what the API sends without answering a request (webhook bodies, `WebhookEvent`). Throws when
   * the document has no such schema.
   */
  componentMismatch(name: string, value: unknown): string | null {
    const validate = this.componentValidator(name);
    if (validate(value)) return null;
    return `OpenAPI contract: the value does not match components/schemas/${name}: ${describeErrors(validate.errors ?? [])}; value: ${shorten(JSON.stringify(value))}`;
  }

  /** Throws an Error naming the mismatch unless `value` matches the component schema `name`. */
  assertComponent(name: string, value: unknown): void {
    const mismatch = this.componentMismatch(name, value);
    if (mismatch) throw new Error(mismatch);
  }

  private isRouteNotFound(ex: Exchange): boolean {
    const code = ex.status === 404 ? "route_not_found" : ex.status === 405 ? "method_not_allowed" : null;
    if (!code || !isJsonMediaType(mediaTypeOf(ex.contentType))) return false;
    const validate = this.componentValidator("Error");
    try {
      const body = JSON.parse(ex.body) as { error?: { code?: unknown } };
      return validate(body) && body.error?.code === code;
    } catch {
      return false;
    }
  }

  private route(method: string, url: string): Route | undefined {
    const m = method.toUpperCase();
    const segments = pathOf(url).split("/");
    // A HEAD request goes to the GET route (fastify answers HEAD for every GET route).
    const wanted = m === "HEAD" ? ["HEAD", "GET"] : [m];
    for (const want of wanted) {
      const hit = this.routes.find(
        (r) =>
          r.method === want &&
          r.segments.length === segments.length &&
          r.segments.every((s, i) => /^\{[^}]+\}$/.test(s) || s === segments[i]),
      );
      if (hit) return hit;
    }
    return undefined;
  }

  private validator(route: Route, statusKey: string, mediaType: string): ValidateFunction {
    const schema = route.operation.responses![statusKey].content![mediaType].schema;
    const pointer = ["paths", route.template, route.method.toLowerCase(), "responses", statusKey, "content", mediaType]
      .map(pointerToken)
      .join("/");
    return this.compiled(`${DOC_ID}#/${pointer}/schema`, schema);
  }

  private componentValidator(name: string): ValidateFunction {
    const schema = (this.document.components?.schemas as Record<string, unknown> | undefined)?.[name];
    if (schema === undefined) throw new Error(`the OpenAPI document has no components/schemas/${name}`);
    return this.compiled(`${DOC_ID}#/components/schemas/${pointerToken(name)}`, schema);
  }

  /**
   * The validator of the schema at `ref`. Schemas that differ only in their descriptions (the error responses
   * of every route, `{ $ref: Error }` each described by its codes) share one.
   */
  private compiled(ref: string, schema: unknown): ValidateFunction {
    const key = JSON.stringify(schema, (k, v) => (k === "description" && typeof v === "string" ? undefined : v));
    let v = this.validators.get(key);
    if (!v) {
      v = this.ajv.compile({ $ref: ref });
      this.validators.set(key, v);
    }
    return v;
  }
}

let committed: OpenApiContract | undefined;

/** The contract of the committed document, loaded once per test process. */
export function apiContract(): OpenApiContract {
  committed ??= OpenApiContract.load();
  return committed;
}
