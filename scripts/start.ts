/**
 * `npm start`: the local stack for development, without the scripted story.
 *
 * A fresh `hardhat node` (127.0.0.1:8545, or a free port when busy), the contracts deployed by `deploy/`, and
 * the relayer in this process on its own embedded PostgreSQL server (data in data/local/db/) serving the API and the web page.
 * The data folder (keys, logs) is kept between runs; the chain is new at every start, so the database, which
 * describes the chain, is started anew with it. Ready to use at once: a merchant with an API key and a SKU in stock, and a
 * dev buyer (Hardhat account #10) holding mock stablecoins. Ctrl-C stops everything.
 *
 * Relayer settings in `.env` are honoured (PORT, HOST, ADMIN_API_KEY, ARBITER_API_KEY, MERCHANT_KEY_SECRET,
 * LOG_LEVEL, tuning values); the chain, signer keys and database are the local stack's own.
 *
 *   npm start
 *   npm start -- --port 9090 --chain-port 0 --data-dir /tmp/orderchain
 */
import "dotenv/config";
import path from "node:path";
import { MockStablecoin__factory } from "../typechain-types";
import { createApiClient, ok } from "../sdk/api/client";
import { ACCOUNTS, LocalStack, ROOT, devWallet, displayPath, onTerminate, webPageProblem } from "./lib/localStack";
import { Progress, StepFailed, seconds } from "./lib/progress";
import { waitFor } from "./lib/waitFor";

interface Args {
  dataDir: string;
  port?: number;
  chainPort?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { dataDir: path.join(ROOT, "data", "local") };
  const port = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535)
      usage(`${flag} needs a port number (0 = any free port)`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--data-dir") args.dataDir = path.resolve(argv[++i] ?? usage("--data-dir needs a folder"));
    else if (a === "--port") args.port = port(a, argv[++i]);
    else if (a === "--chain-port") args.chainPort = port(a, argv[++i]);
    else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument: ${a}`);
  }
  return args;
}

function usage(problem?: string): never {
  const text = `Usage: npm start -- [--data-dir <folder>] [--port <n>] [--chain-port <n>]

  --data-dir <dir>    data folder, kept between runs (default data/local)
  --port <n>          relayer port (default PORT from .env, then 8080; a free port if busy; 0 = any)
  --chain-port <n>    local chain port (default 8545; a free port if busy; 0 = any)
`;
  if (problem) {
    process.stderr.write(`start: ${problem}\n\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const out = new Progress();
  const stack = new LocalStack({
    dataDir: args.dataDir,
    wipe: false,
    chainPort: args.chainPort,
    relayerPort: args.port,
  });
  let ready = false;
  onTerminate(async () => {
    out.print(ready ? "\nStopping…" : "\nInterrupted: stopping…");
    await stack.stop();
    out.print("Stopped.");
    process.exit(ready ? 0 : 130);
  });

  out.print(out.bold("orderchain local stack"));
  out.print();
  try {
    await out.step("Start a local chain", async () => {
      const c = await stack.startChain();
      return {
        line: `Local chain: hardhat node at ${c.url} (chain 31337, fresh)${c.preferredPortBusy ? `, port ${c.preferredPort} was busy` : ""}`,
      };
    });
    const record = await out.step("Deploy the contracts", async () => {
      const r = await stack.deploy();
      return {
        line: `Contracts deployed: PaymentEscrow ${r.contracts.PaymentEscrow.address}, MockStablecoin ${r.contracts.MockStablecoin!.address}`,
        record: r,
        details: [`record: ${displayPath(path.join(stack.deploymentsDir, "31337.json"))}`],
      };
    });
    await out.step("Start the relayer", async () => {
      const relayer = await stack.startRelayer();
      const where = displayPath(stack.databaseDir);
      const details: string[] = [];
      if (stack.databaseReset) details.push("the database of the previous run (an earlier chain) was started anew");
      if (stack.ignoredEnv.length)
        details.push(`ignored from the environment (the local stack sets them): ${stack.ignoredEnv.join(", ")}`);
      return {
        line: `Relayer at ${stack.url} on embedded PostgreSQL 18 (data in ${where}), ${relayer.writer.operatorAddresses.length} signers${stack.relayerPortBusy ? `, port ${stack.relayerPortWanted} was busy` : ""}`,
        details,
      };
    });

    const url = stack.url!;
    const provider = stack.chain!.provider;
    const client = (key: string) => createApiClient({ baseUrl: url, key, timeoutMs: 30_000 });
    const admin = client(stack.secrets!.adminApiKey);
    const usdToken = record.record.contracts.MockStablecoin!.address;

    const merchant = await out.step("Create a ready-made merchant", async () => {
      const m = await ok(admin.POST("/v1/admin/merchants", { body: { name: "Local merchant" } }));
      const merchantPath = { params: { path: { id: m.id } } };
      await waitFor(
        "the merchant to become active",
        async () => (await ok(admin.GET("/v1/admin/merchants/{id}", merchantPath))).status === "active",
        60_000,
      );
      const key = await ok(admin.POST("/v1/admin/merchants/{id}/keys", { ...merchantPath, body: { name: "local" } }));
      const api = client(key.secret);
      const sku = await ok(api.POST("/v1/skus", { body: { reference: "SAMPLE-1", name: "Sample item" } }));
      const skuPath = { params: { path: { id: sku.id } } };
      await waitFor(
        "the sample SKU on chain",
        async () => (await ok(api.GET("/v1/skus/{id}", skuPath))).status === "created",
      );
      await ok(api.POST("/v1/skus/{id}/stock", { ...skuPath, body: { quantity: "100" } }));
      await waitFor(
        "the sample stock on chain",
        async () => (await ok(api.GET("/v1/skus/{id}", skuPath))).stock?.available === "100",
      );
      return {
        line: `Merchant "Local merchant" ${m.id} (${m.address}) with SKU SAMPLE-1, 100 in stock`,
        key: key.secret,
      };
    });

    const buyer = await out.step("Fund the dev buyer", async () => {
      const dev = devWallet(ACCOUNTS.devBuyer, provider);
      const usd = MockStablecoin__factory.connect(usdToken, devWallet(ACCOUNTS.admin, provider));
      await (await usd.mint(dev.address, 1_000_000_000n)).wait();
      return { line: `Dev buyer: Hardhat account #10 ${dev.address} with 1,000.00 mUSD`, wallet: dev };
    });

    const pageProblem = await webPageProblem(url);
    ready = true;
    out.print();
    out.print(out.bold(`Ready in ${seconds(Date.now() - out.started)}.`));
    out.print();
    out.print(`  Web page (dashboard)  ${url}/`);
    out.print(`  Buyer checkout        ${url}/checkout/<chainOrderId>`);
    out.print(`  API docs              ${url}/docs`);
    out.print(`  Merchant API key      ${merchant.key}`);
    // Keys generated for this local stack are shown; keys taken from .env are the operator's own and are not.
    const fromEnv = (name: string) => (process.env[name] ?? "") !== "";
    out.print(
      `  Admin API key         ${fromEnv("ADMIN_API_KEY") ? "(from .env, not shown)" : stack.secrets!.adminApiKey}`,
    );
    out.print(
      `  Arbiter API key       ${fromEnv("ARBITER_API_KEY") ? "(from .env, not shown)" : stack.secrets!.arbiterApiKey}`,
    );
    out.print(`  Dev buyer             ${buyer.wallet.address}  key ${buyer.wallet.privateKey}`);
    out.print(`  Chain (JSON-RPC)      ${stack.chain!.url}  chain id 31337, mUSD ${usdToken}`);
    out.print(`  Logs                  ${displayPath(stack.relayerLog)}`);
    if (pageProblem) out.print(`  The web page is not available (${pageProblem}); the API works.`);
    out.print();
    out.print(
      out.dim("  Local keys only: Hardhat's accounts are public knowledge. Ctrl-C stops the relayer and the chain."),
    );
    await new Promise(() => undefined); // the signal handler exits
    return 0;
  } catch (e) {
    out.print();
    out.print(out.red(e instanceof StepFailed ? `Start failed at step: ${e.step}` : `Start failed: ${String(e)}`));
    out.print(`Logs: ${stack.relayerLog}, ${stack.chainLog}`);
    await stack.stop();
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`start: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
