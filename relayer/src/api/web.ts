/**
 * The web pages: the merchant dashboard at `/` and the buyer checkout at `/checkout/<chainOrderId>`, served
 * from `web/dist` (kept out of the OpenAPI document). When `web/dist` is missing or older than its sources it
 * is rebuilt here first with esbuild (about a second); if that is impossible (no esbuild installed), the API
 * still starts and the pages answer with how to build them.
 */
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import fastifyStatic from "@fastify/static";
import type { ServiceDeps } from "../services/context";
import { buildWeb, webBuildIsStale, WEB_DIST } from "../../../web/build";

/** The pages load only their own scripts and styles and talk only to this origin. */
const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

let pending: Promise<void> | null = null;

async function ensureBuilt(deps: ServiceDeps, dist: string): Promise<boolean> {
  if (dist === WEB_DIST && webBuildIsStale(dist)) {
    pending ??= buildWeb(dist)
      .then((r) => deps.log.info({ ms: r.ms, outdir: r.outdir }, "web pages built"))
      .finally(() => (pending = null));
    try {
      await pending;
    } catch (err) {
      deps.log.warn({ err: String(err) }, "web pages could not be built; run `npm run build:web`");
    }
  }
  return fs.existsSync(path.join(dist, "index.html")) && fs.existsSync(path.join(dist, "checkout.html"));
}

export async function registerWeb(app: FastifyInstance, deps: ServiceDeps, dist = WEB_DIST): Promise<void> {
  if (!(await ensureBuilt(deps, dist))) {
    const missing = "The web pages are not built. Run `npm run build:web` and restart the relayer.\n";
    app.get("/", { schema: { hide: true } }, async (_req, reply) => reply.code(503).type("text/plain").send(missing));
    return;
  }
  await app.register(fastifyStatic, {
    root: dist,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    schemaHide: true,
    allowedPath: (p) => !p.split("/").some((seg) => seg.startsWith(".")),
    setHeaders: (res, file) => {
      for (const [k, v] of Object.entries(PAGE_HEADERS)) res.setHeader(k, v);
      res.setHeader("cache-control", file.endsWith(".html") ? "no-cache" : "public, max-age=300");
    },
  });
  app.get("/checkout/:chainOrderId", { schema: { hide: true } }, async (_req, reply) =>
    reply.headers(PAGE_HEADERS).header("cache-control", "no-cache").sendFile("checkout.html"),
  );
}
