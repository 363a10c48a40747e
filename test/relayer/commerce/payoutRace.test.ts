/**
 * A payout address change racing the acceptance of an order, on a real Hardhat node and PostgreSQL. The owner asks
 * to change the payout address from A to B, due a few seconds later. An order accepted just before the change is due
 * is held up before it is stored (its merchant's budget check waits behind another session, as a busy database
 * would delay it) until the change was applied on chain. The order must not name A then: the escrow accepts an
 * operator's order only for the merchant itself or the payee its registry shows now, and would refuse it with
 * PayeeNotAuthorized. The statement that stores the order reads the payout row again and holds it until it
 * commits, storing nothing if the payee changed meanwhile, so the change and the order each see the other.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { waitFor } from "../harness";
import { createMerchant, orderRows, startStack, waitStatuses, type Merchant, type Stack } from "./support";

const DELAY_S = 3;

describe("relayer commerce: a payout address change racing the acceptance of an order", function () {
  this.timeout(300_000);
  let stack: Stack;
  let m: Merchant;
  const a = Wallet.createRandom().address;
  const b = Wallet.createRandom().address;

  before(async () => {
    stack = await startStack({ PAYOUT_CHANGE_DELAY_SECONDS: String(DELAY_S) });
    m = await createMerchant(stack.api, "Payout race shop");
  });
  after(async () => stack?.stop());

  const payoutState = async () => (await stack.api("GET", "/v1/merchant/payout-address", m.key)).body;
  const activeIs = (address: string, timeoutMs = 90_000) =>
    waitFor(
      `payout address ${address} active`,
      async () => {
        const p = await payoutState();
        return p.state === "active" && p.address === address ? p : null;
      },
      timeoutMs,
    );

  it("an order accepted as the change falls due and stored after it reached the chain names a payee the escrow takes", async () => {
    expect((await stack.api("PUT", "/v1/merchant/payout-address", m.key, { address: a })).status).to.equal(202);
    await activeIs(a);
    expect((await stack.api("PUT", "/v1/merchant/payout-address", m.key, { address: b })).status).to.equal(202);
    expect((await payoutState()).state).to.equal("pending");

    // Another session holds the merchant's budget check: the acceptance waits there before storing its order.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const holder = stack.relayer.db.tx(async (q) => {
      await q.query(`select 1 from merchant_gas_queue where merchant_id = $1 for update`, [m.id]);
      holding();
      await gate;
    });
    await held;
    const accepting = stack.api("POST", "/v1/orders", m.key, {
      reference: "RACE-1",
      amount: "1000000",
      token: stack.deployed.stablecoin,
    });
    await waitFor("the acceptance waiting for the budget check", async () => {
      const r = await stack.relayer.db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
         where wait_event_type = 'Lock' and wait_event <> 'relation' and query ilike '%from merchant_gas_queue%for update%'`,
      );
      return r.rows[0].n > 0;
    });
    // The change falls due and reaches the chain while the order waits.
    await activeIs(b, 60_000);
    release();
    await holder;

    const accepted = await accepting;
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(202);
    const rows = await waitStatuses(stack.relayer, new Map([[accepted.body.id, "created"]]), "the order created");
    // The registry's address now (or the merchant itself during the switch), never the one the change replaced.
    expect([b, m.address]).to.include(rows.get(accepted.body.id)!.terms.payee);

    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, stack.node.provider);
    expect(await escrow.payoutAddressOf(m.address)).to.equal(b);
    const next = await stack.api("POST", "/v1/orders", m.key, {
      reference: "RACE-2",
      amount: "1000000",
      token: stack.deployed.stablecoin,
    });
    expect(next.status).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[next.body.id, "created"]]), "the next order created");
    expect((await orderRows(stack.relayer, [next.body.id])).get(next.body.id)!.terms.payee).to.equal(b);
  });

  it("an order read with the address a change replaces, held up before its statement until the change is applied, is stored naming the new payee and created", async () => {
    // The payout address is B; the owner asks for A again, due in a few seconds.
    expect((await stack.api("PUT", "/v1/merchant/payout-address", m.key, { address: a })).status).to.equal(202);
    // An order accepted now reads B. Its statement is held before it starts (the orders table locked by another
    // session) past the change's due time: nothing of it holds the payout row, so the change may go first.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const holder = stack.relayer.db.tx(async (q) => {
      await q.query(`lock table orders in share mode`);
      holding();
      await gate;
    });
    await held;
    const accepting = stack.api("POST", "/v1/orders", m.key, {
      reference: "RACE-3",
      amount: "1000000",
      token: stack.deployed.stablecoin,
    });
    await waitFor("the acceptance waiting to store its order", async () => {
      const r = await stack.relayer.db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
         where wait_event_type = 'Lock' and wait_event = 'relation'
           and (query ilike '%insert into orders%' or query ilike '%from merchant_gas_queue%for update%')`,
      );
      return r.rows[0].n > 0;
    });
    const appliedFirst = await activeIs(a, (DELAY_S + 30) * 1000).catch(() => false);
    expect(appliedFirst, "the change applied while the order waited").to.not.equal(false);
    release();
    await holder;
    const accepted = await accepting;
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(202);
    // The statement read the payout row again, found A active and stored the order naming A (never B, which the
    // escrow would now refuse with PayeeNotAuthorized); the escrow created it.
    const rows = await waitStatuses(stack.relayer, new Map([[accepted.body.id, "created"]]), "the order created");
    expect(rows.get(accepted.body.id)!.terms.payee).to.equal(a);
  });
});
