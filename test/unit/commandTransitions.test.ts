/**
 * Every way a command goes back to `pending` leaves it as a fresh command: no claim, and no transaction of an
 * earlier attempt (signer, nonce, place in a batch). A stale transaction on a pending command reads as "sent at
 * that nonce": a return whose whole batch reverted was then taken for mined, and a second return the escrow must
 * refuse was accepted. The real SQL on the in-memory store.
 */
import { expect } from "chai";
import {
  claimReadyCommands,
  enqueueCommand,
  markConfirmed,
  markSubmitted,
  reclaimAbandoned,
  releaseCommands,
  requeueRefused,
  requeueReorgedCreates,
  returnClaims,
  runAgainSoon,
  sleepCommand,
} from "../../relayer/src/store/commands";
import { returnsInFlight } from "../../relayer/src/store/payouts";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";

const SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

describe("commands: every way back to pending (in-memory store)", function () {
  this.timeout(60_000);
  let db: MemoryDb;
  let n = 0;

  before(async () => {
    db = await openMemoryDb();
    await db.query(
      `insert into merchants (id, name, address, encrypted_key, status) values ('m1', 'M', '0x01', 'k', 'active')`,
    );
  });
  after(async () => {
    await db.close();
  });

  /** A command of kind `kind` on a fresh order, claimed by `owner` and (unless `claimedOnly`) sent at a nonce. */
  async function sent(kind: "return_order" | "create_order", opts: { claimedOnly?: boolean; owner?: string } = {}) {
    n++;
    const orderId = `ord_${n}`;
    await db.query(
      `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within, protection_period)
       values ($1, 'm1', $2, $3, '0x02', 1000, 0, 0, 0)`,
      [orderId, `R-${n}`, `0x${n.toString(16).padStart(64, "0")}`],
    );
    const id = await enqueueCommand(db, { kind, merchantId: "m1", orderId, payload: { amount: "400" } });
    const claimed = await claimReadyCommands(db, opts.owner ?? "writer-a", 100);
    expect(claimed.map((c) => c.id)).to.include(id);
    if (!opts.claimedOnly) await markSubmitted(db, [id], SIGNER, BigInt(n));
    return { id, orderId, nonce: BigInt(n) };
  }

  async function row(id: string) {
    return (
      await db.query<{
        status: string;
        claimed_by: string | null;
        claimed_at: Date | null;
        tx_signer: string | null;
        tx_nonce: string | null;
        batch_index: number | null;
      }>(`select status, claimed_by, claimed_at, tx_signer, tx_nonce, batch_index from commands where id = $1`, [id])
    ).rows[0];
  }

  function expectFresh(r: Awaited<ReturnType<typeof row>>, how: string) {
    expect(r, how).to.deep.include({
      status: "pending",
      claimed_by: null,
      claimed_at: null,
      tx_signer: null,
      tx_nonce: null,
      batch_index: null,
    });
  }

  it("released after its whole batch reverted: no claim, no transaction", async () => {
    const c = await sent("return_order");
    await releaseCommands(db, [c.id], 0, true);
    expectFresh(await row(c.id), "releaseCommands");
  });

  it("a return released after its batch reverted counts as in flight again (not as mined at the old nonce)", async () => {
    const c = await sent("return_order");
    await releaseCommands(db, [c.id], 0, true);
    const inFlight = await returnsInFlight(db, c.orderId);
    expect(inFlight).to.deep.equal([{ amount: 400n, signer: null, nonce: null }]);
  });

  it("refused by the node at its nonce", async () => {
    const c = await sent("return_order");
    await requeueRefused(db, SIGNER, c.nonce, 0);
    expectFresh(await row(c.id), "requeueRefused");
  });

  it("put to sleep while claimed", async () => {
    const c = await sent("return_order", { claimedOnly: true });
    await sleepCommand(db, c.id, "waiting", "asleep");
    expectFresh(await row(c.id), "sleepCommand");
  });

  it("given back by a writer that stops", async () => {
    const c = await sent("return_order", { claimedOnly: true, owner: "writer-stopping" });
    await returnClaims(db, "writer-stopping");
    expectFresh(await row(c.id), "returnClaims");
  });

  it("taken back from a writer that died", async () => {
    const c = await sent("return_order", { claimedOnly: true, owner: "writer-dead" });
    await db.query(`update commands set claimed_at = now() - interval '1 hour' where id = $1`, [c.id]);
    expect(await reclaimAbandoned(db, 1000)).to.be.greaterThan(0);
    expectFresh(await row(c.id), "reclaimAbandoned");
  });

  it("a confirmed step run again (a multi-step command)", async () => {
    const c = await sent("return_order");
    await markConfirmed(db, [c.id]);
    await runAgainSoon(db, c.id, 0);
    expectFresh(await row(c.id), "runAgainSoon");
  });

  it("a confirmed creation whose order a reorg took away", async () => {
    const c = await sent("create_order");
    await markConfirmed(db, [c.id]);
    await requeueReorgedCreates(db);
    expectFresh(await row(c.id), "requeueReorgedCreates");
  });
});
