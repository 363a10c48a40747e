/**
 * The crash scenario, for any node: a relayer child process killed with SIGKILL at random moments while orders
 * are accepted, created, cancelled, paid, shipped and refunded; every accepted command lands on chain exactly
 * once and every status the API shows equals the chain's. `crash.test.ts` runs it against the Hardhat node,
 * `test/relayer/anvil/crash.test.ts` against Anvil mining a block every second.
 */
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { expect } from "chai";
import { NonceManager, type ContractTransactionResponse } from "ethers";
import type { Client } from "pg";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { toTerms } from "../../../sdk/orderRecord";
import {
  createTestDatabase,
  deployContracts,
  devWallet,
  startNode,
  waitFor,
  writeDeploymentRecord,
  type Deployed,
  type LocalNode,
  type NodeOptions,
} from "../harness";
import {
  commandCounts,
  expectApiMatchesChain,
  httpRetry,
  dbStatuses,
  getOrders,
  pgClient,
  pool,
  setupMerchant,
  spawnRelayer,
  type RelayerProcess,
} from "./support";

export interface CrashScenario {
  /** The describe block's title. */
  title: string;
  node: NodeOptions;
  /** Orders accepted through the API while the relayer is being killed. */
  orders: number;
  /** At least this many SIGKILLs. */
  minKills: number;
  /** At most this many (kills go on while orders are carried out); `minKills + 4` by default. */
  maxKills?: number;
  timeoutMs: number;
}

export function describeCrashes({
  title,
  node: nodeOptions,
  orders: ORDERS,
  minKills: MIN_KILLS,
  maxKills: MAX_KILLS = MIN_KILLS + 4,
  timeoutMs,
}: CrashScenario) {
  // Orders cancelled, and orders paid by the buyer (half of them then shipped, half refunded): 20 each, fewer
  // when there are too few orders for the references below.
  const ACTIONS = Math.min(20, Math.floor((ORDERS - 4) / 7) + 1);

  describe(title, function () {
    this.timeout(timeoutMs);
    let node: LocalNode;
    let deployed: Deployed;
    let db: { url: string; drop(): Promise<void> };
    let pg: Client;
    let dir: string;
    let current: RelayerProcess | null = null;
    const env = { LEASE_TTL_MS: "2000", BATCH_SIZE: "100" };

    before(async () => {
      node = await startNode(nodeOptions);
      deployed = await deployContracts(node.provider);
      db = await createTestDatabase();
      pg = await pgClient(db.url);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderchain-crash-"));
      writeDeploymentRecord(dir, deployed);
    });

    // Every relayer process's log, for the report of a failed run (CRASH_LOG: the file's path).
    const logLines: Record<string, unknown>[] = [];
    afterEach(function () {
      if (this.currentTest?.state === "failed") {
        const file = process.env.CRASH_LOG ?? path.join(os.tmpdir(), `crash-${nodeOptions.implementation}.log`);
        fs.writeFileSync(file, logLines.map((l) => JSON.stringify(l)).join("\n"));
        console.log(`      relayer log: ${file} (${logLines.length} lines)`);
      }
    });

    let finished = false;
    after(async () => {
      finished = true;
      await current?.kill("SIGKILL");
      await pg?.end();
      await db?.drop();
      await node?.stop();
    });

    it(`creates every accepted order on chain exactly once and loses no command across ${MIN_KILLS}+ kills`, async () => {
      let started = 0;
      const start = () => {
        started += 1;
        return spawnRelayer(`relayer-${started}`, node, dir, { ...env, DATABASE_URL: db.url }, logLines);
      };
      current = await start();
      const base = () => current?.url ?? null;
      const acme = await setupMerchant(base, "acme", 1000n);
      const bolt = await setupMerchant(base, "bolt");
      const buyer = devWallet(10, node.provider);
      const buyerSigner = new NonceManager(buyer);
      const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyerSigner);

      // Kills at random moments while orders are accepted and carried out; each restart uses the same database.
      let kills = 0;
      let killing = true;
      const killer = (async () => {
        while ((killing || kills < MIN_KILLS) && kills < MAX_KILLS && !finished) {
          await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2500));
          const victim = current;
          current = null;
          await victim!.kill("SIGKILL");
          kills += 1;
          current = await start();
        }
      })();

      const orders = Array.from({ length: ORDERS }, (_, i) => ({
        merchant: i % 3 === 2 ? bolt : acme,
        reference: `C-${i}`,
        items: i % 3 === 0 ? [{ sku: acme.skuId!, quantity: 1 }] : undefined,
      }));
      const accepted = new Map<string, { id: string; key: string }>();
      await pool(orders, 8, async (o) => {
        const r = await httpRetry(
          base,
          "POST",
          "/v1/orders",
          o.merchant.key,
          { reference: o.reference, amount: "1000", token: "native", buyer: buyer.address, items: o.items },
          `order-${o.reference}`,
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        accepted.set(o.reference, { id: r.body.id, key: o.merchant.key });
      });
      expect(accepted.size).to.equal(ORDERS);

      // Actions after creation: ACTIONS cancels, ACTIONS paid by the buyer of which half shipped, half refunded.
      const get = async (ref: string) =>
        (await httpRetry(base, "GET", `/v1/orders/${accepted.get(ref)!.id}`, accepted.get(ref)!.key)).body;
      const createdOf = (ref: string) =>
        waitFor(
          `order ${ref} created`,
          async () => ((await get(ref)).status === "created" ? get(ref) : null),
          120_000,
          200,
        );
      const toCancel = Array.from({ length: ACTIONS }, (_, i) => `C-${i * 7 + 1}`);
      const toPay = Array.from({ length: ACTIONS }, (_, i) => `C-${i * 7 + 3}`);
      await pool(toCancel, 4, async (ref) => {
        await createdOf(ref);
        const r = await httpRetry(
          base,
          "POST",
          `/v1/orders/${accepted.get(ref)!.id}/cancel`,
          accepted.get(ref)!.key,
          {},
          `cancel-${ref}`,
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
      });
      // The payments are sent one after another and their receipts awaited together (one block, not one each,
      // on a node that mines at intervals).
      const payments: ContractTransactionResponse[] = [];
      for (const ref of toPay) {
        const o = await createdOf(ref);
        payments.push(await escrow.pay(toTerms(o.terms), { value: 1000n }));
      }
      await Promise.all(payments.map((tx) => tx.wait()));
      await pool(toPay, 4, async (ref, i) => {
        await waitFor(`order ${ref} paid`, async () => (await get(ref)).status === "paid", 120_000, 200);
        const action = i % 2 === 0 ? "ship" : "refund";
        const body = action === "ship" ? { trackingReference: `T-${ref}` } : {};
        const r = await httpRetry(
          base,
          "POST",
          `/v1/orders/${accepted.get(ref)!.id}/${action}`,
          accepted.get(ref)!.key,
          body,
          `${action}-${ref}`,
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
      });

      killing = false;
      await killer;
      expect(kills).to.be.at.least(MIN_KILLS);

      // Everything settles: every command confirmed, every order where the chain says.
      await waitFor(
        "all commands confirmed",
        async () => {
          const c = await commandCounts(pg);
          return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0 ? c : null;
        },
        120_000,
        250,
      );
      const counts = await commandCounts(pg);
      expect(counts.failed ?? 0, JSON.stringify(counts)).to.equal(0);
      // 2 merchant setups + SKU + mint + the creates + the cancels + the ships and refunds
      expect(counts.confirmed).to.equal(2 + 2 + ORDERS + 2 * ACTIONS);
      const expected: Record<string, string> = {};
      for (const r of toCancel) expected[r] = "cancelled";
      toPay.forEach((r, i) => (expected[r] = i % 2 === 0 ? "shipped" : "refunded"));
      const refs = orders.map((o) => o.reference);
      const want = (ref: string) => expected[ref] ?? "created";
      await waitFor(
        "statuses settled",
        async () => {
          const st = await dbStatuses(pg);
          return st.size === ORDERS && refs.every((r) => st.get(r) === want(r));
        },
        60_000,
        250,
      );
      const final = [
        ...(await getOrders(
          base,
          acme.key,
          refs.filter((_, i) => i % 3 !== 2),
        )),
        ...(await getOrders(
          base,
          bolt.key,
          refs.filter((_, i) => i % 3 === 2),
        )),
      ];
      expect(
        final.filter((o) => o.status !== want(o.reference)).map((o) => `${o.reference}: ${o.status}`),
      ).to.deep.equal([]);
      const summary = await expectApiMatchesChain(node.provider, deployed, final);
      const txs = await pg.query<{ status: string; n: string }>(
        `select status, count(*) as n from chain_txs group by status`,
      );
      console.log(
        `      kills: ${kills}, chain orders: ${summary.created}, statuses: ${JSON.stringify(summary.byStatus)}, txs: ${JSON.stringify(
          Object.fromEntries(txs.rows.map((r) => [r.status, Number(r.n)])),
        )}`,
      );
    });
  });
}
