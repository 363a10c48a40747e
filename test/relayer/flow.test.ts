import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../typechain-types";
import { startRelayer, type Relayer } from "../../relayer/src/relayer";
import { toTerms } from "../../sdk/orderRecord";
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
} from "./harness";

describe("relayer: an order's whole life through the API and the chain", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let relayer: Relayer;

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    relayer = await startRelayer({
      config: relayerConfig(node, { DATABASE_URL: db.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent" }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
  });

  after(async () => {
    await relayer?.stop();
    await db?.drop();
    await node?.stop();
  });

  const call = async (
    method: "GET" | "POST",
    url: string,
    key: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await relayer.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}`, ...headers },
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  };

  it("creates a merchant, its SKU and stock, and an order that is paid, shipped and completed", async () => {
    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Acme" });
    expect(m.status).to.equal(201);
    const merchantId = m.body.id as string;
    await waitFor(
      "merchant active",
      async () => (await call("GET", `/v1/admin/merchants/${merchantId}`, ADMIN_KEY)).body.status === "active",
    );
    const k = await call("POST", `/v1/admin/merchants/${merchantId}/keys`, ADMIN_KEY, { name: "owner" });
    expect(k.status).to.equal(201);
    const key = k.body.secret as string;

    const sku = await call("POST", "/v1/skus", key, { reference: "tee-red-m", name: "Red tee, M" });
    expect(sku.status).to.equal(202);
    const stock = await call("POST", `/v1/skus/${sku.body.id}/stock`, key, { quantity: "10" });
    expect(stock.status).to.equal(202);
    await waitFor("stock minted", async () => {
      const s = await call("GET", `/v1/skus/${sku.body.id}`, key);
      return s.body.stock?.available === "10";
    });

    const buyer = devWallet(10, node.provider);
    const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer);
    await (await usd.mint(buyer.address, 1_000_000_000n)).wait();
    await (await usd.approve(deployed.escrow, 1_000_000_000n)).wait();

    const o = await call("POST", "/v1/orders", key, {
      reference: "A-1001",
      amount: "25000000",
      token: deployed.stablecoin,
      buyer: buyer.address,
      items: [{ sku: sku.body.id, quantity: 2 }],
    });
    expect(o.status).to.equal(202);
    expect(o.body.status).to.equal("pending");
    const created = await waitFor("order created on chain", async () => {
      const r = await call("GET", `/v1/orders/${o.body.id}`, key);
      return r.body.status === "created" ? r.body : null;
    });
    expect(created.chainProof.txHash).to.match(/^0x[0-9a-f]{64}$/);
    const receipt = await node.provider.getTransactionReceipt(created.chainProof.txHash);
    expect(receipt!.blockNumber).to.equal(created.chainProof.blockNumber);
    expect(
      receipt!.logs.some((l) => l.index === created.chainProof.logIndex && l.topics[1] === created.chainOrderId),
    ).to.equal(true);

    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer);
    await (await escrow.pay(toTerms(created.terms))).wait();
    await waitFor("paid", async () => (await call("GET", `/v1/orders/${o.body.id}`, key)).body.status === "paid");

    const shipped = await call("POST", `/v1/orders/${o.body.id}/ship`, key, { trackingReference: "DHL-1" });
    expect(shipped.status).to.equal(202);
    const afterShip = await waitFor("shipped", async () => {
      const r = await call("GET", `/v1/orders/${o.body.id}`, key);
      return r.body.status === "shipped" ? r.body : null;
    });
    await (
      await escrow.confirmReceipt(toTerms(afterShip.terms), [{ skuId: BigInt(sku.body.chainSkuId), quantity: 2n }])
    ).wait();
    await waitFor(
      "completed",
      async () => (await call("GET", `/v1/orders/${o.body.id}`, key)).body.status === "completed",
    );
    const s = await call("GET", `/v1/skus/${sku.body.id}`, key);
    expect(s.body.stock).to.deep.equal({ available: "8", reserved: "0", delivered: "2", totalSupply: "10" });
    expect(await usd.balanceOf(devWallet(1).address)).to.equal(250_000n);
    void ZeroAddress;
  });
});
