/**
 * Money for gas on real nodes: signers that run dry, and a base-fee spike above the fee ceiling. Run on an
 * automining Hardhat node driven block by block and on Anvil with interval mining (a mempool, as on a testnet).
 */
import { expect } from "chai";
import type { Client } from "pg";
import { parseUnits } from "ethers";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import {
  ADMIN_KEY,
  SIGNER_INDEXES,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
  type NodeImplementation,
} from "../harness";
import { pgClient } from "./support";

const GWEI = 10n ** 9n;
const SIGNERS = SIGNER_INDEXES.map((i) => devWallet(i).address);

for (const [implementation, blockTime] of [
  ["hardhat", 0],
  ["anvil", 1],
] as [NodeImplementation, number][]) {
  describe(`relayer on ${implementation}${blockTime ? ` (${blockTime} s blocks)` : ""}: signers out of funds and fee spikes`, function () {
    this.timeout(240_000);
    let node: LocalNode;
    let deployed: Deployed;
    let db: { url: string; drop(): Promise<void> };
    let pg: Client;
    let relayer: Relayer;
    let key: string;
    const prefix = implementation === "hardhat" ? "hardhat" : "anvil";

    const call = async (method: "GET" | "POST", url: string, k: string | null, body?: unknown) => {
      const res = await relayer.app.inject({
        method,
        url,
        headers: k ? { authorization: `Bearer ${k}` } : {},
        payload: body as object,
      });
      return { status: res.statusCode, body: res.json() };
    };
    const setBalance = (address: string, wei: bigint) =>
      node.provider.send(`${prefix}_setBalance`, [address, `0x${wei.toString(16)}`]);
    const mine = (n: number) => node.provider.send(`${prefix}_mine`, [`0x${n.toString(16)}`]);
    const order = async (reference: string) => {
      const r = await call("POST", "/v1/orders", key, { reference, amount: "1000", token: "native" });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      return r.body as { id: string };
    };
    const statusOf = async (id: string) => (await call("GET", `/v1/orders/${id}`, key)).body.status as string;
    const createCommand = async (orderId: string) =>
      (
        await pg.query<{ status: string; error_code: string | null }>(
          `select status, error_code from commands where order_id = $1 and kind = 'create_order'`,
          [orderId],
        )
      ).rows[0];

    before(async () => {
      node = await startNode({ implementation, blockTime });
      deployed = await deployContracts(node.provider);
      db = await createTestDatabase();
      pg = await pgClient(db.url);
      relayer = await startRelayer({
        config: relayerConfig(node, { DATABASE_URL: db.url, MAX_FEE_PER_GAS_GWEI: "50", REPLACE_AFTER_MS: "2000" }),
        chainId: deployed.chainId,
        addresses: deployed,
      });
      const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Acme" });
      await waitFor(
        "merchant active",
        async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
        60_000,
      );
      key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" })).body.secret;
    });

    after(async () => {
      await relayer?.stop();
      await pg?.end();
      await db?.drop();
      await node?.stop();
    });

    it("every signer drained: orders wait saying why, /readyz fails on the signers, nothing loops; after re-funding each order is created once", async () => {
      for (const s of SIGNERS) await setBalance(s, 10n ** 9n);
      const a = await order("DRY-1");
      const b = await order("DRY-2");
      await waitFor(
        "the create commands waiting for funds",
        async () => (await createCommand(a.id))?.error_code === "signer_out_of_funds",
        60_000,
      );
      const ready = await waitFor(
        "/readyz to fail on the signers",
        async () => {
          const r = await call("GET", "/readyz", null);
          return r.status === 503 && r.body.checks.signers?.canPay === 0 ? r.body : undefined;
        },
        60_000,
      );
      expect(ready.checks.signers.held).to.be.greaterThan(0);
      // A dry signer is paused, not retried in a loop.
      const refusedBefore = Number(
        (await pg.query(`select count(*) as n from chain_txs where status = 'dropped'`)).rows[0].n,
      );
      await new Promise((r) => setTimeout(r, 3_000));
      const refusedAfter = Number(
        (await pg.query(`select count(*) as n from chain_txs where status = 'dropped'`)).rows[0].n,
      );
      expect(refusedAfter - refusedBefore, "refusals while paused").to.be.at.most(SIGNERS.length);
      expect(refusedBefore, "refusals in all").to.be.at.most(4 * SIGNERS.length);

      for (const s of SIGNERS) await setBalance(s, parseUnits("100", "ether"));
      if (!blockTime) await mine(1);
      for (const o of [a, b])
        await waitFor(`${o.id} created`, async () => (await statusOf(o.id)) === "created", 90_000);
      expect((await createCommand(a.id)).status).to.equal("confirmed");
      expect((await createCommand(a.id)).error_code).to.equal(null);
      await waitFor("/readyz ready", async () => (await call("GET", "/readyz", null)).status === 200, 90_000);
    });

    it("a base-fee spike above the ceiling: no transaction offers more than MAX_FEE_PER_GAS_GWEI; the order lands once the base fee falls", async () => {
      if (!blockTime) await node.provider.send("evm_setAutomine", [false]);
      try {
        await node.provider.send(`${prefix}_setNextBlockBaseFeePerGas`, [`0x${(1000n * GWEI).toString(16)}`]);
        await mine(1);
        const sentBefore = Number((await pg.query(`select coalesce(max(id), 0) as n from chain_txs`)).rows[0].n);
        const o = await order("SPIKE-1");
        await waitFor(
          "the creation sent at the ceiling",
          async () =>
            Number((await pg.query(`select count(*) as n from chain_txs where id > $1`, [sentBefore])).rows[0].n) > 0,
          60_000,
        );
        // A few blocks at the spiked base fee: the transaction waits in the pool; replacements stop at the ceiling.
        await new Promise((r) => setTimeout(r, 5_000));
        const fees = (
          await pg.query<{ max_fee_per_gas: string }>(`select max_fee_per_gas from chain_txs where id > $1`, [
            sentBefore,
          ])
        ).rows.map((r) => BigInt(r.max_fee_per_gas));
        expect(
          fees.every((f) => f <= 50n * GWEI),
          fees.join(","),
        ).to.equal(true);
        const metrics = (await relayer.app.inject({ method: "GET", url: "/metrics" })).body;
        expect(metrics).to.match(/relayer_fee_cap_reached_total [1-9]/);
        expect(await statusOf(o.id)).to.equal("pending");

        // Empty blocks bring the base fee down 12.5% each, below the ceiling after about 25.
        await mine(40);
        if (!blockTime) await node.provider.send("evm_setAutomine", [true]);
        await waitFor(
          "order created",
          async () => {
            if (!blockTime) await mine(1);
            return (await statusOf(o.id)) === "created";
          },
          90_000,
        );
        const created = await pg.query(
          `select count(*) as n from chain_events where name = 'OrderCreated' and order_id = (select chain_order_id from orders where id = $1)`,
          [o.id],
        );
        expect(Number(created.rows[0].n)).to.equal(1);
      } finally {
        if (!blockTime) await node.provider.send("evm_setAutomine", [true]).catch(() => undefined);
      }
    });
  });
}
