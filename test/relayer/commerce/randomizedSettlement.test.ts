import { expect } from "chai";
import { MaxUint256, NonceManager, Wallet, ZeroAddress, id as keccakText, parseEther, type HDNodeWallet } from "ethers";
import {
  MockStablecoin__factory,
  PaymentEscrow__factory,
  UsdcLike__factory,
  UsdtLike__factory,
} from "../../../typechain-types";
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
  | "confirm"
  | "autoRelease"
  | "refundPaid"
  | "refundShipped"
  | "cancel"
  | "expire"
  | "disputePaid"
  | "disputeShipped"
  | "disputeDefault"
  | "returnPartial"
  | "returnFull";
const PATHS: Path[] = [
  "confirm",
  "autoRelease",
  "refundPaid",
  "refundShipped",
  "cancel",
  "expire",
  "disputePaid",
  "disputeShipped",
  "disputeDefault",
  "returnPartial",
  "returnFull",
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
  disputeDefault: "resolved",
  returnPartial: "completed",
  returnFull: "refunded",
};
/** Paths a keeper (or, with the merchant's keepers off, a bystander) finishes once the chain's clock has moved. */
const LATE_ACTION: Partial<Record<Path, "release" | "expire" | "dispute_default">> = {
  autoRelease: "release",
  expire: "expire",
  disputeDefault: "dispute_default",
};
const isReturn = (p: Path) => p === "returnPartial" || p === "returnFull";

/**
 * The token kinds: the chain's currency, the permit stablecoin, a USDC-like token (ERC-3009, permit, blocklist) and a
 * USDT-like token (no permit, no return values: paid by approval from a wallet with gas).
 */
type TokenKind = "native" | "usd" | "usdc" | "usdt";
const TOKEN_KINDS: TokenKind[] = ["native", "usd", "usdc", "usdt"];

const NATIVE = ZeroAddress.toLowerCase();
const DAY = 24 * 3600;
const REFUND_WINDOW_S = 30 * DAY;
/** Past every protection period (72 h), payment deadline and dispute deadline (14 days) of the run's orders. */
const TIME_TRAVEL_S = 15 * DAY + 3600;

interface Shop extends Merchant {
  index: number;
  /** The merchant's keepers run; else a bystander releases, expires and settles its late orders. */
  keepers: boolean;
  /** Named as payout address between the two waves of orders. */
  payout?: HDNodeWallet;
  /** Its custodial address is on the USDC-like token's blocklist while orders are released: they become credits. */
  blockedWhileReleasing: boolean;
  sku?: string;
}

interface Plan {
  n: number;
  shop: Shop;
  /** 0: accepted before the shop named its payout address; 1: after. */
  wave: 0 | 1;
  path: Path;
  token: TokenKind;
  gasless: boolean;
  /** A gasless payment in the permit stablecoin by EIP-2612 permit instead of ERC-3009. */
  permit: boolean;
  /** A fresh wallet without ETH for gasless orders, else one of the funded direct payers. */
  buyer: Wallet | HDNodeWallet;
  payer?: NonceManager;
  open: boolean;
  amount: bigint;
  partialRefund: bigint;
  buyerShare: number;
  buyerAmount?: bigint;
  /** Returns: completed by the buyer's confirmation or, later, by the protection period's end. */
  completesBy?: "confirm" | "autoRelease";
  /** The returns after completion, in order; the last one of a full return gives back the rest. */
  returns: bigint[];
  /** Units of the shop's SKU in the order, and how many come back into stock with its last return. */
  quantity: number;
  restock: number;
  id?: string;
  chainOrderId?: string;
}

describe("relayer commerce: a randomized run of orders through every path reconciles to the wei", function () {
  this.timeout(900_000);
  const N = Number(process.env.ORDERS ?? 300);
  const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  let stack: Stack;
  let admin: NonceManager;
  const tokenAddress: Record<TokenKind, string> = { native: NATIVE, usd: "", usdc: "", usdt: "" };

  before(async () => {
    stack = await startStack({
      RELAY_BUYER_PER_MINUTE: "60",
      RELAY_MERCHANT_PER_MINUTE: "6000",
      KEEPER_INTERVAL_MS: "200",
      PAYOUT_CHANGE_DELAY_SECONDS: "0",
    });
    admin = new NonceManager(devWallet(0, stack.node.provider));
    const usdc = await new UsdcLike__factory(admin).deploy();
    const usdt = await new UsdtLike__factory(admin).deploy();
    await Promise.all([usdc.waitForDeployment(), usdt.waitForDeployment()]);
    tokenAddress.usd = stack.deployed.stablecoin.toLowerCase();
    tokenAddress.usdc = (await usdc.getAddress()).toLowerCase();
    tokenAddress.usdt = (await usdt.getAddress()).toLowerCase();
    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, admin);
    const allowed = [
      await escrow.setTokenAllowed(tokenAddress.usdc, true),
      await escrow.setTokenAllowed(tokenAddress.usdt, true),
    ];
    await Promise.all(allowed.map((t) => t.wait()));
  });
  after(async () => {
    await stack?.stop();
  });

  it(`settles ${N} orders in every token kind, with payouts, returns and keepers, and the ledger equals the chain`, async () => {
    console.log(`      seed ${SEED} (repeat with SEED=${SEED})`);
    const r = prng(SEED);
    const { api, relayer, node } = stack;
    const started = Date.now();
    const lap = (what: string) => console.log(`      ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    /** Any ERC-20 of the run, read or sent by `w` (the three mocks share the calls used here; anyone may mint). */
    const erc20 = (kind: TokenKind, w: NonceManager | typeof node.provider) =>
      MockStablecoin__factory.connect(tokenAddress[kind], w);
    const balanceOf = (kind: TokenKind, a: string) =>
      kind === "native" ? node.provider.getBalance(a) : erc20(kind, node.provider).balanceOf(a);

    // ---------------------------------------------------------------- shops: 0 keeps its keepers off, 1 names no payout address
    const created = await Promise.all([0, 1, 2].map((i) => createMerchant(api, `Random shop ${i}`)));
    const shops: Shop[] = created.map((m, index) => ({
      ...m,
      index,
      keepers: index !== 0,
      payout: index !== 1 ? Wallet.createRandom(node.provider) : undefined,
      blockedWhileReleasing: index === 2,
    }));

    // ---------------------------------------------------------------- the plan
    const payers = Array.from({ length: 8 }, (_, i) => new NonceManager(devWallet(10 + i, node.provider)));
    const bystander = new NonceManager(devWallet(19, node.provider));
    const feeRecipient = devWallet(1).address;
    const payeeOf = (p: Pick<Plan, "shop" | "wave">) =>
      p.wave === 1 && p.shop.payout ? p.shop.payout.address : p.shop.address;

    /** Every kind of case at least once (the run's first orders), then drawn at random. */
    const required: Partial<Plan>[] = [
      // A release and a resolution to the blocklisted custodial address: credited, later swept.
      { shop: shops[2], wave: 0, path: "confirm", token: "usdc", gasless: true },
      { shop: shops[2], wave: 0, path: "disputeShipped", token: "usdc", buyerShare: 0.5 },
      // Keepers release, expire and apply a dispute's default; with the shop's keepers off a bystander does.
      { shop: shops[1], path: "autoRelease", token: "usdt" },
      { shop: shops[0], path: "autoRelease", token: "usdc" },
      { shop: shops[2], path: "expire", token: "native" },
      { shop: shops[0], path: "expire", token: "usd" },
      { shop: shops[1], path: "disputeDefault", token: "usdc", gasless: true },
      { shop: shops[0], path: "disputeDefault", token: "usd" },
      // Returns from the custodial address (the relayer's permit) and from a payout wallet (its allowance).
      { shop: shops[1], path: "returnFull", token: "usd", completesBy: "confirm", quantity: 2, restock: 2 },
      { shop: shops[2], wave: 1, path: "returnPartial", token: "usdt", completesBy: "autoRelease" },
      { shop: shops[0], wave: 1, path: "returnFull", token: "usdc", completesBy: "autoRelease" },
      {
        shop: shops[2],
        wave: 0,
        path: "returnPartial",
        token: "usdc",
        completesBy: "confirm",
        quantity: 1,
        restock: 1,
      },
      // Gasless payments by permit and by ERC-3009, and a USDT-like order paid from the buyer's wallet.
      { shop: shops[0], path: "confirm", token: "usd", gasless: true, permit: true },
      { shop: shops[1], path: "confirm", token: "usdc", gasless: true },
    ];
    const plans: Plan[] = Array.from({ length: N }, (_, n) => {
      const want = required[n] ?? {};
      const shop = want.shop ?? r.pick(shops);
      const wave = want.wave ?? (r.chance(0.5) ? 1 : 0);
      const path = want.path ?? r.pick(PATHS);
      let token = want.token ?? r.pick(TOKEN_KINDS);
      if (isReturn(path)) {
        // Returns of native orders are not relayed, nor those of a USDT-like order paid to the custodial address
        // (its key cannot sign a permit for it).
        if (token === "native" || (token === "usdt" && payeeOf({ shop, wave }) === shop.address)) token = "usd";
      }
      const gasless = want.gasless ?? ((token === "usd" || token === "usdc") && r.chance(0.55));
      const payer = gasless ? undefined : r.pick(payers);
      const amount =
        want.amount ??
        (token === "native" ? r.bigint(10n ** 14n, 5n * 10n ** 16n) : r.bigint(1_000_000n, 900_000_000n));
      const refundsEarly =
        ["confirm", "autoRelease", "disputeShipped"].includes(path) || (isReturn(path) && r.chance(0.5));
      const partialRefund =
        refundsEarly && r.chance(0.35) ? r.bigint(1n, isReturn(path) ? amount / 2n : amount - 1n) : 0n;
      const quantity = want.quantity ?? (isReturn(path) && r.chance(0.5) ? r.int(1, 3) : 0);
      const refundable = amount - partialRefund;
      const returns: bigint[] = [];
      if (path === "returnPartial") returns.push(r.bigint(1n, refundable - 1n));
      if (path === "returnFull") {
        // A full return in one, or in two sent back to back (the second counted against the first in flight).
        const first = r.chance(0.5) ? r.bigint(1n, refundable - 1n) : refundable;
        returns.push(first);
        if (first < refundable) returns.push(refundable - first);
      }
      return {
        n,
        shop,
        wave,
        path,
        token,
        gasless,
        permit: want.permit ?? (gasless && token === "usd" && r.chance(0.5)),
        buyer: gasless ? Wallet.createRandom() : (payer!.signer as Wallet),
        payer,
        open: r.chance(0.25),
        amount,
        partialRefund,
        buyerShare: want.buyerShare ?? r.pick([0, 0, 1, 1, r.next()]),
        completesBy: isReturn(path) ? (want.completesBy ?? r.pick(["confirm", "autoRelease"] as const)) : undefined,
        returns,
        quantity,
        restock: want.restock ?? (quantity > 0 && r.chance(0.5) ? (path === "returnFull" ? quantity : 1) : 0),
      };
    });
    const count = (f: (p: Plan) => boolean) => plans.filter(f).length;
    console.log(
      `      ${N} orders: ${JSON.stringify(Object.fromEntries(PATHS.map((p) => [p, count((x) => x.path === p)])))}; ` +
        `${JSON.stringify(Object.fromEntries(TOKEN_KINDS.map((k) => [k, count((x) => x.token === k)])))}; ` +
        `gasless ${count((p) => p.gasless)}, after a payout address ${count((p) => payeeOf(p) !== p.shop.address)}`,
    );
    const completesBy = (p: Plan) =>
      p.path === "confirm" || p.path === "autoRelease" ? p.path : (p.completesBy ?? null);
    const lateAction = (p: Plan) => LATE_ACTION[p.path] ?? (p.completesBy === "autoRelease" ? "release" : undefined);

    // ---------------------------------------------------------------- shops, payout wallets and buyers, side by side
    // (each signer sends its transactions one after another: the node takes them in nonce order only)
    const setUpShops = async () => {
      const off = await api("PATCH", "/v1/merchant/keepers", shops[0].key, {
        release: false,
        expire: false,
        disputeDefault: false,
      });
      expect(off.status, JSON.stringify(off.body)).to.equal(200);
      await Promise.all(
        shops.map(async (s) => {
          const sku = await api("POST", "/v1/skus", s.key, {
            reference: `RND-${s.index}`,
            name: `Random item ${s.index}`,
          });
          expect(sku.status, JSON.stringify(sku.body)).to.equal(202);
          s.sku = sku.body.id as string;
          await waitFor(
            "SKU created",
            async () => (await api("GET", `/v1/skus/${s.sku}`, s.key)).body.status === "created",
            60_000,
            200,
          );
          const stock = await api("POST", `/v1/skus/${s.sku}/stock`, s.key, { quantity: "100000" });
          expect(stock.status).to.equal(202);
        }),
      );
    };
    /** The admin gives each payout wallet gas and mints the gasless buyers' tokens. */
    const fundByAdmin = async () => {
      const txs = [];
      for (const s of shops.filter((x) => x.payout))
        txs.push(await admin.sendTransaction({ to: s.payout!.address, value: parseEther("1") }));
      for (const p of plans.filter((x) => x.gasless))
        txs.push(await erc20(p.token, admin).mint(p.buyer.address, p.amount));
      await Promise.all(txs.map((t) => t.wait()));
      // Each payout wallet agrees to fund its shop's returns and approves the escrow for them.
      await Promise.all(
        shops
          .filter((x) => x.payout)
          .map(async (s) => {
            const w = new NonceManager(s.payout!);
            const own = [
              await PaymentEscrow__factory.connect(stack.deployed.escrow, w).setReturnFunding(s.address, true),
            ];
            for (const kind of ["usd", "usdc", "usdt"] as const)
              own.push(await erc20(kind, w).approve(stack.deployed.escrow, MaxUint256));
            await Promise.all(own.map((t) => t.wait()));
          }),
      );
    };
    const fundPayers = () =>
      Promise.all(
        payers.map(async (payer) => {
          const txs = [];
          for (const kind of ["usd", "usdc", "usdt"] as const) {
            txs.push(await erc20(kind, payer).mint(await payer.getAddress(), 10n ** 15n));
            txs.push(await erc20(kind, payer).approve(stack.deployed.escrow, MaxUint256));
          }
          await Promise.all(txs.map((t) => t.wait()));
        }),
      );
    await Promise.all([setUpShops(), fundByAdmin(), fundPayers()]);
    const available = async (s: Shop) => BigInt((await api("GET", `/v1/skus/${s.sku}`, s.key)).body.stock?.available);
    lap("shops set up, buyers funded");

    // ---------------------------------------------------------------- balances before
    const wallets = shops.flatMap((s) => [s.address, ...(s.payout ? [s.payout.address] : [])]);
    const before: Record<string, Record<TokenKind, bigint>> = {};
    for (const a of [...wallets, feeRecipient]) {
      before[a] = { native: 0n, usd: 0n, usdc: 0n, usdt: 0n };
      for (const kind of TOKEN_KINDS) before[a][kind] = await balanceOf(kind, a);
    }

    // ---------------------------------------------------------------- create, in two waves around the payout addresses
    const soon = new Date(Date.now() + 600_000).toISOString();
    const postWave = (wave: 0 | 1) =>
      inChunks(
        plans.filter((p) => p.wave === wave),
        12,
        async (p) => {
          const res = await api("POST", "/v1/orders", p.shop.key, {
            reference: `R-${SEED}-${p.n}`,
            amount: p.amount.toString(),
            token: p.token === "native" ? "native" : tokenAddress[p.token],
            ...(p.open ? {} : { buyer: p.buyer.address }),
            ...(p.path === "expire" ? { paymentDeadline: soon } : {}),
            ...(isReturn(p.path) ? { refundWindowSeconds: REFUND_WINDOW_S } : {}),
            ...(p.quantity > 0 ? { items: [{ sku: p.shop.sku, quantity: p.quantity }] } : {}),
          });
          expect(res.status, JSON.stringify(res.body)).to.equal(202);
          p.id = res.body.id;
          p.chainOrderId = res.body.chainOrderId;
        },
      );
    const waveCreated = (wave: 0 | 1) =>
      waitStatuses(
        relayer,
        new Map(plans.filter((p) => p.wave === wave).map((p) => [p.id!, "created"])),
        `wave ${wave} created`,
        180_000,
      );
    await postWave(0);
    // The change applies once the orders accepted before it are on chain; those keep the custodial payee.
    await Promise.all([
      waveCreated(0),
      ...shops
        .filter((s) => s.payout)
        .map(async (s) => {
          const put = await api("PUT", "/v1/merchant/payout-address", s.key, { address: s.payout!.address });
          expect(put.status, JSON.stringify(put.body)).to.equal(202);
          await waitFor(
            `${s.id} payout address active`,
            async () => (await api("GET", "/v1/merchant/payout-address", s.key)).body.state === "active",
            60_000,
            200,
          );
        }),
    ]);
    await postWave(1);
    await waveCreated(1);
    let rows = await orderRows(
      relayer,
      plans.map((p) => p.id!),
    );
    for (const p of plans) expect(rows.get(p.id!)!.terms.payee, `order ${p.n}'s payee`).to.equal(payeeOf(p));
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
        async (c, p) => {
          const paid = await c.pay(p.chainOrderId!, p.permit ? { method: "permit" } : {});
          expect(paid.method, `order ${p.n}'s payment method`).to.equal(p.permit ? "permit" : "authorization");
        },
      ),
      perPayer(
        toPay.filter((p) => !p.gasless),
        async (p, o) => {
          if (p.token !== "usdt")
            return contracts(stack, p.payer!).escrow.pay(terms(o), { value: p.token === "native" ? p.amount : 0n });
          // The buyer's client finds no gasless method for this token and pays from the wallet, by approval.
          const paid = await new BuyerClient(stack.base, p.payer!).pay(p.chainOrderId!);
          expect(paid.method).to.equal("approval");
          return { wait: async () => undefined };
        },
      ),
    ]);
    for (const p of toPay) expectStatus(p, "paid");
    await settle("paid");

    // ---------------------------------------------------------------- partial refunds, full refunds, cancels, early disputes
    const merchantPost = (p: Plan, action: string, body: unknown) =>
      api("POST", `/v1/orders/${p.id}/${action}`, p.shop.key, body).then((res) =>
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
    await dispute(plans.filter((p) => p.path === "disputePaid" || p.path === "disputeDefault"));
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
    const toShip = plans.filter(
      (p) => completesBy(p) !== null || p.path === "refundShipped" || p.path === "disputeShipped",
    );
    await inChunks(toShip, 12, (p) => merchantPost(p, "ship", { trackingReference: `TRK-${p.n}` }));
    for (const p of toShip) expectStatus(p, "shipped");
    await settle("shipped");

    // From here until the late releases, the token refuses payouts to one shop's custodial address.
    const usdcAdmin = UsdcLike__factory.connect(tokenAddress.usdc, admin);
    const blocked = shops.filter((s) => s.blockedWhileReleasing);
    for (const s of blocked) await (await usdcAdmin.setBlocked(s.address, true)).wait();

    const toConfirm = plans.filter((p) => completesBy(p) === "confirm");
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

    // ---------------------------------------------------------------- the arbiter splits the disputes it is asked to
    const disputed = plans.filter((p) => p.path.startsWith("dispute"));
    const open = await api("GET", "/v1/arbiter/disputes", ARBITER_KEY);
    expect(open.body.data.map((d: { chainOrderId: string }) => d.chainOrderId).sort()).to.deep.equal(
      disputed.map((p) => p.chainOrderId).sort(),
    );
    // All resolutions are sent at once: the relayer runs the arbiter's forwarded requests one after another,
    // each with the next forwarder nonce, so none of them may fail.
    const commandIds: string[] = [];
    const arbitrated = disputed.filter((p) => p.path !== "disputeDefault");
    for (const p of arbitrated) {
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
        if (c.rows.some((row) => row.status === "failed")) throw new Error("a resolution failed");
        return c.rows.every((row) => row.status === "confirmed");
      },
      120_000,
      50,
    );
    for (const p of arbitrated) expectStatus(p, "resolved");
    await settle("resolved");

    // ---------------------------------------------------------------- time passes: keepers act, or a bystander
    rows = await orderRows(
      relayer,
      plans.map((p) => p.id!),
    );
    await node.provider.send("evm_increaseTime", [TIME_TRAVEL_S]);
    await node.provider.send("evm_mine", []);
    const { escrow: byBystander } = contracts(stack, bystander);
    const late = [];
    for (const p of plans.filter((x) => !x.shop.keepers)) {
      const o = rows.get(p.id!)!;
      const action = lateAction(p);
      if (action === "release") late.push(await byBystander.autoRelease(terms(o), lineItems(o)));
      if (action === "expire") late.push(await byBystander.cancel(terms(o), lineItems(o)));
      if (action === "dispute_default") late.push(await byBystander.settleExpiredDispute(terms(o), lineItems(o)));
    }
    await Promise.all(late.map((t) => t.wait()));
    for (const p of plans) expectStatus(p, isReturn(p.path) ? "completed" : FINAL[p.path]);
    for (const p of plans.filter((x) => x.path === "disputeDefault")) p.buyerAmount = p.amount - p.partialRefund;
    await settle("released, expired and defaulted");
    await waitIdle(relayer, 120_000);
    for (const s of blocked) await (await usdcAdmin.setBlocked(s.address, false)).wait();

    // ---------------------------------------------------------------- what each order pays whom
    const outcome = (p: Plan) => {
      const escrowed = p.amount - p.partialRefund;
      const final = FINAL[p.path];
      const share =
        final === "completed" || isReturn(p.path) ? escrowed : final === "resolved" ? escrowed - p.buyerAmount! : 0n;
      const fee = (share * 100n) / 10_000n;
      return { payout: share - fee, fee, returned: p.returns.reduce((s, x) => s + x, 0n) };
    };
    // The blocklisted custodial address was credited its payouts in the USDC-like token instead of paid.
    const escrowRead = PaymentEscrow__factory.connect(stack.deployed.escrow, node.provider);
    for (const s of blocked) {
      const credit = plans
        .filter((p) => p.shop === s && p.token === "usdc" && payeeOf(p) === s.address)
        .reduce((sum, p) => sum + outcome(p).payout, 0n);
      expect(credit, "something was credited").to.be.greaterThan(0n);
      expect(await escrowRead.credited(s.address, tokenAddress.usdc)).to.equal(credit);
    }

    // ---------------------------------------------------------------- returns after completion
    // The payee funds each return; it received the price less the fee, so it is topped up (more than needed).
    const topUps = new Map<string, bigint>();
    const topUpKey = (a: string, kind: TokenKind) => `${a}|${kind}`;
    const returning = plans.filter((p) => isReturn(p.path));
    for (const p of returning) {
      const k = topUpKey(payeeOf(p), p.token);
      topUps.set(k, (topUps.get(k) ?? 0n) + outcome(p).returned + r.bigint(0n, 1_000_000n));
    }
    const topUpTxs = [];
    for (const [k, v] of topUps) {
      const [a, kind] = k.split("|") as [string, TokenKind];
      topUpTxs.push(await erc20(kind, admin).mint(a, v));
    }
    await Promise.all(topUpTxs.map((t) => t.wait()));
    const stockBefore = await Promise.all(shops.map(available));
    /** Sends the `step`th return of each order that has one; the last of an order's returns restocks. */
    const sendReturns = (step: number) =>
      inChunks(
        returning.filter((p) => p.returns.length > step),
        12,
        async (p) => {
          const last = step === p.returns.length - 1;
          const restock =
            last && p.restock > 0
              ? p.restock === p.quantity
                ? true
                : [{ sku: p.shop.sku, quantity: p.restock }]
              : undefined;
          const res = await api("POST", `/v1/orders/${p.id}/return`, p.shop.key, {
            amount: p.returns[step].toString(),
            ...(restock ? { restock } : {}),
          });
          expect(res.status, `return ${step + 1} of order ${p.n}: ${JSON.stringify(res.body)}`).to.equal(202);
        },
      );
    // A full return in two parts sent back to back: the second is counted against the first, in flight or mined.
    await sendReturns(0);
    await sendReturns(1);
    for (const p of returning) expectStatus(p, FINAL[p.path]);
    await settle("returned");
    await waitFor(
      "every return indexed",
      async () => {
        rows = await orderRows(
          relayer,
          returning.map((p) => p.id!),
        );
        return returning.every((p) => rows.get(p.id!)!.record.returned === outcome(p).returned.toString());
      },
      120_000,
      200,
    );
    await waitIdle(relayer, 120_000);
    // What came back with the returns is in stock again.
    await waitFor(
      "restocked",
      async () => {
        const now = await Promise.all(shops.map(available));
        return shops.every(
          (s, i) =>
            now[i] ===
            stockBefore[i] + BigInt(returning.filter((p) => p.shop === s).reduce((sum, p) => sum + p.restock, 0)),
        );
      },
      60_000,
      200,
    );
    lap("restocked");

    // ---------------------------------------------------------------- sweeps to the payout addresses
    // The blocklisted shop's credits and custodial balance; another shop's custodial balance in the stablecoin.
    const sweeps: [Shop, TokenKind][] = [...blocked.map((s): [Shop, TokenKind] => [s, "usdc"]), [shops[0], "usd"]];
    const sweepIds: string[] = [];
    for (const [s, kind] of sweeps) {
      const res = await api(
        "POST",
        "/v1/merchant/sweep",
        s.key,
        { token: tokenAddress[kind] },
        { "Idempotency-Key": `sweep-${SEED}-${s.index}` },
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      sweepIds.push(res.body.command.id as string);
    }
    await waitFor(
      "every sweep mined",
      async () => {
        const c = await relayer.db.query<{ status: string }>(
          `select status from commands where id = any($1::bigint[])`,
          [sweepIds],
        );
        if (c.rows.some((row) => row.status === "failed")) throw new Error("a sweep failed");
        return c.rows.every((row) => row.status === "confirmed");
      },
      60_000,
      200,
    );
    await waitIdle(relayer, 120_000);
    for (const [s, kind] of sweeps) {
      expect(await escrowRead.credited(s.address, tokenAddress[kind]), `${s.id} ${kind} credit`).to.equal(0n);
      expect(await balanceOf(kind, s.address), `${s.id} ${kind} custodial balance`).to.equal(0n);
    }
    // The ledger books the withdrawals once the indexer has them.
    await waitFor(
      "the withdrawn credits booked",
      async () => {
        for (const [shop] of sweeps) {
          const b = await api("GET", `/v1/ledger/balances?token=${tokenAddress.usdc}`, shop.key);
          if (
            Object.values(b.body.balances as Record<string, { escrow_credits: string }>).some(
              (x) => x.escrow_credits !== "0",
            )
          )
            return false;
        }
        return true;
      },
      30_000,
      200,
    );
    lap("swept");

    // ---------------------------------------------------------------- the ledger equals the chain
    const rec = await api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
    expect(rec.status).to.equal(200);
    expect(rec.body.differences).to.deep.equal([]);
    expect(rec.body.ok).to.equal(true);
    for (const [token, t] of Object.entries(rec.body.tokens as Record<string, Record<string, string>>)) {
      expect(t.openPositions, `open positions in ${token}`).to.equal("0");
      expect(t.contractBalance, `escrow contract balance of ${token}`).to.equal(t.creditedOutstanding);
      expect(t.creditedOutstanding, `credits outstanding in ${token}`).to.equal("0");
    }

    // What each wallet should hold: its payouts less the returns it funded, plus its top-ups; a sweep moves all
    // of a custodial address's balance (its credits withdrawn first) to the payout address.
    const expected: Record<string, Record<TokenKind, bigint>> = {};
    for (const a of [...wallets, feeRecipient]) expected[a] = { ...before[a] };
    for (const p of plans) {
      const o = outcome(p);
      expected[payeeOf(p)][p.token] += o.payout - o.returned;
      expected[feeRecipient][p.token] += o.fee;
    }
    for (const [k, v] of topUps) {
      const [a, kind] = k.split("|") as [string, TokenKind];
      expected[a][kind] += v;
    }
    for (const [s, kind] of sweeps) {
      expected[s.payout!.address][kind] += expected[s.address][kind];
      expected[s.address][kind] = 0n;
    }
    const held: Record<string, Record<TokenKind, bigint>> = {};
    for (const a of [...wallets, feeRecipient]) {
      held[a] = { native: 0n, usd: 0n, usdc: 0n, usdt: 0n };
      for (const kind of TOKEN_KINDS) held[a][kind] = await balanceOf(kind, a);
    }
    expect(held).to.deep.equal(expected);

    const tokenKind = (address: string) => TOKEN_KINDS.find((k) => tokenAddress[k] === address.toLowerCase())!;
    for (const s of shops) {
      const bal = await api("GET", "/v1/ledger/balances", s.key);
      const balances = Object.fromEntries(
        Object.entries(bal.body.balances as Record<string, Record<string, string>>).map(([k, v]) => [
          k.toLowerCase(),
          v,
        ]),
      );
      const csv = await api("GET", "/v1/ledger/export.csv", s.key);
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
          expect((sums[token]?.[account] ?? 0n).toString(), `${s.id} ${token} ${account} CSV`).to.equal(value);
        // Every order is settled and every credit withdrawn: nothing of this shop stays in escrow, the books balance.
        expect(accounts.escrow, `${s.id} ${token} escrow`).to.equal("0");
        expect(accounts.escrow_credits, `${s.id} ${token} escrow credits`).to.equal("0");
        expect(accounts.payout_wallet, `${s.id} ${token} payout wallet correction`).to.equal("0");
        const total = Object.values(accounts).reduce((sum, v) => sum + BigInt(v), 0n);
        expect(total).to.equal(0n);
        // The shop's wallets (custodial and payout) hold what the ledger says was paid out to them.
        const kind = tokenKind(token);
        const received = wallets
          .filter((a) => a === s.address || a === s.payout?.address)
          .reduce((sum, a) => sum + held[a][kind] - before[a][kind], 0n);
        const toppedUp = [...topUps]
          .filter(([k]) => k === topUpKey(s.address, kind) || k === topUpKey(s.payout?.address ?? "", kind))
          .reduce((sum, [, v]) => sum + v, 0n);
        expect((received - toppedUp).toString(), `${s.id} ${token} wallets`).to.equal(accounts.merchant_payouts);
      }

      // The payouts are what the escrow's rules give for this shop's orders: 1% of the payee's share, less returns.
      for (const kind of TOKEN_KINDS) {
        let payouts = 0n;
        let platform = 0n;
        for (const p of plans.filter((x) => x.shop === s && x.token === kind)) {
          const o = outcome(p);
          payouts += o.payout - o.returned;
          platform += o.fee;
        }
        const token = tokenAddress[kind];
        expect(balances[token]?.merchant_payouts ?? "0", `${s.id} ${kind} payouts`).to.equal(payouts.toString());
        expect(balances[token]?.platform_fees ?? "0", `${s.id} ${kind} fees`).to.equal(platform.toString());
      }
    }

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

    // The keepers acted exactly on the late orders of the shops that keep them on, once each, and said so.
    const keeperCommands = await relayer.db.query<{
      order_id: string;
      kind: string;
      status: string;
      moot: string | null;
    }>(`select order_id, kind, status, payload->>'moot' as moot from commands where kind like 'keeper_%'`);
    const byKeeper = new Map(keeperCommands.rows.map((c) => [c.order_id, c]));
    expect(keeperCommands.rows).to.have.length(byKeeper.size);
    const kept = plans.filter((p) => p.shop.keepers && lateAction(p));
    expect([...byKeeper.keys()].sort()).to.deep.equal(kept.map((p) => p.id!).sort());
    for (const p of kept)
      expect(byKeeper.get(p.id!), `order ${p.n}'s keeper command`).to.include({
        kind: `keeper_${lateAction(p)}`,
        status: "confirmed",
        moot: null,
      });
    const announced = await relayer.db.query<{
      order_id: string;
      type: string;
      by: string | null;
      amount: string | null;
    }>(
      `select order_id, type, payload->'data'->>'by' as by, payload->'data'->>'returnAmount' as amount
       from webhook_events where order_id = any($1::text[]) order by sequence`,
      [plans.map((p) => p.id!)],
    );
    const lateEvent: Record<string, string> = {
      release: "order.completed",
      expire: "order.cancelled",
      dispute_default: "order.resolved",
    };
    for (const p of plans.filter((x) => lateAction(x))) {
      const e = announced.rows.filter((x) => x.order_id === p.id && x.type === lateEvent[lateAction(p)!]);
      expect(
        e.map((x) => x.by),
        `order ${p.n}'s ${lateEvent[lateAction(p)!]}`,
      ).to.deep.equal([p.shop.keepers ? "keeper" : null]);
    }
    // One order.returned event per return, with its amount.
    for (const p of plans)
      expect(
        announced.rows.filter((x) => x.order_id === p.id && x.type === "order.returned").map((x) => x.amount),
        `order ${p.n}'s order.returned events`,
      ).to.deep.equal(p.returns.map(String));
    lap("reconciled");
  });
});
