/**
 * The reorg scenario, for any node: the blocks the relayer wrote to and indexed are replaced by another history;
 * the relayer rolls back to the common ancestor, creates again, once, the orders the new chain lacks, and ends
 * equal to the chain. `reorg.test.ts` runs it on the Hardhat node (evm_snapshot / evm_revert, then blocks mined
 * up to beyond the old head); `test/relayer/anvil/reorg.test.ts` on Anvil mining a block every second, with
 * `anvil_reorg`, which replaces the blocks above the fork point by as many new ones in one step, as a reorg on a
 * real chain does (the chain is never seen shorter).
 */
import { expect } from "chai";
import pino from "pino";
import type { Client } from "pg";
import { keccak256, type Wallet } from "ethers";
import { PaymentEscrow__factory } from "../../../typechain-types";
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
  type NodeOptions,
} from "../harness";
import { commandCounts, expectApiMatchesChain, pgClient } from "./support";

type Escrow = ReturnType<typeof PaymentEscrow__factory.connect>;
type OrderJson = { chainOrderId: string; terms: never };

/**
 * How the other history is made, from the fork point recorded by `markFork`. `reorg` runs with the relayer's
 * indexer stopped; it pays `payOnNewChain` on the new chain and leaves the head above `oldHead`.
 */
interface ReorgMethod {
  markFork(node: LocalNode): Promise<unknown>;
  reorg(args: {
    node: LocalNode;
    fork: unknown;
    forkHead: number;
    oldHead: number;
    buyer: Wallet;
    escrow: Escrow;
    payOnNewChain: OrderJson;
  }): Promise<void>;
}

/** Hardhat: back to a snapshot, the payment, then blocks mined up to beyond the old head. */
const snapshotRevert: ReorgMethod = {
  markFork: (node) => node.provider.send("evm_snapshot", []),
  async reorg({ node, fork, oldHead, escrow, payOnNewChain }) {
    expect(await node.provider.send("evm_revert", [fork])).to.equal(true);
    await (await escrow.pay(toTerms(payOnNewChain.terms), { value: 1000n })).wait();
    while ((await node.provider.getBlockNumber()) < oldHead + 1) await node.provider.send("evm_mine", []);
  },
};

/**
 * Anvil: `anvil_reorg(depth, [[signed payment, 0]])` replaces the blocks above the fork point with as many new
 * ones, the first carrying the payment; the interval miner is paused meanwhile so the depth is exact.
 */
const anvilReorg: ReorgMethod = {
  markFork: async () => undefined,
  async reorg({ node, forkHead, oldHead, buyer, escrow, payOnNewChain }) {
    const forkHash = (await node.provider.getBlock(forkHead))!.hash;
    await node.provider.send("evm_setIntervalMining", [0]);
    try {
      const depth = (await node.provider.getBlockNumber()) - forkHead;
      const call = await escrow.pay.populateTransaction(toTerms(payOnNewChain.terms), { value: 1000n });
      const fees = await node.provider.getFeeData();
      const raw = await buyer.signTransaction({
        ...call,
        type: 2,
        chainId: 31337n,
        nonce: await node.provider.getTransactionCount(buyer.address, forkHead),
        gasLimit: 300_000n,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      await node.provider.send("anvil_reorg", [depth, [[raw, 0]]]);
      expect((await node.provider.getBlock(forkHead))!.hash, "the fork point stays").to.equal(forkHash);
      const receipt = await node.provider.getTransactionReceipt(keccak256(raw));
      expect(receipt?.status, "the payment on the new chain").to.equal(1);
      expect(receipt!.blockNumber).to.equal(forkHead + 1);
    } finally {
      await node.provider.send("evm_setIntervalMining", [node.blockTime]);
    }
    await waitFor("a block beyond the old head", async () => (await node.provider.getBlockNumber()) > oldHead);
  },
};

export interface ReorgScenario {
  /** The describe block's title. */
  title: string;
  node: NodeOptions;
  timeoutMs: number;
}

export function describeReorg({ title, node: nodeOptions, timeoutMs }: ReorgScenario) {
  const method = nodeOptions.implementation === "anvil" ? anvilReorg : snapshotRevert;

  describe(title, function () {
    this.timeout(timeoutMs);
    let node: LocalNode;
    let deployed: Deployed;
    let db: { url: string; drop(): Promise<void> };
    let pg: Client;
    let relayer: Relayer;
    const lines: Record<string, unknown>[] = [];

    before(async () => {
      node = await startNode(nodeOptions);
      deployed = await deployContracts(node.provider);
      db = await createTestDatabase();
      pg = await pgClient(db.url);
      const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
      relayer = await startRelayer({
        config: relayerConfig(node, { DATABASE_URL: db.url }),
        chainId: deployed.chainId,
        addresses: deployed,
        logger,
      });
    });

    afterEach(function () {
      if (this.currentTest?.state === "failed" && process.env.REORG_LOG) {
        require("node:fs").writeFileSync(process.env.REORG_LOG, lines.map((l) => JSON.stringify(l)).join("\n"));
      }
    });

    after(async () => {
      await relayer?.stop();
      await pg?.end();
      await db?.drop();
      await node?.stop();
    });

    const call = async (method: "GET" | "POST", url: string, key: string, body?: unknown) => {
      const res = await relayer.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        payload: body as object,
      });
      return { status: res.statusCode, body: res.json() };
    };

    it("rolls back to the common ancestor, re-creates the orders the new chain lacks once, and ends equal to the chain", async () => {
      const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Acme" });
      await waitFor(
        "merchant active",
        async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
      );
      const key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" })).body.secret;
      const buyer = devWallet(10, node.provider);
      const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);
      const ids = new Map<string, string>();
      const order = async (reference: string) => {
        const r = await call("POST", "/v1/orders", key, {
          reference,
          amount: "1000",
          token: "native",
          buyer: buyer.address,
        });
        expect(r.status).to.equal(202);
        ids.set(reference, r.body.id);
      };
      const get = async (ref: string) => (await call("GET", `/v1/orders/${ids.get(ref)}`, key)).body;
      const statusIs = (ref: string, status: string) =>
        waitFor(`${ref} ${status}`, async () => ((await get(ref)).status === status ? get(ref) : null));
      const pay = async (ref: string) => {
        const o = await get(ref);
        await (await escrow.pay(toTerms(o.terms), { value: 1000n })).wait();
        await statusIs(ref, "paid");
      };

      // Before the fork point: three orders, created and indexed.
      for (const r of ["R0-1", "R0-2", "R0-3"]) await order(r);
      for (const r of ["R0-1", "R0-2", "R0-3"]) await statusIs(r, "created");
      const fork = await method.markFork(node);
      const forkHead = await node.provider.getBlockNumber();

      // The history that will vanish: eight orders created by the relayer, two orders paid by the buyer.
      const lost = Array.from({ length: 8 }, (_, i) => `R1-${i}`);
      for (const r of lost) await order(r);
      for (const r of lost) await statusIs(r, "created");
      await pay("R0-1");
      await pay("R1-0");
      const oldHead = await node.provider.getBlockNumber();
      const oldHash = (await node.provider.getBlock(oldHead))!.hash;
      expect(oldHead).to.be.greaterThan(forkHead + 2);

      // The other history: from the fork point, the buyer pays another order, blocks up to beyond the old head.
      await relayer.indexer.stop();
      await method.reorg({ node, fork, forkHead, oldHead, buyer, escrow, payOnNewChain: await get("R0-2") });
      expect((await node.provider.getBlock(oldHead))!.hash).to.not.equal(oldHash);
      await relayer.indexer.start();

      await waitFor("reorg detected", async () =>
        lines.some((l) => l.msg === "reorg detected; rolling back to the common ancestor"),
      );
      // The new chain's truth shows: the payment that vanished is gone, the one made on the new chain is there.
      await statusIs("R0-1", "created");
      await statusIs("R0-2", "paid");
      // The creations that vanished are carried out again, once each.
      for (const r of lost) await statusIs(r, "created");
      await waitFor("all commands settled", async () => {
        const c = await commandCounts(pg);
        return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0;
      });
      expect((await commandCounts(pg)).failed ?? 0).to.equal(0);
      const orders = await Promise.all([...ids.keys()].map(get));
      await expectApiMatchesChain(node.provider, deployed, orders);
      const statuses = Object.fromEntries(orders.map((o) => [o.reference, o.status]));
      expect(statuses).to.deep.equal({
        "R0-1": "created",
        "R0-2": "paid",
        "R0-3": "created",
        ...Object.fromEntries(lost.map((r) => [r, "created"])),
      });

      // The signers' nonces were learned again: new orders after the reorg are created normally.
      await order("R2-1");
      await statusIs("R2-1", "created");
      const dup = await pg.query(
        `select signer, nonce from chain_txs where status = 'confirmed' group by signer, nonce having count(*) > 1`,
      );
      expect(dup.rows).to.deep.equal([]);
      // A transaction sent at a stale nonce just after the reorg may be refused (nonce too high); the signer then
      // learns its nonce again and the nonce is used: every signer's confirmed nonces are contiguous from 0.
      await waitFor("signers' recorded nonces equal the chain's", async () => {
        const nonces = await pg.query<{ signer: string; n: string; top: string }>(
          `select signer, count(distinct nonce) as n, max(nonce) as top from chain_txs where status = 'confirmed' group by signer`,
        );
        for (const r of nonces.rows) {
          if (Number(r.n) !== Number(r.top) + 1) return false;
          if ((await node.provider.getTransactionCount(r.signer)) !== Number(r.top) + 1) return false;
        }
        return true;
      });
      const reopened = lines.filter((l) => l.msg === "transaction reorged away; reopened").length;
      console.log(`      fork at ${forkHead}, old head ${oldHead}; transactions reopened after the reorg: ${reopened}`);
    });
  });
}
