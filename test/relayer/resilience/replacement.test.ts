import { expect } from "chai";
import type { Client } from "pg";
import { startRelayer, type Relayer } from "../../../relayer/src/relayer";
import {
  ADMIN_KEY,
  createTestDatabase,
  deployContracts,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../harness";
import { expectApiMatchesChain, pgClient } from "./support";

describe("relayer resilience: stuck transactions and the confirmation depth", function () {
  this.timeout(180_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let relayer: Relayer;
  let key: string;

  const start = async (overrides: Record<string, string>) => {
    relayer = await startRelayer({
      config: relayerConfig(node, { DATABASE_URL: db.url, ...overrides }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
  };
  const call = async (method: "GET" | "POST", url: string, k: string, body?: unknown) => {
    const res = await relayer.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${k}` },
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  };
  const order = async (reference: string) => {
    const r = await call("POST", "/v1/orders", key, { reference, amount: "1000", token: "native" });
    expect(r.status).to.equal(202);
    return r.body as { id: string; chainOrderId: string };
  };
  const commandOf = async (orderId: string) =>
    (
      await pg.query<{ status: string; tx_signer: string; tx_nonce: string }>(
        `select status, tx_signer, tx_nonce from commands where order_id = $1 and kind = 'create_order'`,
        [orderId],
      )
    ).rows;
  const mine = (n = 1) => node.provider.send("hardhat_mine", [`0x${n.toString(16)}`]);

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = await pgClient(db.url);
    await start({ REPLACE_AFTER_MS: "1000" });
    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Acme" });
    await waitFor(
      "merchant active",
      async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    );
    key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "ops" })).body.secret;
    await node.provider.send("evm_setAutomine", [false]);
  });

  after(async () => {
    await node?.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await relayer?.stop();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  it("re-signs a transaction not mined in time with the same nonce and higher fees; one is mined, the other replaced", async () => {
    const o = await order("STUCK-1");
    const first = await waitFor("transaction stored", async () => {
      const c = await commandOf(o.id);
      return c[0]?.status === "submitted" ? c[0] : null;
    });
    const replacements = await waitFor(
      "replacement sent",
      async () => {
        const r = await pg.query<{
          id: string;
          hash: string;
          max_fee_per_gas: string;
          max_priority_fee_per_gas: string;
          replaces: string | null;
        }>(
          `select id, hash, max_fee_per_gas, max_priority_fee_per_gas, replaces from chain_txs
           where signer = $1 and nonce = $2 order by id`,
          [first.tx_signer, first.tx_nonce],
        );
        return r.rows.length >= 2 ? r.rows : null;
      },
      20_000,
    );
    const [orig, repl] = replacements;
    expect(repl.replaces).to.equal(orig.id);
    expect(BigInt(repl.max_fee_per_gas)).to.be.greaterThan(BigInt(orig.max_fee_per_gas));
    expect(BigInt(repl.max_priority_fee_per_gas)).to.be.greaterThan(BigInt(orig.max_priority_fee_per_gas));
    // Still only one transaction at that nonce in the node's pool.
    expect(await node.provider.getTransactionCount(first.tx_signer, "latest")).to.equal(Number(first.tx_nonce));

    await mine();
    await waitFor("command confirmed", async () => (await commandOf(o.id))[0].status === "confirmed");
    // The tracker records the commands' outcome before it closes the transaction (a crash in between leaves the
    // transaction open and the next pass settles it), so the rows are read once the transaction is closed.
    const rows = await waitFor("transaction closed", async () => {
      const r = await pg.query<{ hash: string; status: string }>(
        `select hash, status from chain_txs where signer = $1 and nonce = $2 order by id`,
        [first.tx_signer, first.tx_nonce],
      );
      return r.rows.some((x) => x.status === "confirmed") ? r.rows : null;
    });
    expect(rows.filter((r) => r.status === "confirmed")).to.have.length(1);
    expect(rows.filter((r) => r.status !== "confirmed").every((r) => r.status === "replaced")).to.equal(true);
    const mined = rows.find((r) => r.status === "confirmed")!;
    expect(await node.provider.getTransactionReceipt(mined.hash)).to.not.equal(null);
    for (const r of rows.filter((x) => x.status === "replaced"))
      expect(await node.provider.getTransactionReceipt(r.hash)).to.equal(null);
    expect(await commandOf(o.id)).to.have.length(1);
    await waitFor(
      "order created",
      async () => (await call("GET", `/v1/orders/${o.id}`, key)).body.status === "created",
    );
    await expectApiMatchesChain(node.provider, deployed, [{ ...(await call("GET", `/v1/orders/${o.id}`, key)).body }]);
  });

  it("confirms a command only once its transaction is 3 blocks deep with CONFIRMATIONS=3", async () => {
    await relayer.stop();
    await start({ CONFIRMATIONS: "3" });
    const o = await order("DEEP-1");
    const cmd = await waitFor("transaction stored", async () => {
      const c = await commandOf(o.id);
      return c[0]?.status === "submitted" ? c[0] : null;
    });
    await waitFor(
      "in the pool",
      async () =>
        Number(await node.provider.send("eth_getTransactionCount", [cmd.tx_signer, "pending"])) > Number(cmd.tx_nonce),
    );
    const settle = () => new Promise((r) => setTimeout(r, 600));
    await mine();
    await waitFor("tx mined", async () => {
      const r = await pg.query<{ status: string }>(
        `select status from chain_txs where signer = $1 and nonce = $2 and status = 'mined'`,
        [cmd.tx_signer, cmd.tx_nonce],
      );
      return r.rowCount! > 0;
    });
    await settle();
    expect((await commandOf(o.id))[0].status, "1 block deep").to.equal("submitted");
    await mine();
    await settle();
    expect((await commandOf(o.id))[0].status, "2 blocks deep").to.equal("submitted");
    await mine();
    await waitFor("confirmed at depth 3", async () => (await commandOf(o.id))[0].status === "confirmed", 5000);
    expect(await commandOf(o.id)).to.have.length(1);
  });
});
