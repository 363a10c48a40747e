/**
 * The keepers without a node: which orders a pass finds due and queues (the store's real SQL on PGlite, with the
 * relayer's migrations), and what a keeper command prepares and what its revert means (a chain in memory answers
 * the two reads a keeper job makes).
 */
import { expect } from "chai";
import { ZeroAddress, getAddress, id as keccakText } from "ethers";
import { PaymentEscrow__factory } from "../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { CachedAbi } from "../../relayer/src/chain/abi";
import type { ChainContext } from "../../relayer/src/chain/context";
import type { JobDeps } from "../../relayer/src/chain/jobPort";
import type { CommandRow } from "../../relayer/src/store/commands";
import { KEEPER_ACTIONS, keeperJobs, observeKeeperOutcomes } from "../../relayer/src/jobs/keepers";
import {
  countDueOrders,
  enqueueDueKeeperCommands,
  keeperCommandWasMoot,
  setKeeperSettings,
  type DueSelection,
} from "../../relayer/src/store/keepers";
import { OrderState, hashItems, orderIdOf, termsToJson, type OrderTerms } from "../../sdk/orderRecord";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";

const NOW = 1_800_000_000n;
const release = (chainTime = NOW): DueSelection => ({
  action: "release",
  kind: "keeper_release",
  status: "shipped",
  chainTime,
});

describe("keepers (unit)", function () {
  // One database for the file's cases (migrating PGlite takes a while); each case starts without orders.
  let db: MemoryDb;
  before(async () => {
    db = await openMemoryDb();
  });
  after(() => db.close());

  describe("due orders, one command per order and action, bounded passes", function () {
    let n = 0;

    before(async () => {
      for (const m of ["mch_on", "mch_off"])
        await db.query(`insert into merchants (id, name, address, encrypted_key) values ($1, $1, $2, 'x')`, [
          m,
          `0x${m.padStart(40, "0")}`,
        ]);
      await setKeeperSettings(db, "mch_off", { release: false });
    });
    beforeEach(async () => {
      await db.query(`delete from commands`);
      await db.query(`delete from orders`);
    });

    /** An order as the indexer leaves it: `status` with the escrow's `deadline`. */
    async function order(status: string, deadline: bigint, merchant = "mch_on"): Promise<string> {
      const id = `ord_${++n}`;
      await db.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within,
                           protection_period, status, record)
       values ($1, $2, $1, $3, $4, 1000, 0, 60, 60, $5, $6)`,
        [id, merchant, `0x${n.toString(16).padStart(64, "0")}`, ZeroAddress, status, { deadline: deadline.toString() }],
      );
      return id;
    }

    const queuedOrders = async () =>
      (
        await db.query<{ order_id: string }>(`select order_id from commands where kind = 'keeper_release' order by id`)
      ).rows.map((r) => r.order_id);

    it("finds the orders whose on-chain deadline is before the chain's time, not at it", async () => {
      const past = await order("shipped", NOW - 1n);
      await order("shipped", NOW);
      await order("shipped", NOW + 100n);
      expect(await countDueOrders(db, release())).to.equal(1);
      expect((await enqueueDueKeeperCommands(db, release(), 50)).map((r) => r.order_id)).to.deep.equal([past]);
    });

    it("takes only the status the action needs", async () => {
      await order("paid", NOW - 10n);
      await order("completed", NOW - 10n);
      const shipped = await order("shipped", NOW - 10n);
      await enqueueDueKeeperCommands(db, release(), 50);
      expect(await queuedOrders()).to.deep.equal([shipped]);
    });

    it("leaves a merchant that turned the keeper off alone", async () => {
      await order("shipped", NOW - 10n, "mch_off");
      const on = await order("shipped", NOW - 10n, "mch_on");
      expect(await countDueOrders(db, release())).to.equal(1);
      await enqueueDueKeeperCommands(db, release(), 50);
      expect(await queuedOrders()).to.deep.equal([on]);
    });

    it("queues at most the limit per pass, the longest overdue first, and the rest in the next passes", async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await order("shipped", NOW - 100n + BigInt(i)));
      expect((await enqueueDueKeeperCommands(db, release(), 2)).map((r) => r.order_id)).to.deep.equal(ids.slice(0, 2));
      expect(await countDueOrders(db, release())).to.equal(3);
      expect((await enqueueDueKeeperCommands(db, release(), 2)).map((r) => r.order_id)).to.deep.equal(ids.slice(2, 4));
      expect((await enqueueDueKeeperCommands(db, release(), 2)).map((r) => r.order_id)).to.deep.equal(ids.slice(4));
      expect(await enqueueDueKeeperCommands(db, release(), 2)).to.deep.equal([]);
      expect(await queuedOrders()).to.deep.equal(ids);
    });

    it("a second process queuing the same order and action inserts nothing (unique per order and kind)", async () => {
      const id = await order("shipped", NOW - 10n);
      // What another process's pass inserted a moment ago, seen by this one's insert only at the conflict.
      await db.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('keeper_release', 'mch_on', $1, '{}')`,
        [id],
      );
      const again = await db.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('keeper_release', 'mch_on', $1, '{}')
       on conflict do nothing returning id`,
        [id],
      );
      expect(again.rows).to.deep.equal([]);
      expect(await enqueueDueKeeperCommands(db, release(), 50)).to.deep.equal([]);
      // Finished commands of the order count too: a release that ended (even as moot) is never queued again.
      await db.query(`update commands set status = 'confirmed'`);
      expect(await enqueueDueKeeperCommands(db, release(), 50)).to.deep.equal([]);
      expect(await queuedOrders()).to.deep.equal([id]);
    });

    it("waits while another command of the order is unfinished (the merchant's refund goes first)", async () => {
      const id = await order("shipped", NOW - 10n);
      await db.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('refund_order', 'mch_on', $1, '{}')`,
        [id],
      );
      expect(await enqueueDueKeeperCommands(db, release(), 50)).to.deep.equal([]);
      await db.query(`update commands set status = 'confirmed'`);
      expect((await enqueueDueKeeperCommands(db, release(), 50)).map((r) => r.order_id)).to.deep.equal([id]);
    });
  });

  describe("what a keeper command prepares and what its revert means", function () {
    const MERCHANT = getAddress("0x00000000000000000000000000000000000000aa");
    const terms: OrderTerms = {
      merchant: MERCHANT,
      payee: MERCHANT,
      buyer: ZeroAddress,
      token: ZeroAddress,
      amount: 1_000n,
      maxFeeBps: 100n,
      paymentDeadline: 2_000_000_000n,
      shipWithin: 86_400n,
      protectionPeriod: 86_400n,
      refundWindow: 0n,
      itemsHash: hashItems([]),
      salt: keccakText("K-1"),
    };
    const chainOrderId = orderIdOf(terms, []);
    const outcomes: string[] = [];

    before(async () => {
      observeKeeperOutcomes(db, (action, outcome) => outcomes.push(`${action}:${outcome}`));
      await db.query(`insert into merchants (id, name, address, encrypted_key) values ('mch_1', 'm', $1, 'x')`, [
        MERCHANT,
      ]);
    });
    beforeEach(async () => {
      outcomes.length = 0;
      await db.query(`delete from commands`);
      await db.query(`delete from orders`);
      await db.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, payment_deadline, ship_within,
                           protection_period, status, terms)
       values ('ord_1', 'mch_1', 'K-1', $1, $2, 1000, 0, 60, 60, 'shipped', $3)`,
        [chainOrderId, ZeroAddress, termsToJson(terms)],
      );
      await db.query(
        `insert into commands (kind, merchant_id, order_id, payload) values ('keeper_release', 'mch_1', 'ord_1', '{}')`,
      );
    });

    const cmd = async () =>
      (await db.query<CommandRow>(`select * from commands where kind = 'keeper_release'`)).rows[0];

    function deps(onChain: { state: number; deadline: bigint }, blockTime: bigint): JobDeps {
      const iface = PaymentEscrow__factory.createInterface();
      const chain = {
        escrowAbi: new CachedAbi(iface),
        escrow: { interface: iface, statusOf: async () => ({ ...onChain, refunded: 0n, feeBps: 100n }) },
        provider: { getBlock: async () => ({ timestamp: Number(blockTime) }) },
      } as unknown as ChainContext;
      return { db, chain, operatorAddresses: [], merchantKeySecret: "s".repeat(32) };
    }

    it("calls autoRelease with the order's stored terms once the deadline passed on chain", async () => {
      const p = await keeperJobs.keeper_release.prepare(
        await cmd(),
        deps({ state: OrderState.Shipped, deadline: NOW }, NOW + 1n),
      );
      expect(p.type).to.equal("escrow");
      const call = PaymentEscrow__factory.createInterface().parseTransaction({ data: (p as { data: string }).data })!;
      expect(call.name).to.equal("autoRelease");
      expect(call.args[0].salt).to.equal(terms.salt);
    });

    it("waits while the chain's clock has not passed the deadline (an operator's cancel would not check it)", async () => {
      for (const kind of ["keeper_release", "keeper_expire", "keeper_dispute_default"] as const) {
        const action = Object.values(KEEPER_ACTIONS).find((a) => a.kind === kind)!;
        const p = await keeperJobs[kind].prepare(await cmd(), deps({ state: action.state, deadline: NOW }, NOW));
        expect(p.type, kind).to.equal("wait");
      }
    });

    it("ends as moot, not failed, when the buyer already confirmed before the call was sent", async () => {
      const p = await keeperJobs.keeper_release.prepare(
        await cmd(),
        deps({ state: OrderState.Completed, deadline: NOW }, NOW + 100n),
      );
      expect(p.type).to.equal("done");
      expect(await keeperCommandWasMoot(db, (await cmd()).id)).to.equal(true);
      expect(await keeperJobs.keeper_release.onConfirmed!(await cmd(), deps({ state: 4, deadline: 0n }, 0n))).to.equal(
        "done",
      );
      expect(outcomes).to.deep.equal(["release:moot"]);
    });

    it("ends as moot when the escrow refused the call in flight with InvalidState (someone moved the order)", async () => {
      const d = await keeperJobs.keeper_release.onReverted!(
        await cmd(),
        { name: "InvalidState", args: { orderId: chainOrderId, current: String(OrderState.Completed) } },
        deps({ state: OrderState.Completed, deadline: NOW }, NOW),
      );
      expect(d).to.deep.equal({ type: "confirmed" });
      expect(await keeperCommandWasMoot(db, (await cmd()).id)).to.equal(true);
      expect(outcomes).to.deep.equal(["release:moot"]);
    });

    it("fails for good on another revert and retries a creation not mined yet (OrderNotFound)", async () => {
      const dep = deps({ state: OrderState.Shipped, deadline: NOW }, NOW);
      const fail = await keeperJobs.keeper_release.onReverted!(
        await cmd(),
        { name: "ProtectionPeriodActive", args: { orderId: chainOrderId, releaseAfter: "5", nowTs: "4" } },
        dep,
      );
      expect(fail).to.deep.include({ type: "fail", code: "ProtectionPeriodActive" });
      const retry = await keeperJobs.keeper_release.onReverted!(
        await cmd(),
        { name: "OrderNotFound", args: { orderId: chainOrderId } },
        dep,
      );
      expect(retry).to.deep.equal({ type: "default" });
      expect(outcomes).to.deep.equal(["release:failed"]);
    });
  });
});
