/**
 * The gas budget's running counts of a merchant's queued commands (merchant_gas_queue.opened less
 * merchant_gas_released.released, migration 020) equal its open commands (pending, claimed, submitted) after every
 * statement that inserts a command or moves one into or out of the queue: each store function that does, and raw
 * SQL of the kinds no store function writes yet (a multi-row, multi-merchant update; a delete). A count that
 * drifted low would let a tenant overspend its budget; one that drifted high would refuse it for good. The real
 * SQL on the in-memory store.
 */
import { expect } from "chai";
import {
  claimReadyCommands,
  enqueueCommand,
  enqueueRestock,
  markConfirmed,
  markFailed,
  markSubmitted,
  noteWaiting,
  reclaimAbandoned,
  releaseCommands,
  reopenReorged,
  requeueRefused,
  requeueReorgedCreates,
  returnClaims,
  runAgainSoon,
  sleepCommand,
} from "../../relayer/src/store/commands";
import { reclaimRefusedTx } from "../../relayer/src/store/chainTxs";
import { cancelPendingPayout, requestPayoutChange } from "../../relayer/src/store/payouts";
import { insertOrderWithCommand, type TermsJson } from "../../relayer/src/store/orders";
import { merchantGasSpend } from "../../relayer/src/store/relaySpend";
import { DEFAULT_GAS_BUDGET_WEI, gasBudgetTerms } from "../../relayer/src/services/gasBudget";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";

const SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const MERCHANTS = ["m1", "m2"];
const ADDRESS = (m: string) => `0x${m === "m1" ? "1" : "2"}${"0".repeat(39)}`;

describe("gas budget: running counts of queued commands (in-memory store)", function () {
  this.timeout(60_000);
  let db: MemoryDb;
  let n = 0;
  let nonce = 0n;

  before(async () => {
    db = await openMemoryDb();
    for (const m of MERCHANTS)
      await db.query(
        `insert into merchants (id, name, address, encrypted_key, status) values ($1, $1, $2, 'k', 'active')`,
        [m, ADDRESS(m)],
      );
  });
  after(async () => {
    await db.close();
  });

  /** Every merchant's running count and its open commands, counted. */
  async function counts() {
    const r = await db.query<{ merchant_id: string; running: string; open: string }>(
      `select q.merchant_id, (q.opened - r.released)::text as running,
              (select count(*) from commands c where c.merchant_id = q.merchant_id
                 and c.status in ('pending', 'claimed', 'submitted'))::text as open
       from merchant_gas_queue q join merchant_gas_released r using (merchant_id) order by 1`,
    );
    return r.rows;
  }

  /** The running counts equal the open commands, and `merchant` has `open` of them. */
  async function expectCounted(how: string, merchant?: string, open?: number) {
    const rows = await counts();
    expect(
      rows.map((x) => x.merchant_id),
      how,
    ).to.deep.equal(MERCHANTS);
    for (const x of rows) expect(x.running, `${how}: ${x.merchant_id}`).to.equal(x.open);
    if (merchant !== undefined)
      expect(rows.find((x) => x.merchant_id === merchant)!.open, `${how}: ${merchant}'s open commands`).to.equal(
        String(open),
      );
  }

  async function order(merchant = "m1") {
    n++;
    const orderId = `ord_${n}`;
    await db.query(
      `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within, protection_period)
       values ($1, $2, $3, $4, '0x02', 1000, 0, 0, 0)`,
      [orderId, merchant, `R-${n}`, `0x${n.toString(16).padStart(64, "0")}`],
    );
    return orderId;
  }

  /** A command on a fresh order of `merchant`, claimed by `owner` and (unless `claimedOnly`) sent at a nonce. */
  async function sent(merchant = "m1", opts: { claimedOnly?: boolean; owner?: string; kind?: "create_order" } = {}) {
    const orderId = await order(merchant);
    const id = await enqueueCommand(db, {
      kind: opts.kind ?? "return_order",
      merchantId: merchant,
      orderId,
      payload: { amount: "1" },
    });
    const claimed = await claimReadyCommands(db, opts.owner ?? "writer-a", 1000);
    expect(claimed.map((c) => c.id)).to.include(id);
    nonce++;
    if (!opts.claimedOnly) await markSubmitted(db, [id], SIGNER, nonce);
    return { id, orderId, nonce };
  }

  /** Settles every open command (confirmed), so that each test starts from an empty queue. */
  afterEach(async () => {
    await db.query(`update commands set status = 'confirmed' where status in ('pending', 'claimed', 'submitted')`);
    await expectCounted("settled after the test", "m1", 0);
  });

  it("a new merchant starts with an empty count, and commands of no merchant count for nobody", async () => {
    await expectCounted("new merchants", "m1", 0);
    await enqueueCommand(db, { kind: "resolve_dispute", payload: {} });
    await expectCounted("a command of no merchant", "m1", 0);
  });

  it("counts each command queued (enqueueCommand, a restock of several, an order's acceptance) once", async () => {
    await enqueueCommand(db, { kind: "create_sku", merchantId: "m1", payload: {} });
    await expectCounted("enqueueCommand", "m1", 1);
    const retOrder = await order("m1");
    const ret = {
      orderId: retOrder,
      id: await enqueueCommand(db, { kind: "return_order", merchantId: "m1", orderId: retOrder, payload: {} }),
    };
    await enqueueRestock(db, {
      returnCommandId: ret.id,
      merchantId: "m1",
      merchant: ADDRESS("m1"),
      orderId: ret.orderId,
      items: [
        { skuId: "1", quantity: "1" },
        { skuId: "2", quantity: "3" },
      ],
    });
    await expectCounted("enqueueRestock", "m1", 4);
    const terms = { merchant: ADDRESS("m2"), payee: ADDRESS("m2") } as TermsJson;
    const accepted = await insertOrderWithCommand(
      db,
      {
        id: "ord_accepted",
        merchantId: "m2",
        reference: "ACCEPTED",
        chainOrderId: `0x${"a".repeat(64)}`,
        buyer: null,
        token: "0x02",
        amount: "1",
        items: [],
        paymentDeadline: 0,
        shipWithin: 0,
        protectionPeriod: 0,
        terms,
      },
      { payload: {}, apiKeyId: null },
      { action: "order.created", details: {} },
      gasBudgetTerms(DEFAULT_GAS_BUDGET_WEI),
    );
    expect(accepted.outcome).to.equal("accepted");
    await expectCounted("insertOrderWithCommand", "m2", 1);
    expect((await merchantGasSpend(db, "m2", gasBudgetTerms(DEFAULT_GAS_BUDGET_WEI)))!.queued).to.equal("1");
  });

  it("keeps the count through the queue (claimed, submitted, waiting) and releases it when confirmed or failed", async () => {
    const a = await sent("m1");
    const b = await sent("m1");
    await noteWaiting(db, [a.id], "SignerOutOfFunds", "waiting");
    await expectCounted("claimReadyCommands, markSubmitted, noteWaiting", "m1", 2);
    await markConfirmed(db, [a.id]);
    await expectCounted("markConfirmed", "m1", 1);
    await markFailed(db, b.id, "Reverted", "reverted");
    await expectCounted("markFailed", "m1", 0);
    // Failing or confirming again changes nothing.
    await markFailed(db, b.id, "Reverted", "reverted");
    await markConfirmed(db, [a.id]);
    await expectCounted("a closed command closed again", "m1", 0);
  });

  it("every way back to pending keeps one count per command", async () => {
    const a = await sent("m1");
    await releaseCommands(db, [a.id], 0, true);
    await expectCounted("releaseCommands", "m1", 1);
    const b = await sent("m1");
    await requeueRefused(db, SIGNER, b.nonce, 0);
    await expectCounted("requeueRefused", "m1", 2);
    const c = await sent("m1", { claimedOnly: true });
    await sleepCommand(db, c.id, "waiting", "asleep");
    await expectCounted("sleepCommand", "m1", 3);
    await sent("m1", { claimedOnly: true, owner: "writer-stopping" });
    await returnClaims(db, "writer-stopping");
    await expectCounted("returnClaims", "m1", 4);
    const e = await sent("m1", { claimedOnly: true, owner: "writer-dead" });
    await db.query(`update commands set claimed_at = now() - interval '1 hour' where id = $1`, [e.id]);
    expect(await reclaimAbandoned(db, 1000)).to.be.greaterThan(0);
    await expectCounted("reclaimAbandoned", "m1", 5);
  });

  it("counts a closed command again when it reopens (a reorg, a step run again, a refused transaction mined after all)", async () => {
    const a = await sent("m1");
    await markConfirmed(db, [a.id]);
    await reopenReorged(db, SIGNER, String(a.nonce));
    await expectCounted("reopenReorged", "m1", 1);
    const b = await sent("m1");
    await markConfirmed(db, [b.id]);
    await runAgainSoon(db, b.id, 0);
    await expectCounted("runAgainSoon", "m1", 2);
    const c = await sent("m1", { kind: "create_order" });
    await markConfirmed(db, [c.id]);
    await requeueReorgedCreates(db);
    await expectCounted("requeueReorgedCreates", "m1", 3);
    await releaseCommands(db, [a.id]);
    expect(await reclaimRefusedTx(db, SIGNER, 99n, "0xdead", [a.id])).to.deep.equal([a.id]);
    await expectCounted("reclaimRefusedTx", "m1", 3);
  });

  it("a payout change replaced or cancelled releases its command", async () => {
    await requestPayoutChange(db, { merchantId: "m2", address: ADDRESS("m1"), delaySeconds: 3600, requestedBy: "k" });
    await expectCounted("requestPayoutChange", "m2", 1);
    await requestPayoutChange(db, { merchantId: "m2", address: ADDRESS("m2"), delaySeconds: 3600, requestedBy: "k" });
    await expectCounted("requestPayoutChange replacing a pending change", "m2", 1);
    expect(await cancelPendingPayout(db, "m2")).to.not.equal(undefined);
    await expectCounted("cancelPendingPayout", "m2", 0);
  });

  it("one statement moving many commands of several merchants, and a delete, count per merchant", async () => {
    for (const m of ["m1", "m2", "m1", "m2", "m1"]) await sent(m);
    await expectCounted("five sent", "m1", 3);
    await db.query(
      `update commands set status = case when id % 2 = 0 then 'confirmed' else 'failed' end
       where status = 'submitted'`,
    );
    await expectCounted("all closed in one statement", "m1", 0);
    await db.query(`update commands set status = 'pending' where merchant_id is not null and status <> 'pending'`);
    await db.query(`update commands set status = 'confirmed' where merchant_id is not null`);
    const d = await sent("m2");
    await db.query(`delete from commands where id = $1`, [d.id]);
    await expectCounted("an open command deleted", "m2", 0);
  });

  it("commands truncated (an operator emptying the queue) leave no merchant counted as queued", async () => {
    await sent("m1");
    await sent("m2");
    await db.exec("truncate commands cascade");
    await expectCounted("after truncate", "m1", 0);
    await expectCounted("after truncate", "m2", 0);
  });
});
