import { expect } from "chai";
import { Wallet, id as keccakText, type HDNodeWallet, type TypedDataField } from "ethers";
import { BuyerClient, type Intent } from "../../../sdk/buyerClient";
import { devWallet, waitFor } from "../harness";
import {
  contracts,
  createMerchant,
  orderRows,
  terms,
  sentSnapshot,
  startStack,
  waitIdle,
  waitStatuses,
  type Merchant,
  type Stack,
} from "./support";

type TypedData = Intent["forwardRequest"] | NonNullable<Intent["permit"]>;
type Signed = { domain: TypedData["domain"]; message: Record<string, string>; signature: string };

async function sign(w: Wallet | HDNodeWallet, t: TypedData): Promise<Signed> {
  return {
    domain: t.domain,
    message: t.message,
    signature: await w.signTypedData(t.domain, t.types as Record<string, TypedDataField[]>, t.message),
  };
}

/** Signs a copy of `t` after `edit` changed its domain or message. */
function edited<T extends TypedData>(t: T, edit: (t: T) => void): T {
  const copy = JSON.parse(JSON.stringify(t)) as T;
  edit(copy);
  return copy;
}

describe("relayer commerce: signed buyer actions are refused before any gas is spent", function () {
  this.timeout(240_000);
  let stack: Stack;
  let shop: Merchant;
  let ref = 0;

  before(async () => {
    stack = await startStack({ RELAY_BUYER_PER_MINUTE: "3" });
    shop = await createMerchant(stack.api, "Refusals shop");
  });
  after(async () => {
    await stack?.stop();
  });

  /** A created stablecoin order for `buyer` (funded with enough tokens). */
  async function order(buyer: Wallet | HDNodeWallet, amount = 25_000_000n, merchant = shop) {
    const { usd } = contracts(stack, devWallet(0, stack.node.provider));
    await (await usd.mint(buyer.address, amount)).wait();
    const o = await stack.api("POST", "/v1/orders", merchant.key, {
      reference: `SIG-${++ref}`,
      amount: amount.toString(),
      token: stack.deployed.stablecoin,
      buyer: buyer.address,
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[o.body.id, "created"]]), "order created");
    return { id: o.body.id as string, chainOrderId: o.body.chainOrderId as string };
  }

  async function body(
    w: Wallet | HDNodeWallet,
    intent: Intent,
    opts: { fr?: TypedData; permit?: TypedData | null } = {},
  ) {
    const b: Record<string, unknown> = {
      action: intent.action,
      buyer: w.address,
      forwardRequest: await sign(w, opts.fr ?? intent.forwardRequest),
    };
    const permit = opts.permit === undefined ? intent.permit : opts.permit;
    if (permit) b.permit = await sign(w, permit);
    return b;
  }

  const submit = (chainOrderId: string, b: unknown) =>
    stack.api("POST", `/v1/checkout/${chainOrderId}/actions`, null, b);

  /** Submits and expects the refusal; proves that no transaction, command or spend followed it. */
  async function expectRefused(chainOrderId: string, b: unknown, status: number, code: string, buyer?: string) {
    await waitIdle(stack.relayer);
    const before = await sentSnapshot(stack, buyer ? [buyer] : []);
    const { escrow, usd } = contracts(stack, devWallet(0, stack.node.provider));
    const fwd = stack.relayer.chain.forwarder;
    const noncesBefore = buyer ? [await fwd.nonces(buyer), await usd.nonces(buyer)] : [];
    const r = await submit(chainOrderId, b);
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    expect(r.body.error.code, JSON.stringify(r.body)).to.equal(code);
    await new Promise((res) => setTimeout(res, 300));
    expect(await sentSnapshot(stack, buyer ? [buyer] : [])).to.deep.equal(before);
    if (buyer) expect([await fwd.nonces(buyer), await usd.nonces(buyer)]).to.deep.equal(noncesBefore);
    void escrow;
    return r.body.error;
  }

  async function payGasless(w: Wallet | HDNodeWallet, o: { id: string; chainOrderId: string }) {
    const intent = await new BuyerClient(stack.base, w).intent(o.chainOrderId, "pay");
    const b = await body(w, intent);
    const r = await submit(o.chainOrderId, b);
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[o.id, "paid"]]), "order paid");
    return { intent, body: b };
  }

  it("refuses a forward request replayed after it executed with signature_replayed", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const { body: b } = await payGasless(buyer, o);
    const err = await expectRefused(o.chainOrderId, b, 409, "signature_replayed", buyer.address);
    expect(err.details).to.deep.include({ nonce: "0", expected: "1" });
  });

  it("refuses the same signed action submitted twice before it executed with signature_replayed", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const b = await body(buyer, intent);
    await waitIdle(stack.relayer);
    const [first, second] = await Promise.all([submit(o.chainOrderId, b), submit(o.chainOrderId, b)]);
    const statuses = [first.status, second.status].sort();
    expect(statuses).to.deep.equal([202, 409]);
    expect((first.status === 409 ? first : second).body.error.code).to.equal("signature_replayed");
    await waitStatuses(stack.relayer, new Map([[o.id, "paid"]]), "order paid once");
    await waitIdle(stack.relayer);
    const forwards = await stack.relayer.db.query(
      `select status from commands where kind = 'relay_forward' and order_id = $1`,
      [o.id],
    );
    expect(forwards.rows).to.deep.equal([{ status: "confirmed" }]);
  });

  it("refuses a permit replayed with a fresh forward request with signature_replayed", async () => {
    const buyer = Wallet.createRandom();
    const a = await order(buyer, 30_000_000n);
    const { intent: first } = await payGasless(buyer, a);
    const b = await order(buyer, 30_000_000n);
    const fresh = await new BuyerClient(stack.base, buyer).intent(b.chainOrderId, "pay");
    expect(fresh.permit!.message.nonce).to.equal("1");
    const err = await expectRefused(
      b.chainOrderId,
      await body(buyer, fresh, { permit: first.permit! }),
      409,
      "signature_replayed",
      buyer.address,
    );
    expect(err.message).to.match(/permit/);
  });

  it("refuses a forward request whose deadline has passed with signature_expired", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const past = String(Math.floor(Date.now() / 1000) - 60);
    const fr = edited(intent.forwardRequest, (t) => (t.message.deadline = past));
    await expectRefused(o.chainOrderId, await body(buyer, intent, { fr }), 400, "signature_expired", buyer.address);
  });

  it("refuses a permit whose deadline has passed with signature_expired", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const permit = edited(intent.permit!, (t) => (t.message.deadline = String(Math.floor(Date.now() / 1000) - 1)));
    const err = await expectRefused(
      o.chainOrderId,
      await body(buyer, intent, { permit }),
      400,
      "signature_expired",
      buyer.address,
    );
    expect(err.message).to.match(/permit/);
  });

  it("refuses a forward request signed for another chain with wrong_chain", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const fr = edited(intent.forwardRequest, (t) => (t.domain.chainId = "1"));
    const err = await expectRefused(
      o.chainOrderId,
      await body(buyer, intent, { fr }),
      400,
      "wrong_chain",
      buyer.address,
    );
    expect(err.details).to.deep.equal({ expectedChainId: "31337" });
  });

  it("refuses a permit signed for another chain with wrong_chain", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const permit = edited(intent.permit!, (t) => (t.domain.chainId = "10"));
    await expectRefused(o.chainOrderId, await body(buyer, intent, { permit }), 400, "wrong_chain", buyer.address);
  });

  it("refuses a forward request signed by another wallet with wrong_signer", async () => {
    const buyer = Wallet.createRandom();
    const other = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const b = await body(other, intent);
    b.buyer = buyer.address;
    b.permit = await sign(buyer, intent.permit!);
    const err = await expectRefused(o.chainOrderId, b, 400, "wrong_signer", buyer.address);
    expect(err.details).to.deep.equal({ signer: other.address, buyer: buyer.address });
  });

  it("refuses a permit signed by another wallet with wrong_signer", async () => {
    const buyer = Wallet.createRandom();
    const other = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const b = await body(buyer, intent);
    b.permit = await sign(other, intent.permit!);
    const err = await expectRefused(o.chainOrderId, b, 400, "wrong_signer", buyer.address);
    expect(err.message).to.match(/permit/);
  });

  it("refuses an action for an order that names another buyer with wrong_signer", async () => {
    const buyer = Wallet.createRandom();
    const other = Wallet.createRandom();
    const o = await order(buyer);
    const intents = await stack.api("POST", `/v1/checkout/${o.chainOrderId}/intents`, null, {
      action: "pay",
      buyer: other.address,
    });
    expect(intents.status).to.equal(400);
    expect(intents.body.error.code).to.equal("wrong_signer");
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const fr = edited(intent.forwardRequest, (t) => (t.message.from = other.address));
    const b = await body(other, intent, { fr, permit: null });
    await expectRefused(o.chainOrderId, b, 400, "wrong_signer", buyer.address);
  });

  for (const [field, change] of [
    ["data", (m: Record<string, string>) => (m.data = m.data.slice(0, -2) + (m.data.endsWith("00") ? "01" : "00"))],
    ["value", (m: Record<string, string>) => (m.value = "1")],
    ["to", (m: Record<string, string>) => (m.to = devWallet(9).address)],
    ["gas", (m: Record<string, string>) => (m.gas = "300000")],
    ["nonce", (m: Record<string, string>) => (m.nonce = "5")],
  ] as const) {
    it(`refuses a forward request whose ${field} was changed after signing with wrong_signer`, async () => {
      const buyer = Wallet.createRandom();
      const o = await order(buyer);
      const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
      const b = await body(buyer, intent);
      change((b.forwardRequest as Signed).message);
      // A changed message recovers to another address: the signer check is the one that fails.
      const err = await expectRefused(o.chainOrderId, b, 400, "wrong_signer", buyer.address);
      expect(err.details.buyer).to.equal(buyer.address);
      expect(err.details.signer).to.not.equal(buyer.address);
    });
  }

  it("refuses a permit whose value was changed after signing with wrong_signer", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const b = await body(buyer, intent);
    (b.permit as Signed).message.value = "1000000000000";
    await expectRefused(o.chainOrderId, b, 400, "wrong_signer", buyer.address);
  });

  it("refuses a forward request signed for another escrow call with signature_mismatch", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const rows = await orderRows(stack.relayer, [o.id]);
    const { escrow } = contracts(stack, devWallet(0, stack.node.provider));
    const other = escrow.interface.encodeFunctionData("dispute", [terms(rows.get(o.id)!), keccakText("x")]);
    const fr = edited(intent.forwardRequest, (t) => (t.message.data = other));
    await expectRefused(o.chainOrderId, await body(buyer, intent, { fr }), 400, "signature_mismatch", buyer.address);
  });

  it("refuses a forward request to a contract other than the escrow with relay_policy_violation", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const { usd } = contracts(stack, devWallet(0, stack.node.provider));
    const fr = edited(intent.forwardRequest, (t) => {
      t.message.to = stack.deployed.stablecoin;
      t.message.data = usd.interface.encodeFunctionData("transfer", [devWallet(9).address, 1n]);
    });
    const err = await expectRefused(
      o.chainOrderId,
      await body(buyer, intent, { fr }),
      403,
      "relay_policy_violation",
      buyer.address,
    );
    expect(err.details).to.deep.equal({ to: stack.deployed.stablecoin });
  });

  it("refuses a forward request carrying value or too much gas with relay_policy_violation", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const withValue = edited(intent.forwardRequest, (t) => (t.message.value = "1"));
    await expectRefused(
      o.chainOrderId,
      await body(buyer, intent, { fr: withValue }),
      403,
      "relay_policy_violation",
      buyer.address,
    );
    const withGas = edited(intent.forwardRequest, (t) => (t.message.gas = "5000000"));
    await expectRefused(
      o.chainOrderId,
      await body(buyer, intent, { fr: withGas }),
      403,
      "relay_policy_violation",
      buyer.address,
    );
  });

  it("refuses a malformed signature with validation_failed and an unrecoverable one with signature_invalid", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    for (const signature of ["0x1234", "0x" + "zz".repeat(65), "", "0x" + "ab".repeat(66)]) {
      const b = await body(buyer, intent);
      (b.forwardRequest as Signed).signature = signature;
      await expectRefused(o.chainOrderId, b, 400, "validation_failed", buyer.address);
    }
    const b = await body(buyer, intent);
    (b.forwardRequest as Signed).signature = "0x" + "00".repeat(65);
    await expectRefused(o.chainOrderId, b, 400, "signature_invalid", buyer.address);
  });

  it("refuses an action the order's state does not allow with invalid_order_state", async () => {
    const buyer = Wallet.createRandom();
    const o = await order(buyer);
    const res = await stack.api("POST", `/v1/checkout/${o.chainOrderId}/intents`, null, {
      action: "confirm",
      buyer: buyer.address,
    });
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal("invalid_order_state");
    expect(res.body.error.details).to.deep.equal({ status: "created", allowed: ["shipped"] });
    // A confirmation signed by hand for the created order is refused the same way.
    const intent = await new BuyerClient(stack.base, buyer).intent(o.chainOrderId, "pay");
    const rows = await orderRows(stack.relayer, [o.id]);
    const { escrow } = contracts(stack, devWallet(0, stack.node.provider));
    const fr = edited(intent.forwardRequest, (t) => {
      t.message.data = escrow.interface.encodeFunctionData("confirmReceipt", [terms(rows.get(o.id)!), []]);
    });
    const b = await body(buyer, intent, { fr, permit: null });
    b.action = "confirm";
    await expectRefused(o.chainOrderId, b, 409, "invalid_order_state", buyer.address);
  });

  it("refuses a buyer's requests beyond RELAY_BUYER_PER_MINUTE with rate_limited", async () => {
    const buyer = Wallet.createRandom();
    const orders = [];
    for (let i = 0; i < 4; i++) orders.push(await order(buyer, 10_000_000n));
    for (const o of orders.slice(0, 3)) await payGasless(buyer, o);
    const intent = await new BuyerClient(stack.base, buyer).intent(orders[3].chainOrderId, "pay");
    const err = await expectRefused(
      orders[3].chainOrderId,
      await body(buyer, intent),
      429,
      "rate_limited",
      buyer.address,
    );
    expect(err.details).to.deep.equal({ limitPerMinute: 3 });
  });

  it("refuses a merchant's buyers once its gas budget is spent with gas_budget_exhausted", async () => {
    const frugal = await createMerchant(stack.api, "Frugal shop");
    const spent = async () =>
      BigInt(
        (
          await stack.relayer.db.query<{ s: string | null }>(
            `select sum(cost_wei) as s from relay_spend where merchant_id = $1`,
            [frugal.id],
          )
        ).rows[0].s ?? "0",
      );
    const buyer = Wallet.createRandom();
    const a = await order(buyer, 10_000_000n, frugal);
    const b = await order(buyer, 10_000_000n, frugal);
    // The merchant's own commands are metered too: once both creations are charged, leave room for one more.
    await waitFor("both creations metered", async () => {
      const r = await stack.relayer.db.query<{ n: string }>(
        `select count(*) as n from relay_spend s join commands c on c.id = s.command_id
         where c.merchant_id = $1 and c.kind = 'create_order'`,
        [frugal.id],
      );
      return Number(r.rows[0].n) >= 2;
    });
    const setup = await spent();
    await stack.relayer.db.query(`update merchants set gas_budget_wei = $2 where id = $1`, [
      frugal.id,
      (setup + 1n).toString(),
    ]);
    await payGasless(buyer, a);
    await waitFor("relay spend recorded", async () => (await spent()) > setup + 1n);
    const intent = await new BuyerClient(stack.base, buyer).intent(b.chainOrderId, "pay");
    const err = await expectRefused(
      b.chainOrderId,
      await body(buyer, intent),
      402,
      "gas_budget_exhausted",
      buyer.address,
    );
    expect(err.details).to.deep.equal({
      budgetWei: (setup + 1n).toString(),
      spentWei: (await spent()).toString(),
      reservedWei: "0",
    });
  });
});
