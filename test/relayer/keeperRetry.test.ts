/**
 * Keeper commands that fail are tried again, on a real Hardhat node and PostgreSQL: a reorg takes back the block
 * whose clock made an order due, so the keeper's release, sent by then, is mined on a chain where the protection
 * period still runs and the escrow refuses it (ProtectionPeriodActive). Once the chain's clock passes the deadline
 * again, the keeper queues the release again and the order is released, once. The attempts are bounded: the store's
 * selection of due orders (on its own database) backs off after each failure and stops at the cap.
 */
import { expect } from "chai";
import { type JsonRpcProvider } from "ethers";
import { Client } from "pg";
import { MockStablecoin__factory, PaymentEscrow__factory } from "../../typechain-types";
import { startRelayer, type Relayer } from "../../relayer/src/relayer";
import { openDb, type Db } from "../../relayer/src/store/db";
import { migrate } from "../../relayer/src/store/migrate";
import { countDueOrders, enqueueDueKeeperCommands, type DueSelection } from "../../relayer/src/store/keepers";
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

const HOUR = 3600;

describe("relayer keepers: a failed keeper command is tried again, with a backoff and a cap", function () {
  this.timeout(300_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let pg: Client;
  let relayer: Relayer;
  const buyer = devWallet(11);

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    relayer = await startRelayer({
      config: relayerConfig(node, {
        DATABASE_URL: db.url,
        INSTANCE_ID: "keeper-retry",
        KEEPER_INTERVAL_MS: "100",
        REPLACE_AFTER_MS: "1000",
      }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  after(async () => {
    await node?.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await relayer?.stop();
    await pg?.end();
    await db?.drop();
    await node?.stop();
  });

  const call = async (method: "GET" | "POST", url: string, key?: string, body?: unknown) => {
    const res = await relayer.app.inject({
      method,
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  };

  const statusIs = (key: string, id: string, status: string, timeoutMs = 90_000) =>
    waitFor(
      `order ${id} ${status}`,
      async () => {
        const o = (await call("GET", `/v1/orders/${id}`, key)).body;
        return o.status === status ? o : null;
      },
      timeoutMs,
    );

  async function advance(provider: JsonRpcProvider, seconds: number) {
    await provider.send("evm_increaseTime", [seconds]);
    await provider.send("evm_mine", []);
  }

  const releases = async (orderId: string) =>
    (
      await pg.query<{ status: string; error_code: string | null; attempt: string | null }>(
        `select status, error_code, payload->>'attempt' as attempt from commands
         where order_id = $1 and kind = 'keeper_release' order by id`,
        [orderId],
      )
    ).rows;

  const metric = async (name: string, labels: Record<string, string>) => {
    const m = (await relayer.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return Number(v?.value ?? 0);
  };

  it("a release refused after a reorg took the chain's clock back is queued again and releases the order once", async () => {
    const provider = node.provider;
    const m = await call("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Retry shop" });
    expect(m.status, JSON.stringify(m.body)).to.equal(201);
    await waitFor(
      "merchant active",
      async () => (await call("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
      90_000,
    );
    const key = (await call("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" })).body
      .secret as string;
    const accepted = await call("POST", "/v1/orders", key, {
      reference: "RETRY-1",
      amount: "1000000",
      token: deployed.stablecoin,
      buyer: buyer.address,
      protectionPeriodSeconds: HOUR,
    });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(202);
    const created = await statusIs(key, accepted.body.id, "created");
    const usd = MockStablecoin__factory.connect(deployed.stablecoin, buyer.connect(provider));
    await (await usd.mint(buyer.address, 10n ** 9n)).wait();
    await (await usd.approve(deployed.escrow, 10n ** 9n)).wait();
    const escrow = PaymentEscrow__factory.connect(deployed.escrow, buyer.connect(provider));
    await (await escrow.pay(toTerms(created.terms))).wait();
    await statusIs(key, created.id, "paid");
    expect((await call("POST", `/v1/orders/${created.id}/ship`, key, { trackingReference: "T-1" })).status).to.equal(
      202,
    );
    await statusIs(key, created.id, "shipped");

    // The fork point: the protection period still runs here.
    const fork = await provider.send("evm_snapshot", []);
    await provider.send("evm_setAutomine", [false]);
    try {
      // A block two hours later makes the order due; the keeper's release is sent and waits in the mempool.
      await advance(provider, 2 * HOUR);
      await waitFor(
        "the keeper's release sent",
        async () => (await releases(created.id)).some((c) => c.status === "submitted"),
        90_000,
      );
      // The reorg: that block is replaced by blocks of the old clock, in which the release (or its replacement)
      // is mined and refused by the escrow.
      expect(await provider.send("evm_revert", [fork])).to.equal(true);
      await waitFor(
        "the keeper's release refused on chain",
        async () => {
          await provider.send("evm_mine", []);
          return (await releases(created.id)).some((c) => c.status === "failed");
        },
        90_000,
        300,
      );
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    expect((await releases(created.id))[0]).to.include({ status: "failed", error_code: "ProtectionPeriodActive" });
    expect((await call("GET", `/v1/orders/${created.id}`, key)).body.status).to.equal("shipped");

    // The deadline passes on the new chain too: the keeper tries again, and the order is released.
    await advance(provider, 2 * HOUR);
    await statusIs(key, created.id, "completed");
    const cmds = await waitFor(
      "keeper commands final",
      async () => {
        const r = await releases(created.id);
        return r.every((c) => c.status === "confirmed" || c.status === "failed") ? r : null;
      },
      90_000,
    );
    expect(cmds.map((c) => [c.status, c.attempt])).to.deep.equal([
      ["failed", "1"],
      ["confirmed", "2"],
    ]);
    const completed = await escrow.queryFilter(escrow.filters.OrderCompleted(created.chainOrderId));
    expect(completed).to.have.length(1);
    expect(await metric("relayer_keeper_actions_total", { action: "release", outcome: "retried" })).to.equal(1);
    expect(await metric("relayer_keeper_actions_total", { action: "release", outcome: "confirmed" })).to.equal(1);
  });

  describe("the bound on attempts (the store's due selection, on its own database)", () => {
    let own: { url: string; drop(): Promise<void> };
    let q: Db;
    const NOW = 1_800_000_000n;
    const retry = { maxAttempts: 3, backoffMs: 60_000, maxBackoffMs: 3_600_000 };
    const selection: DueSelection = {
      action: "release",
      kind: "keeper_release",
      status: "shipped",
      chainTime: NOW,
      retry,
    };

    before(async () => {
      own = await createTestDatabase();
      q = await openDb({ databaseUrl: own.url, poolSize: 2 });
      await migrate(q);
      await q.query(`insert into merchants (id, name, address, encrypted_key) values ('mch_r', 'r', $1, 'x')`, [
        `0x${"ab".repeat(20)}`,
      ]);
      await q.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within,
                             protection_period, status, record)
         values ('ord_r', 'mch_r', 'r', $1, $2, 1000, 0, 60, 60, 'shipped', $3)`,
        [`0x${"01".padStart(64, "0")}`, `0x${"00".repeat(20)}`, { deadline: (NOW - 10n).toString() }],
      );
    });

    after(async () => {
      await q?.close();
      await own?.drop();
    });

    /** The pass queues the release; the escrow refuses it; its failure is `agoMs` old. */
    async function failAttempt(agoMs: number) {
      const [queued] = await enqueueDueKeeperCommands(q, selection, 10);
      expect(queued?.order_id).to.equal("ord_r");
      await q.query(
        `update commands set status = 'failed', error_code = 'ProtectionPeriodActive',
           updated_at = now() - $1::int * interval '1 millisecond'
         where order_id = 'ord_r' and status = 'pending'`,
        [agoMs],
      );
      return queued.attempt;
    }

    it("waits the backoff after each failure (doubling), and leaves the order alone after the last attempt", async () => {
      expect(await failAttempt(0)).to.equal(1);
      // Just failed: not due before a minute passed.
      expect(await countDueOrders(q, selection)).to.equal(0);
      await q.query(`update commands set updated_at = now() - interval '61 seconds' where order_id = 'ord_r'`);
      expect(await countDueOrders(q, selection)).to.equal(1);
      expect(await failAttempt(61_000)).to.equal(2);
      // After the second failure the wait is two minutes.
      expect(await countDueOrders(q, selection)).to.equal(0);
      await q.query(`update commands set updated_at = now() - interval '121 seconds' where order_id = 'ord_r'`);
      expect(await failAttempt(121_000)).to.equal(3);
      // Three attempts failed: the cap. However long ago, the keeper queues nothing more.
      await q.query(`update commands set updated_at = now() - interval '1 day' where order_id = 'ord_r'`);
      expect(await countDueOrders(q, selection)).to.equal(0);
      expect(await enqueueDueKeeperCommands(q, selection, 10)).to.deep.equal([]);
    });

    it("a live or carried-out command blocks a second one, whatever the failures before it", async () => {
      await q.query(`delete from commands`);
      await failAttempt(120_000);
      const [second] = await enqueueDueKeeperCommands(q, selection, 10);
      expect(second.attempt).to.equal(2);
      // Another process's pass at the same moment: the unique index keeps it to one live command.
      const again = await q.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('keeper_release', 'mch_r', 'ord_r', '{}')
         on conflict do nothing returning id`,
      );
      expect(again.rows).to.deep.equal([]);
      await q.query(`update commands set status = 'confirmed' where status = 'pending'`);
      expect(await enqueueDueKeeperCommands(q, selection, 10)).to.deep.equal([]);
    });
  });
});
