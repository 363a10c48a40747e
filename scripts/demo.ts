/**
 * `npm run demo`: the whole story on a local stack, with nothing installed but the npm packages.
 *
 * A fresh `hardhat node`, the contracts deployed by `deploy/`, the relayer in this process on embedded
 * PostgreSQL (its own server in data/demo/db/). Then a merchant sells through the HTTP API: SKUs and stock on chain, a
 * webhook endpoint, its own payout wallet where the escrow pays its revenue, three buyers holding stablecoins but no
 * ETH paying without gas (ERC-3009 or EIP-2612), one order shipped, confirmed and later partly returned, one
 * refunded in part and auto-released by the relayer's keeper after its protection period (the chain's clock moved
 * forward), one disputed and settled by a proposal the merchant made and the buyer accepted, one nobody paid that
 * expires and gives its stock back; the ledger reconciles with the chain and every webhook verifies. It ends with the web page's URLs and keeps serving until Ctrl-C (or exits with --exit).
 *
 *   npm run demo                      # keep serving at the end
 *   npm run demo -- --exit            # exit when the story is told (exit code 0 only if every step passed)
 *   npm run demo -- --data-dir /tmp/d --port 0 --chain-port 0    # other folder, any free ports
 */
import "dotenv/config";
import http from "node:http";
import path from "node:path";
import { formatUnits, Wallet, type HDNodeWallet, type JsonRpcProvider } from "ethers";
import { InventoryToken__factory, MockStablecoin__factory, PaymentEscrow__factory } from "../typechain-types";
import { createApiClient, ok, type Order, type OrderDetail } from "../sdk/api/client";
import { BuyerClient } from "../sdk/buyerClient";
import { verifyWebhook } from "../sdk/webhooks";
import {
  ACCOUNTS,
  LocalStack,
  ROOT,
  devWallet,
  displayPath,
  generateSecrets,
  onTerminate,
  webPageProblem,
} from "./lib/localStack";
import { Progress, StepFailed, seconds } from "./lib/progress";
import { waitFor } from "./lib/waitFor";

// ------------------------------------------------------------------------------------------------- arguments

interface Args {
  exit: boolean;
  dataDir: string;
  port?: number;
  chainPort?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { exit: false, dataDir: path.join(ROOT, "data", "demo") };
  const port = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535)
      usage(`${flag} needs a port number (0 = any free port)`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--exit") args.exit = true;
    else if (a === "--data-dir") args.dataDir = path.resolve(argv[++i] ?? usage("--data-dir needs a folder"));
    else if (a === "--port") args.port = port(a, argv[++i]);
    else if (a === "--chain-port") args.chainPort = port(a, argv[++i]);
    else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument: ${a}`);
  }
  return args;
}

function usage(problem?: string): never {
  const text = `Usage: npm run demo -- [--exit] [--data-dir <folder>] [--port <n>] [--chain-port <n>]

  --exit              exit when the story is told instead of serving until Ctrl-C
  --data-dir <dir>    data folder, wiped at start (default data/demo)
  --port <n>          relayer port (default PORT or 8080; a free port if busy; 0 = any)
  --chain-port <n>    local chain port (default 8545; a free port if busy; 0 = any)
`;
  if (problem) {
    process.stderr.write(`demo: ${problem}\n\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------- formatting

const DECIMALS = 6;
const USD = (units: string): bigint => BigInt(Math.round(Number(units) * 10 ** DECIMALS));
const usd = (v: bigint | string): string => `${Number(formatUnits(BigInt(v), DECIMALS)).toFixed(2)} mUSD`;
const gas = (v: bigint): string => v.toLocaleString("en-US");
const short = (a: string): string => `${a.slice(0, 6)}…${a.slice(-4)}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ------------------------------------------------------------------------------------------------- the story

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const out = new Progress();
  const stack = new LocalStack({
    dataDir: args.dataDir,
    wipe: true,
    chainPort: args.chainPort,
    relayerPort: args.port,
    secrets: generateSecrets(),
    // Quick retries: the demo's receiver is local, a failed delivery should be retried within the story.
    relayerOverrides: { WEBHOOK_RETRY_BASE_MS: "250", WEBHOOK_RETRY_CAP_MS: "2000" },
  });
  const received: Received[] = [];
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  let finished = false;
  const shutdown = async () => {
    receiver.close(() => undefined);
    receiver.closeAllConnections();
    await stack.stop();
  };
  onTerminate(async () => {
    out.print(finished ? "\nStopping…" : "\nInterrupted: stopping the relayer and the local chain…");
    await shutdown();
    process.exit(finished ? 0 : 130);
  });

  try {
    const summary = await tellStory(out, stack, receiver, received);
    finished = true;
    const where = displayPath(stack.dataDir);
    out.print();
    out.print(out.bold(`All steps passed in ${seconds(Date.now() - out.started)}.`));
    out.print();
    out.print(`  Merchant dashboard   ${summary.url}/`);
    out.print(`  Buyer checkout       ${summary.url}/checkout/${summary.openOrder}  (open order D-1004)`);
    out.print(`  Merchant API key     ${summary.merchantKey}  (log in to the dashboard with it)`);
    out.print(`  Admin API key        ${stack.secrets!.adminApiKey}`);
    out.print(`  Arbiter API key      ${stack.secrets!.arbiterApiKey}`);
    out.print(`  Dev buyer            account #10 ${summary.devBuyer} (1,000.00 mUSD), key ${summary.devBuyerKey}`);
    out.print(`  API docs             ${summary.url}/docs`);
    out.print(`  Chain (JSON-RPC)     ${stack.chain!.url}  chain id 31337`);
    out.print(`  Logs                 ${where}/relayer.log, ${where}/chain.log`);
    if (summary.pageProblem)
      out.print(`  The web page is not available (${summary.pageProblem}); the API above works.`);
    out.print(out.dim("  These keys are generated for this local run only."));
    if (args.exit) {
      await shutdown();
      out.print("Stopped.");
      return 0;
    }
    out.print();
    out.print("Serving until Ctrl-C.");
    await new Promise(() => undefined); // the signal handler exits
    return 0;
  } catch (e) {
    out.print();
    if (e instanceof StepFailed) {
      out.print(out.red(`Demo failed at step: ${e.step}`));
    } else {
      out.print(out.red(`Demo failed: ${(e as Error)?.stack ?? String(e)}`));
    }
    out.print(`Logs: ${stack.relayerLog}, ${stack.chainLog}`);
    await shutdown();
    return 1;
  }
}

async function tellStory(out: Progress, stack: LocalStack, receiver: http.Server, received: Received[]) {
  out.print(out.bold("orderchain demo: a local chain, the contracts, the relayer, and a merchant's day"));
  out.print();

  // ---------------------------------------------------------------------------------------------- the stack
  const chain = await out.step("Start a local chain", async () => {
    const c = await stack.startChain();
    return {
      line: `Local chain: hardhat node at ${c.url} (chain 31337)${c.preferredPortBusy ? `, port ${c.preferredPort} was busy` : ""}`,
      url: c.url,
    };
  });
  const provider: JsonRpcProvider = stack.chain!.provider;

  const record = await out.step("Deploy the contracts", async () => {
    const r = await stack.deploy();
    let txs = 0;
    let gasUsed = 0n;
    for (let b = 1; b <= (await provider.getBlockNumber()); b++) {
      const block = await provider.getBlock(b);
      txs += block!.transactions.length;
      gasUsed += block!.gasUsed;
    }
    const c = r.contracts;
    return {
      line: `Contracts deployed by deploy/ (local parameters): ${txs} transactions, ${gas(gasUsed)} gas`,
      record: r,
      details: [
        `PaymentEscrow ${c.PaymentEscrow.address} (tx ${c.PaymentEscrow.txHash})`,
        `InventoryToken ${c.InventoryToken.address} (created by the escrow's constructor)`,
        `Forwarder ${c.Forwarder.address} · MockStablecoin ${c.MockStablecoin!.address}`,
        `roles: admin #0 (two-step transfers, delay ${r.settings.adminDelay} s locally), fee recipient #1, arbiter #2 (granted by the escrow's constructor), pauser #3, relayer signers #4..#7; fee ${r.settings.feeBps} bps`,
        `record: ${displayPath(path.join(stack.deploymentsDir, "31337.json"))}`,
      ],
    };
  });
  const addresses = record.record.contracts;
  const usdToken = addresses.MockStablecoin!.address;

  const { url } = await out.step("Start the relayer", async () => {
    const relayer = await stack.startRelayer();
    const where = displayPath(stack.databaseDir);
    const ignored = stack.ignoredEnv.length ? [`ignored for the local stack: ${stack.ignoredEnv.join(", ")}`] : [];
    return {
      line: `Relayer at ${stack.url} on embedded PostgreSQL 18 (its own server, data in ${where}), ${relayer.writer.operatorAddresses.length} signers (#4..#7), arbiter signer #2${stack.relayerPortBusy ? `, port ${stack.relayerPortWanted} was busy` : ""}`,
      url: stack.url!,
      details: [
        `admin API key ${stack.secrets!.adminApiKey} · arbiter API key ${stack.secrets!.arbiterApiKey} (generated, local only)`,
        ...ignored,
      ],
    };
  });
  void chain;

  const client = (key: string) => createApiClient({ baseUrl: url, key, timeoutMs: 30_000 });
  const admin = client(stack.secrets!.adminApiKey);
  const arbiter = client(stack.secrets!.arbiterApiKey);
  const receipt = async (hash: string) => {
    const r = await provider.getTransactionReceipt(hash);
    if (!r) throw new Error(`no receipt for ${hash}`);
    return r;
  };
  const signers: string[] = ACCOUNTS.relayerSigners.map((i) => devWallet(i).address);
  const txLine = async (label: string, hash: string): Promise<string> => {
    const r = await receipt(hash);
    return `${label}: tx ${hash} · block ${r.blockNumber} · gas ${gas(r.gasUsed)} · from ${short(r.from)}`;
  };

  // ---------------------------------------------------------------------------------------------- merchant
  const merchant = await out.step("Create a merchant", async () => {
    const m = await ok(admin.POST("/v1/admin/merchants", { body: { name: "Northwind Coffee Roasters" } }));
    const merchantPath = { params: { path: { id: m.id } } };
    const active = await waitFor(
      "the merchant to become active (its custodial identity approving the relayer's signers on chain)",
      async () => {
        const v = await ok(admin.GET("/v1/admin/merchants/{id}", merchantPath));
        return v.status === "active" ? v : null;
      },
      60_000,
    );
    const key = await ok(admin.POST("/v1/admin/merchants/{id}/keys", { ...merchantPath, body: { name: "demo" } }));
    const escrow = PaymentEscrow__factory.connect(addresses.PaymentEscrow.address, provider);
    const logs = await escrow.queryFilter(escrow.filters.OperatorApprovalSet(active.address), record.record.startBlock);
    const txs = [...new Set(logs.map((l) => l.transactionHash))];
    return {
      line: `Merchant created via the admin API: "${active.name}" ${active.id}, address ${active.address}, ${active.status}: approved the ${plural(logs.length, "relayer signer")} on chain`,
      id: m.id,
      address: active.address,
      key: key.secret,
      details: [
        ...(await Promise.all(txs.map((h) => txLine("operator approval (ERC-2771, gas paid by the relayer)", h)))),
        `merchant API key ${key.secret} (scopes: ${key.scopes?.join(", ") ?? "all"})`,
      ],
    };
  });
  const api = client(merchant.key);

  const skus = await out.step("List SKUs and stock", async () => {
    const specs = [
      { reference: "BEAN-ETH-250", name: "Ethiopia Yirgacheffe, 250 g", stock: "50" },
      { reference: "BEAN-COL-1K", name: "Colombia Huila, 1 kg", stock: "20" },
    ];
    const created: { id: string; reference: string; chainSkuId: string }[] = [];
    for (const s of specs)
      created.push(await ok(api.POST("/v1/skus", { body: { reference: s.reference, name: s.name } })));
    for (const s of created)
      await waitFor(`SKU ${s.reference} created on chain`, async () => {
        const v = await ok(api.GET("/v1/skus/{id}", { params: { path: { id: s.id } } }));
        if (v.status === "failed") throw new Error(`SKU ${s.reference} failed on chain`);
        return v.status === "created";
      });
    for (const [i, s] of created.entries())
      await ok(api.POST("/v1/skus/{id}/stock", { params: { path: { id: s.id } }, body: { quantity: specs[i].stock } }));
    const listed = await waitFor("stock minted on chain", async () => {
      const list = (await ok(api.GET("/v1/skus"))).data;
      return created.every((s, i) => list.find((l) => l.id === s.id)?.stock?.available === specs[i].stock)
        ? list
        : null;
    });
    const inventory = InventoryToken__factory.connect(addresses.InventoryToken.address, provider);
    const skuTxs = await inventory.queryFilter(inventory.filters.SkuCreated(undefined, merchant.address));
    const mintTxs = [
      ...(await inventory.queryFilter(inventory.filters.TransferSingle(undefined, undefined, merchant.address))),
      ...(await inventory.queryFilter(inventory.filters.TransferBatch(undefined, undefined, merchant.address))),
    ];
    const hashes = (ls: { transactionHash: string }[]) => [...new Set(ls.map((l) => l.transactionHash))];
    const byId = new Map(listed.map((l) => [l.id, l]));
    return {
      line: `SKUs listed on chain (ERC-1155): ${created
        .map((s) => `${s.reference} ${byId.get(s.id)!.stock!.available} in stock`)
        .join(", ")} (GET /v1/skus reads stock from the chain)`,
      skus: created.map((s, i) => ({ id: s.id, reference: specs[i].reference, chainSkuId: s.chainSkuId })),
      details: [
        ...(await Promise.all(hashes(skuTxs).map((h) => txLine("createSku", h)))),
        ...(await Promise.all(hashes(mintTxs).map((h) => txLine("mintStock", h)))),
      ],
    };
  });
  const [beans250, beans1k] = skus.skus;

  const hook = await out.step("Register a webhook receiver", async () => {
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
    const endpoint = await ok(api.POST("/v1/webhooks", { body: { url: hookUrl } }));
    return {
      line: `Webhook endpoint registered: ${hookUrl} (a local receiver in this process)`,
      secret: endpoint.secret,
    };
  });

  const payoutWallet = devWallet(ACCOUNTS.merchantPayout, provider);
  await out.step("Name the merchant's payout wallet", async () => {
    await ok(api.PUT("/v1/merchant/payout-address", { body: { address: payoutWallet.address } }));
    await waitFor(
      "the payout address to be active on chain",
      async () => (await ok(api.GET("/v1/merchant/payout-address"))).state === "active",
      60_000,
    );
    const escrow = PaymentEscrow__factory.connect(addresses.PaymentEscrow.address, provider);
    const registered = await escrow.payoutAddressOf(merchant.address);
    if (registered !== payoutWallet.address)
      throw new Error(`the escrow's registry names ${registered}, not the payout wallet ${payoutWallet.address}`);
    const logs = await escrow.queryFilter(escrow.filters.PayoutAddressSet(merchant.address), record.record.startBlock);
    return {
      line: `Payout wallet named via PUT /v1/merchant/payout-address: ${payoutWallet.address} (the merchant's own wallet, account #${ACCOUNTS.merchantPayout}; no key the relayer holds) is active on chain, so the escrow pays new orders' revenue there, not to the custodial identity`,
      details: [
        await txLine(
          "setPayoutAddress, signed by the merchant's custodial identity (ERC-2771), relayed",
          logs.at(-1)!.transactionHash,
        ),
        "on other chains a change waits PAYOUT_CHANGE_DELAY_SECONDS (default 1 day), announced by the webhook merchant.payout_address_pending and cancellable meanwhile",
      ],
    };
  });

  // ---------------------------------------------------------------------------------------------- buyers
  const buyers = await out.step("Fund three buyers", async () => {
    const names = ["Alice", "Bob", "Carol"];
    const wallets = names.map(() => Wallet.createRandom(provider));
    const usdAdmin = MockStablecoin__factory.connect(usdToken, devWallet(ACCOUNTS.admin, provider));
    const details: string[] = [];
    for (const [i, w] of wallets.entries()) {
      const tx = await usdAdmin.mint(w.address, USD("100"));
      await tx.wait();
      details.push(await txLine(`${names[i]} ${w.address}: 100.00 mUSD minted`, tx.hash));
    }
    // The dev buyer, for trying the checkout page by hand afterwards.
    const dev = devWallet(ACCOUNTS.devBuyer, provider);
    await (await usdAdmin.mint(dev.address, USD("1000"))).wait();
    for (const w of wallets) {
      if ((await provider.getBalance(w.address)) !== 0n) throw new Error(`${w.address} holds ETH`);
    }
    return {
      line: `3 buyers with fresh wallets: 100.00 mUSD each and 0 ETH (${names.join(", ")})`,
      wallets: names.map((name, i) => ({ name, wallet: wallets[i] })),
      details,
    };
  });
  const [alice, bob, carol] = buyers.wallets;

  // ---------------------------------------------------------------------------------------------- orders
  const PROTECTION_S = 24 * 3600;
  const REFUND_WINDOW_S = 14 * 24 * 3600;
  const getOrder = (id: string): Promise<OrderDetail> => ok(api.GET("/v1/orders/{id}", { params: { path: { id } } }));
  const waitStatus = async (o: { id: string; reference: string }, status: string, timeoutMs = 60_000) =>
    waitFor(
      `order ${o.reference} to be ${status} (status from indexed chain events)`,
      async () => {
        const v = await getOrder(o.id);
        if (v.status === "failed") throw new Error(`order ${o.reference} failed: ${v.error?.message ?? "unknown"}`);
        return v.status === status ? v : null;
      },
      timeoutMs,
    ).catch(async (e) => {
      const v = await getOrder(o.id).catch(() => null);
      throw new Error(
        `${(e as Error).message}; it is ${v?.status ?? "unknown"}${v?.error ? `: ${v.error.message}` : ""}`,
      );
    });
  const eventTx = (v: OrderDetail, name: string): string => {
    const e = [...v.events].reverse().find((x) => x.name === name);
    if (!e) throw new Error(`order ${v.reference} has no ${name} event`);
    return e.txHash;
  };

  const orders = await out.step("Create three orders", async () => {
    const plans = [
      { ref: "A-1001", buyer: alice, amount: "36", items: [{ sku: beans250.id, quantity: 2 }] },
      {
        ref: "B-1002",
        buyer: bob,
        amount: "63",
        items: [
          { sku: beans250.id, quantity: 1 },
          { sku: beans1k.id, quantity: 1 },
        ],
      },
      { ref: "C-1003", buyer: carol, amount: "45", items: [{ sku: beans1k.id, quantity: 1 }] },
    ];
    const accepted: (Order & { buyerName: string; wallet: HDNodeWallet })[] = [];
    for (const p of plans) {
      const o = await ok(
        api.POST("/v1/orders", {
          body: {
            reference: p.ref,
            amount: USD(p.amount).toString(),
            token: usdToken,
            buyer: p.buyer.wallet.address,
            items: p.items,
            protectionPeriodSeconds: PROTECTION_S,
            refundWindowSeconds: REFUND_WINDOW_S,
          },
        }),
      );
      if (o.status !== "pending") throw new Error(`order ${p.ref} accepted as ${o.status}, expected pending`);
      accepted.push({ ...o, buyerName: p.buyer.name, wallet: p.buyer.wallet });
    }
    const created: (OrderDetail & { buyerName: string; wallet: HDNodeWallet })[] = [];
    for (const o of accepted)
      created.push({ ...(await waitStatus(o, "created")), buyerName: o.buyerName, wallet: o.wallet });
    const txs = [...new Set(created.map((o) => o.chainProof!.txHash))];
    return {
      line: `3 orders accepted by POST /v1/orders (202 pending) and created on chain with stock reserved: ${created
        .map((o) => `${o.reference} ${o.buyerName} ${usd(o.amount)}`)
        .join(", ")}`,
      orders: created,
      details: await Promise.all(
        txs.map((h) =>
          txLine(
            `createOrder ×${created.filter((o) => o.chainProof!.txHash === h).length}${txs.length === 1 ? " (one batch transaction)" : ""}`,
            h,
          ),
        ),
      ),
    };
  });
  const [orderA, orderB, orderC] = orders.orders;

  for (const [i, o] of orders.orders.entries()) {
    await out.step(`Gasless checkout ${i + 1}/3 (${o.buyerName})`, async () => {
      const client = new BuyerClient(url, o.wallet);
      // The token has ERC-3009 and EIP-2612: BuyerClient picks ERC-3009 (one signature); the last buyer is asked
      // for a permit to show the other gasless way.
      const { method } = await client.pay(o.chainOrderId, i === 2 ? { method: "permit" } : {});
      const paid = await waitStatus(o, "paid");
      const hash = eventTx(paid, "OrderPaid");
      const eth = await provider.getBalance(o.wallet.address);
      if (eth !== 0n) throw new Error(`${o.buyerName} holds ${eth} wei: the checkout was not gasless`);
      const how =
        method === "authorization"
          ? ["an ERC-3009 authorization (receiveWithAuthorization, bound to this order)", "payWithAuthorization"]
          : ["an EIP-2612 permit and a forward request", "permit + pay"];
      return {
        line: `Gasless checkout ${i + 1}/3: ${o.buyerName} paid ${usd(paid.escrowed!)} for ${o.reference} by signing ${how[0]} (BuyerClient); ${o.buyerName}'s ETH balance: 0`,
        details: [await txLine(`${how[1]}, relayed (gas paid by the relayer)`, hash)],
      };
    });
  }

  await out.step("Ship the three orders", async () => {
    for (const o of orders.orders)
      await ok(
        api.POST("/v1/orders/{id}/ship", {
          params: { path: { id: o.id } },
          body: { trackingReference: `DHL-${o.reference}` },
        }),
      );
    const shipped: OrderDetail[] = [];
    for (const o of orders.orders) shipped.push(await waitStatus(o, "shipped"));
    const txs = [...new Set(shipped.map((v) => eventTx(v, "OrderShipped")))];
    return {
      line: `3 orders shipped via POST /v1/orders/:id/ship; buyer protection runs ${PROTECTION_S / 3600} h from now`,
      details: await Promise.all(
        txs.map((h) => txLine(`ship ×${shipped.filter((v) => eventTx(v, "OrderShipped") === h).length}`, h)),
      ),
    };
  });

  const usdRead = MockStablecoin__factory.connect(usdToken, provider);
  const inventoryRead = InventoryToken__factory.connect(addresses.InventoryToken.address, provider);
  const feeBps = BigInt(record.record.settings.feeBps);
  // Settlements pay the order's payee: the merchant's payout wallet, named in each order's terms.
  const payee = orderA.payee ?? merchant.address;
  if (payee !== payoutWallet.address) throw new Error(`order ${orderA.reference} pays ${payee}, not the payout wallet`);
  const fee = (amount: bigint) => (amount * feeBps) / 10_000n;

  await out.step("Shipped and confirmed", async () => {
    const before = await usdRead.balanceOf(payee);
    // What the escrow holds for the order is what confirming receipt releases.
    const released = BigInt((await getOrder(orderA.id)).escrowed!);
    await new BuyerClient(url, orderA.wallet).confirmReceipt(orderA.chainOrderId);
    const done = await waitStatus(orderA, "completed");
    const paidOut = (await usdRead.balanceOf(payee)) - before;
    const expected = released - fee(released);
    if (paidOut !== expected) throw new Error(`merchant received ${usd(paidOut)}, expected ${usd(expected)}`);
    const bags = await inventoryRead.balanceOf(orderA.wallet.address, BigInt(beans250.chainSkuId));
    return {
      line: `Shipped and confirmed: ${orderA.buyerName} confirmed receipt of ${orderA.reference} without gas: completed; merchant paid ${usd(paidOut)} (fee ${usd(fee(released))}); ${bags} × ${beans250.reference} tokens now in ${orderA.buyerName}'s wallet`,
      details: [await txLine("confirmReceipt, relayed", eventTx(done, "OrderCompleted"))],
    };
  });

  await out.step("Partial refund", async () => {
    const refund = USD("18");
    await ok(
      api.POST("/v1/orders/{id}/refund", { params: { path: { id: orderB.id } }, body: { amount: refund.toString() } }),
    );
    const after = await waitFor(
      `the partial refund of ${orderB.reference} to be indexed`,
      async () => {
        const v = await getOrder(orderB.id);
        return v.escrowed === (BigInt(orderB.amount) - refund).toString() ? v : null;
      },
      60_000,
    );
    if (after.status !== "shipped") throw new Error(`order ${orderB.reference} is ${after.status}, expected shipped`);
    return {
      line: `Partial refund: ${usd(refund)} of ${orderB.reference} refunded to ${orderB.buyerName} via POST /v1/orders/:id/refund (one bag arrived damaged); still shipped, ${usd(after.escrowed!)} escrowed`,
      details: [await txLine("refund", eventTx(after, "OrderRefunded"))],
    };
  });

  await out.step("Dispute settled by a proposal", async () => {
    await new BuyerClient(url, orderC.wallet).openDispute(orderC.chainOrderId, "the parcel arrived empty");
    const disputed = await waitStatus(orderC, "disputed");
    // The arbiter sees every open dispute, but the two sides may end it themselves, by a proposal the other accepts.
    const open = (await ok(arbiter.GET("/v1/arbiter/disputes"))).data;
    const mine = open.find((d) => d.chainOrderId === orderC.chainOrderId);
    if (!mine) throw new Error(`GET /v1/arbiter/disputes does not list ${orderC.reference}`);
    const toBuyer = USD("30");
    // The buyer's share of the whole order (no partial refund on this one: all of it comes back now).
    await ok(
      api.POST("/v1/orders/{id}/settlement/propose", {
        params: { path: { id: orderC.id } },
        body: { buyerTotal: toBuyer.toString() },
      }),
    );
    const proposed = await waitFor(
      `the merchant's settlement proposal for ${orderC.reference} to be indexed`,
      async () => {
        const v = await getOrder(orderC.id);
        return v.settlementProposal?.by === "merchant" ? v : null;
      },
      60_000,
    );
    if (BigInt(proposed.settlementProposal!.buyerTotal) !== toBuyer)
      throw new Error(`the proposal is ${proposed.settlementProposal!.buyerTotal}, expected ${toBuyer}`);
    const before = await usdRead.balanceOf(payee);
    await new BuyerClient(url, orderC.wallet).acceptSettlement(orderC.chainOrderId, toBuyer);
    const resolved = await waitStatus(orderC, "resolved");
    const rest = BigInt(disputed.escrowed!) - toBuyer;
    const paidOut = (await usdRead.balanceOf(payee)) - before;
    if (paidOut !== rest - fee(rest))
      throw new Error(`merchant received ${usd(paidOut)}, expected ${usd(rest - fee(rest))}`);
    const defaultAfter = disputed.disputeDefaultAfter ? ` (${disputed.disputeDefaultAfter})` : "";
    return {
      line: `Dispute settled by a proposal: ${orderC.buyerName} disputed ${orderC.reference} without gas ("${mine.evidence?.text}"); the merchant proposed a split (POST /v1/orders/:id/settlement/propose) and ${orderC.buyerName} accepted it without gas: ${usd(toBuyer)} back to ${orderC.buyerName}, ${usd(paidOut)} to the merchant (fee ${usd(fee(rest))}); no arbiter needed`,
      details: [
        await txLine("dispute, relayed", eventTx(disputed, "OrderDisputed")),
        await txLine("proposeSettlement, by the merchant's relayer signer", eventTx(proposed, "SettlementProposed")),
        await txLine("acceptSettlement, signed by the buyer (ERC-2771), relayed", eventTx(resolved, "DisputeResolved")),
        `had neither side acted, the arbiter could have split it, and after 14 days${defaultAfter} anyone could have refunded ${orderC.buyerName} in full (settleExpiredDispute)`,
      ],
    };
  });

  await out.step("Auto-release after the protection period", async () => {
    const current = await getOrder(orderB.id);
    const releaseAfter = Math.floor(Date.parse(current.deadline!) / 1000);
    const now = (await provider.getBlock("latest"))!.timestamp;
    const jump = Math.max(0, releaseAfter - now) + 60;
    const before = await usdRead.balanceOf(payee);
    const released = BigInt(current.escrowed!);
    await provider.send("evm_increaseTime", [jump]);
    await provider.send("evm_mine", []);
    // Nobody calls anything: the relayer's keeper finds the order past its protection period and releases it.
    const done = await waitStatus(orderB, "completed");
    const paidOut = (await usdRead.balanceOf(payee)) - before;
    if (paidOut !== released - fee(released))
      throw new Error(`merchant received ${usd(paidOut)}, expected ${usd(released - fee(released))}`);
    const hash = eventTx(done, "OrderCompleted");
    const from = (await receipt(hash)).from;
    if (!signers.includes(from)) throw new Error(`${orderB.reference} was released by ${from}, not a relayer signer`);
    return {
      line: `Auto-released by the relayer's keeper: chain clock moved ${(jump / 3600).toFixed(1)} h ahead (evm_increaseTime + evm_mine); the keeper found ${orderB.reference} past its protection period and called autoRelease: completed; the payout wallet received ${usd(paidOut)}`,
      details: [
        await txLine("autoRelease, by the keeper (KEEPERS, KEEPER_INTERVAL_MS)", hash),
        "keepers also cancel unpaid orders past their payment deadline and apply a dispute's default after its deadline",
      ],
    };
  });

  await out.step("A return after delivery", async () => {
    const amount = USD("18");
    // The payout wallet funds returns of its merchant's orders: it approves the escrow and opts in once.
    const escrowAsPayee = PaymentEscrow__factory.connect(addresses.PaymentEscrow.address, payoutWallet);
    const usdAsPayee = MockStablecoin__factory.connect(usdToken, payoutWallet);
    const approveTx = await usdAsPayee.approve(addresses.PaymentEscrow.address, amount);
    await approveTx.wait();
    const consentTx = await escrowAsPayee.setReturnFunding(merchant.address, true);
    await consentTx.wait();
    const buyerBefore = await usdRead.balanceOf(orderA.wallet.address);
    const stockBefore = await inventoryRead.balanceOf(merchant.address, BigInt(beans250.chainSkuId));
    await ok(
      api.POST("/v1/orders/{id}/return", {
        params: { path: { id: orderA.id } },
        // The bag that came back goes into stock again.
        body: { amount: amount.toString(), restock: [{ sku: beans250.id, quantity: 1 }] },
      }),
    );
    const returned = await waitFor(
      `the return of ${orderA.reference} to be indexed`,
      async () => {
        const v = await getOrder(orderA.id);
        return BigInt(v.returnedAmount ?? "0") === amount ? v : null;
      },
      60_000,
    );
    const refunded = (await usdRead.balanceOf(orderA.wallet.address)) - buyerBefore;
    if (refunded !== amount) throw new Error(`${orderA.buyerName} got ${usd(refunded)} back, expected ${usd(amount)}`);
    const restocked = await waitFor(
      "the returned bag to be back in stock",
      async () => {
        const n = await inventoryRead.balanceOf(merchant.address, BigInt(beans250.chainSkuId));
        return n > stockBefore ? n - stockBefore : null;
      },
      60_000,
    );
    return {
      line: `A return after delivery: ${orderA.buyerName} sent one bag of ${orderA.reference} back within its ${REFUND_WINDOW_S / 86400}-day refund window; POST /v1/orders/:id/return gave ${orderA.buyerName} ${usd(amount)} from the payout wallet (refundCompleted), without gas for ${orderA.buyerName}; ${returned.status}, ${restocked} × ${beans250.reference} back in stock`,
      details: [
        await txLine("approve, by the payout wallet (its own transaction)", approveTx.hash),
        await txLine(
          "setReturnFunding, by the payout wallet (opts in to fund this merchant's returns)",
          consentTx.hash,
        ),
        await txLine("refundCompleted, by the merchant's relayer signer", eventTx(returned, "OrderReturned")),
      ],
    };
  });

  const expired = await out.step("An order nobody paid expires", async () => {
    const chainNow = (await provider.getBlock("latest"))!.timestamp;
    const available = async () =>
      (await ok(api.GET("/v1/skus"))).data.find((x) => x.id === beans1k.id)!.stock!.available;
    const o = await ok(
      api.POST("/v1/orders", {
        body: {
          reference: "E-1005",
          amount: USD("45").toString(),
          token: usdToken,
          items: [{ sku: beans1k.id, quantity: 2 }],
          paymentDeadline: new Date((Math.max(chainNow, Date.now() / 1000) + 120) * 1000).toISOString(),
        },
      }),
    );
    const created = await waitStatus(o, "created");
    const reserved = await available();
    const jump = Math.floor(Date.parse(created.deadline!) / 1000) - (await provider.getBlock("latest"))!.timestamp + 60;
    await provider.send("evm_increaseTime", [Math.max(jump, 60)]);
    await provider.send("evm_mine", []);
    const cancelled = await waitStatus(o, "cancelled");
    const back = await waitFor("the reserved stock to come back", async () => {
      const a = await available();
      return BigInt(a) > BigInt(reserved) ? a : null;
    });
    return {
      line: `An order nobody paid expires: E-1005 (2 × ${beans1k.reference}) was created with a 2-minute payment window; once the chain clock passed it, the keeper cancelled it and the 2 reserved bags came back (${reserved} → ${back} available)`,
      chainOrderId: created.chainOrderId,
      details: [await txLine("cancel, by the keeper", eventTx(cancelled, "OrderCancelled"))],
    };
  });

  // An order left open, for the checkout page: payable by the dev buyer (#10) or any wallet with mUSD.
  const openOrder = await out.step("Leave an order open for the checkout page", async () => {
    const chainNow = (await provider.getBlock("latest"))!.timestamp;
    const o = await ok(
      api.POST("/v1/orders", {
        body: {
          reference: "D-1004",
          amount: USD("18").toString(),
          token: usdToken,
          items: [{ sku: beans250.id, quantity: 1 }],
          // The chain's clock runs ahead of the wall clock since the auto-release: give the payment window room.
          paymentDeadline: new Date((Math.max(chainNow, Date.now() / 1000) + 3 * 24 * 3600) * 1000).toISOString(),
        },
      }),
    );
    const created = await waitStatus(o, "created");
    return {
      line: `Open order D-1004 (${usd(created.amount)}, any buyer) created on chain for the checkout page`,
      chainOrderId: created.chainOrderId,
      details: [await txLine("createOrder", created.chainProof!.txHash)],
    };
  });

  // ---------------------------------------------------------------------------------------------- the books
  await out.step("Reconcile the ledger", async () => {
    const head = await provider.getBlockNumber();
    const report = await waitFor(
      "the indexer to reach the chain head",
      async () => {
        const r = await ok(admin.GET("/v1/admin/reconciliation"));
        return r.headBlock >= head ? r : null;
      },
      30_000,
      200,
    );
    if (!report.ok || report.differences.length !== 0) {
      throw new Error(`reconciliation found differences: ${JSON.stringify(report.differences)}`);
    }
    const mine = await ok(api.GET("/v1/ledger/reconciliation"));
    if (!mine.ok || mine.differences.length !== 0)
      throw new Error(`merchant reconciliation found differences: ${JSON.stringify(mine.differences)}`);
    const { balances } = await ok(api.GET("/v1/ledger/balances"));
    const own = balances[usdToken.toLowerCase()] ?? balances[usdToken] ?? {};
    const onChain = await usdRead.balanceOf(payee);
    if (BigInt(own.merchant_payouts ?? "0") !== onChain)
      throw new Error(`ledger merchant_payouts ${own.merchant_payouts} differ from the payee's ${onChain} on chain`);
    const token = report.tokens[usdToken.toLowerCase()] ?? report.tokens[usdToken];
    return {
      line: `Ledger reconciled with the chain: ok, 0 differences (GET /v1/admin/reconciliation at block ${report.headBlock}); merchant payouts ${usd(own.merchant_payouts)} = the payout wallet's balance on chain`,
      details: [
        `escrow contract holds ${usd(token?.contractBalance ?? "0")} = open positions ${usd(token?.openPositions ?? "0")} + credited ${usd(token?.creditedOutstanding ?? "0")}`,
      ],
    };
  });

  await out.step("Verify the webhooks", async () => {
    const expected: [{ chainOrderId: string; reference: string }, string[]][] = [
      [orderA, ["order.created", "order.paid", "order.shipped", "order.completed", "order.returned"]],
      [orderB, ["order.created", "order.paid", "order.shipped", "order.partially_refunded", "order.completed"]],
      [orderC, ["order.created", "order.paid", "order.shipped", "order.disputed", "order.resolved"]],
      [{ chainOrderId: expired.chainOrderId, reference: "E-1005" }, ["order.created", "order.cancelled"]],
    ];
    const events = () =>
      received.map((r) => {
        return verifyWebhook<{ type: string; data: { chainOrderId: string } }>({
          secret: hook.secret,
          header: r.headers["orderchain-signature"],
          body: r.body,
        });
      });
    await waitFor(
      "every expected webhook to arrive",
      async () => {
        const got = events();
        return expected.every(([o, types]) =>
          types.every((t) => got.some((e) => e.type === t && e.data.chainOrderId === o.chainOrderId)),
        );
      },
      30_000,
      200,
    ).catch(() => {
      const got = events();
      const missing = expected.flatMap(([o, types]) =>
        types
          .filter((t) => !got.some((e) => e.type === t && e.data.chainOrderId === o.chainOrderId))
          .map((t) => `${o.reference} ${t}`),
      );
      throw new Error(`webhooks missing after 30 s: ${missing.join(", ")}`);
    });
    const all = events(); // verifies every delivery received, throws on the first bad signature
    const counts = new Map<string, number>();
    for (const e of all) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
    return {
      line: `Webhooks: ${all.length} deliveries received, ${all.length} signatures verified (verifyWebhook, HMAC-SHA256)`,
      details: [[...counts].map(([t, n]) => `${t} ×${n}`).join(", ")],
    };
  });

  return {
    url,
    merchantKey: merchant.key,
    openOrder: openOrder.chainOrderId,
    devBuyer: devWallet(ACCOUNTS.devBuyer).address,
    devBuyerKey: devWallet(ACCOUNTS.devBuyer).privateKey,
    pageProblem: await webPageProblem(url),
  };
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
