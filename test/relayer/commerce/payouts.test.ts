import { expect } from "chai";
import { NonceManager, Wallet, ZeroAddress } from "ethers";
import { MockStablecoin__factory, PaymentEscrow__factory, UsdcLike__factory } from "../../../typechain-types";
import { ADMIN_KEY, devWallet, waitFor } from "../harness";
import { apiContract } from "../support/openapiContract";
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

const DELAY_S = 2;
const FEE_BPS = 100n;
const payeeShare = (amount: bigint) => amount - (amount * FEE_BPS) / 10_000n;

describe("relayer commerce: the merchant's payout address and sweeps", function () {
  this.timeout(120_000);
  let stack: Stack;
  let owner: Merchant;
  let other: Merchant;
  let staffKey: string;
  let ref = 0;
  const payout = Wallet.createRandom().address;

  before(async () => {
    stack = await startStack({ PAYOUT_CHANGE_DELAY_SECONDS: String(DELAY_S) });
    [owner, other] = await Promise.all([
      createMerchant(stack.api, "Payouts owner"),
      createMerchant(stack.api, "Payouts other"),
    ]);
    const staff = await stack.api("POST", "/v1/keys", owner.key, {
      name: "staff with every scope",
      scopes: ["read", "orders", "refunds", "stock", "keys"],
    });
    expect(staff.status).to.equal(201);
    staffKey = staff.body.secret;
  });
  after(async () => stack?.stop());

  const escrowOf = () => PaymentEscrow__factory.connect(stack.deployed.escrow, stack.node.provider);

  async function createOrder(m: Merchant, token: string, amount: bigint) {
    const o = await stack.api("POST", "/v1/orders", m.key, {
      reference: `PAY-${++ref}`,
      amount: amount.toString(),
      token,
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    return o.body.id as string;
  }

  /** Pays, ships and confirms the order (token: MockStablecoin or UsdcLike, both mintable by anyone). */
  async function complete(m: Merchant, id: string, beforeRelease?: () => Promise<void>) {
    const rows = await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created");
    const o = rows.get(id)!;
    const buyer = new NonceManager(devWallet(12, stack.node.provider));
    const token = MockStablecoin__factory.connect(o.terms.token, buyer);
    const { escrow } = contracts(stack, buyer);
    await (await token.mint(await buyer.getAddress(), BigInt(o.terms.amount))).wait();
    await (await token.approve(stack.deployed.escrow, BigInt(o.terms.amount))).wait();
    await (await escrow.pay(terms(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "paid"]]), "paid");
    expect((await stack.api("POST", `/v1/orders/${id}/ship`, m.key, { trackingReference: "T" })).status).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[id, "shipped"]]), "shipped");
    if (beforeRelease) await beforeRelease();
    await (await escrow.confirmReceipt(terms(o), lineItems(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "completed"]]), "completed");
    return o;
  }

  it("refuses a staff key of the merchant (every scope, not an owner) with owner_key_required; nothing changes", async () => {
    const before = await sentSnapshot(stack);
    const put = await stack.api("PUT", "/v1/merchant/payout-address", staffKey, { address: payout });
    expect(put.status).to.equal(403);
    expect(put.body.error.code).to.equal("owner_key_required");
    const del = await stack.api("DELETE", "/v1/merchant/payout-address/pending", staffKey);
    expect(del.status).to.equal(403);
    expect(del.body.error.code).to.equal("owner_key_required");
    expect(await sentSnapshot(stack)).to.deep.equal(before);
    const get = await stack.api("GET", "/v1/merchant/payout-address", staffKey);
    expect(get.status).to.equal(200);
    expect(get.body).to.include({ state: "none", address: null, custodialAddress: owner.address });
  });

  it("refuses the zero address, the escrow, the inventory, the forwarder and the custodial address", async () => {
    const { escrow, inventory, forwarder } = stack.deployed;
    const cases: [string, string][] = [
      [ZeroAddress, "zero_address"],
      [escrow, "escrow"],
      [inventory.toLowerCase(), "inventory"],
      [forwarder, "forwarder"],
      [owner.address, "custodial_address"],
    ];
    for (const [address, reason] of cases) {
      const r = await stack.api("PUT", "/v1/merchant/payout-address", owner.key, { address });
      expect(r.status, reason).to.equal(400);
      expect(r.body.error.code).to.equal("payout_address_forbidden");
      expect(r.body.error.details.reason).to.equal(reason);
    }
    expect((await stack.api("GET", "/v1/merchant/payout-address", owner.key)).body.state).to.equal("none");
  });

  let before1: string;
  let beforeUsdcl: string;
  let usdcl: string;

  it("announces a change (webhook), lets an owner cancel it in the delay, and applies the next after the delay", async () => {
    // Orders accepted before the change: they keep the custodial address as payee.
    before1 = await createOrder(owner, stack.deployed.stablecoin, 1_000_000n);
    const admin = new NonceManager(devWallet(0, stack.node.provider));
    const token = await new UsdcLike__factory(admin).deploy();
    await token.waitForDeployment();
    usdcl = await token.getAddress();
    await (await PaymentEscrow__factory.connect(stack.deployed.escrow, admin).setTokenAllowed(usdcl, true)).wait();
    beforeUsdcl = await createOrder(owner, usdcl, 2_000_000n);
    const hook = await stack.api("POST", "/v1/webhooks", owner.key, {
      url: "http://127.0.0.1:9/hooks",
      events: ["merchant.payout_address_pending"],
    });
    expect(hook.status).to.equal(201);

    const put = await stack.api("PUT", "/v1/merchant/payout-address", owner.key, { address: payout });
    expect(put.status, JSON.stringify(put.body)).to.equal(202);
    expect(put.body.state).to.equal("pending");
    expect(put.body.pending.address).to.equal(payout);
    const events = await stack.relayer.db.query<{ id: string; payload: { data: { pending: { address: string } } } }>(
      `select id, payload from webhook_events where merchant_id = $1 and type = 'merchant.payout_address_pending'`,
      [owner.id],
    );
    expect(events.rows).to.have.length(1);
    expect(events.rows[0].payload.data.pending.address).to.equal(payout);
    // The body each endpoint receives: what the OpenAPI document promises a webhook is.
    apiContract().assertComponent("WebhookEvent", events.rows[0].payload);
    const deliveries = await stack.relayer.db.query(`select 1 from webhook_deliveries where event_id = $1`, [
      events.rows[0].id,
    ]);
    expect(deliveries.rowCount).to.equal(1);

    const cancel = await stack.api("DELETE", "/v1/merchant/payout-address/pending", owner.key);
    expect(cancel.status).to.equal(200);
    expect(cancel.body).to.include({ state: "none", address: null });
    const again = await stack.api("DELETE", "/v1/merchant/payout-address/pending", owner.key);
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal("no_payout_change_pending");
    // The cancelled change never reaches the chain, even after its delay.
    await new Promise((r) => setTimeout(r, DELAY_S * 1000 + 1000));
    expect(await escrowOf().payoutAddressOf(owner.address)).to.equal(owner.address);
    expect((await stack.api("GET", "/v1/merchant/payout-address", owner.key)).body.state).to.equal("none");

    const put2 = await stack.api("PUT", "/v1/merchant/payout-address", owner.key, { address: payout });
    expect(put2.status).to.equal(202);
    expect(put2.body.state).to.equal("pending");
    await waitFor(
      "payout address active",
      async () => (await stack.api("GET", "/v1/merchant/payout-address", owner.key)).body.state === "active",
      30_000,
      200,
    );
    const active = (await stack.api("GET", "/v1/merchant/payout-address", owner.key)).body;
    expect(active).to.include({ address: payout, pending: null });
    expect(await escrowOf().payoutAddressOf(owner.address)).to.equal(payout);
    const audit = await stack.api("GET", "/v1/audit", owner.key);
    const actions = (audit.body.data as { action: string }[]).map((a) => a.action);
    expect(actions).to.include.members(["payout_address.requested", "payout_address.cancelled"]);
  });

  it("pays orders accepted after the change to the payout address; earlier orders keep the custodial payee", async () => {
    const after1 = await createOrder(owner, stack.deployed.stablecoin, 3_000_000n);
    const rows = await orderRows(stack.relayer, [before1, after1]);
    expect(rows.get(before1)!.terms.payee).to.equal(owner.address);
    expect(rows.get(after1)!.terms.payee).to.equal(payout);
    const usd = MockStablecoin__factory.connect(stack.deployed.stablecoin, stack.node.provider);
    const [custodial0, payout0] = [await usd.balanceOf(owner.address), await usd.balanceOf(payout)];
    await complete(owner, before1);
    await complete(owner, after1);
    expect(await usd.balanceOf(owner.address)).to.equal(custodial0 + payeeShare(1_000_000n));
    expect(await usd.balanceOf(payout)).to.equal(payout0 + payeeShare(3_000_000n));
  });

  it("sweeps the custodial address's escrow credits and token balances to the payout address", async () => {
    // The token refuses the custodial address at release: the escrow credits it instead.
    const blocklister = new NonceManager(devWallet(0, stack.node.provider));
    const token = UsdcLike__factory.connect(usdcl, blocklister);
    await complete(owner, beforeUsdcl, async () => {
      await (await token.setBlocked(owner.address, true)).wait();
    });
    await (await token.setBlocked(owner.address, false)).wait();
    const credit = payeeShare(2_000_000n);
    expect(await escrowOf().credited(owner.address, usdcl)).to.equal(credit);

    const sweep = await stack.api(
      "POST",
      "/v1/merchant/sweep",
      owner.key,
      { token: usdcl },
      { "Idempotency-Key": "sweep-usdcl-1" },
    );
    expect(sweep.status, JSON.stringify(sweep.body)).to.equal(202);
    expect(sweep.body).to.include({ from: owner.address, to: payout, credited: credit.toString() });
    const replay = await stack.api(
      "POST",
      "/v1/merchant/sweep",
      owner.key,
      { token: usdcl },
      { "Idempotency-Key": "sweep-usdcl-1" },
    );
    expect(replay.body.command.id).to.equal(sweep.body.command.id);
    const usdSweep = await stack.api("POST", "/v1/merchant/sweep", owner.key, { token: stack.deployed.stablecoin });
    expect(usdSweep.status).to.equal(202);

    const usd = MockStablecoin__factory.connect(stack.deployed.stablecoin, stack.node.provider);
    await waitFor(
      "custodial address swept",
      async () =>
        (await escrowOf().credited(owner.address, usdcl)) === 0n &&
        (await token.balanceOf(owner.address)) === 0n &&
        (await usd.balanceOf(owner.address)) === 0n,
      30_000,
      200,
    );
    expect(await token.balanceOf(payout)).to.equal(credit);
    expect(await usd.balanceOf(payout)).to.equal(payeeShare(3_000_000n) + payeeShare(1_000_000n));
    // The relayer confirms each sweep once it has read the chain after its last step (the chain shows it first).
    await waitFor(
      "both sweeps confirmed",
      async () => {
        const cmds = await stack.relayer.db.query<{ status: string }>(
          `select status from commands where kind = 'sweep_payouts' and merchant_id = $1 order by id`,
          [owner.id],
        );
        if (cmds.rows.some((c) => c.status === "failed")) throw new Error("a sweep failed");
        return cmds.rows.length === 2 && cmds.rows.every((c) => c.status === "confirmed");
      },
      30_000,
      200,
    );

    // The ledger books the credit and its withdrawal, and reconciliation finds no difference.
    await waitFor(
      "credit and withdrawal booked",
      async () =>
        (
          await stack.relayer.db.query(
            `select 1 from ledger_entries where merchant_id = $1 and account in ('escrow_credits', 'payout_wallet')`,
            [owner.id],
          )
        ).rowCount === 4,
      30_000,
      200,
    );
    const b = await stack.api("GET", `/v1/ledger/balances?token=${usdcl}`, owner.key);
    expect(Object.values(b.body.balances)[0]).to.include({ escrow_credits: "0", payout_wallet: "0" });
    const report = await stack.api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
    expect(report.status).to.equal(200);
    expect(report.body.differences).to.deep.equal([]);
  });

  it("refuses a second change while the first is being applied on chain (payout_change_in_progress), so the registry and the relayer never disagree", async () => {
    const m = await createMerchant(stack.api, "Payouts applying");
    const first = Wallet.createRandom().address;
    // The chain is slow: the change passes its delay but its transaction is not sent yet.
    await stack.relayer.writer.stop();
    try {
      const asked = await stack.api("PUT", "/v1/merchant/payout-address", m.key, { address: first });
      expect(asked.status, JSON.stringify(asked.body)).to.equal(202);
      await waitFor(
        "the change to pass its delay",
        async () => (await stack.api("GET", "/v1/merchant/payout-address", m.key)).body.state === "applying",
        30_000,
        200,
      );
      const again = await stack.api("PUT", "/v1/merchant/payout-address", m.key, {
        address: Wallet.createRandom().address,
      });
      expect(again.status, JSON.stringify(again.body)).to.equal(409);
      expect(again.body.error.code).to.equal("payout_change_in_progress");
    } finally {
      await stack.relayer.writer.start();
    }
    await waitFor(
      "the first change to be active",
      async () => (await stack.api("GET", "/v1/merchant/payout-address", m.key)).body.address === first,
      60_000,
      200,
    );
    expect(await escrowOf().payoutAddressOf(m.address)).to.equal(first);
  });

  it("refuses a sweep with payout_address_not_set when the merchant has no payout address", async () => {
    const before = await sentSnapshot(stack);
    const r = await stack.api("POST", "/v1/merchant/sweep", other.key, { token: stack.deployed.stablecoin });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal("payout_address_not_set");
    expect(await sentSnapshot(stack)).to.deep.equal(before);
  });

  it("refuses a sweep of a token the escrow does not accept (an attacker's contract would burn the relayer's gas) with token_not_allowed", async () => {
    const before = await sentSnapshot(stack);
    // Any contract: here the forwarder, which the escrow never accepts as a token.
    const r = await stack.api("POST", "/v1/merchant/sweep", owner.key, { token: stack.deployed.forwarder });
    expect(r.status, JSON.stringify(r.body)).to.equal(422);
    expect(r.body.error.code).to.equal("token_not_allowed");
    expect(await sentSnapshot(stack)).to.deep.equal(before);
  });

  it("a second merchant (an adversary with its own keys) cannot move or redirect the first's money", async () => {
    // Its own payout address applies to its own custodial address only.
    const attacker = devWallet(14).address;
    const put = await stack.api("PUT", "/v1/merchant/payout-address", other.key, { address: attacker });
    expect(put.status).to.equal(202);
    await waitFor(
      "other's payout address active",
      async () => (await stack.api("GET", "/v1/merchant/payout-address", other.key)).body.state === "active",
      30_000,
      200,
    );
    expect(await escrowOf().payoutAddressOf(owner.address)).to.equal(payout);
    const usd = MockStablecoin__factory.connect(stack.deployed.stablecoin, stack.node.provider);
    const owed = 500_000n;
    await (
      await MockStablecoin__factory.connect(
        stack.deployed.stablecoin,
        new NonceManager(devWallet(12, stack.node.provider)),
      ).mint(owner.address, owed)
    ).wait();
    const sweep = await stack.api("POST", "/v1/merchant/sweep", other.key, { token: stack.deployed.stablecoin });
    expect(sweep.status).to.equal(202);
    expect(sweep.body.from).to.equal(other.address);
    await waitFor(
      "other's sweep done",
      async () =>
        (
          await stack.relayer.db.query(`select 1 from commands where id = $1 and status in ('confirmed', 'failed')`, [
            sweep.body.command.id,
          ])
        ).rowCount === 1,
      30_000,
      200,
    );
    expect(await usd.balanceOf(owner.address)).to.equal(owed);
    expect(await usd.balanceOf(attacker)).to.equal(0n);
    // The first merchant's order is not the second's to return.
    const r = await stack.api("POST", `/v1/orders/${before1}/return`, other.key, { amount: "1" });
    expect(r.status).to.equal(404);
  });
});
