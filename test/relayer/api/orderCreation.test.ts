import { expect } from "chai";
import { id as keccakText, ZeroAddress } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { orderSalt } from "../../../relayer/src/domain/model";
import { NO_ITEMS_HASH, orderIdOf, OrderState, toTerms, type OrderTerms } from "../../../sdk/orderRecord";
import { devWallet, errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

/**
 * Order creation on the terms-bound escrow: the relayer builds each order's terms at acceptance, follows only
 * the orders it accepted, settles a repeated creation only when the escrow holds the order its own terms name,
 * and fails (without retrying) a creation the escrow refuses because the fee rose above the accepted maximum.
 */
describe("relayer API: order terms, foreign orders and fee changes at creation", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let buyerIndex = 10;

  before(async () => {
    env = await startApiEnv();
  });
  after(async () => env?.stop());

  const escrow = () => PaymentEscrow__factory.connect(env.deployed.escrow, env.node.provider);
  const admin = () => PaymentEscrow__factory.connect(env.deployed.escrow, devWallet(0, env.node.provider));

  async function placeOrder(m: Merchant, reference: string, buyer: string) {
    const r = await env.call("POST", "/v1/orders", m.key, {
      reference,
      amount: "5000000",
      token: env.deployed.stablecoin,
      buyer,
    });
    expect(r.status, r.text).to.equal(202);
    return r.body;
  }

  it("builds the order's terms at acceptance: payee = merchant, maxFeeBps = the escrow's fee, salt from the reference", async () => {
    const m = await env.newMerchant();
    const buyer = await env.fundedBuyer(buyerIndex++);
    const accepted = await placeOrder(m, "TERMS-1", buyer.address);
    const t = toTerms(accepted.terms);
    expect(t).to.deep.include({
      merchant: m.address,
      payee: m.address,
      buyer: buyer.address,
      token: env.deployed.stablecoin,
      amount: 5_000_000n,
      maxFeeBps: await escrow().feeBps().then(BigInt),
      refundWindow: 0n,
      itemsHash: NO_ITEMS_HASH,
      salt: orderSalt(m.address, "TERMS-1"),
    });
    expect(accepted).to.deep.include({ payee: m.address, maxFeeBps: 100, settlementProposal: null });
    expect(accepted.chainOrderId).to.equal(orderIdOf(t, []));
    expect(await escrow().orderIdOf(t)).to.equal(accepted.chainOrderId);

    const created = await env.waitOrder(m.key, accepted.id, "created");
    expect(created).to.deep.include({ feeBps: 100, escrowed: "0", refunded: "0", disputeDefaultAfter: null });
    expect(created.record.terms).to.deep.equal(created.terms);
    await env.pay(buyer, created);
    const paid = await env.waitOrder(m.key, accepted.id, "paid");
    expect(paid.escrowed).to.equal("5000000");
  });

  it("a stranger's own order on the escrow (same token, same salt bytes) never appears in the API, the ledger or the webhooks; the merchant's order goes through", async () => {
    const m = await env.newMerchant();
    const buyer = await env.fundedBuyer(buyerIndex++);
    const stranger = await env.fundedBuyer(buyerIndex++);
    const strangerEscrow = PaymentEscrow__factory.connect(env.deployed.escrow, stranger);
    const hook = await env.call("POST", "/v1/webhooks", m.key, { url: "http://127.0.0.1:9/hook" });
    expect(hook.status, hook.text).to.equal(201);

    // The stranger front-runs the merchant's order: it knows the merchant's address and the reference, so it
    // knows the salt, and it creates and pays an order of its own with the same token, amount and salt.
    const reference = "FOREIGN-1";
    const now = BigInt((await env.node.provider.getBlock("latest"))!.timestamp);
    const foreign: OrderTerms = {
      merchant: stranger.address,
      payee: stranger.address,
      buyer: ZeroAddress,
      token: env.deployed.stablecoin,
      amount: 5_000_000n,
      maxFeeBps: 100n,
      paymentDeadline: now + 3600n,
      shipWithin: 3600n,
      protectionPeriod: 3600n,
      refundWindow: 0n,
      itemsHash: NO_ITEMS_HASH,
      salt: orderSalt(m.address, reference),
    };
    const foreignId = orderIdOf(foreign, []);
    // It cannot create the order under the merchant's name.
    await expect(
      strangerEscrow.createOrder({ ...foreign, merchant: m.address, payee: m.address }, []),
    ).to.be.revertedWithCustomError(escrow(), "NotMerchantOrOperator");
    await (await strangerEscrow.createOrder(foreign, [])).wait();
    await (await strangerEscrow.pay(foreign)).wait();
    await (await strangerEscrow.dispute(foreign, keccakText("noise"))).wait();
    expect((await escrow().statusOf(foreignId)).state).to.equal(BigInt(OrderState.Disputed));

    const accepted = await placeOrder(m, reference, buyer.address);
    expect(accepted.chainOrderId).to.not.equal(foreignId);
    const created = await env.waitOrder(m.key, accepted.id, "created");
    await env.pay(buyer, created);
    const paid = await env.waitOrder(m.key, accepted.id, "paid");
    expect(paid.escrowed).to.equal("5000000");
    expect(paid.events.map((e: { name: string }) => e.name)).to.deep.equal(["OrderCreated", "OrderPaid"]);
    // Wait until the indexer is past the stranger's transactions and the merchant's payment.
    await waitFor("ledger has the payment", async () => {
      const r = await env.call("GET", `/v1/ledger/entries?order=${accepted.chainOrderId}`, m.key);
      return r.body.data.length === 2;
    });

    expect((await env.call("GET", `/v1/orders/${foreignId}`, m.key)).status).to.equal(404);
    expect((await env.call("GET", `/v1/checkout/${foreignId}`)).status).to.equal(404);
    const list = await env.call("GET", "/v1/orders?limit=200", m.key);
    expect(list.body.data.map((o: { chainOrderId: string }) => o.chainOrderId)).to.deep.equal([accepted.chainOrderId]);
    const disputes = await env.call("GET", "/v1/arbiter/disputes", "test-arbiter-key-0123456789");
    expect(disputes.body.data.map((o: { chainOrderId: string }) => o.chainOrderId)).to.not.include(foreignId);
    const ledger = await env.call("GET", "/v1/ledger/entries?limit=1000", m.key);
    expect(ledger.body.data.map((e: { chainOrderId: string }) => e.chainOrderId)).to.not.include(foreignId);
    const balances = await env.call("GET", "/v1/ledger/balances", m.key);
    expect(balances.body.balances[env.deployed.stablecoin]).to.deep.include({ escrow: "5000000", buyers: "-5000000" });
    const stored = await env.relayer.db.query(`select count(*)::int as n from chain_events where order_id = $1`, [
      foreignId,
    ]);
    expect(stored.rows[0].n).to.equal(0);
    const hooks = await env.relayer.db.query<{ type: string; chain_order_id: string }>(
      `select type, payload->'data'->>'chainOrderId' as chain_order_id from webhook_events where merchant_id = $1`,
      [m.id],
    );
    expect(hooks.rows.map((r) => r.chain_order_id)).to.not.include(foreignId);
    expect(hooks.rows.map((r) => r.type)).to.deep.equal(["order.created", "order.paid"]);
    const reconciliation = await env.call("GET", "/v1/ledger/reconciliation", m.key);
    expect(reconciliation.body.differences).to.deep.equal([]);
  });

  it("settles a repeated creation as success only after statusOf shows the order its own terms name", async () => {
    const m = await env.newMerchant();
    const buyer = await env.fundedBuyer(buyerIndex++);
    const accepted = await placeOrder(m, "AGAIN-1", buyer.address);
    await env.waitOrder(m.key, accepted.id, "created");
    const first = await env.relayer.db.query<{ payload: unknown; merchant_id: string; order_id: string }>(
      `select payload, merchant_id, order_id from commands where order_id = $1 and kind = 'create_order'`,
      [accepted.id],
    );
    // A second attempt of the same command (as after a crash or a reorg) is refused with OrderAlreadyExists:
    // the escrow holds the order under the id of these very terms, so it is this command's success.
    const again = await env.relayer.db.query<{ id: string }>(
      `insert into commands (kind, merchant_id, order_id, payload) values ('create_order', $1, $2, $3) returning id`,
      [first.rows[0].merchant_id, accepted.id, JSON.stringify(first.rows[0].payload)],
    );
    const settled = await waitFor("repeated creation settled", async () => {
      const r = await env.relayer.db.query<{ status: string; error_code: string | null }>(
        `select status, error_code from commands where id = $1`,
        [again.rows[0].id],
      );
      return ["confirmed", "failed"].includes(r.rows[0].status) ? r.rows[0] : null;
    });
    expect(settled).to.deep.equal({ status: "confirmed", error_code: null });

    // A creation whose stored id is not the id of its terms is never taken for success.
    const tampered = { ...(first.rows[0].payload as Record<string, unknown>), orderId: keccakText("another id") };
    const wrong = await env.relayer.db.query<{ id: string }>(
      `insert into commands (kind, merchant_id, order_id, payload) values ('create_order', $1, $2, $3) returning id`,
      [first.rows[0].merchant_id, accepted.id, JSON.stringify(tampered)],
    );
    const refused = await waitFor("mismatched creation failed", async () => {
      const r = await env.relayer.db.query<{ status: string; error_code: string | null }>(
        `select status, error_code from commands where id = $1`,
        [wrong.rows[0].id],
      );
      return ["confirmed", "failed"].includes(r.rows[0].status) ? r.rows[0] : null;
    });
    expect(refused).to.deep.equal({ status: "failed", error_code: "OrderIdMismatch" });
    const o = await env.call("GET", `/v1/orders/${accepted.id}`, m.key);
    expect(o.body.status).to.equal("created");
  });

  it("fails an order whose creation meets a fee raised above its maxFeeBps with FeeAboveSignedMax, once, never retried", async () => {
    const m = await env.newMerchant();
    const buyer = await env.fundedBuyer(buyerIndex++);
    await env.relayer.writer.stop();
    let accepted;
    try {
      accepted = await placeOrder(m, "FEE-1", buyer.address);
      expect(accepted.maxFeeBps).to.equal(100);
      // The admin raises the fee while the order waits for the writer.
      await (await admin().setFeeBps(250)).wait();
    } finally {
      await env.relayer.writer.start();
    }
    try {
      const failed = await env.waitOrder(m.key, accepted.id, "failed");
      expect(failed.error.code).to.equal("FeeAboveSignedMax");
      expect(failed.error.message).to.include("250 bps").and.include("100 bps");
      expect(failed.commands).to.have.length(1);
      expect(failed.commands[0]).to.deep.include({ kind: "create_order", status: "failed" });
      expect(failed.commands[0].error.code).to.equal("FeeAboveSignedMax");
      expect((await escrow().statusOf(failed.chainOrderId)).state).to.equal(BigInt(OrderState.None));
      const attempts = async () =>
        (
          await env.relayer.db.query<{ attempts: number; status: string }>(
            `select attempts, status from commands where order_id = $1`,
            [accepted.id],
          )
        ).rows[0];
      const before = await attempts();
      await new Promise((r) => setTimeout(r, 3000));
      expect(await attempts()).to.deep.equal(before);
      expect((await env.call("GET", `/v1/orders/${accepted.id}`, m.key)).body.status).to.equal("failed");

      // An order accepted once the relayer knows the new fee carries it, and is created.
      await new Promise((r) => setTimeout(r, 2100));
      const next = await placeOrder(m, "FEE-2", buyer.address);
      expect(next.maxFeeBps).to.equal(250);
      const created = await env.waitOrder(m.key, next.id, "created");
      expect(created.feeBps).to.equal(250);
      // The reference of the failed order stays taken.
      const reused = await env.call("POST", "/v1/orders", m.key, {
        reference: "FEE-1",
        amount: "5000000",
        token: env.deployed.stablecoin,
      });
      expect(reused.status).to.equal(409);
      expect(errorOf(reused).code).to.equal("reference_already_used");
    } finally {
      await (await admin().setFeeBps(100)).wait();
    }
  });

  it("a stranger cannot pay the merchant's order with other terms: only the stored terms name it", async () => {
    const m = await env.newMerchant();
    const buyer = await env.fundedBuyer(buyerIndex++);
    const accepted = await placeOrder(m, "PRICE-1", buyer.address);
    const created = await env.waitOrder(m.key, accepted.id, "created");
    const cheaper = { ...toTerms(created.terms), amount: 1n };
    const byBuyer = PaymentEscrow__factory.connect(env.deployed.escrow, buyer);
    await expect(byBuyer.pay(cheaper)).to.be.revertedWithCustomError(escrow(), "OrderNotFound");
    const usd = MockStablecoin__factory.connect(env.deployed.stablecoin, env.node.provider);
    const before = await usd.balanceOf(buyer.address);
    await env.pay(buyer, created);
    await env.waitOrder(m.key, accepted.id, "paid");
    expect(await usd.balanceOf(buyer.address)).to.equal(before - 5_000_000n);
  });
});
