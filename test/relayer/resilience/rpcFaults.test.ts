import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import type { Client } from "pg";
import { InventoryToken__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import { toTerms } from "../../../sdk/orderRecord";
import {
  ADMIN_KEY,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../harness";
import { faults, startRpcFaultProxy, type RpcFaultProxy } from "../support/rpcProxy";
import { commandCounts, escrowLogs, expectApiMatchesChain, pgClient } from "./support";

const SEND = ["eth_sendRawTransaction"];
const MINT_STOCK = InventoryToken__factory.createInterface().getFunction("mintStock").selector.slice(2);

/**
 * The whole relayer (writer and indexer, as `workers.ts` wires them, with their default options) behind a
 * hostile RPC endpoint (`../support/rpcProxy.ts`), on a live chain (a block every 250 ms): the faults of one
 * group or more, among
 * - lag: a load balancer over two backends, one 2 blocks behind (30% of the calls, every method);
 * - logs: eth_getLogs spans above 5 blocks refused (every provider's wording in turn), answers above 20 logs too;
 * - net: 429 with Retry-After, dropped connections, answers 400 ms late;
 * - lies: sent transactions accepted by the node, then answered "nonce too low", "already known",
 *   "AlreadyKnown", "already imported", or their connection dropped; each SKU's stock addition is answered
 *   with an error no node is known to send ("internal error"), after the node took it.
 * Every command the API accepted must land exactly once (an accepted stock addition of 7 mints 7), and every
 * status must equal the escrow's state.
 * RPC_FAULTS="lag,logs" runs the flows with those groups only (to tell which fault a failure needs).
 */
hostileEndpoint(
  "relayer resilience: a hostile RPC endpoint for reads (a lagging backend behind the load balancer, refused log ranges and result counts, 429s, dropped connections, slow answers)",
  ["lag", "logs", "net"],
);
hostileEndpoint(
  "relayer resilience: an RPC endpoint that lies about sent transactions (accepted, then answered 'nonce too low', 'already known', 'AlreadyKnown', 'already imported', or the connection dropped)",
  ["lies"],
);

function hostileEndpoint(title: string, faultGroups: string[]): void {
  describe(title, function () {
    this.timeout(180_000);
    let node: LocalNode;
    let deployed: Deployed;
    let db: { url: string; drop(): Promise<void> };
    let pg: Client;
    let proxy: RpcFaultProxy;
    let relayer: Relayer;
    const lines: Record<string, unknown>[] = [];

    before(async () => {
      node = await startNode();
      deployed = await deployContracts(node.provider);
      db = await createTestDatabase();
      pg = await pgClient(db.url);
      proxy = await startRpcFaultProxy(node.url, { seed: Number(process.env.RPC_FAULTS_SEED ?? 5) });
      const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
      relayer = await startRelayer({
        config: relayerConfig(node, { DATABASE_URL: db.url, RPC_URL: proxy.url, BATCH_SIZE: "8" }),
        chainId: deployed.chainId,
        addresses: deployed,
        logger,
      });
    });

    afterEach(function () {
      // The relayer's log of a failed run, for the report (RPC_FAULTS_LOG: the files' path prefix).
      if (this.currentTest?.state === "failed") {
        const prefix = process.env.RPC_FAULTS_LOG ?? path.join(os.tmpdir(), "rpcFaults");
        const file = `${prefix}-${faultGroups.join("-")}.log`;
        fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n"));
        console.log(`      relayer log: ${file}`);
      }
    });

    after(async () => {
      await relayer?.stop();
      await proxy?.close();
      await pg?.end();
      await db?.drop();
      await node?.stop();
    });

    /** One API call; a 5xx (the chain unreachable through the faults) is retried with the same idempotency key. */
    const call = async (method: "GET" | "POST", url: string, key: string, body?: unknown, idempotencyKey?: string) => {
      return waitFor(
        `${method} ${url}`,
        async () => {
          const res = await relayer.app.inject({
            method,
            url,
            headers: {
              authorization: `Bearer ${key}`,
              ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
            },
            payload: body as object,
          });
          return res.statusCode < 500 ? { status: res.statusCode, body: res.json() } : null;
        },
        60_000,
        100,
      );
    };

    /** The faults, by group. */
    const groups: Record<string, () => void> = {
      // A load balancer over two backends, one of them 2 blocks behind, for every method.
      lag: () => proxy.setLag({ blocks: 2, share: 0.3 }),
      logs: () => {
        proxy.add(faults.logsRangeLimit(5));
        proxy.add(faults.logsResultLimit(20));
      },
      net: () => {
        proxy.add(faults.rateLimited({ probability: 0.04 }));
        proxy.add(faults.dropped({ probability: 0.02 }));
        proxy.add(faults.slow(400, { probability: 0.04 }));
      },
      lies: () => {
        proxy.add(
          faults.errorAfterSuccess(
            "unknown error",
            SEND,
            { code: -32603, message: "internal error" },
            { times: 2, when: (c) => String(c.params?.[0]).includes(MINT_STOCK) },
          ),
        );
        proxy.add(faults.dropped({ methods: SEND, probability: 0.1 }, true));
        proxy.add(
          faults.errorAfterSuccess(
            "already known",
            SEND,
            { code: -32000, message: "already known" },
            { probability: 0.1 },
          ),
        );
        proxy.add(
          faults.errorAfterSuccess(
            "AlreadyKnown",
            SEND,
            { code: -32010, message: "AlreadyKnown" },
            { probability: 0.05 },
          ),
        );
        proxy.add(
          faults.errorAfterSuccess(
            "already imported",
            SEND,
            { code: -32010, message: "Transaction with the same hash was already imported." },
            { probability: 0.05 },
          ),
        );
        proxy.add(
          faults.errorAfterSuccess(
            "nonce too low",
            SEND,
            { code: -32000, message: "nonce too low" },
            { probability: 0.1 },
          ),
        );
      },
    };
    const turnFaultsOn = () => {
      const on = process.env.RPC_FAULTS ? process.env.RPC_FAULTS.split(",") : faultGroups;
      for (const g of on) groups[g]();
      return on;
    };

    it("lands every accepted command exactly once and ends with every status equal to the escrow's state, with no rollback and no order.reverted", async () => {
      // A live chain, a block every 250 ms besides the transactions' own: a lagging backend catches up.
      let mining = true;
      const miner = (async () => {
        while (mining) {
          await node.provider.send("evm_mine", []).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      try {
        await orderFlow();
      } finally {
        mining = false;
        await miner;
      }
    });

    if (faultGroups.includes("lies")) {
      it("a partial refund whose transaction the node took but answered 'nonce too low' is refunded once, and its command confirmed", async () => {
        proxy.clear();
        const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Once" }, "m-once");
        await waitFor(
          "merchant active",
          async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
        );
        const key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" }, "k-once"))
          .body.secret as string;
        const buyer = devWallet(11, node.provider);
        const o = await call(
          "POST",
          "/v1/orders",
          key,
          { reference: "ONCE-1", amount: "1000", token: "native", buyer: buyer.address },
          "o-once",
        );
        const get = async () => (await call("GET", `/v1/orders/${o.body.id}`, key)).body;
        await waitFor("created", async () => (await get()).status === "created");
        const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);
        await (await escrow.pay(toTerms((await get()).terms), { value: 1000n })).wait();
        await waitFor("paid", async () => (await get()).status === "paid");

        // The transaction carrying the refund goes through, and its sender is told "nonce too low".
        const told = proxy.stats.faults["nonce too low"] ?? 0;
        const refundSelector = escrow.interface.getFunction("refund").selector.slice(2);
        proxy.add(
          faults.errorAfterSuccess(
            "nonce too low",
            SEND,
            { code: -32000, message: "nonce too low" },
            { times: 1, when: (c) => String(c.params?.[0]).includes(refundSelector) },
          ),
        );
        const r = await call("POST", `/v1/orders/${o.body.id}/refund`, key, { amount: "400" }, "r-once");
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        await waitFor("the lie told", async () => proxy.stats.faults["nonce too low"] === told + 1);
        await waitFor("every command settled", async () => {
          const c = await commandCounts(pg);
          return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0;
        });
        // Two seconds more for a second attempt, if one is coming.
        await new Promise((res) => setTimeout(res, 2000));
        const topic = escrow.interface.getEvent("OrderRefunded").topicHash;
        const refunds = (await escrowLogs(node.provider, deployed)).filter(
          (l) => l.topics[0] === topic && l.topics[1] === o.body.chainOrderId,
        );
        const command = await pg.query<{ status: string; error_code: string | null }>(
          `select status, error_code from commands where kind = 'refund_order' and order_id = $1`,
          [o.body.id],
        );
        expect(refunds.length, "OrderRefunded events of the order (400 each)").to.equal(1);
        expect(command.rows).to.deep.equal([{ status: "confirmed", error_code: null }]);
        expect((await escrow.statusOf(o.body.chainOrderId)).refunded, "refunded on chain").to.equal(400n);
      });
    }

    if (faultGroups.includes("lag")) {
      it("a lagging backend that has not seen a SKU's creation answers the estimate of its stock addition: the addition waits for a state that holds the creation and mints once, not failed SkuNotFound", async () => {
        proxy.clear();
        const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Stale" }, "m-stale");
        await waitFor(
          "merchant active",
          async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
        );
        const key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" }, "k-stale"))
          .body.secret as string;
        const s = await call("POST", "/v1/skus", key, { reference: "STALE-1", name: "Stale" }, "sku-stale");
        expect(s.status, JSON.stringify(s.body)).to.equal(202);
        await waitFor(
          "SKU created on chain",
          async () => (await call("GET", `/v1/skus/${s.body.id}`, key)).body.status === "created",
        );
        // Every estimate from now on is answered by a backend 3 blocks behind: it has not seen the SKU's creation.
        proxy.setLag({ blocks: 3, share: 1, methods: ["eth_estimateGas"] });
        const lagged = proxy.stats.lagged;
        const failedBefore = lines.filter((l) => l.msg === "command failed").length;
        const added = await call("POST", `/v1/skus/${s.body.id}/stock`, key, { quantity: "7" }, "stock-stale");
        expect(added.status, JSON.stringify(added.body)).to.equal(202);
        await waitFor("a stale estimate", async () => proxy.stats.lagged > lagged);
        await new Promise((res) => setTimeout(res, 1500));
        const command = async () =>
          (
            await pg.query<{ status: string; error_code: string | null }>(
              `select c.status, c.error_code from commands c join skus s on s.id = c.sku_id
                where c.kind = 'mint_stock' and s.reference = 'STALE-1'`,
            )
          ).rows;
        const waiting = await command();
        expect(waiting, "the addition waits").to.have.length(1);
        expect(["pending", "claimed"], `the addition waits: ${JSON.stringify(waiting)}`).to.include(waiting[0].status);
        // Three blocks later the backend holds the creation.
        for (let i = 0; i < 3; i++) await node.provider.send("evm_mine", []);
        await waitFor("stock added", async () => (await command())[0]?.status === "confirmed");
        proxy.setLag(null);
        const inventory = InventoryToken__factory.connect(deployed.inventory, node.provider);
        expect(await inventory.totalSupply(s.body.chainSkuId), "minted once").to.equal(7n);
        expect(await command()).to.deep.equal([{ status: "confirmed", error_code: null }]);
        expect(lines.filter((l) => l.msg === "command failed").slice(failedBefore)).to.deep.equal([]);
      });
    }

    async function orderFlow(): Promise<void> {
      const on = turnFaultsOn();
      const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Faults" }, "m-faults");
      expect(m.status, JSON.stringify(m.body)).to.equal(201);
      await waitFor(
        "merchant active",
        async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
        60_000,
        200,
      );
      const key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" }, "k-faults"))
        .body.secret as string;
      const buyer = devWallet(10, node.provider);
      const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);

      // Two SKUs, one stock addition each (a transaction of its own), carried out alongside the orders.
      const stockAdded = new Map([
        ["S-1", 7n],
        ["S-2", 5n],
      ]);
      const chainSkuIds = new Map<string, string>();
      for (const [reference, quantity] of stockAdded) {
        const s = await call("POST", "/v1/skus", key, { reference, name: `SKU ${reference}` }, `sku-${reference}`);
        expect(s.status, JSON.stringify(s.body)).to.equal(202);
        const added = await call(
          "POST",
          `/v1/skus/${s.body.id}/stock`,
          key,
          { quantity: String(quantity) },
          `stock-${reference}`,
        );
        expect(added.status, JSON.stringify(added.body)).to.equal(202);
        chainSkuIds.set(reference, s.body.chainSkuId);
      }

      const refs = Array.from({ length: 24 }, (_, i) => `F-${i}`);
      const ids = new Map<string, string>();
      for (const reference of refs) {
        const r = await call(
          "POST",
          "/v1/orders",
          key,
          { reference, amount: "1000", token: "native", buyer: buyer.address },
          `o-${reference}`,
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        ids.set(reference, r.body.id);
      }
      const get = async (ref: string) => (await call("GET", `/v1/orders/${ids.get(ref)}`, key)).body;
      const statusIs = (ref: string, status: string) =>
        waitFor(
          `${ref} ${status}`,
          async () => {
            const o = await get(ref);
            if (o.status === "failed") throw new Error(`${ref} failed: ${JSON.stringify(o.error)}`);
            return o.status === status ? o : null;
          },
          90_000,
          200,
        );
      for (const ref of refs) await statusIs(ref, "created");

      // The buyer pays 16 orders, directly on chain.
      const paid = refs.slice(0, 16);
      for (const ref of paid) await (await escrow.pay(toTerms((await get(ref)).terms), { value: 1000n })).wait();
      for (const ref of paid) await statusIs(ref, "paid");

      // The merchant ships 6, refunds 4 (2 in full, 2 in part) and cancels 4 unpaid orders, through the API.
      const shipped = paid.slice(0, 6);
      const refunded = paid.slice(6, 10);
      const cancelled = refs.slice(16, 20);
      for (const ref of shipped) {
        const r = await call(
          "POST",
          `/v1/orders/${ids.get(ref)}/ship`,
          key,
          { trackingReference: `T-${ref}` },
          `s-${ref}`,
        );
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
      }
      for (const [i, ref] of refunded.entries()) {
        const body = i < 2 ? {} : { amount: "400" };
        const r = await call("POST", `/v1/orders/${ids.get(ref)}/refund`, key, body, `r-${ref}`);
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
      }
      for (const ref of cancelled) {
        const r = await call("POST", `/v1/orders/${ids.get(ref)}/cancel`, key, undefined, `c-${ref}`);
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
      }
      for (const ref of shipped) await statusIs(ref, "shipped");
      for (const [i, ref] of refunded.entries()) await statusIs(ref, i < 2 ? "refunded" : "paid");
      for (const ref of cancelled) await statusIs(ref, "cancelled");
      // The buyer confirms 3 shipped orders: the payouts reach the ledger.
      for (const ref of shipped.slice(0, 3))
        await (await escrow.confirmReceipt(toTerms((await get(ref)).terms), [])).wait();
      for (const ref of shipped.slice(0, 3)) await statusIs(ref, "completed");

      await waitFor(
        "every command settled",
        async () => {
          const c = await commandCounts(pg);
          return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0;
        },
        60_000,
        200,
      );
      // Reconciliation through the same endpoint, faults on.
      const rec = await call("GET", "/v1/admin/reconciliation", ADMIN_KEY);
      expect(rec.status).to.equal(200);
      expect(rec.body.ok, JSON.stringify(rec.body.differences)).to.equal(true);

      const fired = {
        ...proxy.stats.faults,
        lagged: proxy.stats.lagged,
        onSends: Object.fromEntries(
          Object.entries(proxy.stats.faultsByMethod).filter(([k]) => k.endsWith(" eth_sendRawTransaction")),
        ),
      };
      proxy.clear();
      if (on.includes("lies")) {
        expect(proxy.stats.faults["unknown error"], "stock additions answered 'internal error'").to.equal(2);
      }
      const head = await node.provider.getBlockNumber();
      await waitFor("indexer at the head", async () => (await relayer.indexer.checkpoint()).lastBlock >= BigInt(head));

      // Exactly once on chain: one creation per order (expectApiMatchesChain), one shipment, one cancellation, one
      // refund per refund accepted.
      const logs = await escrowLogs(node.provider, deployed);
      const iface = escrow.interface;
      const count = (event: string) => {
        const topic = iface.getEvent(event as never).topicHash;
        const n = new Map<string, number>();
        for (const l of logs) if (l.topics[0] === topic) n.set(l.topics[1], (n.get(l.topics[1]) ?? 0) + 1);
        return n;
      };
      const orders = await Promise.all(refs.map(get));
      const byRef = new Map(orders.map((o) => [o.reference as string, o]));
      const times = (n: Map<string, number>, group: string[]) =>
        group.map((r) => n.get(byRef.get(r).chainOrderId) ?? 0);
      expect(times(count("OrderShipped"), shipped), "shipments").to.deep.equal(shipped.map(() => 1));
      expect(times(count("OrderCancelled"), cancelled), "cancellations").to.deep.equal(cancelled.map(() => 1));
      expect(times(count("OrderRefunded"), refunded), "refunds").to.deep.equal(refunded.map(() => 1));
      expect(times(count("OrderPaid"), paid), "payments").to.deep.equal(paid.map(() => 1));
      // The stock on chain is what the API accepted, minted once, in the merchant's account.
      const inventory = InventoryToken__factory.connect(deployed.inventory, node.provider);
      for (const [reference, quantity] of stockAdded) {
        const id = chainSkuIds.get(reference)!;
        expect(await inventory.totalSupply(id), `${reference}: stock minted`).to.equal(quantity);
        expect(await inventory.balanceOf(m.body.address, id), `${reference}: merchant's stock`).to.equal(quantity);
      }
      // Statuses equal the chain: each order's state read from the escrow.
      const summary = await expectApiMatchesChain(node.provider, deployed, orders);
      expect(summary.byStatus).to.deep.equal({
        created: 4,
        paid: 8,
        shipped: 3,
        completed: 3,
        refunded: 2,
        cancelled: 4,
      });

      // No false reorg: nothing rolled back, nothing announced as reverted.
      expect(
        lines.filter((l) => l.msg === "reorg detected; rolling back to the common ancestor"),
        "rollbacks",
      ).to.deep.equal([]);
      const reverted = await pg.query(`select id from webhook_events where type = 'order.reverted'`);
      expect(reverted.rows, "order.reverted webhooks").to.deep.equal([]);
      const created = await pg.query<{ n: string }>(
        `select count(*) as n from webhook_events where type = 'order.created'`,
      );
      expect(Number(created.rows[0].n), "one order.created per order").to.equal(refs.length);

      const rec2 = await call("GET", "/v1/admin/reconciliation", ADMIN_KEY);
      expect(rec2.body.ok, JSON.stringify(rec2.body.differences)).to.equal(true);

      // Every command recorded as what happened: confirmed (once), none failed.
      const counts = await commandCounts(pg);
      const failed = await pg.query<{ id: string; kind: string; error_code: string; error_message: string }>(
        `select id, kind, error_code, error_message from commands where status = 'failed' order by id`,
      );
      expect(
        failed.rows.map((c) => `${c.id} ${c.kind}: ${c.error_code} ${c.error_message}`),
        "commands recorded as failed (their effect is on chain once, see above)",
      ).to.deep.equal([]);
      const dupNonces = await pg.query(
        `select signer, nonce from chain_txs where status = 'confirmed' group by signer, nonce having count(*) > 1`,
      );
      expect(dupNonces.rows, "two confirmed transactions at one nonce").to.deep.equal([]);
      const warnings = lines.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg));
      console.log(
        `      faults: ${JSON.stringify(fired)}; commands: ${JSON.stringify(counts)}; warnings: ${JSON.stringify(
          Object.fromEntries([...new Set(warnings)].map((w) => [w, warnings.filter((x) => x === w).length])),
        )}`,
      );
    }
  });
}
