import { expect } from "chai";
import { Wallet } from "ethers";
import { ADMIN_KEY, errorOf, startApiEnv, type ApiEnv, type ApiResponse, type Merchant } from "./support";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function expectValidation(r: ApiResponse, path?: string) {
  expect(r.status, r.text).to.equal(400);
  const e = errorOf(r);
  expect(e.code).to.equal("validation_failed");
  if (path !== undefined) {
    const issues = e.details.issues as { path: string; message: string }[];
    expect(issues, r.text).to.be.an("array").that.is.not.empty;
    expect(issues.map((i) => i.path).join(" ")).to.include(path);
  }
  return e;
}

describe("relayer API: every endpoint and its validation errors", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let sku: { id: string; chainSkuId: string };

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Endpoints Ltd");
    sku = await env.newSku(m.key, "EP-SKU-1", 20);
  });
  after(async () => env?.stop());

  describe("admin routes", () => {
    it("creates a merchant (201) with id, name, address, status, a custodial signer and createdAt", async () => {
      const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Fresh Co" });
      expect(r.status).to.equal(201);
      expect(r.body).to.have.all.keys("id", "name", "address", "status", "signer", "createdAt");
      expect(r.body.signer).to.equal("custodial");
      expect(r.body.id).to.match(/^mch_[0-9a-f]{24}$/);
      expect(r.body.name).to.equal("Fresh Co");
      expect(r.body.address).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect(r.body.status).to.equal("pending");
      expect(r.body.createdAt).to.match(ISO);
    });

    it("lists merchants and gets one by id", async () => {
      const list = await env.call("GET", "/v1/admin/merchants", ADMIN_KEY);
      expect(list.status).to.equal(200);
      expect(list.body.data.map((x: { id: string }) => x.id)).to.include(m.id);
      const one = await env.call("GET", `/v1/admin/merchants/${m.id}`, ADMIN_KEY);
      expect(one.status).to.equal(200);
      expect(one.body).to.deep.include({ id: m.id, name: "Endpoints Ltd", address: m.address, status: "active" });
    });

    it("issues a key with every scope by default, shows its secret once and revokes it", async () => {
      const k = await env.call("POST", `/v1/admin/merchants/${m.id}/keys`, ADMIN_KEY, { name: "ops" });
      expect(k.status).to.equal(201);
      expect(k.body.secret).to.match(/^ock_/);
      expect(k.body.prefix).to.equal(k.body.secret.slice(0, 10));
      expect(k.body).to.deep.include({ name: "ops", role: "merchant", merchantId: m.id, revokedAt: null });
      expect(k.body.scopes).to.have.members(["read", "orders", "refunds", "stock", "keys"]);
      expect(k.body.createdBy).to.equal("admin");

      const listed = await env.call("GET", "/v1/keys", m.key);
      const row = listed.body.data.find((x: { id: string }) => x.id === k.body.id);
      expect(row).to.not.have.property("secret");

      const rv = await env.call("POST", `/v1/admin/merchants/${m.id}/keys/${k.body.id}/revoke`, ADMIN_KEY);
      expect(rv.status).to.equal(200);
      expect(rv.body.id).to.equal(k.body.id);
      expect(rv.body.revokedAt).to.match(ISO);
    });

    it("issues a key with the scopes asked for", async () => {
      const k = await env.call("POST", `/v1/admin/merchants/${m.id}/keys`, ADMIN_KEY, {
        name: "reader",
        scopes: ["read"],
      });
      expect(k.status).to.equal(201);
      expect(k.body.scopes).to.deep.equal(["read"]);
    });

    it("answers 404 not_found for an unknown merchant on every admin route", async () => {
      for (const [method, url, body] of [
        ["GET", "/v1/admin/merchants/mch_nope", undefined],
        ["POST", "/v1/admin/merchants/mch_nope/keys", { name: "x" }],
        ["POST", "/v1/admin/merchants/mch_nope/keys/key_nope/revoke", undefined],
      ] as const) {
        const r = await env.call(method, url, ADMIN_KEY, body);
        expect(r.status, url).to.equal(404);
        expect(errorOf(r).code).to.equal("not_found");
      }
      const r = await env.call("POST", `/v1/admin/merchants/${m.id}/keys/key_nope/revoke`, ADMIN_KEY);
      expect(r.status).to.equal(404);
      expect(errorOf(r).code).to.equal("not_found");
    });

    it("refuses a merchant body with a missing name, a wrong type or an extra field (400)", async () => {
      expectValidation(await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, {}), "name");
      expectValidation(await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: 5 }), "name");
      expectValidation(await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "" }), "name");
      expectValidation(await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "a", admin: true }));
      expectValidation(await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "x".repeat(201) }), "name");
    });

    it("refuses a key body with unknown scopes, no scopes or a missing name (400)", async () => {
      const url = `/v1/admin/merchants/${m.id}/keys`;
      expectValidation(await env.call("POST", url, ADMIN_KEY, { name: "k", scopes: ["root"] }), "scopes");
      expectValidation(await env.call("POST", url, ADMIN_KEY, { name: "k", scopes: [] }), "scopes");
      expectValidation(await env.call("POST", url, ADMIN_KEY, { scopes: ["read"] }), "name");
      expectValidation(await env.call("POST", url, ADMIN_KEY, { name: "k", scopes: "read" }), "scopes");
    });
  });

  describe("merchant keys", () => {
    it("lists the merchant's keys, issues a read-only staff key by default and revokes it", async () => {
      const list = await env.call("GET", "/v1/keys", m.key);
      expect(list.status).to.equal(200);
      expect(list.body.data.map((k: { id: string }) => k.id)).to.include(m.keyId);
      const k = await env.call("POST", "/v1/keys", m.key, { name: "staff" });
      expect(k.status).to.equal(201);
      expect(k.body.scopes).to.deep.equal(["read"]);
      expect(k.body.createdBy).to.equal(m.keyId);
      const rv = await env.call("POST", `/v1/keys/${k.body.id}/revoke`, m.key);
      expect(rv.status).to.equal(200);
      expect(rv.body.revokedAt).to.match(ISO);
    });

    it("answers 404 for an unknown key id and 400 for a bad key body", async () => {
      const r = await env.call("POST", "/v1/keys/key_unknown/revoke", m.key);
      expect(r.status).to.equal(404);
      expect(errorOf(r).code).to.equal("not_found");
      expectValidation(await env.call("POST", "/v1/keys", m.key, { name: "k", scopes: ["admin"] }), "scopes");
      expectValidation(await env.call("POST", "/v1/keys", m.key, { name: "k", extra: 1 }));
    });
  });

  describe("SKUs and stock", () => {
    it("accepts a SKU (202) and reports it with its chain id and live stock", async () => {
      const r = await env.call("POST", "/v1/skus", m.key, {
        reference: "EP-SKU-2",
        name: "Blue mug",
        metadataUri: "ipfs://mug",
        metadata: { colour: "blue" },
      });
      expect(r.status).to.equal(202);
      expect(r.body).to.deep.include({
        reference: "EP-SKU-2",
        name: "Blue mug",
        metadataUri: "ipfs://mug",
        metadata: { colour: "blue" },
        status: "pending",
      });
      expect(BigInt(r.body.chainSkuId) >> 96n).to.equal(BigInt(m.address));
      const got = await env.call("GET", `/v1/skus/${sku.id}`, m.key);
      expect(got.status).to.equal(200);
      expect(got.body.stock).to.deep.equal({ available: "20", reserved: "0", delivered: "0", totalSupply: "20" });
      const list = await env.call("GET", "/v1/skus", m.key);
      expect(list.status).to.equal(200);
      expect(list.body.data.map((s: { id: string }) => s.id)).to.include.members([sku.id, r.body.id]);
    });

    it("accepts stock additions and write-offs (202) with the change and its command", async () => {
      for (const path of ["stock", "write-offs"]) {
        const r = await env.call("POST", `/v1/skus/${sku.id}/${path}`, m.key, { quantity: "0" });
        expectValidation(r, "quantity");
      }
      const add = await env.call("POST", `/v1/skus/${sku.id}/stock`, m.key, { quantity: "3" });
      expect(add.status).to.equal(202);
      expect(add.body.sku.id).to.equal(sku.id);
      expect(add.body.change).to.deep.include({ kind: "add", quantity: "3", status: "pending" });
      const off = await env.call("POST", `/v1/skus/${sku.id}/write-offs`, m.key, { quantity: "3" });
      expect(off.status).to.equal(202);
      expect(off.body.change).to.deep.include({ kind: "write_off", quantity: "3", status: "pending" });
    });

    it("refuses a duplicate SKU reference with 409 reference_already_used", async () => {
      const r = await env.call("POST", "/v1/skus", m.key, { reference: "EP-SKU-1", name: "again" });
      expect(r.status).to.equal(409);
      expect(errorOf(r)).to.deep.include({ code: "reference_already_used" });
      expect(errorOf(r).details).to.deep.equal({ reference: "EP-SKU-1" });
    });

    it("refuses bad SKU bodies: bad reference pattern, missing name, extra field, wrong types (400)", async () => {
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: "has space", name: "x" }), "reference");
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: "r-1" }), "name");
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: "r-1", name: "x", price: 1 }));
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: ["r"], name: "x" }), "reference");
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: "r-1", name: "x", metadata: "no" }));
      expectValidation(await env.call("POST", "/v1/skus", m.key, { reference: "x".repeat(129), name: "x" }));
    });

    it("refuses bad stock quantities: negative, fractional, numbers, too large, missing (400)", async () => {
      for (const quantity of ["-1", "1.5", "1e3", "0x10", "", "1".repeat(19), 5, null]) {
        expectValidation(await env.call("POST", `/v1/skus/${sku.id}/stock`, m.key, { quantity }), "quantity");
      }
      expectValidation(await env.call("POST", `/v1/skus/${sku.id}/stock`, m.key, {}), "quantity");
    });

    it("answers 404 for an unknown SKU on get, stock and write-off", async () => {
      for (const [method, url, body] of [
        ["GET", "/v1/skus/sku_nope", undefined],
        ["POST", "/v1/skus/sku_nope/stock", { quantity: "1" }],
        ["POST", "/v1/skus/sku_nope/write-offs", { quantity: "1" }],
      ] as const) {
        const r = await env.call(method, url, m.key, body);
        expect(r.status, url).to.equal(404);
        expect(errorOf(r).code).to.equal("not_found");
      }
    });
  });

  describe("orders", () => {
    const order = (extra: Record<string, unknown> = {}) => ({
      reference: `EP-${Math.random().toString(36).slice(2, 10)}`,
      amount: "1000000",
      token: env.deployed.stablecoin,
      ...extra,
    });

    it("accepts an order (202, pending) with the full order shape", async () => {
      const buyer = Wallet.createRandom().address;
      const body = order({
        buyer,
        items: [{ sku: sku.id, quantity: 2 }],
        shipWithinSeconds: 3600,
        protectionPeriodSeconds: 7200,
      });
      const r = await env.call("POST", "/v1/orders", m.key, body);
      expect(r.status, r.text).to.equal(202);
      expect(r.body).to.have.all.keys(
        "id",
        "reference",
        "chainOrderId",
        "status",
        "buyer",
        "token",
        "amount",
        "escrowed",
        "refunded",
        "returnedAmount",
        "feeBps",
        "maxFeeBps",
        "payee",
        "deadline",
        "disputeDefaultAfter",
        "settlementProposal",
        "allowedActions",
        "terms",
        "items",
        "paymentDeadline",
        "shipWithinSeconds",
        "protectionPeriodSeconds",
        "chainProof",
        "error",
        "metadata",
        "createdAt",
        "updatedAt",
      );
      expect(r.body).to.deep.include({
        reference: body.reference,
        status: "pending",
        buyer,
        token: env.deployed.stablecoin,
        amount: "1000000",
        escrowed: null,
        refunded: null,
        maxFeeBps: 100,
        payee: m.address,
        disputeDefaultAfter: null,
        settlementProposal: null,
        // Accepted, not yet on chain: the merchant may only cancel it.
        allowedActions: { merchant: ["cancel"], buyer: [], arbiter: [] },
        chainProof: null,
        error: null,
        shipWithinSeconds: 3600,
        protectionPeriodSeconds: 7200,
      });
      expect(r.body.terms).to.deep.include({
        merchant: m.address,
        payee: m.address,
        buyer,
        amount: "1000000",
        maxFeeBps: "100",
        shipWithin: "3600",
        protectionPeriod: "7200",
        refundWindow: "0",
      });
      expect(r.body.id).to.match(/^ord_/);
      expect(r.body.chainOrderId).to.match(/^0x[0-9a-f]{64}$/);
      expect(r.body.items).to.deep.equal([{ sku: sku.id, chainSkuId: sku.chainSkuId, quantity: 2 }]);
      const created = await env.waitOrder(m.key, r.body.id, "created");
      expect(created.record).to.be.an("object");
      expect(created.escrowed).to.equal("0");
      expect(created.feeBps).to.equal(100);
      expect(created.events.map((e: { name: string }) => e.name)).to.include("OrderCreated");
      expect(created.commands).to.have.length(1);
      expect(created.commands[0]).to.deep.include({ kind: "create_order", status: "confirmed", error: null });
    });

    it("finds an order by its id, its chain order id and its reference", async () => {
      const r = await env.call("POST", "/v1/orders", m.key, order({ token: "native" }));
      expect(r.status).to.equal(202);
      expect(r.body.token).to.equal("native");
      for (const key of [
        r.body.id,
        r.body.chainOrderId,
        r.body.chainOrderId.toUpperCase().replace("0X", "0x"),
        r.body.reference,
      ]) {
        const g = await env.call("GET", `/v1/orders/${encodeURIComponent(key)}`, m.key);
        expect(g.status, key).to.equal(200);
        expect(g.body.id).to.equal(r.body.id);
      }
      const list = await env.call("GET", "/v1/orders?limit=5", m.key);
      expect(list.status).to.equal(200);
      expect(list.body).to.have.all.keys("data", "nextCursor");
      expect(list.body.data[0].id).to.equal(r.body.id);
    });

    it("refuses a duplicate order reference with 409 reference_already_used", async () => {
      const body = order();
      expect((await env.call("POST", "/v1/orders", m.key, body)).status).to.equal(202);
      const r = await env.call("POST", "/v1/orders", m.key, { ...body, amount: "5" });
      expect(r.status).to.equal(409);
      expect(errorOf(r).code).to.equal("reference_already_used");
    });

    it("refuses a token the escrow does not allow with 422 token_not_allowed", async () => {
      const token = Wallet.createRandom().address;
      const r = await env.call("POST", "/v1/orders", m.key, order({ token }));
      expect(r.status).to.equal(422);
      expect(errorOf(r)).to.deep.include({ code: "token_not_allowed" });
      expect(errorOf(r).details).to.deep.equal({ token });
    });

    it("refuses an order body with missing fields, wrong types, extra fields and bad patterns (400)", async () => {
      const { reference, amount, token } = order();
      expectValidation(await env.call("POST", "/v1/orders", m.key, { amount, token }), "reference");
      expectValidation(await env.call("POST", "/v1/orders", m.key, { reference, token }), "amount");
      expectValidation(await env.call("POST", "/v1/orders", m.key, { reference, amount }), "token");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ amount: 1000 })), "amount");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ amount: "0" })), "amount");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ amount: "-5" })), "amount");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ amount: "1.5" })), "amount");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ reference: "a b" })), "reference");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ reference: 12 })), "reference");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ buyer: "0x1234" })), "buyer");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ buyer: `0x${"g".repeat(40)}` })), "buyer");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ token: "0x1234" })));
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ discount: "5" })));
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ items: {} })), "items");
      expectValidation(await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: sku.id }] })), "quantity");
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: sku.id, quantity: 0 }] })),
        "quantity",
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: sku.id, quantity: -2 }] })),
        "quantity",
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: sku.id, quantity: 1.5 }] })),
        "quantity",
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: sku.id, quantity: 1, x: 1 }] })),
      );
      expectValidation(
        await env.call(
          "POST",
          "/v1/orders",
          m.key,
          order({
            items: [
              { sku: sku.id, quantity: 1 },
              { sku: sku.id, quantity: 1 },
            ],
          }),
        ),
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ shipWithinSeconds: 59 })),
        "shipWithinSeconds",
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ protectionPeriodSeconds: 2 ** 32 })),
        "protectionPeriodSeconds",
      );
      expectValidation(
        await env.call("POST", "/v1/orders", m.key, order({ shipWithinSeconds: 90.5 })),
        "shipWithinSeconds",
      );
      // Windows longer than the database's 2^31 - 1 seconds are refused as input, not failed as a 500.
      for (const field of ["shipWithinSeconds", "protectionPeriodSeconds"]) {
        expectValidation(await env.call("POST", "/v1/orders", m.key, order({ [field]: 2 ** 31 })), field);
      }
      const longest = await env.call(
        "POST",
        "/v1/orders",
        m.key,
        order({ reference: "LONGEST", shipWithinSeconds: 2 ** 31 - 1, protectionPeriodSeconds: 2 ** 31 - 1 }),
      );
      expect(longest.status, longest.text).to.equal(202);
      expect(longest.body.shipWithinSeconds).to.equal(2 ** 31 - 1);
    });

    it("refuses bad payment deadlines: not a date-time, or in the past (400)", async () => {
      for (const paymentDeadline of ["tomorrow", "2024-13-45T99:00:00Z", "1700000000", ""]) {
        expectValidation(await env.call("POST", "/v1/orders", m.key, order({ paymentDeadline })), "paymentDeadline");
      }
      const past = await env.call("POST", "/v1/orders", m.key, order({ paymentDeadline: "2020-01-01T00:00:00Z" }));
      expect(past.status).to.equal(400);
      expect(errorOf(past)).to.deep.include({ code: "validation_failed", details: { field: "paymentDeadline" } });
    });

    it("answers 404 for an item SKU of nobody's and for unknown orders on every order route", async () => {
      const r = await env.call("POST", "/v1/orders", m.key, order({ items: [{ sku: "sku_nope", quantity: 1 }] }));
      expect(r.status).to.equal(404);
      expect(errorOf(r)).to.deep.include({ code: "not_found", details: { sku: "sku_nope" } });
      for (const [method, url, body] of [
        ["GET", "/v1/orders/ord_nope", undefined],
        ["GET", `/v1/orders/0x${"00".repeat(32)}`, undefined],
        ["POST", "/v1/orders/ord_nope/ship", { trackingReference: "T" }],
        ["POST", "/v1/orders/ord_nope/refund", {}],
        ["POST", "/v1/orders/ord_nope/cancel", undefined],
      ] as const) {
        const g = await env.call(method, url, m.key, body);
        expect(g.status, url).to.equal(404);
        expect(errorOf(g).code).to.equal("not_found");
      }
    });

    it("refuses bad ship and refund bodies (400)", async () => {
      const r = await env.call("POST", "/v1/orders", m.key, order());
      const id = r.body.id as string;
      expectValidation(await env.call("POST", `/v1/orders/${id}/ship`, m.key, {}), "trackingReference");
      expectValidation(await env.call("POST", `/v1/orders/${id}/ship`, m.key, { trackingReference: "" }));
      expectValidation(await env.call("POST", `/v1/orders/${id}/ship`, m.key, { trackingReference: "T", x: 1 }));
      expectValidation(await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "0" }), "amount");
      expectValidation(await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: "abc" }), "amount");
      expectValidation(await env.call("POST", `/v1/orders/${id}/refund`, m.key, { amount: 10 }), "amount");
      expectValidation(await env.call("POST", `/v1/orders/${id}/refund`, m.key, { reason: "x" }));
    });

    it("refuses bad list queries: limit out of range, bad cursor, bad date-time, unknown status or field (400)", async () => {
      for (const q of [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=1.5",
        "from=yesterday",
        "to=2024-02-30",
        "buyer=0x12",
        "colour=red",
        `sku=${"x".repeat(129)}`,
      ]) {
        expectValidation(await env.call("GET", `/v1/orders?${q}`, m.key));
      }
      for (const cursor of [
        "garbage",
        Buffer.from("[1,2]").toString("base64url"),
        Buffer.from('["x","y"]').toString("base64url"),
      ]) {
        const r = await env.call("GET", `/v1/orders?cursor=${cursor}`, m.key);
        expect(r.status, cursor).to.equal(400);
        expect(errorOf(r)).to.deep.include({ code: "validation_failed", details: { field: "cursor" } });
      }
      const s = await env.call("GET", "/v1/orders?status=lost", m.key);
      expect(s.status).to.equal(400);
      expect(errorOf(s).code).to.equal("validation_failed");
    });
  });

  describe("audit", () => {
    it("lists the merchant's changes newest first with the key that made them", async () => {
      const r = await env.call("GET", "/v1/audit?limit=200", m.key);
      expect(r.status).to.equal(200);
      expect(r.body).to.have.all.keys("data", "nextCursor");
      const entry = r.body.data[0];
      expect(entry).to.have.all.keys("id", "apiKeyId", "action", "resourceType", "resourceId", "details", "at");
      const ids = r.body.data.map((e: { id: string }) => BigInt(e.id));
      expect([...ids].sort((a, b) => (a > b ? -1 : 1))).to.deep.equal(ids);
      expect(r.body.data.map((e: { action: string }) => e.action)).to.include.members([
        "merchant.created",
        "api_key.created",
        "sku.created",
        "stock.added",
        "order.created",
      ]);
    });

    it("refuses a bad audit cursor or limit (400)", async () => {
      expectValidation(await env.call("GET", "/v1/audit?cursor=abc", m.key), "cursor");
      expectValidation(await env.call("GET", "/v1/audit?limit=0", m.key), "limit");
      expectValidation(await env.call("GET", "/v1/audit?limit=500", m.key), "limit");
    });
  });

  describe("transport", () => {
    it("answers 404 route_not_found for unknown routes", async () => {
      for (const [method, url] of [
        ["GET", "/v1/nothing"],
        ["GET", "/v2/orders"],
        ["POST", "/v1/orders/x/ship/now"],
      ] as const) {
        const r = await env.call(method, url, m.key);
        expect(r.status, `${method} ${url}`).to.equal(404);
        expect(errorOf(r).code).to.equal("route_not_found");
      }
    });

    it("answers 405 method_not_allowed with Allow for a route called with a method it does not answer", async () => {
      for (const [method, url, allow] of [
        ["DELETE", "/v1/orders", "GET, HEAD, POST"],
        ["PUT", `/v1/skus/${sku.id}`, "GET, HEAD"],
        ["GET", "/v1/orders/x/ship", "POST"],
        ["PATCH", "/v1/orders/x/ship/", "POST"],
      ] as const) {
        const r = await env.call(method, url, m.key);
        expect(r.status, `${method} ${url}: ${r.text}`).to.equal(405);
        expect(errorOf(r).code).to.equal("method_not_allowed");
        expect(r.headers["allow"], `${method} ${url}`).to.equal(allow);
        expect(errorOf(r).details).to.deep.equal({ allowed: allow.split(", ") });
      }
    });

    it("refuses a body that is not JSON with 415 unsupported_media_type", async () => {
      const r = await env.call("POST", "/v1/skus", m.key, "reference=a&name=b", {
        "content-type": "application/x-www-form-urlencoded",
      });
      expect(r.status, r.text).to.equal(415);
      expect(errorOf(r).code).to.equal("unsupported_media_type");
      const t = await env.call("POST", "/v1/orders", m.key, "hello", { "content-type": "text/plain" });
      expect(t.status).to.equal(415);
      expect(errorOf(t).code).to.equal("unsupported_media_type");
    });

    it("refuses malformed JSON with 400 validation_failed", async () => {
      const r = await env.call("POST", "/v1/skus", m.key, '{"reference": "a",', { "content-type": "application/json" });
      expectValidation(r);
    });

    it("refuses an oversized body with 413 payload_too_large", async () => {
      const r = await env.call("POST", "/v1/skus", m.key, {
        reference: "big",
        name: "big",
        metadata: { blob: "x".repeat(300 * 1024) },
      });
      expect(r.status).to.equal(413);
      expect(errorOf(r).code).to.equal("payload_too_large");
    });
  });
});
