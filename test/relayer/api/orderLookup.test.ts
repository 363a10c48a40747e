import { expect } from "chai";
import { errorOf, startApiEnv, type ApiEnv, type Merchant } from "./support";

/**
 * An order is named by its id (`ord_…`), its chain order id (0x and 64 hex digits) or its merchant's reference,
 * and a name means one of them only: a reference can never take the form of an id, so no order shadows another.
 */
describe("relayer API: order ids, chain order ids and references are never confused", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Lookup");
  });
  after(async () => env?.stop());

  const place = async (reference: string) =>
    env.call("POST", "/v1/orders", m.key, { reference, amount: "10", token: "native" });

  it("a storefront passing a shopper's reference shaped like another order's id or chain order id is refused with 400", async () => {
    const victim = await place("VICTIM-1");
    expect(victim.status).to.equal(202);
    const before = (await env.call("GET", "/v1/orders?limit=200", m.key)).body.data.length;
    for (const reference of [
      victim.body.id,
      victim.body.chainOrderId,
      victim.body.chainOrderId.toUpperCase().replace("0X", "0x"),
      "ord_0123456789abcdef01234567",
      `0x${"ab".repeat(32)}`,
    ]) {
      const r = await place(reference);
      expect(r.status, `${reference}: ${r.text}`).to.equal(400);
      expect(errorOf(r)).to.deep.include({ code: "validation_failed" });
      expect(errorOf(r).details).to.deep.include({ field: "reference" });
    }
    expect((await env.call("GET", "/v1/orders?limit=200", m.key)).body.data.length).to.equal(before);
  });

  it("an order whose (legacy) reference is another order's id or chain order id never shadows it: reads and cancels reach the order so named", async () => {
    const shadow = await place("SHADOW-2");
    const victim = await place("VICTIM-2");
    const shadow3 = await place("SHADOW-3");
    const victim3 = await place("VICTIM-3");
    for (const o of [shadow, victim, shadow3, victim3]) expect(o.status).to.equal(202);
    // Stored before references were checked. Each shadow row lies before its victim in the table, as an older
    // row would.
    const db = env.relayer.db;
    await db.query(`update orders set reference = $1 where id = $2`, [victim.body.id, shadow.body.id]);
    await db.query(`update orders set reference = $1 where id = $2`, [victim3.body.chainOrderId, shadow3.body.id]);
    await db.query(`update orders set updated_at = now() where id = any($1)`, [[victim.body.id, victim3.body.id]]);
    for (let i = 0; i < 3; i++) {
      const byId = await env.call("GET", `/v1/orders/${victim.body.id}`, m.key);
      expect(byId.body.id).to.equal(victim.body.id);
      const byChainId = await env.call("GET", `/v1/orders/${victim3.body.chainOrderId}`, m.key);
      expect(byChainId.body.id).to.equal(victim3.body.id);
    }
    for (const target of [victim.body.id, victim3.body.chainOrderId]) {
      const cancel = await env.call("POST", `/v1/orders/${target}/cancel`, m.key);
      expect(cancel.status, cancel.text).to.equal(202);
    }
    const commands = await db.query<{ order_id: string }>(
      `select order_id from commands where kind = 'cancel_order' and order_id = any($1) order by id`,
      [[victim.body.id, shadow.body.id, victim3.body.id, shadow3.body.id]],
    );
    expect(commands.rows.map((c) => c.order_id)).to.deep.equal([victim.body.id, victim3.body.id]);
  });

  it("still finds an order by its reference, as the dashboard's search does, and acts on it", async () => {
    const o = await place("shop/2024#42:a.b-c");
    expect(o.status).to.equal(202);
    const r = await env.call("GET", `/v1/orders/${encodeURIComponent("shop/2024#42:a.b-c")}`, m.key);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.id).to.equal(o.body.id);
    const byChain = await env.call("GET", `/v1/orders/${o.body.chainOrderId.toUpperCase().replace("0X", "0x")}`, m.key);
    expect(byChain.body.id).to.equal(o.body.id);
    const cancel = await env.call("POST", `/v1/orders/${encodeURIComponent("shop/2024#42:a.b-c")}/cancel`, m.key);
    expect(cancel.status, cancel.text).to.equal(202);
    expect(cancel.body.order.id).to.equal(o.body.id);
    expect((await env.call("GET", "/v1/orders/NO-SUCH-REF", m.key)).status).to.equal(404);
  });
});
