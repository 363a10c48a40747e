import { expect } from "chai";
import { NonceManager, Wallet, type HDNodeWallet, type TypedDataField } from "ethers";
import {
  PaymentEscrow__factory,
  UsdcLike__factory,
  UsdtLike__factory,
  type UsdcLike,
  type UsdtLike,
} from "../../../typechain-types";
import { BuyerClient } from "../../../sdk/buyerClient";
import { ADMIN_KEY, devWallet, waitFor } from "../harness";
import { createMerchant, sentSnapshot, startStack, waitIdle, type Merchant, type Stack } from "./support";

/**
 * Every kind of stablecoin on one relayer: a USDC-shaped token (ERC-3009 and permit), the mock stablecoin, and a
 * USDT-shaped token (neither, no return values). Buyers without ETH pay gaslessly where the token allows it;
 * elsewhere their wallet approves and pays.
 */
describe("relayer commerce: payment methods per token (ERC-3009, permit, approval)", function () {
  this.timeout(120_000);
  let stack: Stack;
  let shop: Merchant;
  let usdc: UsdcLike;
  let usdt: UsdtLike;
  let ref = 0;

  before(async () => {
    stack = await startStack();
    const admin = new NonceManager(devWallet(0, stack.node.provider));
    usdc = await new UsdcLike__factory(admin).deploy();
    usdt = await new UsdtLike__factory(admin).deploy();
    await Promise.all([usdc.waitForDeployment(), usdt.waitForDeployment()]);
    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, admin);
    const sent = [
      await escrow.setTokenAllowed(await usdc.getAddress(), true),
      await escrow.setTokenAllowed(await usdt.getAddress(), true),
    ];
    await Promise.all(sent.map((tx) => tx.wait()));
    shop = await createMerchant(stack.api, "Token methods shop");
  });
  after(async () => {
    await stack?.stop();
  });

  /** A created order of `amount` in `token` for `buyer`, who is given the tokens. */
  async function order(token: UsdcLike | UsdtLike, buyer: { address: string }, amount = 40_000_000n) {
    const admin = devWallet(0, stack.node.provider);
    await (await token.connect(admin).mint(buyer.address, amount)).wait();
    const o = await stack.api("POST", "/v1/orders", shop.key, {
      reference: `TM-${++ref}`,
      amount: amount.toString(),
      token: await token.getAddress(),
      buyer: buyer.address,
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    await waitFor("order created", async () => (await getOrder(o.body.id)).status === "created", 60_000);
    return { id: o.body.id as string, chainOrderId: o.body.chainOrderId as string, amount };
  }

  const getOrder = async (id: string) => (await stack.api("GET", `/v1/orders/${id}`, shop.key)).body;
  const waitStatus = (id: string, status: string) =>
    waitFor(`order ${status}`, async () => (await getOrder(id)).status === status, 60_000);

  /** The buyer's signed authorization for `chainOrderId`, as the API takes it. */
  async function signedAuthorization(buyer: Wallet | HDNodeWallet, chainOrderId: string) {
    const intent = await new BuyerClient(stack.base, buyer).authorizationIntent(chainOrderId);
    const a = intent.authorization;
    return {
      action: "pay",
      buyer: buyer.address,
      authorization: {
        domain: a.domain,
        message: a.message,
        signature: await buyer.signTypedData(a.domain, a.types as Record<string, TypedDataField[]>, a.message),
      },
    };
  }

  const submit = (chainOrderId: string, body: unknown) =>
    stack.api("POST", `/v1/checkout/${chainOrderId}/actions`, null, body);

  it("detects each token's methods by eth_call and shows them on /v1/tokens and the checkout view", async () => {
    const tokenInfo = async (t: string) => (await stack.api("GET", `/v1/tokens/${t}`, null)).body;
    const c = await tokenInfo(await usdc.getAddress());
    expect(c.paymentMethods).to.deep.equal(["authorization", "permit", "approval"]);
    expect(c.eip712).to.deep.include({ name: "USDC-like", version: "1", chainId: stack.deployed.chainId.toString() });
    expect((await tokenInfo(stack.deployed.stablecoin)).paymentMethods).to.deep.equal([
      "authorization",
      "permit",
      "approval",
    ]);
    const t = await tokenInfo(await usdt.getAddress());
    expect(t.paymentMethods).to.deep.equal(["approval"]);
    expect(t.eip712).to.equal(null);
    expect(t.decimals).to.equal(6);
    expect((await tokenInfo("native")).paymentMethods).to.deep.equal(["native"]);

    const buyer = Wallet.createRandom();
    const o = await order(usdt, buyer);
    const view = (await stack.api("GET", `/v1/checkout/${o.chainOrderId}`, null)).body;
    expect(view.paymentMethods).to.deep.equal(["approval"]);
    expect(view.tokenDomain).to.equal(null);
    // Neither gasless method is offered for it: a clear 422, nothing queued.
    const before = await sentSnapshot(stack);
    for (const method of ["authorization", "permit"]) {
      const r = await stack.api("POST", `/v1/checkout/${o.chainOrderId}/intents`, null, {
        action: "pay",
        buyer: buyer.address,
        method,
      });
      expect(r.status).to.equal(422);
      expect(r.body.error.code).to.equal("unprocessable");
      expect(r.body.error.details.paymentMethods).to.deep.equal(["approval"]);
    }
    expect(await sentSnapshot(stack)).to.deep.equal(before);
  });

  it("a buyer without ETH pays a USDC-like order with one ERC-3009 signature; another with a permit", async () => {
    const byAuth = Wallet.createRandom(stack.node.provider);
    const byPermit = Wallet.createRandom(stack.node.provider);
    const a = await order(usdc, byAuth);
    const p = await order(usdc, byPermit);
    const view = (await stack.api("GET", `/v1/checkout/${a.chainOrderId}`, null)).body;
    expect(view.paymentMethods[0]).to.equal("authorization");
    expect(view.tokenDomain.verifyingContract).to.equal(await usdc.getAddress());

    const paidA = await new BuyerClient(stack.base, byAuth).pay(a.chainOrderId);
    expect(paidA.method).to.equal("authorization");
    const paidP = await new BuyerClient(stack.base, byPermit).pay(p.chainOrderId, { method: "permit" });
    expect(paidP.method).to.equal("permit");
    await waitStatus(a.id, "paid");
    await waitStatus(p.id, "paid");

    const kinds = await stack.relayer.db.query<{ order_id: string; kind: string; status: string }>(
      `select order_id, kind, status from commands where order_id = any($1::text[]) and kind like 'relay_%' order by id`,
      [[a.id, p.id]],
    );
    expect(kinds.rows.filter((r) => r.order_id === a.id)).to.deep.equal([
      { order_id: a.id, kind: "relay_authorization", status: "confirmed" },
    ]);
    expect(kinds.rows.filter((r) => r.order_id === p.id).map((r) => r.kind)).to.deep.equal([
      "relay_permit",
      "relay_forward",
    ]);
    for (const w of [byAuth, byPermit]) {
      expect(await stack.node.provider.getBalance(w.address)).to.equal(0n);
      expect(await usdc.balanceOf(w.address)).to.equal(0n);
    }
    expect(await usdc.balanceOf(stack.deployed.escrow)).to.equal(a.amount + p.amount);
    // The relayer's gas for the authorization counts against the merchant, like a permit's.
    const spend = await stack.relayer.db.query(
      `select 1 from relay_spend s join commands c on c.id = s.command_id where c.order_id = $1`,
      [a.id],
    );
    expect(spend.rowCount).to.be.greaterThan(0);
  });

  it("a replayed authorization action is refused with signature_replayed, queued or executed, and changes nothing", async () => {
    const buyer = Wallet.createRandom(stack.node.provider);
    const o = await order(usdc, buyer);
    const body = await signedAuthorization(buyer, o.chainOrderId);
    const first = await submit(o.chainOrderId, body);
    expect(first.status, JSON.stringify(first.body)).to.equal(202);
    // Sent again before it ran: one command only.
    const queued = await submit(o.chainOrderId, body);
    expect(queued.status).to.equal(409);
    expect(queued.body.error.code).to.equal("signature_replayed");
    await waitStatus(o.id, "paid");
    await waitIdle(stack.relayer);
    const before = await sentSnapshot(stack);
    const replay = await submit(o.chainOrderId, body);
    expect(replay.status).to.equal(409);
    expect(replay.body.error.code).to.equal("signature_replayed");
    expect(await sentSnapshot(stack)).to.deep.equal(before);
    expect(await usdc.balanceOf(buyer.address)).to.equal(0n);
  });

  it("a front-runner who copies the buyer's authorization from the API gains nothing: not for itself, not for its order", async () => {
    const buyer = Wallet.createRandom(stack.node.provider);
    const thief = Wallet.createRandom(stack.node.provider);
    const o = await order(usdc, buyer);
    const theirs = await order(usdc, thief);
    const body = await signedAuthorization(buyer, o.chainOrderId);
    const before = await sentSnapshot(stack);
    // Claimed as its own payment of the buyer's order: the buyer signed it.
    const asThief = await submit(o.chainOrderId, { ...body, buyer: thief.address });
    expect(asThief.status).to.equal(400);
    expect(asThief.body.error.code).to.equal("wrong_signer");
    // Submitted for the thief's own order: the nonce is the buyer's order's digest.
    const elsewhere = await submit(theirs.chainOrderId, {
      ...body,
      buyer: thief.address,
      authorization: { ...body.authorization, message: { ...body.authorization.message, from: thief.address } },
    });
    expect(elsewhere.status).to.equal(400);
    expect(["wrong_signer", "signature_mismatch"]).to.include(elsewhere.body.error.code);
    expect(await sentSnapshot(stack)).to.deep.equal(before);
    expect((await getOrder(theirs.id)).status).to.equal("created");
    expect(await usdc.balanceOf(buyer.address)).to.equal(o.amount);
  });

  it("a blocklisted buyer's authorization fails visibly: the command fails with AccountBlocked, the order stays unpaid", async () => {
    const buyer = Wallet.createRandom(stack.node.provider);
    const o = await order(usdc, buyer);
    const body = await signedAuthorization(buyer, o.chainOrderId);
    await (await usdc.connect(devWallet(0, stack.node.provider)).setBlocked(buyer.address, true)).wait();
    const r = await submit(o.chainOrderId, body);
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    const failed = await waitFor(
      "authorization failed",
      async () => {
        const c = await stack.relayer.db.query<{ status: string; error_code: string; error_message: string }>(
          `select status, error_code, error_message from commands where id = $1`,
          [r.body.commandId],
        );
        return c.rows[0].status === "failed" ? c.rows[0] : false;
      },
      60_000,
    );
    expect(failed.error_code).to.equal("AccountBlocked");
    expect(failed.error_message).to.include(buyer.address);
    const after = await getOrder(o.id);
    expect(after.status).to.equal("created");
    expect(after.error.code).to.equal("AccountBlocked");
    expect(await usdc.balanceOf(buyer.address)).to.equal(o.amount);
  });

  it("a USDT-like order is paid by approval from the buyer's wallet (with gas) and released to the merchant", async () => {
    const buyer = devWallet(13, stack.node.provider);
    const o = await order(usdt, buyer);
    const client = new BuyerClient(stack.base, buyer);
    const paid = await client.pay(o.chainOrderId);
    expect(paid.method).to.equal("approval");
    await waitStatus(o.id, "paid");
    expect(await usdt.allowance(buyer.address, stack.deployed.escrow)).to.equal(0n);
    const ship = await stack.api("POST", `/v1/orders/${o.id}/ship`, shop.key, { trackingReference: "USDT-1" });
    expect(ship.status).to.equal(202);
    await waitStatus(o.id, "shipped");
    // Confirming needs no token signature: the forwarded call is gasless for any token.
    await client.confirmReceipt(o.chainOrderId);
    await waitStatus(o.id, "completed");
    const fee = o.amount / 100n;
    expect(await usdt.balanceOf(shop.address)).to.equal(o.amount - fee);
    expect(await usdt.balanceOf(devWallet(1).address)).to.equal(fee);
    expect(await usdt.balanceOf(stack.deployed.escrow)).to.equal(0n);
  });

  it("reconciliation reads the escrow's balance of tokens that have only the standard ERC-20 functions and finds no difference", async () => {
    let report: {
      ok: boolean;
      tokens: Record<string, { contractBalance: string; openPositions: string; creditedOutstanding: string }>;
      differences: unknown[];
    } = { ok: false, tokens: {}, differences: [] };
    await waitFor(
      "a reconciliation report at the indexed head",
      async () => {
        const r = await stack.api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
        if (r.status !== 200) return false;
        report = r.body;
        return true;
      },
      60_000,
      500,
    );
    expect(report.differences).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    for (const token of [usdc, usdt]) {
      const address = (await token.getAddress()).toLowerCase();
      expect(report.tokens[address], address).to.not.equal(undefined);
      expect(report.tokens[address].contractBalance).to.equal(
        (await token.balanceOf(stack.deployed.escrow)).toString(),
      );
    }
  });
});
