import { expect } from "chai";
import { MaxUint256, NonceManager, Wallet, ZeroAddress, id as keccakText, type HDNodeWallet } from "ethers";
import { BuyerClient } from "../../../sdk/buyerClient";
import { ADMIN_KEY, ARBITER_KEY, devWallet, waitFor } from "../harness";
import {
  contracts,
  createMerchant,
  inChunks,
  lineItems,
  orderRows,
  prng,
  terms,
  startStack,
  waitIdle,
  waitStatuses,
  type Merchant,
  type OrderRowLite,
  type Stack,
} from "./support";

type Path =
  "confirm" | "autoRelease" | "refundPaid" | "refundShipped" | "cancel" | "expire" | "disputePaid" | "disputeShipped";
const PATHS: Path[] = [
  "confirm",
  "autoRelease",
  "refundPaid",
  "refundShipped",
  "cancel",
  "expire",
  "disputePaid",
  "disputeShipped",
];
const FINAL: Record<Path, string> = {
  confirm: "completed",
  autoRelease: "completed",
  refundPaid: "refunded",
  refundShipped: "refunded",
  cancel: "cancelled",
  expire: "cancelled",
  disputePaid: "resolved",
  disputeShipped: "resolved",
};
const NATIVE = ZeroAddress.toLowerCase();

interface Plan {
  n: number;
  merchant: Merchant;
  path: Path;
  native: boolean;
  gasless: boolean;
  /** A fresh wallet without ETH for gasless orders, else one of the funded direct payers. */
  buyer: Wallet | HDNodeWallet;
  payer?: NonceManager;
  open: boolean;
  amount: bigint;
  partialRefund: bigint;
  buyerShare: number;
  buyerAmount?: bigint;
  id?: string;
  chainOrderId?: string;
}

describe("relayer commerce: a randomized run of orders through every path reconciles to the wei", function () {
  this.timeout(600_000);
  const N = Number(process.env.ORDERS ?? 300);
  const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  let stack: Stack;

  before(async () => {
    stack = await startStack({ RELAY_BUYER_PER_MINUTE: "60", RELAY_MERCHANT_PER_MINUTE: "6000" });
  });
  after(async () => {
    await stack?.stop();
  });

  it(`settles ${N} orders paid gaslessly and on chain, in two tokens, and the ledger equals the chain`, async () => {
    console.log(`      seed ${SEED} (repeat with SEED=${SEED})`);
    const r = prng(SEED);
    const { api, relayer, node } = stack;
    const started = Date.now();
    const lap = (what: string) => console.log(`      ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const merchants = await Promise.all([0, 1, 2].map((i) => createMerchant(api, `Random shop ${i}`)));
    const payers = Array.from({ length: 8 }, (_, i) => new NonceManager(devWallet(10 + i, node.provider)));
    const bystander = new NonceManager(devWallet(19, node.provider));
    const admin = new NonceManager(devWallet(0, node.provider));
    const feeRecipient = devWallet(1).address;

    const plans: Plan[] = Array.from({ length: N }, (_, n) => {
      const path = r.pick(PATHS);
      const native = r.chance(0.3);
      const gasless = !native && r.chance(0.55);
      const payer = gasless ? undefined : r.pick(payers);
      const amount = native ? r.bigint(10n ** 14n, 5n * 10n ** 16n) : r.bigint(1_000_000n, 900_000_000n);
      return {
        n,
        merchant: r.pick(merchants),
        path,
        native,
        gasless,
        buyer: gasless ? Wallet.createRandom() : (payer!.signer as Wallet),
        payer,
        open: r.chance(0.25),
        amount,
        partialRefund:
          ["confirm", "autoRelease", "disputeShipped"].includes(path) && r.chance(0.35)
            ? r.bigint(1n, amount - 1n)
            : 0n,
        buyerShare: r.pick([0, 0, 1, 1, r.next()]),
      };
    });
    const counts = Object.fromEntries(PATHS.map((p) => [p, plans.filter((x) => x.path === p).length]));
    console.log(
      `      ${N} orders: ${JSON.stringify(counts)}; native ${plans.filter((p) => p.native).length}, gasless ${plans.filter((p) => p.gasless).length}`,
    );

    // ---------------------------------------------------------------- balances before
    const usdRead = contracts(stack, devWallet(0, node.provider)).usd;
    const before = {
      feeUsd: await usdRead.balanceOf(feeRecipient),
      feeEth: await node.provider.getBalance(feeRecipient),
      merchants: await Promise.all(
        merchants.map(async (m) => ({
          usd: await usdRead.balanceOf(m.address),
          eth: await node.provider.getBalance(m.address),
        })),
      ),
    };

    // ---------------------------------------------------------------- fund buyers
    const { usd: usdAdmin } = contracts(stack, admin);
    const mints = [];
    for (const p of plans.filter((x) => x.gasless)) mints.push(await usdAdmin.mint(p.buyer.address, p.amount));
    for (const payer of payers) {
      const { usd } = contracts(stack, payer);
      mints.push(await usd.mint(await payer.getAddress(), 10n ** 15n));
      mints.push(await usd.approve(stack.deployed.escrow, MaxUint256));
    }
    await Promise.all(mints.map((t) => t.wait()));
    lap("buyers funded");

    // ---------------------------------------------------------------- create
    const soon = new Date(Date.now() + 600_000).toISOString();
    await inChunks(plans, 12, async (p) => {
      const res = await api("POST", "/v1/orders", p.merchant.key, {
        reference: `R-${SEED}-${p.n}`,
        amount: p.amount.toString(),
        token: p.native ? "native" : stack.deployed.stablecoin,
        ...(p.open ? {} : { buyer: p.buyer.address }),
        ...(p.path === "expire" ? { paymentDeadline: soon } : {}),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      p.id = res.body.id;
      p.chainOrderId = res.body.chainOrderId;
    });
    let rows = await waitStatuses(relayer, new Map(plans.map((p) => [p.id!, "created"])), "all created", 180_000);
    lap("created");

    const want = new Map<string, string>();
    const expectStatus = (p: Plan, s: string) => want.set(p.id!, s);
    const settle = async (what: string) => {
      rows = await waitStatuses(relayer, want, what, 180_000);
      lap(what);
    };
    /** Each direct payer sends its own transactions in nonce order; payers run side by side. */
    const perPayer = async (ps: Plan[], send: (p: Plan, o: OrderRowLite) => Promise<{ wait(): Promise<unknown> }>) => {
      await Promise.all(
        payers.map(async (payer) => {
          const txs = [];
          for (const p of ps.filter((x) => x.payer === payer)) txs.push(await send(p, rows.get(p.id!)!));
          await Promise.all(txs.map((t) => t.wait()));
        }),
      );
    };
    const gaslessActs = (ps: Plan[], act: (c: BuyerClient, p: Plan) => Promise<unknown>) =>
      inChunks(ps, 8, (p) => act(new BuyerClient(stack.base, p.buyer), p));

    // ---------------------------------------------------------------- pay
    const toPay = plans.filter((p) => p.path !== "cancel" && p.path !== "expire");
    await Promise.all([
      gaslessActs(
        toPay.filter((p) => p.gasless),
        (c, p) => c.pay(p.chainOrderId!),
      ),
      perPayer(
        toPay.filter((p) => !p.gasless),
        (p, o) => contracts(stack, p.payer!).escrow.pay(terms(o), { value: p.native ? p.amount : 0n }),
      ),
    ]);
    for (const p of toPay) expectStatus(p, "paid");
    await settle("paid");

    // ---------------------------------------------------------------- partial refunds, full refunds, cancels, early disputes
    const merchantPost = (p: Plan, action: string, body: unknown) =>
      api("POST", `/v1/orders/${p.id}/${action}`, p.merchant.key, body).then((res) =>
        expect(res.status, `${action} ${JSON.stringify(res.body)}`).to.equal(202),
      );
    const dispute = async (ps: Plan[]) => {
      await Promise.all([
        gaslessActs(
          ps.filter((p) => p.gasless),
          (c, p) => c.openDispute(p.chainOrderId!, `order ${p.n}: not as described`),
        ),
        perPayer(
          ps.filter((p) => !p.gasless),
          (p, o) => contracts(stack, p.payer!).escrow.dispute(terms(o), keccakText(`order ${p.n}`)),
        ),
      ]);
      for (const p of ps) expectStatus(p, "disputed");
    };
    await inChunks(
      plans.filter((p) => p.partialRefund > 0n),
      12,
      (p) => merchantPost(p, "refund", { amount: p.partialRefund.toString() }),
    );
    await inChunks(
      plans.filter((p) => p.path === "refundPaid"),
      12,
      (p) => merchantPost(p, "refund", {}),
    );
    await inChunks(
      plans.filter((p) => p.path === "cancel"),
      12,
      (p) => merchantPost(p, "cancel", {}),
    );
    for (const p of plans.filter((x) => x.path === "refundPaid")) expectStatus(p, "refunded");
    for (const p of plans.filter((x) => x.path === "cancel")) expectStatus(p, "cancelled");
    await dispute(plans.filter((p) => p.path === "disputePaid"));
    await settle("refunded, cancelled, disputed while paid");
    await waitIdle(relayer, 120_000);
    rows = await orderRows(
      relayer,
      plans.map((p) => p.id!),
    );
    for (const p of plans.filter((x) => x.partialRefund > 0n))
      expect(rows.get(p.id!)!.record.escrowed, `order ${p.n} after its partial refund`).to.equal(
        (p.amount - p.partialRefund).toString(),
      );

    // ---------------------------------------------------------------- ship, then confirm, refund or dispute
    const toShip = plans.filter((p) => ["confirm", "autoRelease", "refundShipped", "disputeShipped"].includes(p.path));
    await inChunks(toShip, 12, (p) => merchantPost(p, "ship", { trackingReference: `TRK-${p.n}` }));
    for (const p of toShip) expectStatus(p, "shipped");
    await settle("shipped");

    const toConfirm = plans.filter((p) => p.path === "confirm");
    await Promise.all([
      gaslessActs(
        toConfirm.filter((p) => p.gasless),
        (c, p) => c.confirmReceipt(p.chainOrderId!),
      ),
      perPayer(
        toConfirm.filter((p) => !p.gasless),
        (p, o) => contracts(stack, p.payer!).escrow.confirmReceipt(terms(o), lineItems(o)),
      ),
      inChunks(
        plans.filter((p) => p.path === "refundShipped"),
        12,
        (p) => merchantPost(p, "refund", {}),
      ),
    ]);
    // After the confirmations: a payer's transactions must not interleave (its nonces go in order).
    await dispute(plans.filter((p) => p.path === "disputeShipped"));
    for (const p of toConfirm) expectStatus(p, "completed");
    for (const p of plans.filter((x) => x.path === "refundShipped")) expectStatus(p, "refunded");
    await settle("confirmed, refunded after shipping, disputed after shipping");

    // ---------------------------------------------------------------- the arbiter splits every dispute
    const disputed = plans.filter((p) => p.path.startsWith("dispute"));
    const open = await api("GET", "/v1/arbiter/disputes", ARBITER_KEY);
    expect(open.body.data.map((d: { chainOrderId: string }) => d.chainOrderId).sort()).to.deep.equal(
      disputed.map((p) => p.chainOrderId).sort(),
    );
    // All resolutions are sent at once: the relayer runs the arbiter's forwarded requests one after another,
    // each with the next forwarder nonce, so none of them may fail.
    const commandIds: string[] = [];
    for (const p of disputed) {
      const escrowed = BigInt(rows.get(p.id!)!.record.escrowed);
      const buyerAmount = (escrowed * BigInt(Math.round(p.buyerShare * 1000))) / 1000n;
      p.buyerAmount = buyerAmount;
      const res = await api("POST", `/v1/arbiter/disputes/${p.chainOrderId}/resolve`, ARBITER_KEY, {
        buyerAmount: buyerAmount.toString(),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      commandIds.push(res.body.command.id as string);
    }
    await waitFor(
      "every resolution mined",
      async () => {
        const c = await relayer.db.query<{ status: string }>(
          `select status from commands where id = any($1::bigint[])`,
          [commandIds],
        );
        if (c.rows.some((r) => r.status === "failed")) throw new Error("a resolution failed");
        return c.rows.every((r) => r.status === "confirmed");
      },
      120_000,
      50,
    );
    for (const p of disputed) expectStatus(p, "resolved");
    await settle("resolved");

    // ---------------------------------------------------------------- time passes: releases and expiries by anyone
    rows = await orderRows(
      relayer,
      plans.map((p) => p.id!),
    );
    await node.provider.send("evm_increaseTime", [73 * 3600]);
    await node.provider.send("evm_mine", []);
    const { escrow: byBystander } = contracts(stack, bystander);
    const late = [];
    for (const p of plans.filter((x) => x.path === "autoRelease")) {
      const o = rows.get(p.id!)!;
      late.push(await byBystander.autoRelease(terms(o), lineItems(o)));
    }
    for (const p of plans.filter((x) => x.path === "expire")) {
      const o = rows.get(p.id!)!;
      late.push(await byBystander.cancel(terms(o), lineItems(o)));
    }
    await Promise.all(late.map((t) => t.wait()));
    for (const p of plans) expectStatus(p, FINAL[p.path]);
    await settle("released and expired");
    await waitIdle(relayer, 120_000);

    // ---------------------------------------------------------------- the ledger equals the chain
    const rec = await api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
    expect(rec.status).to.equal(200);
    expect(rec.body.differences).to.deep.equal([]);
    expect(rec.body.ok).to.equal(true);
    for (const [token, t] of Object.entries(rec.body.tokens as Record<string, Record<string, string>>)) {
      expect(t.openPositions, `open positions in ${token}`).to.equal("0");
      expect(t.contractBalance, `escrow contract balance of ${token}`).to.equal(t.creditedOutstanding);
    }

    const fees = { [stack.deployed.stablecoin.toLowerCase()]: 0n, [NATIVE]: 0n };
    for (const [i, m] of merchants.entries()) {
      const bal = await api("GET", "/v1/ledger/balances", m.key);
      const balances = Object.fromEntries(
        Object.entries(bal.body.balances as Record<string, Record<string, string>>).map(([k, v]) => [
          k.toLowerCase(),
          v,
        ]),
      );
      const csv = await api("GET", "/v1/ledger/export.csv", m.key);
      expect(csv.status).to.equal(200);
      const lines = (csv.body as string)
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(","));
      const sums: Record<string, Record<string, bigint>> = {};
      for (const l of lines) {
        const token = l[5].toLowerCase();
        sums[token] ??= {};
        sums[token][l[6]] = (sums[token][l[6]] ?? 0n) + BigInt(l[7]) - BigInt(l[8]);
      }
      for (const [token, accounts] of Object.entries(balances)) {
        for (const [account, value] of Object.entries(accounts))
          expect((sums[token]?.[account] ?? 0n).toString(), `${m.id} ${token} ${account} CSV`).to.equal(value);
        // Every order is settled: nothing of this merchant stays in escrow, and the books balance.
        expect(accounts.escrow, `${m.id} ${token} escrow`).to.equal("0");
        const total = Object.values(accounts).reduce((s, v) => s + BigInt(v), 0n);
        expect(total).to.equal(0n);
        fees[token] = (fees[token] ?? 0n) + BigInt(accounts.platform_fees);
      }
      const usdPayouts = BigInt(balances[stack.deployed.stablecoin.toLowerCase()]?.merchant_payouts ?? "0");
      const ethPayouts = BigInt(balances[NATIVE]?.merchant_payouts ?? "0");
      expect(await usdRead.balanceOf(m.address)).to.equal(before.merchants[i].usd + usdPayouts);
      expect(await node.provider.getBalance(m.address)).to.equal(before.merchants[i].eth + ethPayouts);

      // The payouts are what the escrow's rules give for this merchant's orders: 1% of the merchant's share.
      for (const token of [stack.deployed.stablecoin.toLowerCase(), NATIVE]) {
        let payouts = 0n;
        let platform = 0n;
        const tokenOf = (x: Plan) => (x.native ? NATIVE : stack.deployed.stablecoin.toLowerCase());
        for (const p of plans.filter((x) => x.merchant === m && tokenOf(x) === token)) {
          const escrowed = p.amount - p.partialRefund;
          const share =
            FINAL[p.path] === "completed" ? escrowed : FINAL[p.path] === "resolved" ? escrowed - p.buyerAmount! : 0n;
          const fee = (share * 100n) / 10_000n;
          payouts += share - fee;
          platform += fee;
        }
        expect(balances[token]?.merchant_payouts ?? "0", `${m.id} ${token} payouts`).to.equal(payouts.toString());
        expect(balances[token]?.platform_fees ?? "0", `${m.id} ${token} fees`).to.equal(platform.toString());
      }
    }
    expect(await usdRead.balanceOf(feeRecipient)).to.equal(
      before.feeUsd + fees[stack.deployed.stablecoin.toLowerCase()],
    );
    expect(await node.provider.getBalance(feeRecipient)).to.equal(before.feeEth + fees[NATIVE]);

    // Every order ended where its path leads, and the chain agrees.
    rows = await orderRows(
      relayer,
      plans.map((p) => p.id!),
    );
    for (const p of plans) expect(rows.get(p.id!)!.status, `order ${p.n} (${p.path})`).to.equal(FINAL[p.path]);
    expect((await api("GET", "/v1/arbiter/disputes", ARBITER_KEY)).body.data).to.deep.equal([]);
    const failed = await relayer.db.query(
      `select kind, payload->>'action' as action, error_code, error_message from commands where status = 'failed'`,
    );
    expect(failed.rows).to.deep.equal([]);
    lap("reconciled");
  });
});
