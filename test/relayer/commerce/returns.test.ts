import { expect } from "chai";
import { NonceManager, Signature } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { ADMIN_KEY, devWallet, waitFor } from "../harness";
import {
  contracts,
  createMerchant,
  lineItems,
  orderRows,
  sentSnapshot,
  startStack,
  terms,
  waitStatuses,
  type Merchant,
  type Stack,
} from "./support";

const WINDOW_S = 3600;

describe("relayer commerce: returns after completion, funded by the payee", function () {
  this.timeout(120_000);
  let stack: Stack;
  let merchant: Merchant;
  let adversary: Merchant;
  let ref = 0;
  const buyerIndex = 12;

  before(async () => {
    // A payout address change applies at once here (the delay has its own tests in payouts.test.ts).
    stack = await startStack({ PAYOUT_CHANGE_DELAY_SECONDS: "0" });
    [merchant, adversary] = await Promise.all([
      createMerchant(stack.api, "Returns merchant"),
      createMerchant(stack.api, "Returns adversary"),
    ]);
  });
  after(async () => stack?.stop());

  const usd = () => MockStablecoin__factory.connect(stack.deployed.stablecoin, stack.node.provider);
  const buyer = () => new NonceManager(devWallet(buyerIndex, stack.node.provider));

  async function createOrder(amount: bigint, extra: Record<string, unknown> = {}) {
    const o = await stack.api("POST", "/v1/orders", merchant.key, {
      reference: `RET-${++ref}`,
      amount: amount.toString(),
      token: stack.deployed.stablecoin,
      refundWindowSeconds: WINDOW_S,
      ...extra,
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    return o.body.id as string;
  }

  async function pay(id: string) {
    const o = (await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created")).get(id)!;
    const b = buyer();
    const token = MockStablecoin__factory.connect(stack.deployed.stablecoin, b);
    await (await token.mint(await b.getAddress(), BigInt(o.terms.amount))).wait();
    await (await token.approve(stack.deployed.escrow, BigInt(o.terms.amount))).wait();
    await (await contracts(stack, b).escrow.pay(terms(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "paid"]]), "paid");
    return o;
  }

  async function complete(id: string) {
    const o = await pay(id);
    expect(
      (await stack.api("POST", `/v1/orders/${id}/ship`, merchant.key, { trackingReference: "T" })).status,
    ).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[id, "shipped"]]), "shipped");
    await (await contracts(stack, buyer()).escrow.confirmReceipt(terms(o), lineItems(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "completed"]]), "completed");
    return o;
  }

  const returnOf = async (id: string) =>
    (await orderRows(stack.relayer, [id])).get(id)!.record?.returned as string | undefined;

  async function expectRefused(id: string, body: Record<string, unknown>, status: number, code: string, key?: string) {
    const before = await sentSnapshot(stack);
    const buyerBalance = await usd().balanceOf(devWallet(buyerIndex).address);
    const r = await stack.api("POST", `/v1/orders/${id}/return`, key ?? merchant.key, body);
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code).to.equal(code);
    expect(await sentSnapshot(stack)).to.deep.equal(before);
    expect(await usd().balanceOf(devWallet(buyerIndex).address)).to.equal(buyerBalance);
    return r.body.error;
  }

  it("refuses to return an order that is not completed (paid) with order_not_returnable", async () => {
    const id = await createOrder(500_000n);
    await pay(id);
    const paid = await stack.api("GET", `/v1/orders/${id}`, merchant.key);
    expect(paid.body.allowedActions.merchant).to.not.include("return");
    await expectRefused(id, { amount: "1" }, 409, "order_not_returnable");
  });

  it("returns a completed order in part, then in full, from the custodial payee, and restocks what came back", async () => {
    const sku = await stack.api("POST", "/v1/skus", merchant.key, { reference: "RET-SKU", name: "Returnable" });
    expect(sku.status, JSON.stringify(sku.body)).to.equal(202);
    const skuId = sku.body.id as string;
    await waitFor(
      "SKU created",
      async () => (await stack.api("GET", `/v1/skus/${skuId}`, merchant.key)).body.status === "created",
      30_000,
      200,
    );
    expect((await stack.api("POST", `/v1/skus/${skuId}/stock`, merchant.key, { quantity: "5" })).status).to.equal(202);
    const available = async () => (await stack.api("GET", `/v1/skus/${skuId}`, merchant.key)).body.stock?.available;
    await waitFor("stock minted", async () => (await available()) === "5", 30_000, 200);

    const amount = 1_000_000n;
    const id = await createOrder(amount, { items: [{ sku: skuId, quantity: 2 }] });
    await complete(id);
    expect(await available()).to.equal("3");
    const completed = await stack.api("GET", `/v1/orders/${id}`, merchant.key);
    expect(completed.body.allowedActions.merchant).to.deep.equal(["return"]);
    // The payee received the price minus the 1% fee; a full return needs the whole price: the merchant tops up.
    await (
      await MockStablecoin__factory.connect(stack.deployed.stablecoin, buyer()).mint(merchant.address, 10_000n)
    ).wait();
    const buyerAddress = devWallet(buyerIndex).address;
    const b0 = await usd().balanceOf(buyerAddress);

    // Restocking what the order did not hold is refused before anything is queued.
    await expectRefused(
      id,
      { amount: "300000", restock: [{ sku: "sku_not_in_order", quantity: 1 }] },
      400,
      "validation_failed",
    );
    await expectRefused(id, { amount: "300000", restock: [{ sku: skuId, quantity: 3 }] }, 400, "validation_failed");
    // One of the two units comes back with the partial return.
    const part = await stack.api("POST", `/v1/orders/${id}/return`, merchant.key, {
      amount: "300000",
      restock: [{ sku: skuId, quantity: 1 }],
    });
    expect(part.status, JSON.stringify(part.body)).to.equal(202);
    expect(part.body.command.kind).to.equal("return_order");
    await waitFor("partial return indexed", async () => (await returnOf(id)) === "300000", 30_000, 200);
    expect(await usd().balanceOf(buyerAddress)).to.equal(b0 + 300_000n);
    const view = (await stack.api("GET", `/v1/orders/${id}`, merchant.key)).body;
    expect(view).to.include({ status: "completed", returnedAmount: "300000", refunded: "300000" });
    await waitFor("one unit restocked", async () => (await available()) === "4", 30_000, 200);
    // A later return cannot restock what an earlier one already did: 1 of the 2 ordered is back.
    await expectRefused(id, { amount: "1", restock: [{ sku: skuId, quantity: 2 }] }, 400, "validation_failed");

    // More than the buyer is still out: refused before anything is sent.
    const over = await expectRefused(id, { amount: "700001" }, 422, "return_exceeds_refundable");
    expect(over.details.refundable).to.equal("700000");

    // Two full returns racing (a double-clicking adversary): one is accepted, the other sees it in flight.
    const raced = await Promise.all(
      [1, 2].map(() =>
        stack.api("POST", `/v1/orders/${id}/return`, merchant.key, {
          amount: "700000",
          restock: [{ sku: skuId, quantity: 1 }],
        }),
      ),
    );
    expect(raced.map((r) => r.status).sort()).to.deep.equal([202, 422]);
    expect(raced.find((r) => r.status === 422)!.body.error.code).to.equal("return_exceeds_refundable");
    await waitStatuses(stack.relayer, new Map([[id, "refunded"]]), "refunded by the full return");
    expect(await usd().balanceOf(buyerAddress)).to.equal(b0 + amount);
    const after = (await stack.api("GET", `/v1/orders/${id}`, merchant.key)).body;
    expect(after).to.include({ status: "refunded", returnedAmount: "1000000" });
    expect(after.events.map((e: { name: string }) => e.name)).to.include("OrderReturned");
    await waitFor("restocked", async () => (await available()) === "5", 30_000, 200);

    // One order.returned webhook event per return, with its amount.
    const events = await stack.relayer.db.query<{ type: string; payload: { data: Record<string, unknown> } }>(
      `select type, payload from webhook_events where order_id = $1 order by sequence`,
      [id],
    );
    const returned = events.rows.filter((e) => e.type === "order.returned");
    expect(returned.map((e) => e.payload.data.returnAmount)).to.deep.equal(["300000", "700000"]);
    expect(returned[1].payload.data).to.include({ status: "refunded", returnedAmount: "1000000" });

    // The ledger: the buyer is refunded from the payee's payouts, never from the escrow.
    const chainOrderId = after.chainOrderId as string;
    const lines = await stack.relayer.db.query<{ account: string; debit: string; credit: string }>(
      `select l.account, l.debit::text, l.credit::text from ledger_entries l join chain_events e on e.id = l.event_id
       where l.order_id = $1 and e.name = 'OrderReturned' order by l.id`,
      [chainOrderId],
    );
    expect(lines.rows).to.deep.equal([
      { account: "buyers", debit: "300000", credit: "0" },
      { account: "merchant_payouts", debit: "0", credit: "300000" },
      { account: "buyers", debit: "700000", credit: "0" },
      { account: "merchant_payouts", debit: "0", credit: "700000" },
    ]);
    const report = await stack.api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
    expect(report.status).to.equal(200);
    expect(report.body.differences).to.deep.equal([]);
  });

  it("with the merchant's own wallet as payee: refused until it consents and approves (or sends its permit)", async () => {
    const wallet = devWallet(13, stack.node.provider);
    const put = await stack.api("PUT", "/v1/merchant/payout-address", merchant.key, { address: wallet.address });
    expect(put.status).to.equal(202);
    await waitFor(
      "payout address active",
      async () => (await stack.api("GET", "/v1/merchant/payout-address", merchant.key)).body.state === "active",
      30_000,
      200,
    );
    const id = await createOrder(400_000n);
    const o = await complete(id);
    expect(o.terms.payee).to.equal(wallet.address);
    // The wallet has not agreed to fund this merchant's returns: its allowance alone is no consent.
    const noConsent = await expectRefused(id, { amount: "100000" }, 409, "return_funding_not_allowed");
    expect(noConsent.details).to.include({ payee: wallet.address, merchant: merchant.address });
    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, wallet);
    await (await escrow.setReturnFunding(merchant.address, true)).wait();
    const missing = await expectRefused(id, { amount: "100000" }, 409, "payout_allowance_missing");
    expect(missing.details).to.include({ needed: "100000", allowance: "0", payee: wallet.address });

    const token = MockStablecoin__factory.connect(stack.deployed.stablecoin, wallet);
    await (await token.approve(stack.deployed.escrow, 100_000n)).wait();
    expect((await stack.api("POST", `/v1/orders/${id}/return`, merchant.key, { amount: "100000" })).status).to.equal(
      202,
    );
    await waitFor("allowance return indexed", async () => (await returnOf(id)) === "100000", 30_000, 200);

    // The wallet's EIP-2612 permit instead of an allowance.
    const deadline = BigInt((await stack.node.provider.getBlock("latest"))!.timestamp + 3600);
    const sig = Signature.from(
      await wallet.signTypedData(
        {
          name: await token.name(),
          version: "1",
          chainId: stack.deployed.chainId,
          verifyingContract: stack.deployed.stablecoin,
        },
        {
          Permit: [
            { name: "owner", type: "address" },
            { name: "spender", type: "address" },
            { name: "value", type: "uint256" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        {
          owner: wallet.address,
          spender: stack.deployed.escrow,
          value: 50_000n,
          nonce: await token.nonces(wallet.address),
          deadline,
        },
      ),
    );
    const withPermit = await stack.api("POST", `/v1/orders/${id}/return`, merchant.key, {
      amount: "50000",
      permit: { deadline: deadline.toString(), v: sig.v, r: sig.r, s: sig.s },
    });
    expect(withPermit.status, JSON.stringify(withPermit.body)).to.equal(202);
    await waitFor("permit return indexed", async () => (await returnOf(id)) === "150000", 30_000, 200);
  });

  it("a stolen staff key with the orders scope cannot return money, and one without the stock scope cannot restock", async () => {
    const [id] = (
      await stack.relayer.db.query<{ id: string }>(
        `select id from orders where merchant_id = $1 and status = 'completed' limit 1`,
        [merchant.id],
      )
    ).rows.map((r) => r.id);
    const keyWith = async (scopes: string[]) => {
      const k = await stack.api("POST", "/v1/keys", merchant.key, { name: scopes.join("+"), scopes });
      expect(k.status, JSON.stringify(k.body)).to.equal(201);
      return k.body.secret as string;
    };
    await expectRefused(id, { amount: "1" }, 403, "insufficient_scope", await keyWith(["orders", "read"]));
    const refundsOnly = await keyWith(["refunds", "read"]);
    await expectRefused(id, { amount: "1", restock: true }, 403, "insufficient_scope", refundsOnly);
    // Nor can an order carry a refund window of years, to be drained long after the sale.
    const longWindow = await stack.api("POST", "/v1/orders", merchant.key, {
      reference: `RET-${++ref}`,
      amount: "1000",
      token: stack.deployed.stablecoin,
      refundWindowSeconds: 181 * 24 * 3600,
    });
    expect(longWindow.status, JSON.stringify(longWindow.body)).to.equal(400);
    expect(longWindow.body.error.code).to.equal("validation_failed");
  });

  it("a second merchant (an adversary) cannot return the first's order", async () => {
    const [id] = (
      await stack.relayer.db.query<{ id: string }>(
        `select id from orders where merchant_id = $1 and status = 'completed' limit 1`,
        [merchant.id],
      )
    ).rows.map((r) => r.id);
    await expectRefused(id, { amount: "1" }, 404, "not_found", adversary.key);
  });

  it("refuses a return after the refund window (by the chain's time) with refund_window_closed", async () => {
    const id = await createOrder(200_000n, { refundWindowSeconds: 60 });
    await complete(id);
    await stack.node.provider.send("evm_increaseTime", [120]);
    await stack.node.provider.send("evm_mine", []);
    await expectRefused(id, { amount: "1000" }, 409, "refund_window_closed");
  });
});
