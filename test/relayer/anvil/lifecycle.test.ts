import fs from "node:fs";
import { expect } from "chai";
import pino from "pino";
import type { Client } from "pg";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
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
import { commandCounts, expectApiMatchesChain, pgClient } from "../resilience/support";
import { ANVIL, ON_ANVIL } from "./node";

// The flows of test/relayer/flow.test.ts, plus a refund and a cancellation, on a node that mines a block every
// second: every transaction waits in the mempool for its block, and the relayer sees it mined only then.
describe(`${ON_ANVIL}: an order's whole life through the API and the chain`, function () {
  this.timeout(120_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let relayer: Relayer;
  let key: string;
  let skuId: string;
  let chainSkuId: bigint;
  const lines: Record<string, unknown>[] = [];
  const orderIds: string[] = [];

  before(async () => {
    node = await startNode(ANVIL);
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = await pgClient(db.url);
    relayer = await startRelayer({
      config: relayerConfig(node, { DATABASE_URL: db.url }),
      chainId: deployed.chainId,
      addresses: deployed,
      logger: pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) }),
    });
    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Acme" });
    expect(m.status).to.equal(201);
    await waitFor(
      "merchant active",
      async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    );
    const k = await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" });
    expect(k.status).to.equal(201);
    key = k.body.secret;
  });

  afterEach(function () {
    // ANVIL_LOG=<file> keeps the relayer's log of a failed test.
    if (this.currentTest?.state === "failed" && process.env.ANVIL_LOG) {
      fs.writeFileSync(process.env.ANVIL_LOG, lines.map((l) => JSON.stringify(l)).join("\n"));
    }
  });

  after(async () => {
    await relayer?.stop();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  async function call(method: "GET" | "POST", url: string, apiKey: string, body?: unknown) {
    const res = await relayer.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${apiKey}` },
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  }
  const getOrder = async (id: string) => (await call("GET", `/v1/orders/${id}`, key)).body;
  const statusIs = (id: string, status: string) =>
    waitFor(`order ${id} ${status}`, async () => {
      const o = await getOrder(id);
      return o.status === status ? o : null;
    });
  const stockIs = (available: string, reserved: string) =>
    waitFor(`stock ${available} available, ${reserved} reserved`, async () => {
      const s = (await call("GET", `/v1/skus/${skuId}`, key)).body.stock;
      return s?.available === available && s?.reserved === reserved ? s : null;
    });
  const placeOrder = async (reference: string, buyer: string, quantity: number) => {
    const o = await call("POST", "/v1/orders", key, {
      reference,
      amount: "25000000",
      token: deployed.stablecoin,
      buyer,
      items: [{ sku: skuId, quantity }],
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    expect(o.body.status).to.equal("pending");
    orderIds.push(o.body.id);
    return o.body.id as string;
  };

  const buyer = () => devWallet(10, node.provider);
  async function fundBuyer() {
    const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer());
    const mint = await usd.mint(buyer().address, 1_000_000_000n);
    await mint.wait();
    await (await usd.approve(deployed.escrow, 1_000_000_000n)).wait();
    return usd;
  }

  it("creates a SKU and its stock, and an order that is paid, shipped, confirmed and released", async () => {
    const sku = await call("POST", "/v1/skus", key, { reference: "tee-red-m", name: "Red tee, M" });
    expect(sku.status).to.equal(202);
    skuId = sku.body.id;
    const stock = await call("POST", `/v1/skus/${skuId}/stock`, key, { quantity: "10" });
    expect(stock.status).to.equal(202);
    const usd = await fundBuyer();
    await stockIs("10", "0");
    chainSkuId = BigInt((await call("GET", `/v1/skus/${skuId}`, key)).body.chainSkuId);

    const id = await placeOrder("A-1001", buyer().address, 2);
    const created = await statusIs(id, "created");
    expect(created.chainProof.txHash).to.match(/^0x[0-9a-f]{64}$/);
    const receipt = await node.provider.getTransactionReceipt(created.chainProof.txHash);
    expect(receipt!.blockNumber).to.equal(created.chainProof.blockNumber);
    expect(
      receipt!.logs.some((l) => l.index === created.chainProof.logIndex && l.topics[1] === created.chainOrderId),
    ).to.equal(true);
    await stockIs("8", "2");

    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer());
    await (await escrow.pay(toTerms(created.terms))).wait();
    await statusIs(id, "paid");
    const shipped = await call("POST", `/v1/orders/${id}/ship`, key, { trackingReference: "DHL-1" });
    expect(shipped.status).to.equal(202);
    const afterShip = await statusIs(id, "shipped");
    await (await escrow.confirmReceipt(toTerms(afterShip.terms), [{ skuId: chainSkuId, quantity: 2n }])).wait();
    await statusIs(id, "completed");
    const s = await call("GET", `/v1/skus/${skuId}`, key);
    expect(s.body.stock).to.deep.equal({ available: "8", reserved: "0", delivered: "2", totalSupply: "10" });
    // 1% of 25 USD to the fee recipient, the rest to the merchant.
    expect(await usd.balanceOf(devWallet(1).address)).to.equal(250_000n);
  });

  it("refunds a paid order and cancels an unpaid one, and their stock comes back", async () => {
    const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer());
    const toRefund = await placeOrder("A-1002", buyer().address, 1);
    const toCancel = await placeOrder("A-1003", buyer().address, 1);
    const created = await statusIs(toRefund, "created");
    await statusIs(toCancel, "created");
    await stockIs("6", "2");
    const before = await usd.balanceOf(buyer().address);

    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer());
    await (await escrow.pay(toTerms(created.terms))).wait();
    await statusIs(toRefund, "paid");
    const [refund, cancel] = await Promise.all([
      call("POST", `/v1/orders/${toRefund}/refund`, key, {}),
      call("POST", `/v1/orders/${toCancel}/cancel`, key, {}),
    ]);
    expect(refund.status, JSON.stringify(refund.body)).to.equal(202);
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
    await statusIs(toRefund, "refunded");
    await statusIs(toCancel, "cancelled");
    await stockIs("8", "0");
    expect(await usd.balanceOf(buyer().address)).to.equal(before);
  });

  it("carries out every accepted command exactly once, and every status equals the chain", async () => {
    await waitFor("all commands settled", async () => {
      const c = await commandCounts(pg);
      return (c.pending ?? 0) + (c.claimed ?? 0) + (c.submitted ?? 0) === 0;
    });
    // merchant setup, SKU, stock, 3 creations, ship, refund, cancel
    expect(await commandCounts(pg)).to.deep.equal({ confirmed: 9 });
    const dup = await pg.query(
      `select signer, nonce from chain_txs where status = 'confirmed' group by signer, nonce having count(*) > 1`,
    );
    expect(dup.rows).to.deep.equal([]);
    const orders = await Promise.all(orderIds.map(getOrder));
    const summary = await expectApiMatchesChain(node.provider, deployed, orders);
    expect(summary.byStatus).to.deep.equal({ completed: 1, refunded: 1, cancelled: 1 });
  });
});
