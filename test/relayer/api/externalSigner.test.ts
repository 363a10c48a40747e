import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { NonceManager, Wallet, ZeroAddress } from "ethers";
import { InventoryToken__factory, MockStablecoin__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { toTerms } from "../../../sdk/orderRecord";
import { ROOT, SIGNER_INDEXES } from "../harness";
import { ADMIN_KEY, devWallet, errorOf, startApiEnv, waitFor, type ApiEnv, type Merchant } from "./support";

const FEE_BPS = 100n;
const payeeShare = (amount: bigint) => amount - (amount * FEE_BPS) / 10_000n;

/** What GET operator-approvals returns, as the merchant's wallet reads it. */
interface TypedApprovals {
  address: string;
  status: string;
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  types: Record<string, { name: string; type: string }[]>;
  requests: { message: Record<string, string>; contract: string; operator: string }[];
}

/**
 * A merchant that brings its own signing address: its wallet signs the operator approvals the relayer relays
 * (the relayer holds no key of it), its revenue lands at that address, and what only a custodial key could do is
 * refused with a code that says the wallet does it itself.
 */
describe("relayer API: a merchant with its own signing address", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  /** Hardhat's well-known account #8: the merchant's own wallet. */
  const wallet = devWallet(8);
  /** Hardhat's well-known account #9: someone else's key. */
  const attacker = devWallet(9);
  let merchantId: string;
  let ownerKey: string;
  let custodial: Merchant;
  let signedFirst: { requests: Record<string, string>[] };

  before(async () => {
    env = await startApiEnv();
    // A custodial merchant first: the relayer's signers have started (and are known) once it is active.
    custodial = await env.newMerchant("Custodial neighbour");
  });
  after(async () => env?.stop());

  const escrow = () => PaymentEscrow__factory.connect(env.deployed.escrow, env.node.provider);
  const inventory = () => InventoryToken__factory.connect(env.deployed.inventory, env.node.provider);
  const approvalsUrl = "/v1/merchant/operator-approvals";

  /** Transactions the relayer's signers sent, and commands queued for the merchant: both unchanged by a refusal. */
  const spentBySigners = () =>
    Promise.all(SIGNER_INDEXES.map((i) => env.node.provider.getTransactionCount(devWallet(i).address)));

  async function spent() {
    const sent = await spentBySigners();
    const cmds = await env.relayer.db.query<{ n: string }>(
      `select count(*)::text as n from commands where merchant_id = $1`,
      [merchantId],
    );
    return { sent, commands: cmds.rows[0].n };
  }

  async function typedData(key = ownerKey): Promise<TypedApprovals> {
    const r = await env.call("GET", approvalsUrl, key);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  }

  /** Every message of `t` signed by `signer`, as the POST takes them. */
  async function signAll(t: TypedApprovals, signer: Wallet, edit?: (m: Record<string, string>) => void) {
    const requests = [];
    for (const r of t.requests) {
      const message = { ...r.message };
      edit?.(message);
      const signature = await signer.signTypedData(t.domain, t.types, message);
      requests.push({ ...message, signature });
    }
    return { requests };
  }

  async function refused(body: unknown, status: number, code: string) {
    const before = await spent();
    const r = await env.call("POST", approvalsUrl, ownerKey, body);
    expect(r.status, r.text).to.equal(status);
    expect(errorOf(r).code).to.equal(code);
    // Checked before any gas is spent: no transaction, no command.
    expect(await spent()).to.deep.equal(before);
    return errorOf(r);
  }

  let earlySku: string;

  it("creates the merchant for a lower-case address: pending, signer external, its setup waiting for the wallet (the relayer signs nothing)", async () => {
    const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, {
      name: "Own wallet",
      address: wallet.address.toLowerCase(),
    });
    expect(r.status, r.text).to.equal(201);
    expect(r.body).to.include({ address: wallet.address, status: "pending", signer: "external" });
    merchantId = r.body.id;
    const k = await env.call("POST", `/v1/admin/merchants/${merchantId}/keys`, ADMIN_KEY, { name: "owner" });
    expect(k.status).to.equal(201);
    ownerKey = k.body.secret;
    const row = await env.relayer.db.query(`select encrypted_key, signer_kind from merchants where id = $1`, [
      merchantId,
    ]);
    expect(row.rows[0]).to.deep.equal({ encrypted_key: null, signer_kind: "external" });
    const listed = await env.call("GET", `/v1/admin/merchants/${custodial.id}`, ADMIN_KEY);
    expect(listed.body.signer).to.equal("custodial");
    // A SKU asked for now waits behind the merchant's setup instead of failing on chain.
    const sentBefore = await spentBySigners();
    const sku = await env.call("POST", "/v1/skus", ownerKey, { reference: "EARLY-SKU", name: "Early" });
    expect(sku.status, sku.text).to.equal(202);
    earlySku = sku.body.id;
    expect((await env.call("POST", `/v1/skus/${earlySku}/stock`, ownerKey, { quantity: "2" })).status).to.equal(202);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cmds = await env.relayer.db.query<{ kind: string; status: string; dormant: boolean }>(
      `select kind, status, not_before = 'infinity' as dormant from commands where merchant_id = $1 order by id`,
      [merchantId],
    );
    expect(cmds.rows).to.deep.equal([
      { kind: "merchant_setup", status: "pending", dormant: true },
      { kind: "create_sku", status: "pending", dormant: false },
      { kind: "mint_stock", status: "pending", dormant: false },
    ]);
    expect(await spentBySigners()).to.deep.equal(sentBefore);
  });

  it("refuses the zero address, the escrow, the inventory, the forwarder and a relayer signer as a merchant's address", async () => {
    const { escrow: e, inventory: i, forwarder } = env.deployed;
    const cases: [string, string][] = [
      [ZeroAddress, "zero_address"],
      [e, "escrow"],
      [i.toLowerCase(), "inventory"],
      [forwarder, "forwarder"],
      [devWallet(SIGNER_INDEXES[0]).address, "relayer_signer"],
    ];
    for (const [address, reason] of cases) {
      const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Forbidden", address });
      expect(r.status, reason).to.equal(400);
      expect(errorOf(r).code).to.equal("merchant_address_forbidden");
      expect(errorOf(r).details.reason).to.equal(reason);
    }
    // A mixed-case address whose checksum is wrong is a typo, not an address.
    const at = wallet.address.slice(2).search(/[a-fA-F]/) + 2;
    const flipped =
      wallet.address[at] === wallet.address[at].toLowerCase()
        ? wallet.address[at].toUpperCase()
        : wallet.address[at].toLowerCase();
    const typo = wallet.address.slice(0, at) + flipped + wallet.address.slice(at + 1);
    const bad = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Typo", address: typo });
    expect(bad.status).to.equal(400);
    expect(errorOf(bad).code).to.equal("validation_failed");
  });

  it("answers a second merchant claiming the same address, in any letter case, or a custodial one's, with 409 merchant_address_taken", async () => {
    for (const address of [wallet.address, wallet.address.toLowerCase(), custodial.address]) {
      const r = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Squatter", address });
      expect(r.status, address).to.equal(409);
      expect(errorOf(r).code).to.equal("merchant_address_taken");
    }
    const all = await env.call("GET", "/v1/admin/merchants", ADMIN_KEY);
    expect(all.body.data.filter((m: { name: string }) => m.name === "Squatter")).to.have.length(0);
  });

  it("shows the approvals to sign only to the merchant's owner keys and the admin: a staff key gets 403, another merchant's key 403 or its own 409", async () => {
    const staff = await env.call("POST", "/v1/keys", ownerKey, { name: "staff", scopes: ["read", "orders", "keys"] });
    expect(staff.status).to.equal(201);
    const asStaff = await env.call("GET", approvalsUrl, staff.body.secret);
    expect(asStaff.status).to.equal(403);
    expect(errorOf(asStaff).code).to.equal("owner_key_required");
    const postStaff = await env.call("POST", approvalsUrl, staff.body.secret, { requests: [] });
    expect(postStaff.status).to.equal(403);
    expect(errorOf(postStaff).code).to.equal("owner_key_required");
    // Another merchant's key reaches only its own merchant (custodial: nothing to sign) and never the admin's path.
    const own = await env.call("GET", approvalsUrl, custodial.key);
    expect(own.status).to.equal(409);
    expect(errorOf(own).code).to.equal("merchant_custodial");
    const theirs = await env.call("GET", `/v1/admin/merchants/${merchantId}/operator-approvals`, custodial.key);
    expect(theirs.status).to.equal(403);
    const theirsPost = await env.call("POST", `/v1/admin/merchants/${merchantId}/operator-approvals`, custodial.key, {
      requests: [],
    });
    expect(theirsPost.status).to.equal(403);
    const asAdmin = await env.call("GET", `/v1/admin/merchants/${merchantId}/operator-approvals`, ADMIN_KEY);
    expect(asAdmin.status).to.equal(200);
    expect(asAdmin.body.requests).to.have.length(2 * SIGNER_INDEXES.length);
  });

  it("returns the forwarder's typed data: one request per missing approval, consecutive nonces, one deadline", async () => {
    const t = await typedData();
    const fwd = env.deployed.forwarder;
    expect(t.domain).to.deep.equal({
      name: "orderchain Forwarder",
      version: "1",
      chainId: env.deployed.chainId.toString(),
      verifyingContract: fwd,
    });
    expect(t.requests).to.have.length(2 * SIGNER_INDEXES.length);
    t.requests.forEach((r, i) => {
      expect(r.message).to.include({ from: wallet.address, value: "0", nonce: String(i) });
      expect(r.message.deadline).to.equal(t.requests[0].message.deadline);
    });
    const operators = new Set(t.requests.map((r) => r.operator.toLowerCase()));
    expect([...operators].sort()).to.deep.equal(SIGNER_INDEXES.map((i) => devWallet(i).address.toLowerCase()).sort());
  });

  it("a storefront creating an order before the wallet signed gets 409 merchant_not_ready, and nothing is queued", async () => {
    const before = await env.call("GET", "/v1/orders", ownerKey);
    const r = await env.call("POST", "/v1/orders", ownerKey, {
      reference: "EARLY-1",
      amount: "1000000",
      token: env.deployed.stablecoin,
    });
    expect(r.status, r.text).to.equal(409);
    expect(errorOf(r).code).to.equal("merchant_not_ready");
    const after = await env.call("GET", "/v1/orders", ownerKey);
    expect(after.body.data).to.deep.equal(before.body.data);
  });

  it("never asks the wallet to approve a signer retired from the configuration (a leaked key rotated out)", async () => {
    const retired = Wallet.createRandom().address;
    await env.relayer.db.query(`insert into signer_leases (address) values ($1)`, [retired]);
    try {
      const operators = (await typedData()).requests.map((r) => r.operator.toLowerCase());
      expect(operators).to.not.include(retired.toLowerCase());
      expect([...new Set(operators)].sort()).to.deep.equal(
        SIGNER_INDEXES.map((i) => devWallet(i).address.toLowerCase()).sort(),
      );
    } finally {
      await env.relayer.db.query(`delete from signer_leases where address = $1`, [retired]);
    }
  });

  it("refuses requests signed by another key with wrong_signer: no gas spent, no command queued", async () => {
    const e = await refused(await signAll(await typedData(), attacker), 400, "wrong_signer");
    expect(e.details.signer).to.equal(attacker.address);
  });

  it("refuses the merchant's own signature over an approval of an attacker's operator with signature_mismatch", async () => {
    const t = await typedData();
    const evil = escrow().interface.encodeFunctionData("setOperatorApproval", [attacker.address, true]);
    const body = await signAll(t, wallet, (m) => {
      if (m.nonce === "0") m.data = evil;
    });
    const e = await refused(body, 400, "signature_mismatch");
    expect(e.details.index).to.equal(0);
  });

  it("refuses a request that forwards too little gas to set its approval, an expired one, and a short list", async () => {
    const t = await typedData();
    await refused(
      await signAll(t, wallet, (m) => {
        m.gas = "30000";
      }),
      400,
      "signature_mismatch",
    );
    const now = Math.floor(Date.now() / 1000);
    await refused(
      await signAll(t, wallet, (m) => {
        m.deadline = String(now - 10);
      }),
      400,
      "signature_expired",
    );
    const all = await signAll(t, wallet);
    await refused({ requests: all.requests.slice(0, 3) }, 400, "signature_mismatch");
    await refused({ requests: [] }, 400, "signature_mismatch");
  });

  it("relays the wallet's signatures and turns the merchant active once the chain shows every approval; a retry with the Idempotency-Key replays", async () => {
    const body = await signAll(await typedData(), wallet);
    signedFirst = body;
    const headers = { "Idempotency-Key": "approve-once" };
    const r = await env.call("POST", approvalsUrl, ownerKey, body, headers);
    expect(r.status, r.text).to.equal(202);
    expect(r.body.command).to.include({ kind: "merchant_setup", status: "pending" });
    expect(r.body.merchant).to.include({ id: merchantId, signer: "external" });
    const replay = await env.call("POST", approvalsUrl, ownerKey, body, headers);
    expect(replay.status).to.equal(202);
    expect(replay.headers["idempotent-replayed"]).to.equal("true");
    expect(replay.body.command.id).to.equal(r.body.command.id);
    await waitFor(
      "external merchant active",
      async () => (await env.call("GET", `/v1/admin/merchants/${merchantId}`, ADMIN_KEY)).body.status === "active",
    );
    for (const i of SIGNER_INDEXES) {
      const op = devWallet(i).address;
      expect(await escrow().isOperatorApproved(wallet.address, op)).to.equal(true);
      expect(await inventory().isApprovedForAll(wallet.address, op)).to.equal(true);
    }
    expect((await typedData()).requests).to.have.length(0);
    // The setup queued at creation ran; the SKU that waited behind it follows, with its stock.
    expect(r.body.command.id).to.equal(
      String(
        (
          await env.relayer.db.query(
            `select id from commands where merchant_id = $1 and kind = 'merchant_setup' order by id limit 1`,
            [merchantId],
          )
        ).rows[0].id,
      ),
    );
    await waitFor("the SKU asked for before the approvals, on chain with its stock", async () => {
      const sku = await env.call("GET", `/v1/skus/${earlySku}`, ownerKey);
      return sku.body.status === "created" && sku.body.stock?.available === "2";
    });
    const audit = await env.relayer.db.query(
      `select details from audit_log where merchant_id = $1 and action = 'merchant.operator_approvals_signed'`,
      [merchantId],
    );
    expect(audit.rows).to.have.length(1);
    // The relayer never held a key for it.
    const row = await env.relayer.db.query(`select encrypted_key from merchants where id = $1`, [merchantId]);
    expect(row.rows[0].encrypted_key).to.equal(null);
  });

  let orderId: string;

  it("creates, sells and settles an order whose revenue lands at the merchant's own address", async () => {
    const sku = await env.newSku(ownerKey, "OWN-SKU-1", 5);
    const buyer = await env.fundedBuyer(12);
    const amount = 2_000_000n;
    const o = await env.call("POST", "/v1/orders", ownerKey, {
      reference: "OWN-1",
      amount: amount.toString(),
      token: env.deployed.stablecoin,
      buyer: buyer.address,
      items: [{ sku: sku.id, quantity: 1 }],
      refundWindowSeconds: 3600,
    });
    expect(o.status, o.text).to.equal(202);
    orderId = o.body.id;
    const created = await env.waitOrder(ownerKey, orderId, "created");
    expect(created.terms).to.include({ merchant: wallet.address, payee: wallet.address });
    await env.pay(buyer, created);
    await env.waitOrder(ownerKey, orderId, "paid");
    const ship = await env.call("POST", `/v1/orders/${orderId}/ship`, ownerKey, { trackingReference: "T-OWN" });
    expect(ship.status, ship.text).to.equal(202);
    const shipped = await env.waitOrder(ownerKey, orderId, "shipped");
    const usd = MockStablecoin__factory.connect(env.deployed.stablecoin, env.node.provider);
    const before = await usd.balanceOf(wallet.address);
    const items = shipped.items.map((i: { chainSkuId: string; quantity: number }) => ({
      skuId: BigInt(i.chainSkuId),
      quantity: BigInt(i.quantity),
    }));
    await (
      await PaymentEscrow__factory.connect(env.deployed.escrow, buyer).confirmReceipt(toTerms(shipped.terms), items)
    ).wait();
    await env.waitOrder(ownerKey, orderId, "completed");
    expect((await usd.balanceOf(wallet.address)) - before).to.equal(payeeShare(amount));
    // The goods reached the buyer from the merchant's own address's stock.
    expect(await inventory().balanceOf(buyer.address, BigInt(sku.chainSkuId))).to.equal(1n);
  });

  it("returns part of the order funded by the wallet's own allowance, without a custodial key", async () => {
    const amount = 500_000n;
    const usd = MockStablecoin__factory.connect(
      env.deployed.stablecoin,
      new NonceManager(wallet.connect(env.node.provider)),
    );
    const missing = await env.call("POST", `/v1/orders/${orderId}/return`, ownerKey, { amount: amount.toString() });
    expect(missing.status, missing.text).to.equal(409);
    expect(errorOf(missing).code).to.equal("payout_allowance_missing");
    await (await usd.approve(env.deployed.escrow, amount)).wait();
    const r = await env.call("POST", `/v1/orders/${orderId}/return`, ownerKey, { amount: amount.toString() });
    expect(r.status, r.text).to.equal(202);
    await waitFor("the return on chain", async () => {
      const o = await env.call("GET", `/v1/orders/${orderId}`, ownerKey);
      return o.body.returnedAmount === amount.toString();
    });
  });

  it("answers a payout address change and a sweep with merchant_signs_itself: the wallet does those itself", async () => {
    const before = await spent();
    const put = await env.call("PUT", "/v1/merchant/payout-address", ownerKey, {
      address: Wallet.createRandom().address,
    });
    expect(put.status, put.text).to.equal(409);
    expect(errorOf(put).code).to.equal("merchant_signs_itself");
    const sweep = await env.call("POST", "/v1/merchant/sweep", ownerKey, { token: env.deployed.stablecoin });
    expect(sweep.status, sweep.text).to.equal(409);
    expect(errorOf(sweep).code).to.equal("merchant_signs_itself");
    expect(await spent()).to.deep.equal(before);
  });

  it("refuses the first signed batch replayed after the wallet revoked an operator (signature_replayed), then relays a fresh one", async () => {
    const op = devWallet(SIGNER_INDEXES[0]).address;
    const own = PaymentEscrow__factory.connect(
      env.deployed.escrow,
      new NonceManager(wallet.connect(env.node.provider)),
    );
    await (await own.setOperatorApproval(op, false)).wait();
    const e = await refused(signedFirst, 409, "signature_replayed");
    expect(e.details).to.include({ index: 0, nonce: "0" });
    const t = await typedData();
    expect(t.requests).to.have.length(1);
    expect(t.requests[0]).to.include({ contract: "escrow", operator: op });
    expect(t.requests[0].message.nonce).to.equal(String(2 * SIGNER_INDEXES.length));
    const r = await env.call("POST", approvalsUrl, ownerKey, await signAll(t, wallet));
    expect(r.status, r.text).to.equal(202);
    await waitFor("operator approved again", () => escrow().isOperatorApproved(wallet.address, op));
  });

  it("npm run merchant:approve fetches, signs and posts a merchant's approvals from its key alone", async () => {
    const own = devWallet(16);
    const m = await env.call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Script", address: own.address });
    expect(m.status, m.text).to.equal(201);
    const k = await env.call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" });
    const url = await env.relayer.listen();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only", "scripts/merchant-approve.ts"],
      {
        cwd: ROOT,
        timeout: 150_000,
        env: {
          ...process.env,
          RELAYER_URL: url,
          MERCHANT_API_KEY: k.body.secret,
          MERCHANT_PRIVATE_KEY: own.privateKey,
          NO_COLOR: "1",
        },
      },
    );
    expect(stdout).to.match(new RegExp(`${2 * SIGNER_INDEXES.length} approval\\(s\\) missing for ${own.address}`));
    expect(stdout).to.include(`merchant ${m.body.id} is active`);
    expect((await env.call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status).to.equal("active");
  });
});
