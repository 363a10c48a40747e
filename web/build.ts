/**
 * Builds the web pages: bundles every page entry of `web/src` (with ethers, chart.js and the SDK's API client and
 * buyer client) into `web/dist/` with esbuild and copies `web/public/` next to them. `npm run build:web` runs it;
 * the relayer runs it at start when `web/dist` is missing or older than its sources (about a second).
 */
import fs from "node:fs";
import path from "node:path";

export const WEB_ROOT = __dirname;
export const WEB_DIST = path.join(WEB_ROOT, "dist");
const SOURCES = [path.join(WEB_ROOT, "src"), path.join(WEB_ROOT, "public"), path.join(WEB_ROOT, "..", "sdk")];
const STAMP = ".build-stamp";

/** Newest modification time of a file or anything below a folder (0 when missing). */
export function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return fs.readdirSync(p).reduce((m, name) => Math.max(m, newestMtime(path.join(p, name))), st.mtimeMs);
}

/**
 * True when `web/dist` is missing or a source changed after the last build. A compiled relayer (dist/web/) has
 * no sources beside it: it serves what `npm run build` built.
 */
export function webBuildIsStale(outdir = WEB_DIST): boolean {
  if (!fs.existsSync(path.join(WEB_ROOT, "src"))) return false;
  const stamp = path.join(outdir, STAMP);
  if (!fs.existsSync(stamp)) return true;
  const built = fs.statSync(stamp).mtimeMs;
  return SOURCES.some((s) => newestMtime(s) > built);
}

/**
 * The pages' entries: `src/<page>.ts`, or `src/<page>/main.ts` for a page split into a folder; either is bundled
 * as `<page>.js`, the script its HTML in `public/` loads. Other folders (`lib/`) hold shared modules only.
 */
export function pageEntries(srcDir: string): { in: string; out: string }[] {
  return fs
    .readdirSync(srcDir, { withFileTypes: true })
    .flatMap((e) => {
      if (e.isFile() && e.name.endsWith(".ts"))
        return [{ in: path.join(srcDir, e.name), out: e.name.slice(0, -".ts".length) }];
      const main = path.join(srcDir, e.name, "main.ts");
      return e.isDirectory() && fs.existsSync(main) ? [{ in: main, out: e.name }] : [];
    })
    .sort((a, b) => a.out.localeCompare(b.out));
}

export interface WebBuildResult {
  outdir: string;
  ms: number;
  files: { name: string; bytes: number }[];
}

/** Builds into a fresh folder and swaps it in, so a server never sees a half-written `dist`. */
export async function buildWeb(outdir = WEB_DIST, opts: { root?: string } = {}): Promise<WebBuildResult> {
  const root = opts.root ?? WEB_ROOT;
  // esbuild is a build-time dependency: loaded only when a build is needed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const started = Date.now();
  const tmp = `${outdir}.tmp-${process.pid}-${Date.now()}`;
  await esbuild.build({
    entryPoints: pageEntries(path.join(root, "src")),
    outdir: tmp,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: "esm",
    platform: "browser",
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    legalComments: "linked",
    logLevel: "silent",
  });
  for (const f of fs.readdirSync(path.join(root, "public"))) {
    fs.copyFileSync(path.join(root, "public", f), path.join(tmp, f));
  }
  fs.writeFileSync(path.join(tmp, STAMP), new Date().toISOString() + "\n");
  const old = `${outdir}.old-${process.pid}-${Date.now()}`;
  if (fs.existsSync(outdir)) fs.renameSync(outdir, old);
  fs.renameSync(tmp, outdir);
  if (fs.existsSync(old)) fs.rmSync(old, { recursive: true, force: true });
  const files = fs
    .readdirSync(outdir)
    .filter((f) => !f.startsWith("."))
    .map((name) => ({ name, bytes: fs.statSync(path.join(outdir, name)).size }));
  return { outdir, ms: Date.now() - started, files };
}

if (require.main === module) {
  buildWeb()
    .then((r) => {
      for (const f of r.files) process.stdout.write(`  web/dist/${f.name}  ${(f.bytes / 1024).toFixed(1)} KiB\n`);
      process.stdout.write(`built web/dist in ${r.ms} ms\n`);
    })
    .catch((err) => {
      process.stderr.write(`build:web failed: ${err?.message ?? err}\n`);
      process.exit(1);
    });
}
