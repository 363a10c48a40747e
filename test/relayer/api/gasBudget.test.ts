/**
 * Gas budgets (issue "Relayer: exactly once on real chains and against hostile tenants", item 14): the gas of
 * every command a merchant causes is metered, a batch's gas shared between its calls, and once a merchant spent
 * its budget over the last 30 days its new commands are refused with 402 gas_budget_exhausted. The admin sets and
 * reads budgets (audited); a merchant without one has the configured non-zero default.
 */
import { expect } from "chai";
import { parseUnits } from "ethers";
import { ADMIN_KEY, devWallet, errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

describe("relayer API: gas budgets against hostile tenants", function () {
  this.timeout(180_000);
  let env: ApiEnv;

  before(async () => {
    // One signer: commands accepted together travel in one batch.
    env = await startApiEnv({
      overrides: { SIGNER_KEYS: devWallet(4).privateKey, GAS_BUDGET_DEFAULT_ETH: "0.5" },
    });
  });
  after(async () => env?.stop());

  const budgetUrl = (m: Merchant) => `/v1/admin/merchants/${m.id}/gas-budget`;

  /** Gas recorded against `merchantId` (wei), as the meter stored it. */
  async function spentOf(merchantId: string): Promise<bigint> {
    const r = await env.relayer.db.query<{ s: string | null }>(
      `select sum(cost_wei) as s from relay_spend where merchant_id = $1`,
      [merchantId],
    );
    return BigInt(r.rows[0].s ?? "0");
  }

  async function order(m: Merchant, reference: string) {
    const r = await env.call("POST", "/v1/orders", m.key, { reference, amount: "1000", token: "native" });
    expect(r.status, r.text).to.equal(202);
    return r.body as { id: string; chainOrderId: string };
  }

  it("a hostile tenant has no unlimited budget: a new merchant gets the configured default, and the admin sets and reads budgets, audited", async () => {
    const m = await env.newMerchant("Budget reader");
    const initial = await env.call("GET", budgetUrl(m), ADMIN_KEY);
    expect(initial.status, initial.text).to.equal(200);
    expect(initial.body).to.deep.include({
      merchantId: m.id,
      budgetWei: parseUnits("0.5", "ether").toString(),
      isDefault: true,
      periodDays: 30,
      exhausted: false,
    });
    expect(BigInt(initial.body.spentWei), "its on-chain setup is metered").to.equal(await spentOf(m.id));
    expect(BigInt(initial.body.spentWei)).to.be.greaterThan(0n);
    expect(BigInt(initial.body.remainingWei)).to.equal(parseUnits("0.5", "ether") - BigInt(initial.body.spentWei));

    const set = await env.call("PUT", budgetUrl(m), ADMIN_KEY, { budgetWei: "123456789000" });
    expect(set.status, set.text).to.equal(200);
    expect(set.body).to.deep.include({ budgetWei: "123456789000", isDefault: false });
    expect((await env.call("GET", budgetUrl(m), ADMIN_KEY)).body.budgetWei).to.equal("123456789000");
    // The merchant reads its own budget; it cannot set it.
    const own = await env.call("GET", "/v1/gas-budget", m.key);
    expect(own.status, own.text).to.equal(200);
    expect(own.body).to.deep.include({ budgetWei: "123456789000", isDefault: false });
    const byMerchant = await env.call("PUT", budgetUrl(m), m.key, { budgetWei: "1" });
    expect(byMerchant.status).to.equal(403);

    const audit = await env.call("GET", "/v1/audit", m.key);
    const line = audit.body.data.find((a: { action: string }) => a.action === "merchant.gas_budget_set");
    expect(line, JSON.stringify(audit.body.data)).to.not.equal(undefined);
    expect(line).to.deep.include({ apiKeyId: "admin", resourceType: "merchant", resourceId: m.id });
    expect(line.details).to.deep.equal({ budgetWei: "123456789000", previousBudgetWei: null });

    // null goes back to the default.
    const reset = await env.call("PUT", budgetUrl(m), ADMIN_KEY, { budgetWei: null });
    expect(reset.body).to.deep.include({ budgetWei: parseUnits("0.5", "ether").toString(), isDefault: true });

    for (const bad of [{ budgetWei: "-1" }, { budgetWei: 5 }, {}, { budgetWei: "1", extra: true }]) {
      const r = await env.call("PUT", budgetUrl(m), ADMIN_KEY, bad);
      expect(r.status, JSON.stringify(bad)).to.equal(400);
    }
    expect((await env.call("GET", "/v1/admin/merchants/mch_nope/gas-budget", ADMIN_KEY)).status).to.equal(404);
  });

  it("a hostile tenant's own commands are metered: each call of a shared batch is charged an equal share of the batch's gas", async () => {
    const a = await env.newMerchant("Meter A");
    const b = await env.newMerchant("Meter B");
    await env.relayer.writer.stop();
    const placed: [Merchant, string][] = [];
    try {
      for (let i = 0; i < 3; i++) placed.push([a, (await order(a, `METER-A-${i}`)).id]);
      for (let i = 0; i < 2; i++) placed.push([b, (await order(b, `METER-B-${i}`)).id]);
    } finally {
      await env.relayer.writer.start();
    }
    for (const [m, id] of placed) await env.waitOrder(m.key, id, "created");
    const ids = placed.map(([, id]) => id);

    const rows = await waitFor("every creation metered", async () => {
      const r = await env.relayer.db.query<{
        command_id: string;
        merchant_id: string;
        hash: string;
        tx_gas: string;
        share: string | null;
        cost: string | null;
      }>(
        `select c.id as command_id, c.merchant_id, t.hash, t.gas_used as tx_gas, s.gas_used as share, s.cost_wei as cost
         from commands c
         join chain_txs t on t.signer = c.tx_signer and t.nonce = c.tx_nonce and t.status = 'confirmed'
         left join relay_spend s on s.command_id = c.id and s.tx_hash = t.hash
         where c.order_id = any($1::text[]) and c.kind = 'create_order'`,
        [ids],
      );
      return r.rows.length === ids.length && r.rows.every((x) => x.share !== null) ? r.rows : null;
    });
    const byTx = new Map<string, typeof rows>();
    for (const r of rows) byTx.set(r.hash, [...(byTx.get(r.hash) ?? []), r]);
    for (const [hash, mine] of byTx) {
      const receipt = (await env.node.provider.getTransactionReceipt(hash))!;
      // The batch's other calls (none here but these creations) and this one share the gas equally.
      const all = await env.relayer.db.query<{ share: string; cost: string }>(
        `select gas_used as share, cost_wei as cost from relay_spend where tx_hash = $1`,
        [hash],
      );
      expect(all.rows.length, hash).to.equal(mine.length);
      const shares = all.rows.map((x) => BigInt(x.share));
      expect(
        shares.reduce((s, x) => s + x, 0n),
        "shares add up to the batch's gas",
      ).to.equal(receipt.gasUsed);
      expect(
        all.rows.reduce((s, x) => s + BigInt(x.cost), 0n),
        "costs add up to what the batch paid",
      ).to.equal(receipt.gasUsed * receipt.gasPrice);
      const min = shares.reduce((x, y) => (y < x ? y : x));
      const max = shares.reduce((x, y) => (y > x ? y : x));
      expect(max - min <= 1n, `equal shares: ${shares}`).to.equal(true);
    }
    expect(byTx.size, "the five creations went out in one batch").to.equal(1);

    // The budget's spend is what the meter recorded, setup included.
    for (const m of [a, b]) {
      const g = await env.call("GET", budgetUrl(m), ADMIN_KEY);
      expect(BigInt(g.body.spentWei)).to.equal(await spentOf(m.id));
    }
  });

  it("a hostile tenant that queues commands faster than they are metered cannot spend past its budget: queued commands reserve their expected gas at acceptance", async () => {
    const m = await env.newMerchant("Queue Flooder");
    const first = await order(m, "FLOOD-0");
    await env.waitOrder(m.key, first.id, "created");
    await waitFor("the merchant's setup and first order metered", async () => {
      const r = await env.relayer.db.query(
        `select 1 from commands where merchant_id = $1 and status in ('pending', 'claimed', 'submitted')`,
        [m.id],
      );
      return r.rowCount === 0;
    });
    const spent = await spentOf(m.id);
    const perOrder = (
      await env.relayer.db.query<{ c: string }>(
        `select s.cost_wei as c from relay_spend s join commands c on c.id = s.command_id where c.order_id = $1`,
        [first.id],
      )
    ).rows.map((r) => BigInt(r.c))[0];
    // Room for about three more creations.
    const budget = spent + 3n * perOrder + perOrder / 2n;
    await env.relayer.db.query(`update merchants set gas_budget_wei = $2 where id = $1`, [m.id, budget.toString()]);

    // The chain is slow (the writer is stopped): nothing gets metered while the tenant floods the queue.
    await env.relayer.writer.stop();
    let statuses: number[];
    try {
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          env.call("POST", "/v1/orders", m.key, { reference: `FLOOD-${i + 1}`, amount: "1000", token: "native" }),
        ),
      );
      statuses = rs.map((r) => r.status);
      for (const r of rs.filter((x) => x.status !== 202)) {
        expect(r.status, r.text).to.equal(402);
        const e = errorOf(r);
        expect(e.code).to.equal("gas_budget_exhausted");
        expect(BigInt(e.details.reservedWei as string) > 0n, "the refusal says what the queue reserves").to.equal(true);
      }
    } finally {
      await env.relayer.writer.start();
    }
    const accepted = statuses.filter((s) => s === 202).length;
    expect(accepted, `accepted ${statuses}`).to.be.within(3, 4);

    await waitFor("the accepted orders settled", async () => {
      const r = await env.relayer.db.query(
        `select 1 from commands where merchant_id = $1 and status in ('pending', 'claimed', 'submitted')`,
        [m.id],
      );
      return r.rowCount === 0;
    });
    const after = await spentOf(m.id);
    expect(
      after <= budget + perOrder,
      `spent ${after} within one order (${perOrder}) of the budget ${budget}`,
    ).to.equal(true);
  });

  it("a hostile tenant that spent its gas budget gets 402 gas_budget_exhausted on every new command until the admin raises it", async () => {
    const m = await env.newMerchant("Spender");
    const sku = await env.newSku(m.key, "SPEND-SKU", 5);
    const first = await order(m, "SPEND-1");
    await env.waitOrder(m.key, first.id, "created");
    // Every command of the merchant settled: a command is metered before it is marked confirmed.
    await waitFor("the merchant's commands settled", async () => {
      const r = await env.relayer.db.query(
        `select 1 from commands where merchant_id = $1 and status in ('pending', 'claimed', 'submitted')`,
        [m.id],
      );
      return r.rowCount === 0;
    });
    const spent = await spentOf(m.id);
    // The budget is spent (as the admin would set it; SQL here so the refusal is tested on its own).
    await env.relayer.db.query(`update merchants set gas_budget_wei = $2 where id = $1`, [m.id, spent.toString()]);

    const refused = [
      await env.call("POST", "/v1/orders", m.key, { reference: "SPEND-2", amount: "1000", token: "native" }),
      await env.call("POST", `/v1/orders/${first.id}/cancel`, m.key),
      await env.call("POST", "/v1/skus", m.key, { reference: "SPEND-SKU-2", name: "more" }),
      await env.call("POST", `/v1/skus/${sku.id}/stock`, m.key, { quantity: "1" }),
      await env.call("POST", `/v1/skus/${sku.id}/write-offs`, m.key, { quantity: "1" }),
    ];
    for (const r of refused) {
      expect(r.status, r.text).to.equal(402);
      const e = errorOf(r);
      expect(e.code).to.equal("gas_budget_exhausted");
      expect(e.details).to.deep.equal({ budgetWei: spent.toString(), spentWei: spent.toString(), reservedWei: "0" });
    }
    const queued = await env.relayer.db.query(
      `select kind from commands where merchant_id = $1 and status = 'pending'`,
      [m.id],
    );
    expect(queued.rows, "nothing queued").to.deep.equal([]);

    const raised = await env.call("PUT", budgetUrl(m), ADMIN_KEY, { budgetWei: (spent * 10n).toString() });
    expect(raised.status, raised.text).to.equal(200);
    const again = await env.call("POST", "/v1/orders", m.key, {
      reference: "SPEND-2",
      amount: "1000",
      token: "native",
    });
    expect(again.status, again.text).to.equal(202);
  });
});
