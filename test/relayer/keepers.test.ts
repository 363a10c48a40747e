/**
 * The keepers on a real Hardhat node and PostgreSQL, with two relayers (each its own pool, signer leases, writer
 * and keeper loop) on one database: shipped orders are released after their protection period, unpaid orders
 * expire after their payment deadline (their stock comes back), disputes get their default outcome after their
 * deadline, each exactly once on chain, as the chain's clock (evm_increaseTime) says; a merchant with its keepers
 * off is left alone; a buyer confirming while the keeper's release is in flight ends with no failed order.
 */
import { expect } from "chai";
import { Writable } from "node:stream";
import pino from "pino";
import { id as keccakId, type JsonRpcProvider } from "ethers";
import { Client } from "pg";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../typechain-types";
import { startRelayer, type Relayer } from "../../relayer/src/relayer";
import { toTerms } from "../../sdk/orderRecord";
import {
  ADMIN_KEY,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "./harness";

const MAX_PER_PASS = 2;
const HOUR = 3600;
const DAY = 24 * HOUR;

interface PassLine {
  skipped: boolean;
  actions: Record<string, { due: number; queued: number }>;
}

describe("relayer keepers: release, expire and dispute defaults on the chain's time", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let a: Relayer;
  let b: Relayer;
  const passes: PassLine[] = [];
  const buyer = devWallet(10);

  /** A logger keeping the keepers' per-pass debug lines, so the test can check each pass's bound. */
  const passLogger = () =>
    pino(
      { level: "debug" },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split("\n")) {
            if (!line.includes('"keeper pass"')) continue;
            const j = JSON.parse(line) as PassLine;
            passes.push(j);
          }
          done();
        },
      }),
    );

  const start = (name: string) =>
    startRelayer({
      config: relayerConfig(node, {
        DATABASE_URL: db.url,
        INSTANCE_ID: `keepers-${name}`,
        KEEPER_INTERVAL_MS: "100",
        KEEPER_MAX_ORDERS_PER_PASS: String(MAX_PER_PASS),
      }),
      chainId: deployed.chainId,
      addresses: deployed,
      logger: passLogger(),
    });

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    a = await start("a");
    b = await start("b");
    await pg.connect();
  });

  after(async () => {
    await node?.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await a?.stop();
    await b?.stop();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  const call = async (method: "GET" | "POST" | "PATCH", url: string, key?: string, body?: unknown) => {
    const res = await a.app.inject({
      method,
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  };

  async function newMerchant(name: string): Promise<{ id: string; key: string }> {
    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name });
    expect(m.status, JSON.stringify(m.body)).to.equal(201);
    await waitFor(
      `merchant ${name} active`,
      async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    );
    const k = await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" });
    expect(k.status).to.equal(201);
    return { id: m.body.id, key: k.body.secret };
  }

  const order = async (key: string, id: string) => (await call("GET", `/v1/orders/${id}`, key)).body;
  const statusIs = (key: string, id: string, status: string) =>
    waitFor(`order ${id} ${status}`, async () => {
      const o = await order(key, id);
      return o.status === status ? o : null;
    });

  type Placed = { id: string; chainOrderId: string; terms: Parameters<typeof toTerms>[0] };

  /**
   * Places orders and waits for them on chain, then takes each further: paid and shipped, or paid and disputed.
   * The API's work runs concurrently; the buyer's own transactions are sent one after another (nonce order).
   */
  async function placeOrders(
    specs: { key: string; ref: string; then: "created" | "shipped" | "disputed"; extra?: Record<string, unknown> }[],
  ): Promise<Record<string, Placed>> {
    const accepted = await Promise.all(
      specs.map(async ({ key, ref, extra }) => {
        const r = await call("POST", "/v1/orders", key, {
          reference: ref,
          amount: "1000000",
          token: deployed.stablecoin,
          buyer: buyer.address,
          protectionPeriodSeconds: HOUR,
          ...extra,
        });
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        return r.body.id as string;
      }),
    );
    const created: Placed[] = await Promise.all(specs.map((sp, i) => statusIs(sp.key, accepted[i], "created")));
    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer.connect(node.provider));
    const onward = specs.map((sp, i) => ({ ...sp, order: created[i] })).filter((x) => x.then !== "created");
    for (const x of onward) await (await escrow.pay(toTerms(x.order.terms))).wait();
    await Promise.all(onward.map((x) => statusIs(x.key, x.order.id, "paid")));
    for (const x of onward.filter((y) => y.then === "disputed"))
      await (await escrow.dispute(toTerms(x.order.terms), keccakId(`evidence ${x.ref}`))).wait();
    await Promise.all(
      onward
        .filter((x) => x.then === "shipped")
        .map(async (x) => {
          const r = await call("POST", `/v1/orders/${x.order.id}/ship`, x.key, { trackingReference: `T-${x.ref}` });
          expect(r.status, JSON.stringify(r.body)).to.equal(202);
        }),
    );
    const final: Placed[] = await Promise.all(specs.map((sp, i) => statusIs(sp.key, accepted[i], sp.then)));
    return Object.fromEntries(specs.map((sp, i) => [sp.ref, final[i]]));
  }

  /** Moves the chain's clock: the next block is `seconds` later. */
  async function advance(provider: JsonRpcProvider, seconds: number) {
    await provider.send("evm_increaseTime", [seconds]);
    await provider.send("evm_mine", []);
  }

  /** How many times each of the escrow's `event` names each order id, from the node's own logs. */
  async function eventCounts(event: string): Promise<Map<string, number>> {
    const escrow = PaymentEscrow__factory.connect(deployed.escrow, node.provider);
    const logs = await escrow.queryFilter(escrow.getEvent(event as "OrderCompleted"), deployed.startBlock);
    const out = new Map<string, number>();
    for (const l of logs) out.set(l.args.orderId, (out.get(l.args.orderId) ?? 0) + 1);
    return out;
  }

  const keeperCommands = async () =>
    (
      await pg.query<{ order_id: string; kind: string; status: string; moot: string | null; n: number }>(
        `select order_id, kind, min(status) as status, min(payload->>'moot') as moot, count(*)::int as n
         from commands where kind like 'keeper_%' group by order_id, kind`,
      )
    ).rows;

  const metric = async (r: Relayer, name: string, labels: Record<string, string>) => {
    const m = (await r.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return Number(v?.value ?? 0);
  };
  const metricOfBoth = async (name: string, labels: Record<string, string>) =>
    (await metric(a, name, labels)) + (await metric(b, name, labels));

  let m1: { id: string; key: string };
  let m2: { id: string; key: string };

  describe("the merchant's keeper switches (GET/PATCH /v1/merchant/keepers)", () => {
    before(async () => {
      [m1, m2] = [await newMerchant("Keeper on"), await newMerchant("Keeper off")];
    });

    it("are all on by default", async () => {
      const r = await call("GET", "/v1/merchant/keepers", m1.key);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({
        release: true,
        expire: true,
        disputeDefault: true,
        gas: { periodDays: 30, gasUsed: "0", costWei: "0" },
      });
    });

    it("a staff key, whatever its scopes, cannot turn them off (403 owner_key_required)", async () => {
      const staff = await call("POST", "/v1/keys", m2.key, { name: "clerk", scopes: ["read", "orders", "keys"] });
      expect(staff.status).to.equal(201);
      const r = await call("PATCH", "/v1/merchant/keepers", staff.body.secret, { release: false });
      expect(r.status).to.equal(403);
      expect(r.body.error.code).to.equal("owner_key_required");
      expect((await call("GET", "/v1/merchant/keepers", staff.body.secret)).body.release).to.equal(true);
    });

    it("a caller without a key learns nothing (401 unauthenticated)", async () => {
      expect((await call("PATCH", "/v1/merchant/keepers", undefined, { release: false })).body.error.code).to.equal(
        "unauthenticated",
      );
      expect((await call("GET", "/v1/merchant/keepers")).status).to.equal(401);
    });

    it("refuses an empty change, an unknown switch and a non-boolean (400 validation_failed)", async () => {
      for (const body of [{}, { autoRefund: true }, { release: "no" }, { release: 0 }]) {
        const r = await call("PATCH", "/v1/merchant/keepers", m2.key, body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(r.body.error.code).to.equal("validation_failed");
      }
    });

    it("turns the named switches off, keeps the others, and records the change in the audit trail", async () => {
      const one = await call("PATCH", "/v1/merchant/keepers", m2.key, { release: false });
      expect(one.status).to.equal(200);
      expect([one.body.release, one.body.expire, one.body.disputeDefault]).to.deep.equal([false, true, true]);
      const all = await call("PATCH", "/v1/merchant/keepers", m2.key, { expire: false, disputeDefault: false });
      expect([all.body.release, all.body.expire, all.body.disputeDefault]).to.deep.equal([false, false, false]);
      const audit = await call("GET", "/v1/audit", m2.key);
      const lines = audit.body.data.filter((l: { action: string }) => l.action === "merchant.keepers_set");
      expect(lines).to.have.length(2);
      // Another merchant's switches are untouched.
      expect((await call("GET", "/v1/merchant/keepers", m1.key)).body.release).to.equal(true);
    });
  });

  describe("keepers at work, two relayers on one database", () => {
    const o: Record<string, Placed> = {};
    let skuId: string;

    before(async () => {
      const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer.connect(node.provider));
      await (await usd.mint(buyer.address, 10n ** 12n)).wait();
      await (await usd.approve(deployed.escrow, 10n ** 12n)).wait();
      const sku = await call("POST", "/v1/skus", m1.key, { reference: "mug", name: "Mug" });
      expect(sku.status).to.equal(202);
      skuId = sku.body.id;
      expect((await call("POST", `/v1/skus/${skuId}/stock`, m1.key, { quantity: "10" })).status).to.equal(202);
      await waitFor("stock minted", async () => {
        const s = await call("GET", `/v1/skus/${skuId}`, m1.key);
        return s.body.stock?.available === "10";
      });
      // Deadlines are set from this machine's clock when the orders are accepted; after that only the chain's
      // clock moves.
      const soon = new Date(Date.now() + 1800_000).toISOString();
      Object.assign(
        o,
        await placeOrders([
          ...["R1", "R2", "R3", "RACE"].map((ref) => ({ key: m1.key, ref, then: "shipped" as const })),
          {
            key: m1.key,
            ref: "E1",
            then: "created",
            extra: { paymentDeadline: soon, items: [{ sku: skuId, quantity: 2 }] },
          },
          { key: m1.key, ref: "D1", then: "disputed" },
          { key: m2.key, ref: "ROFF", then: "shipped" },
          { key: m2.key, ref: "EOFF", then: "created", extra: { paymentDeadline: soon } },
          { key: m2.key, ref: "DOFF", then: "disputed" },
        ]),
      );
      const s = await call("GET", `/v1/skus/${skuId}`, m1.key);
      expect(s.body.stock).to.include({ available: "8", reserved: "2" });
    });

    it("acts on nothing before the deadlines pass on chain", async () => {
      // Several passes of both relayers.
      const seen = passes.length;
      await waitFor("keeper passes", async () => passes.length >= seen + 6);
      expect(await keeperCommands()).to.deep.equal([]);
    });

    it("releases and expires on the chain's time, once each; the buyer confirming while the keeper's release is in flight fails nothing", async () => {
      const provider = node.provider;
      const seen = passes.length;
      // Transactions wait in the mempool from here on, so the keeper's release of RACE can be caught in flight.
      await provider.send("evm_setAutomine", [false]);
      try {
        await advance(provider, 2 * HOUR);
        const inFlight = await waitFor("the keeper's release of RACE sent, not mined", async () => {
          const r = await pg.query(`select status from commands where order_id = $1 and kind = 'keeper_release'`, [
            o.RACE.id,
          ]);
          return r.rows[0]?.status === "submitted";
        });
        expect(inFlight).to.equal(true);
        // The buyer confirms, paying a far higher tip: mined ahead of the keeper's batch in the same block. (A
        // fixed gas limit: an estimate would run against the pending block, where the keeper already released.)
        const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer.connect(provider));
        await escrow.confirmReceipt(toTerms(o.RACE.terms), [], {
          gasLimit: 300_000n,
          maxPriorityFeePerGas: 50_000_000_000n,
          maxFeePerGas: 100_000_000_000n,
        });
        await waitFor("every due release and expiry sent", async () => {
          const r = await pg.query(
            `select count(*)::int as n from commands where kind in ('keeper_release', 'keeper_expire') and status = 'submitted'`,
          );
          return r.rows[0].n === 5;
        });
        await provider.send("evm_mine", []);
      } finally {
        await provider.send("evm_setAutomine", [true]);
      }
      for (const ref of ["R1", "R2", "R3", "RACE"]) await statusIs(m1.key, o[ref].id, "completed");
      await statusIs(m1.key, o.E1.id, "cancelled");
      await waitFor("keeper commands final", async () =>
        (await keeperCommands()).every((c) => c.status === "confirmed" || c.status === "failed"),
      );

      // Exactly one command per order and action, and exactly one event per order on chain.
      const cmds = await keeperCommands();
      const byOrder = new Map(cmds.map((c) => [`${c.order_id}:${c.kind}`, c]));
      expect(cmds).to.have.length(5);
      for (const ref of ["R1", "R2", "R3", "RACE"]) expect(byOrder.get(`${o[ref].id}:keeper_release`)?.n).to.equal(1);
      expect(byOrder.get(`${o.E1.id}:keeper_expire`)?.n).to.equal(1);
      const completed = await eventCounts("OrderCompleted");
      const cancelled = await eventCounts("OrderCancelled");
      for (const ref of ["R1", "R2", "R3", "RACE"]) expect(completed.get(o[ref].chainOrderId)).to.equal(1);
      expect(cancelled.get(o.E1.chainOrderId)).to.equal(1);

      // The race: the buyer's confirmation won; the keeper's release ended confirmed as moot, the order unharmed.
      const race = byOrder.get(`${o.RACE.id}:keeper_release`)!;
      expect(race.status).to.equal("confirmed");
      expect(race.moot).to.match(/InvalidState/);
      expect((await order(m1.key, o.RACE.id)).error).to.equal(null);
      const failed = await pg.query(`select kind, error_code from commands where status = 'failed'`);
      expect(failed.rows).to.deep.equal([]);

      // The expired order's stock came back.
      const s = await call("GET", `/v1/skus/${skuId}`, m1.key);
      expect(s.body.stock).to.include({ available: "10", reserved: "0" });

      // Bounded: no pass queued more than KEEPER_MAX_ORDERS_PER_PASS orders of one action, though 4 were due.
      const after = passes.slice(seen).filter((p) => !p.skipped);
      for (const p of after) for (const a of Object.values(p.actions)) expect(a.queued).to.be.at.most(MAX_PER_PASS);
      expect(after.some((p) => p.actions.release?.due === 4 && p.actions.release.queued === MAX_PER_PASS)).to.equal(
        true,
      );

      // Metrics, summed over both relayers.
      expect(await metricOfBoth("relayer_keeper_actions_total", { action: "release", outcome: "enqueued" })).to.equal(
        4,
      );
      expect(await metricOfBoth("relayer_keeper_actions_total", { action: "release", outcome: "confirmed" })).to.equal(
        3,
      );
      expect(await metricOfBoth("relayer_keeper_actions_total", { action: "release", outcome: "moot" })).to.equal(1);
      expect(await metricOfBoth("relayer_keeper_actions_total", { action: "expire", outcome: "confirmed" })).to.equal(
        1,
      );
    });

    it("announces the keepers' changes as theirs in the webhook events (by: keeper), the buyer's not", async () => {
      const events = await waitFor("events", async () => {
        const r = await pg.query<{ order_id: string; type: string; by: string | null }>(
          `select order_id, type, payload->'data'->>'by' as by from webhook_events
           where type in ('order.completed', 'order.cancelled')`,
        );
        return r.rows.length === 5 ? r.rows : null;
      });
      const by = new Map(events.map((e) => [e.order_id, e.by]));
      for (const ref of ["R1", "R2", "R3", "E1"]) expect(by.get(o[ref].id), ref).to.equal("keeper");
      expect(by.get(o.RACE.id)).to.equal(null);
    });

    it("applies a dispute's default outcome after its deadline, once, and leaves the merchant with keepers off alone", async () => {
      await advance(node.provider, 15 * DAY);
      await statusIs(m1.key, o.D1.id, "resolved");
      const resolutions = await eventCounts("DisputeResolved");
      expect(resolutions.get(o.D1.chainOrderId)).to.equal(1);
      const ev = await waitFor("order.resolved event", async () => {
        const r = await pg.query(
          `select payload->'data' as data from webhook_events where order_id = $1 and type = 'order.resolved'`,
          [o.D1.id],
        );
        return r.rows[0]?.data;
      });
      expect(ev).to.include({ resolution: "default", by: "keeper" });
      // A few more passes of both relayers: the merchant that turned its keepers off keeps its orders as they were.
      const seen = passes.length;
      await waitFor("keeper passes", async () => passes.length >= seen + 6);
      expect((await order(m2.key, o.ROFF.id)).status).to.equal("shipped");
      expect((await order(m2.key, o.EOFF.id)).status).to.equal("created");
      expect((await order(m2.key, o.DOFF.id)).status).to.equal("disputed");
      const offCommands = await pg.query(`select 1 from commands where merchant_id = $1 and kind like 'keeper_%'`, [
        m2.id,
      ]);
      expect(offCommands.rowCount).to.equal(0);
      const cmds = await keeperCommands();
      expect(cmds.filter((c) => c.kind === "keeper_dispute_default")).to.have.length(1);
      expect(cmds.every((c) => c.n === 1 && c.status === "confirmed")).to.equal(true);
      // The keepers' gas is metered under the merchant, shown with its switches.
      const k = await call("GET", "/v1/merchant/keepers", m1.key);
      expect(BigInt(k.body.gas.gasUsed)).to.be.greaterThan(0n);
      expect(
        await metricOfBoth("relayer_keeper_actions_total", { action: "dispute_default", outcome: "confirmed" }),
      ).to.equal(1);
    });
  });
});
