import { expect } from "chai";
import { ARBITER_KEY } from "../harness";
import { ADMIN_KEY, errorOf, startApiEnv, type ApiEnv, type Merchant, type Method } from "./support";

describe("relayer API: authentication, merchant isolation, scopes and audit", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let a: Merchant;
  let b: Merchant;
  let bSku: { id: string; chainSkuId: string };
  let bOrder: string;
  let bOrderRef: string;

  before(async () => {
    env = await startApiEnv();
    [a, b] = [await env.newMerchant("A"), await env.newMerchant("B")];
    bSku = await env.newSku(b.key, "B-SKU", 3);
    bOrderRef = "B-ORDER-1";
    const o = await env.call("POST", "/v1/orders", b.key, {
      reference: bOrderRef,
      amount: "100",
      token: "native",
      items: [{ sku: bSku.id, quantity: 1 }],
    });
    expect(o.status).to.equal(202);
    bOrder = o.body.id;
  });
  after(async () => env?.stop());

  /** Every mutating merchant route with a valid body, given an order, a SKU and a key of some merchant. */
  const mutating = (order: string, sku: string, keyId: string): [Method, string, unknown][] => [
    ["POST", "/v1/keys", { name: "x", scopes: ["read"] }],
    ["POST", `/v1/keys/${keyId}/revoke`, undefined],
    ["POST", "/v1/skus", { reference: `S-${Math.random().toString(36).slice(2)}`, name: "x" }],
    ["POST", `/v1/skus/${sku}/stock`, { quantity: "1" }],
    ["POST", `/v1/skus/${sku}/write-offs`, { quantity: "1" }],
    ["POST", "/v1/orders", { reference: `O-${Math.random().toString(36).slice(2)}`, amount: "1", token: "native" }],
    ["POST", `/v1/orders/${order}/ship`, { trackingReference: "T" }],
    ["POST", `/v1/orders/${order}/refund`, {}],
    ["POST", `/v1/orders/${order}/cancel`, undefined],
  ];
  const reading = (order: string, sku: string): [Method, string][] => [
    ["GET", "/v1/orders"],
    ["GET", `/v1/orders/${order}`],
    ["GET", "/v1/skus"],
    ["GET", `/v1/skus/${sku}`],
    ["GET", "/v1/keys"],
    ["GET", "/v1/audit"],
  ];

  describe("authentication comes before validation", () => {
    it("a stranger with no key and a malformed body or query gets 401 on every authenticated route, never a 400 describing the schema", async () => {
      const chainOrderId = "0x" + "ab".repeat(32);
      const routes: [Method, string, unknown][] = [
        ...mutating(bOrder, bSku.id, "key_x").map(
          ([m, u]) => [m, u, { unexpected: ["field"] }] as [Method, string, unknown],
        ),
        ["POST", `/v1/orders/${bOrder}/payment-intent`, { buyer: 42 }],
        ["POST", `/v1/orders/${bOrder}/pay`, { signature: 7 }],
        ["POST", `/v1/orders/${bOrder}/settlement/propose`, { buyerTotal: "not a number" }],
        ["POST", `/v1/arbiter/disputes/${chainOrderId}/resolve`, { buyerTotal: -1 }],
        ["POST", "/v1/webhooks", { url: 5 }],
        ["POST", "/v1/webhooks/wh_x/disable", { extra: true }],
        ["GET", "/v1/webhooks/wh_x/deliveries?limit=oops", undefined],
        ["GET", "/v1/ledger/entries?from=yesterday", undefined],
        ["GET", "/v1/ledger/balances?token=7", undefined],
        ["GET", "/v1/ledger/export.csv?limit=-5", undefined],
        ["GET", "/v1/arbiter/disputes?limit=x", undefined],
        ["GET", "/v1/admin/reconciliation?x=1", undefined],
      ];
      for (const [method, url, body] of routes) {
        const r = await env.call(method, url, undefined, body);
        expect(r.status, `${method} ${url}: ${r.text}`).to.equal(401);
        expect(errorOf(r).code, `${method} ${url}`).to.equal("unauthenticated");
      }
    });
  });

  describe("merchant isolation", () => {
    it("answers 404 when merchant A's key touches merchant B's orders, SKUs or keys", async () => {
      for (const key of [bOrder, bOrderRef]) {
        for (const [method, url, body] of [
          ["GET", `/v1/orders/${key}`, undefined],
          ["POST", `/v1/orders/${key}/ship`, { trackingReference: "T" }],
          ["POST", `/v1/orders/${key}/refund`, {}],
          ["POST", `/v1/orders/${key}/cancel`, undefined],
        ] as const) {
          const r = await env.call(method, url, a.key, body);
          expect(r.status, `${method} ${url}`).to.equal(404);
          expect(errorOf(r).code).to.equal("not_found");
        }
      }
      const chainId = (await env.call("GET", `/v1/orders/${bOrder}`, b.key)).body.chainOrderId;
      expect((await env.call("GET", `/v1/orders/${chainId}`, a.key)).status).to.equal(404);
      for (const [method, url, body] of [
        ["GET", `/v1/skus/${bSku.id}`, undefined],
        ["POST", `/v1/skus/${bSku.id}/stock`, { quantity: "1" }],
        ["POST", `/v1/skus/${bSku.id}/write-offs`, { quantity: "1" }],
        [
          "POST",
          "/v1/orders",
          { reference: "A-X", amount: "1", token: "native", items: [{ sku: bSku.id, quantity: 1 }] },
        ],
        ["POST", `/v1/keys/${b.keyId}/revoke`, undefined],
      ] as const) {
        const r = await env.call(method, url, a.key, body);
        expect(r.status, `${method} ${url}`).to.equal(404);
        expect(errorOf(r).code).to.equal("not_found");
      }
      // B's key still works: nothing of B's was changed by A.
      expect((await env.call("GET", "/v1/keys", b.key)).status).to.equal(200);
    });

    it("lists only the caller's own orders, SKUs, keys and audit entries", async () => {
      const orders = await env.call("GET", "/v1/orders", a.key);
      expect(orders.body.data.map((o: { id: string }) => o.id)).to.not.include(bOrder);
      const skus = await env.call("GET", "/v1/skus", a.key);
      expect(skus.body.data.map((s: { id: string }) => s.id)).to.not.include(bSku.id);
      const keys = await env.call("GET", "/v1/keys", a.key);
      expect(keys.body.data.every((k: { merchantId: string }) => k.merchantId === a.id)).to.equal(true);
      const audit = await env.call("GET", "/v1/audit?limit=200", a.key);
      const resources = audit.body.data.map((e: { resourceId: string }) => e.resourceId);
      expect(resources).to.not.include.members([bOrder, bSku.id, b.keyId]);
    });

    it("refuses an admin key-revocation of a key through another merchant's path (404)", async () => {
      const r = await env.call("POST", `/v1/admin/merchants/${a.id}/keys/${b.keyId}/revoke`, ADMIN_KEY);
      expect(r.status).to.equal(404);
      expect((await env.call("GET", "/v1/keys", b.key)).status).to.equal(200);
    });
  });

  describe("scopes", () => {
    it("refuses every mutating route to a read-only staff key with 403 insufficient_scope", async () => {
      const m = await env.newMerchant();
      const sku = await env.newSku(m.key, "SC-1", 2);
      const o = await env.call("POST", "/v1/orders", m.key, { reference: "SC-O", amount: "1", token: "native" });
      const staff = await env.call("POST", "/v1/keys", m.key, { name: "viewer", scopes: ["read"] });
      expect(staff.status).to.equal(201);
      const countBefore = (await env.relayer.db.query<{ n: string }>("select count(*) as n from commands")).rows[0].n;
      for (const [method, url, body] of mutating(o.body.id, sku.id, m.keyId)) {
        const r = await env.call(method, url, staff.body.secret, body);
        expect(r.status, `${method} ${url}`).to.equal(403);
        const e = errorOf(r);
        expect(e.code).to.equal("insufficient_scope");
        expect(e.details.held).to.deep.equal(["read"]);
      }
      const countAfter = (await env.relayer.db.query<{ n: string }>("select count(*) as n from commands")).rows[0].n;
      expect(countAfter).to.equal(countBefore);
      for (const [method, url] of reading(o.body.id, sku.id).filter(([, u]) => u !== "/v1/keys")) {
        const r = await env.call(method, url, staff.body.secret);
        expect(r.status, url).to.equal(200);
      }
      const keys = await env.call("GET", "/v1/keys", staff.body.secret);
      expect(keys.status).to.equal(403);
      expect(errorOf(keys).details.required).to.equal("keys");
    });

    it("keeps refunds apart from orders: an orders-only key cannot refund, a refunds-only key cannot ship", async () => {
      const m = await env.newMerchant();
      const o = await env.call("POST", "/v1/orders", m.key, { reference: "SC-R", amount: "1", token: "native" });
      const ordersKey = (await env.call("POST", "/v1/keys", m.key, { name: "clerk", scopes: ["orders"] })).body;
      const refundsKey = (await env.call("POST", "/v1/keys", m.key, { name: "cs", scopes: ["refunds"] })).body;
      const r1 = await env.call("POST", `/v1/orders/${o.body.id}/refund`, ordersKey.secret, {});
      expect(r1.status).to.equal(403);
      expect(errorOf(r1).details).to.deep.equal({ required: "refunds", held: ["orders"] });
      const r2 = await env.call("POST", `/v1/orders/${o.body.id}/ship`, refundsKey.secret, { trackingReference: "T" });
      expect(r2.status).to.equal(403);
      expect(errorOf(r2).details).to.deep.equal({ required: "orders", held: ["refunds"] });
      const r3 = await env.call("POST", "/v1/skus", ordersKey.secret, { reference: "nope", name: "n" });
      expect(r3.status).to.equal(403);
      expect(errorOf(r3).details.required).to.equal("stock");
    });

    it("refuses a staff key that tries to grant scopes it lacks (403), and lets it grant its own", async () => {
      const m = await env.newMerchant();
      const manager = await env.call("POST", "/v1/keys", m.key, { name: "manager", scopes: ["keys", "read"] });
      expect(manager.status).to.equal(201);
      const r = await env.call("POST", "/v1/keys", manager.body.secret, { name: "x", scopes: ["read", "refunds"] });
      expect(r.status).to.equal(403);
      expect(errorOf(r)).to.deep.include({ code: "insufficient_scope" });
      expect(errorOf(r).details).to.deep.equal({ requested: ["read", "refunds"], held: ["keys", "read"] });
      const ok = await env.call("POST", "/v1/keys", manager.body.secret, { name: "y", scopes: ["read"] });
      expect(ok.status).to.equal(201);
      expect(ok.body.createdBy).to.equal(manager.body.id);
    });
  });

  describe("separation of duties", () => {
    it("the admin key is no arbiter: it can neither read the disputes nor rule on one (403)", async () => {
      const chainOrderId = (await env.call("GET", `/v1/orders/${bOrder}`, b.key)).body.chainOrderId;
      const list = await env.call("GET", "/v1/arbiter/disputes", ADMIN_KEY);
      expect(list.status, list.text).to.equal(403);
      expect(errorOf(list).code).to.equal("forbidden");
      const rule = await env.call("POST", `/v1/arbiter/disputes/${chainOrderId}/resolve`, ADMIN_KEY, {
        buyerTotal: "1",
      });
      expect(rule.status, rule.text).to.equal(403);
      expect(errorOf(rule).code).to.equal("forbidden");
      expect((await env.call("GET", "/v1/arbiter/disputes", ARBITER_KEY)).status).to.equal(200);
    });

    it("a staff key with the keys scope cannot revoke the owner's key, nor any key holding a scope it lacks (403)", async () => {
      const m = await env.newMerchant();
      const staff = (await env.call("POST", "/v1/keys", m.key, { name: "hr", scopes: ["keys", "read"] })).body;
      const clerk = (await env.call("POST", "/v1/keys", m.key, { name: "clerk", scopes: ["read", "orders"] })).body;
      for (const [target, code] of [
        [m.keyId, "owner_key_required"],
        [clerk.id, "insufficient_scope"],
      ]) {
        const r = await env.call("POST", `/v1/keys/${target}/revoke`, staff.secret);
        expect(r.status, r.text).to.equal(403);
        expect(errorOf(r).code).to.equal(code);
      }
      expect((await env.call("GET", "/v1/orders", m.key)).status).to.equal(200);
      expect((await env.call("GET", "/v1/orders", clerk.secret)).status).to.equal(200);
      const audit = await env.call("GET", "/v1/audit?limit=200", m.key);
      expect(audit.body.data.map((e: { action: string }) => e.action)).to.not.include("api_key.revoked");
    });

    it("a stolen staff key holding every scope cannot revoke the owner's key (which could then not cancel a payout change): 403 owner_key_required", async () => {
      const m = await env.newMerchant();
      const all = (await env.call("GET", `/v1/keys`, m.key)).body.data[0].scopes as string[];
      const staff = (await env.call("POST", "/v1/keys", m.key, { name: "everything", scopes: all })).body;
      const r = await env.call("POST", `/v1/keys/${m.keyId}/revoke`, staff.secret);
      expect(r.status, r.text).to.equal(403);
      expect(errorOf(r).code).to.equal("owner_key_required");
      expect((await env.call("GET", "/v1/orders", m.key)).status).to.equal(200);
    });

    it("a staff key revokes keys within its own scopes, itself included; the owner revokes any", async () => {
      const m = await env.newMerchant();
      const staff = (await env.call("POST", "/v1/keys", m.key, { name: "hr", scopes: ["keys", "read"] })).body;
      const viewer = (await env.call("POST", "/v1/keys", staff.secret, { name: "viewer", scopes: ["read"] })).body;
      expect((await env.call("POST", `/v1/keys/${viewer.id}/revoke`, staff.secret)).status).to.equal(200);
      expect((await env.call("POST", `/v1/keys/${staff.id}/revoke`, staff.secret)).status).to.equal(200);
      const other = (await env.call("POST", "/v1/keys", m.key, { name: "x", scopes: ["keys", "refunds"] })).body;
      expect((await env.call("POST", `/v1/keys/${other.id}/revoke`, m.key)).status).to.equal(200);
    });
  });

  describe("authentication", () => {
    it("answers 401 with no key, a malformed header or an unknown key, before looking at the body", async () => {
      for (const authorization of [
        undefined,
        "",
        "Bearer",
        "Bearer ",
        `Basic ${Buffer.from("u:p").toString("base64")}`,
        `Token ${a.key}`,
        `Bearer ${a.key} extra`,
        "Bearer ock_unknownkey0000000000000000000000",
        `Bearer ${a.key}x`,
      ]) {
        for (const [method, url, body] of [
          ["GET", "/v1/orders"],
          ["POST", "/v1/orders", { not: "valid" }],
          ["GET", "/v1/admin/merchants"],
          ["POST", "/v1/admin/merchants", {}],
        ] as [Method, string, unknown][]) {
          const r = await env.call(method, url, null, body, authorization === undefined ? {} : { authorization });
          expect(r.status, `${authorization} ${method} ${url}`).to.equal(401);
          expect(errorOf(r).code).to.equal("unauthenticated");
        }
      }
    });

    it("answers 401 for a revoked key on every route, whoever revoked it", async () => {
      const m = await env.newMerchant();
      const k1 = (await env.call("POST", "/v1/keys", m.key, { name: "one", scopes: ["read", "orders"] })).body;
      const k2 = (await env.call("POST", `/v1/admin/merchants/${m.id}/keys`, ADMIN_KEY, { name: "two" })).body;
      expect((await env.call("GET", "/v1/orders", k1.secret)).status).to.equal(200);
      const first = await env.call("POST", `/v1/keys/${k1.id}/revoke`, m.key);
      expect(first.status).to.equal(200);
      expect((await env.call("POST", `/v1/admin/merchants/${m.id}/keys/${k2.id}/revoke`, ADMIN_KEY)).status).to.equal(
        200,
      );
      for (const k of [k1, k2]) {
        for (const [method, url] of reading("x", "y")) {
          const r = await env.call(method, url, k.secret);
          expect(r.status, url).to.equal(401);
          expect(errorOf(r)).to.deep.include({ code: "unauthenticated", details: { keyId: k.id } });
        }
        const r = await env.call("POST", "/v1/orders", k.secret, { reference: "R", amount: "1", token: "native" });
        expect(r.status).to.equal(401);
      }
      // revoking twice keeps the first revocation time
      const again = await env.call("POST", `/v1/keys/${k1.id}/revoke`, m.key);
      expect(again.status).to.equal(200);
      expect(again.body.revokedAt).to.equal(first.body.revokedAt);
    });

    it("refuses a merchant key on every admin route with 403 forbidden", async () => {
      for (const [method, url, body] of [
        ["POST", "/v1/admin/merchants", { name: "x" }],
        ["GET", "/v1/admin/merchants", undefined],
        ["GET", `/v1/admin/merchants/${a.id}`, undefined],
        ["POST", `/v1/admin/merchants/${a.id}/keys`, { name: "x" }],
        ["POST", `/v1/admin/merchants/${a.id}/keys/${a.keyId}/revoke`, undefined],
      ] as const) {
        const r = await env.call(method, url, a.key, body);
        expect(r.status, `${method} ${url}`).to.equal(403);
        expect(errorOf(r).code).to.equal("forbidden");
      }
      expect((await env.call("GET", "/v1/orders", a.key)).status).to.equal(200);
    });

    it("refuses the admin key on every merchant route with 403 forbidden", async () => {
      for (const [method, url, body] of [
        ...mutating(bOrder, bSku.id, b.keyId),
        ...reading(bOrder, bSku.id).map(([m, u]) => [m, u, undefined] as [Method, string, unknown]),
      ]) {
        const r = await env.call(method, url, ADMIN_KEY, body);
        expect(r.status, `${method} ${url}`).to.equal(403);
        expect(errorOf(r).code).to.equal("forbidden");
      }
    });
  });

  describe("audit", () => {
    it("records which key made every change, and pages through the log with a cursor", async () => {
      const m = await env.newMerchant();
      const staff = (
        await env.call("POST", "/v1/keys", m.key, { name: "clerk", scopes: ["read", "orders", "stock", "refunds"] })
      ).body;
      const sku = await env.call("POST", "/v1/skus", staff.secret, { reference: "AU-1", name: "thing" });
      const order = await env.call("POST", "/v1/orders", staff.secret, {
        reference: "AU-O",
        amount: "10",
        token: "native",
      });
      const cancel = await env.call("POST", `/v1/orders/${order.body.id}/cancel`, m.key);
      expect([sku.status, order.status, cancel.status]).to.deep.equal([202, 202, 202]);
      const stock = await env.call("POST", `/v1/skus/${sku.body.id}/stock`, staff.secret, { quantity: "4" });
      expect(stock.status).to.equal(202);
      const revoke = await env.call("POST", `/v1/keys/${staff.id}/revoke`, m.key);
      expect(revoke.status).to.equal(200);

      const all = await env.call("GET", "/v1/audit?limit=200", m.key);
      const seen = all.body.data.map((e: { action: string; apiKeyId: string; resourceId: string }) => [
        e.action,
        e.apiKeyId,
        e.resourceId,
      ]);
      expect(seen).to.deep.equal([
        ["api_key.revoked", m.keyId, staff.id],
        ["stock.added", staff.id, sku.body.id],
        ["order.cancelled", m.keyId, order.body.id],
        ["order.created", staff.id, order.body.id],
        ["sku.created", staff.id, sku.body.id],
        ["api_key.created", m.keyId, staff.id],
        ["api_key.created", "admin", m.keyId],
        ["merchant.created", "admin", m.id],
      ]);

      const walked: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { body: { data: { id: string }[]; nextCursor: string | null } } = await env.call(
          "GET",
          `/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
          m.key,
        );
        expect(page.body.data.length).to.be.at.most(3);
        walked.push(...page.body.data.map((e) => e.id));
        cursor = page.body.nextCursor;
        pages += 1;
      } while (cursor);
      expect(pages).to.equal(3);
      expect(walked).to.deep.equal(all.body.data.map((e: { id: string }) => e.id));
    });
  });
});
