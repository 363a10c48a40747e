/**
 * Gas benchmark: receipt gasUsed (21k base and calldata included) per escrow operation, cold (first time for
 * the accounts and the escrow) and warm (accounts and escrow already hold balances), on the in-process
 * Hardhat network. Prints a table and writes docs/GAS.md.
 *
 *   npm run bench:gas
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import {
  deployEscrowFixture,
  OrderBook,
  signOffer,
  signPermit,
  terms,
  USD,
  type LineItem,
} from "../test/helpers/fixtures";

interface Row {
  operation: string;
  cold: bigint | null;
  warm: bigint;
  bar: bigint;
  base: string;
}

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
  return receipt.gasUsed;
}

async function main(): Promise<void> {
  if (network.name !== "hardhat") throw new Error("run on the in-process hardhat network");
  const rows: Row[] = [];

  // Two independent fixtures: in each, the first time an operation runs is "cold", the second "warm".
  const measureTwice = async (
    operation: string,
    bar: bigint,
    base: string,
    run: (f: Awaited<ReturnType<typeof deployEscrowFixture>>) => Promise<bigint>,
  ): Promise<void> => {
    const f = await deployEscrowFixture();
    const cold = await run(f);
    const warm = await run(f);
    rows.push({ operation, cold, warm, bar, base });
    process.stdout.write(`  measured: ${operation}\n`);
  };

  console.log("Measuring escrow gas on the in-process Hardhat network...");

  await measureTwice(
    "checkout in one transaction with an EIP-2612 permit, no line items",
    110_000n,
    "authorize with ERC-3009: 122,402",
    async (f) => {
      const escrowAddr = await f.escrow.getAddress();
      await f.usd.connect(f.buyer).approve(escrowAddr, 0n);
      const offer = await terms(f);
      const sig = await signOffer(f.escrow, f.merchant, offer, []);
      const permit = await signPermit(
        f.usd,
        f.buyer,
        escrowAddr,
        BigInt(offer.amount),
        offer.paymentDeadline as bigint,
      );
      return gasOf(f.escrow.connect(f.buyer).checkoutWithPermit(offer, [], sig, permit));
    },
  );

  await measureTwice(
    "operator creates an unpaid order for a merchant, no line items",
    95_000n,
    "(no equivalent)",
    async (f) => gasOf(f.escrow.connect(f.operator).createOrder(await terms(f), [])),
  );

  type F = Awaited<ReturnType<typeof deployEscrowFixture>>;
  const created = async (f: F, book: OrderBook, items: LineItem[] = []) => {
    const t = await terms(f);
    await book.send(f.escrow.connect(f.operator).createOrder(t, items));
    return t.orderId as string;
  };
  const paid = async (f: F, book: OrderBook, items: LineItem[] = []) => {
    const id = await created(f, book, items);
    await book.send(f.escrow.connect(f.buyer).pay(id, book.get(id)));
    return id;
  };
  const shipped = async (f: F, book: OrderBook, items: LineItem[] = []) => {
    const id = await paid(f, book, items);
    await book.send(f.escrow.connect(f.operator).ship(id, book.get(id), ethers.ZeroHash));
    return id;
  };

  await measureTwice(
    "pay an existing order after a prior ERC-20 approval, no line items",
    75_000n,
    "authorize with pre-approval: 89,526",
    async (f) => {
      const book = new OrderBook(f.escrow);
      const id = await created(f, book);
      return gasOf(f.escrow.connect(f.buyer).pay(id, book.get(id)));
    },
  );

  await measureTwice(
    "release to merchant with platform fee (confirm receipt), no line items",
    60_000n,
    "capture with 1% fee: 67,354",
    async (f) => {
      const book = new OrderBook(f.escrow);
      const id = await shipped(f, book);
      return gasOf(f.escrow.connect(f.buyer).confirmReceipt(id, book.get(id), []));
    },
  );

  await measureTwice(
    "release to merchant with platform fee (auto-release by anyone), no line items",
    60_000n,
    "capture with 1% fee: 67,354",
    async (f) => {
      const book = new OrderBook(f.escrow);
      const id = await shipped(f, book);
      await time.increase(73 * 3600);
      return gasOf(f.escrow.connect(f.stranger).autoRelease(id, book.get(id), []));
    },
  );

  await measureTwice("partial refund while escrowed", 60_000n, "refund (partial): 74,332", async (f) => {
    const book = new OrderBook(f.escrow);
    const id = await shipped(f, book);
    return gasOf(f.escrow.connect(f.operator).refund(id, book.get(id), USD(10), []));
  });

  await measureTwice("cancel an unpaid order", 50_000n, "void: 55,225", async (f) => {
    const book = new OrderBook(f.escrow);
    const id = await created(f, book);
    return gasOf(f.escrow.connect(f.operator).cancel(id, book.get(id), []));
  });

  await measureTwice("full refund before shipping", 50_000n, "void: 55,225", async (f) => {
    const book = new OrderBook(f.escrow);
    const id = await paid(f, book);
    return gasOf(f.escrow.connect(f.operator).refund(id, book.get(id), book.get(id).amount, []));
  });

  // Line items: (create + pay + ship + confirm with N items) - (the same without items), per item.
  const cycle = async (f: F, items: LineItem[]) => {
    const book = new OrderBook(f.escrow);
    const t = await terms(f);
    const createReceipt = await book.send(f.escrow.connect(f.operator).createOrder(t, items));
    const id = t.orderId as string;
    await book.send(f.escrow.connect(f.buyer).pay(id, book.get(id)));
    await book.send(f.escrow.connect(f.operator).ship(id, book.get(id), ethers.ZeroHash));
    const releaseReceipt = await book.send(f.escrow.connect(f.buyer).confirmReceipt(id, book.get(id), items));
    return createReceipt.gasUsed + releaseReceipt.gasUsed;
  };
  for (const n of [1, 5]) {
    const f = await deployEscrowFixture();
    await f.inventory.connect(f.merchant).createSku(f.merchant.address, "ipfs://c");
    await f.inventory.connect(f.merchant).createSku(f.merchant.address, "ipfs://d");
    await f.inventory.connect(f.merchant).createSku(f.merchant.address, "ipfs://e");
    const skus = await Promise.all([1, 2, 3, 4, 5].map((k) => f.inventory.skuId(f.merchant.address, k)));
    await f.inventory.connect(f.merchant).mintStock(skus.slice(2), [100n, 100n, 100n]);
    const items: LineItem[] = skus.slice(0, n).map((skuId) => ({ skuId, quantity: 1n }));
    // Warm means the escrow already holds stock of these SKUs: an open order keeps some reserved throughout.
    const all: LineItem[] = skus.map((skuId) => ({ skuId, quantity: 1n }));
    const measure = async () => ((await cycle(f, items)) - (await cycle(f, []))) / BigInt(n);
    const cold = await measure();
    await f.escrow.connect(f.operator).createOrder(await terms(f), all);
    const warm = await measure();
    rows.push({
      operation: `each line item (reserve at creation + deliver at release), order of ${n} item${n > 1 ? "s" : ""}`,
      cold,
      warm,
      bar: 30_000n,
      base: "(no inventory)",
    });
    process.stdout.write(`  measured: line items x${n}\n`);
  }

  await measureTwice("operator batch of 50 order creations, per order", 45_000n, "(no batching)", async (f) => {
    const calls: string[] = [];
    for (let i = 0; i < 50; i++) {
      calls.push(f.escrow.interface.encodeFunctionData("createOrder", [await terms(f), []]));
    }
    return (await gasOf(f.escrow.connect(f.operator).batch(calls, true))) / 50n;
  });

  const fmt = (n: bigint | null) => (n === null ? "-" : Number(n).toLocaleString("en-US"));
  const lines = [
    "| operation | cold | warm | bar | within bar | Base AuthCaptureEscrow |",
    "|---|---:|---:|---:|:-:|---|",
    ...rows.map(
      (r) =>
        `| ${r.operation} | ${fmt(r.cold)} | ${fmt(r.warm)} | ${fmt(r.bar)} | ${r.warm <= r.bar ? "yes" : "NO"} | ${r.base} |`,
    ),
  ];
  console.log("\n" + lines.join("\n"));

  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const doc = [
    "# Gas per operation",
    "",
    "Receipt `gasUsed` (21,000 base and calldata included) measured by `npm run bench:gas` on the in-process",
    "Hardhat 2.29 network (solc 0.8.28, optimizer 10,000 runs, EVM cancun). *Cold*: the first time in a fresh",
    "deployment (escrow and accounts hold no balances yet); *warm*: the same operation again. Line items are",
    "measured as the difference between a full create + pay + ship + confirm cycle with and without items,",
    "divided by the number of items (the first item also carries the one-slot items commitment).",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
    "",
    ...lines,
    "",
  ].join("\n");
  fs.mkdirSync(path.join(__dirname, "..", "docs"), { recursive: true });
  fs.writeFileSync(path.join(__dirname, "..", "docs", "GAS.md"), doc);
  console.log("\nwritten to docs/GAS.md");
  const over = rows.filter((r) => r.warm > r.bar);
  if (over.length) console.log(`\n${over.length} operation(s) above their bar.`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
