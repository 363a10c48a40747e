import { expect } from "chai";
import { ethers } from "hardhat";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { TransactionReceipt } from "ethers";
import type { HostileReceiver } from "../../typechain-types";
import {
  deployEscrowFixture,
  signOffer,
  signPermit,
  USD,
  type EscrowFixture,
  type LineItem,
} from "../helpers/fixtures";
import { applyOrderLogs, hashItems, OrderState, type OrderRecord } from "../../sdk/orderRecord";

/*
 * Random sequences of every escrow action by random actors over many orders. A TypeScript model predicts, for
 * each action, whether it must succeed or revert and exactly which balances move; after every step the chain must
 * agree with the model, and the escrow must hold exactly what it owes.
 */

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 20);
const MAX_STEPS = Number(process.env.PROPERTY_STEPS ?? 60);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;

const ACTORS = ["merchant", "operator", "buyer", "otherBuyer", "hostile", "stranger", "arbiter"] as const;
type ActorName = (typeof ACTORS)[number];
const ZERO_HASH = ethers.ZeroHash;
const DAY = 86_400n;
const NATIVE_UNIT = 10n ** 15n; // 0.001 ETH
/** Seconds of block-time uncertainty between "now" and the block that mines the next transaction. */
const TIME_SLACK = 300n;

type Item = { sku: 0 | 1; qty: number };
type BatchOp = { kind: "ship" | "refund" | "cancel"; order: number; partBps: number };
type Action =
  | {
      kind: "create";
      actor: ActorName;
      native: boolean;
      buyerSel: number;
      units: number;
      items: Item[];
      payDays: number;
      shipDays: number;
      protectDays: number;
      reuseOrder: number | null;
    }
  | { kind: "pay"; actor: ActorName; order: number; permit: boolean }
  | {
      kind: "checkout";
      actor: ActorName;
      native: boolean;
      bound: boolean;
      units: number;
      items: Item[];
      signer: "merchant" | "operator" | "stranger";
      permit: boolean;
    }
  | {
      kind: "ship" | "confirm" | "autoRelease" | "cancel" | "cancelUnshipped" | "dispute";
      actor: ActorName;
      order: number;
    }
  | { kind: "refund"; actor: ActorName; order: number; full: boolean; partBps: number }
  | { kind: "resolve"; actor: ActorName; order: number; buyerBps: number }
  | { kind: "withdraw"; actor: ActorName; native: boolean }
  | { kind: "approve"; actor: ActorName }
  | { kind: "batch"; actor: ActorName; atomic: boolean; ops: BatchOp[] }
  | { kind: "time"; seconds: number };

// ------------------------------------------------------------------ arbitraries

const actorArb = fc.constantFrom(...ACTORS);
/** Actions by the party that usually performs them, with a chance of anybody else trying. */
const likely = (...names: ActorName[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, actorArb);
const orderArb = fc.nat({ max: 1_000 });
const itemsArb = fc.array(fc.record({ sku: fc.constantFrom<0 | 1>(0, 1), qty: fc.integer({ min: 1, max: 5 }) }), {
  maxLength: 2,
});
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      actor: likely("merchant", "operator"),
      native: fc.boolean(),
      buyerSel: fc.nat({ max: 3 }),
      units: fc.integer({ min: 1, max: 500 }),
      items: itemsArb,
      payDays: fc.integer({ min: 1, max: 3 }),
      shipDays: fc.integer({ min: 1, max: 3 }),
      protectDays: fc.integer({ min: 1, max: 3 }),
      reuseOrder: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: orderArb }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("pay" as const),
      actor: likely("buyer", "otherBuyer", "hostile"),
      order: orderArb,
      permit: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("checkout" as const),
      actor: likely("buyer", "otherBuyer", "hostile"),
      native: fc.boolean(),
      bound: fc.boolean(),
      units: fc.integer({ min: 1, max: 500 }),
      items: itemsArb,
      signer: fc.constantFrom("merchant" as const, "operator" as const, "stranger" as const),
      permit: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("ship" as const),
      actor: likely("merchant", "operator"),
      order: orderArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("confirm" as const),
      actor: likely("buyer", "otherBuyer", "hostile"),
      order: orderArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("autoRelease" as const), actor: actorArb, order: orderArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), actor: actorArb, order: orderArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("cancelUnshipped" as const),
      actor: likely("buyer", "otherBuyer", "hostile"),
      order: orderArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("refund" as const),
      actor: likely("merchant", "operator"),
      order: orderArb,
      full: fc.boolean(),
      partBps: fc.integer({ min: 0, max: 9_999 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("dispute" as const),
      actor: likely("buyer", "otherBuyer", "hostile"),
      order: orderArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("resolve" as const),
      actor: likely("arbiter"),
      order: orderArb,
      buyerBps: fc.oneof(fc.constantFrom(0, 10_000), fc.integer({ min: 0, max: 10_000 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("withdraw" as const), actor: likely("hostile"), native: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("approve" as const), actor: likely("buyer", "otherBuyer") }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      actor: likely("operator"),
      atomic: fc.boolean(),
      ops: fc.array(
        fc.record({
          kind: fc.constantFrom("ship" as const, "refund" as const, "cancel" as const),
          order: orderArb,
          partBps: fc.integer({ min: 0, max: 10_000 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 3_600, max: 4 * 86_400 }) }),
  },
);

// ------------------------------------------------------------------ model

interface MOrder {
  id: string;
  rec: OrderRecord;
  items: LineItem[];
}

interface World extends EscrowFixture {
  hostile: HostileReceiver;
  addr: Record<ActorName, string>;
  escrowAddress: string;
  usdAddress: string;
  skus: [bigint, bigint];
}

class Model {
  orders: MOrder[] = [];
  /** `${account}|${asset}` -> credited amount. */
  credits = new Map<string, bigint>();
  /** USD allowance of each account for the escrow. */
  allowance = new Map<string, bigint>();
  /** SKU -> stock released to the hostile contract, which has no ERC-1155 receiver hook: held in custody. */
  held = new Map<bigint, bigint>();

  clone(): Model {
    const m = new Model();
    m.orders = this.orders.map((o) => ({ ...o, rec: { ...o.rec }, items: o.items }));
    m.credits = new Map(this.credits);
    m.allowance = new Map(this.allowance);
    m.held = new Map(this.held);
    return m;
  }
}

type Delta = Map<string, bigint>;
const add = (d: Delta, holder: string, asset: string, v: bigint) => {
  if (v === 0n) return;
  const k = `${holder}|${asset}`;
  d.set(k, (d.get(k) ?? 0n) + v);
};

const PREFERRED_STATES: Record<string, number[]> = {
  pay: [OrderState.Created],
  cancel: [OrderState.Created],
  ship: [OrderState.Paid],
  cancelUnshipped: [OrderState.Paid],
  confirm: [OrderState.Shipped],
  autoRelease: [OrderState.Shipped],
  dispute: [OrderState.Paid, OrderState.Shipped],
  refund: [OrderState.Paid, OrderState.Shipped, OrderState.Disputed],
  resolve: [OrderState.Disputed],
};
const BUYER_SIDE = new Set(["pay", "confirm", "cancelUnshipped", "dispute"]);
const OPEN_STATES = new Set([OrderState.Created, OrderState.Paid, OrderState.Shipped, OrderState.Disputed].map(BigInt));
const ESCROWED_STATES = new Set([OrderState.Paid, OrderState.Shipped, OrderState.Disputed].map(BigInt));
const ALLOWED_MOVES: Record<number, number[]> = {
  [OrderState.None]: [OrderState.Created, OrderState.Paid], // Paid: checkout creates and pays at once
  [OrderState.Created]: [OrderState.Paid, OrderState.Cancelled],
  [OrderState.Paid]: [OrderState.Shipped, OrderState.Refunded, OrderState.Disputed],
  [OrderState.Shipped]: [OrderState.Completed, OrderState.Disputed, OrderState.Refunded],
  [OrderState.Disputed]: [OrderState.Resolved, OrderState.Refunded],
};

/** What one call does to the model: `null` when the escrow must revert it. */
type Outcome = { delta: Delta; model: Model } | null;

class Simulator {
  constructor(private readonly w: World) {}

  asset(token: string): string {
    return token === ethers.ZeroAddress ? "eth" : "usd";
  }

  isMerchantSide(a: string): boolean {
    return a === this.w.addr.merchant || a === this.w.addr.operator;
  }

  payout(m: Model, d: Delta, token: string, to: string, amount: bigint) {
    if (amount === 0n) return;
    const asset = this.asset(token);
    // The hostile contract refuses native payouts (mode Revert): they stay in escrow, credited.
    if (to === this.w.addr.hostile && asset === "eth") {
      const k = `${to}|${asset}`;
      m.credits.set(k, (m.credits.get(k) ?? 0n) + amount);
      return;
    }
    add(d, this.w.escrowAddress, asset, -amount);
    add(d, to, asset, amount);
  }

  moveStock(m: Model, d: Delta, items: LineItem[], from: string, to: string) {
    // The hostile contract has no ERC-1155 receiver hook: stock released to it stays in custody, held for it.
    if (to === this.w.addr.hostile && from === this.w.escrowAddress) {
      for (const i of items) m.held.set(i.skuId, (m.held.get(i.skuId) ?? 0n) + i.quantity);
      return;
    }
    for (const i of items) {
      add(d, from, `sku:${i.skuId}`, -i.quantity);
      add(d, to, `sku:${i.skuId}`, i.quantity);
    }
  }

  /** Money in from `payer`; false if the payer cannot pay (no USD or no allowance). */
  collect(m: Model, d: Delta, token: string, payer: string, amount: bigint, usdBalance: bigint): boolean {
    if (token === ethers.ZeroAddress) {
      add(d, payer === this.w.addr.hostile ? "untracked" : payer, "eth", -amount);
      add(d, this.w.escrowAddress, "eth", amount);
      return true;
    }
    const allowance = m.allowance.get(payer) ?? 0n;
    if (allowance < amount || usdBalance < amount) return false;
    if (allowance !== ethers.MaxUint256) m.allowance.set(payer, allowance - amount);
    add(d, payer, "usd", -amount);
    add(d, this.w.escrowAddress, "usd", amount);
    return true;
  }

  create(
    m: Model,
    d: Delta,
    id: string,
    rec: OrderRecord,
    items: LineItem[],
    ts: bigint,
    merchantStock: Map<bigint, bigint>,
  ): boolean {
    if (m.orders.some((o) => o.id === id)) return false;
    if (rec.deadline <= ts) return false;
    const need = new Map<bigint, bigint>();
    for (const i of items) need.set(i.skuId, (need.get(i.skuId) ?? 0n) + i.quantity);
    for (const [sku, q] of need) if ((merchantStock.get(sku) ?? 0n) < q) return false;
    this.moveStock(m, d, items, this.w.addr.merchant, this.w.escrowAddress);
    m.orders.push({ id, rec, items });
    return true;
  }
}

// ------------------------------------------------------------------ the property

describe("invariants: escrow under random action sequences", function () {
  this.timeout(600_000);

  async function worldFixture(): Promise<World> {
    const f = await deployEscrowFixture();
    const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
    const hostileAddress = await hostile.getAddress();
    const escrowAddress = await f.escrow.getAddress();
    const usdAddress = await f.usd.getAddress();
    await f.usd.mint(hostileAddress, USD(1_000_000));
    await hostile.execute(
      usdAddress,
      0n,
      f.usd.interface.encodeFunctionData("approve", [escrowAddress, ethers.MaxUint256]),
    );
    await hostile.setMode(1, ethers.ZeroAddress, "0x"); // Revert: refuses every native payout
    const addr = {
      merchant: f.merchant.address,
      operator: f.operator.address,
      buyer: f.buyer.address,
      otherBuyer: f.otherBuyer.address,
      hostile: hostileAddress,
      stranger: f.stranger.address,
      arbiter: f.arbiter.address,
    };
    return { ...f, hostile, addr, escrowAddress, usdAddress, skus: [f.skuA, f.skuB] };
  }

  it(`keeps the books exact over ${NUM_RUNS} runs of up to ${MAX_STEPS} random actions`, async function () {
    console.log(
      `      property: numRuns=${NUM_RUNS}, maxSteps=${MAX_STEPS}${SEED === undefined ? "" : `, seed=${SEED}`}`,
    );
    const started = Date.now();
    let steps = 0;
    let succeeded = 0;
    let idCounter = 0;
    const kinds = new Map<string, [number, number]>();

    await fc.assert(
      fc.asyncProperty(
        fc.array(actionArb, { minLength: Math.ceil(MAX_STEPS / 2), maxLength: MAX_STEPS, size: "max" }),
        async (actions) => {
          const w = await loadFixture(worldFixture);
          const sim = new Simulator(w);
          const signers: Record<ActorName, HardhatEthersSigner | null> = {
            merchant: w.merchant,
            operator: w.operator,
            buyer: w.buyer,
            otherBuyer: w.otherBuyer,
            hostile: null,
            stranger: w.stranger,
            arbiter: w.arbiter,
          };
          const holders = [...Object.values(w.addr), w.escrowAddress, w.feeRecipient.address];
          let model = new Model();
          for (const b of [w.addr.buyer, w.addr.otherBuyer, w.addr.hostile]) model.allowance.set(b, ethers.MaxUint256);
          const book = new Map<string, OrderRecord>();

          const snapshot = async (): Promise<Map<string, bigint>> => {
            const out = new Map<string, bigint>();
            await Promise.all(
              holders.flatMap((h) => [
                w.usd.balanceOf(h).then((v) => out.set(`${h}|usd`, v)),
                ethers.provider.getBalance(h).then((v) => out.set(`${h}|eth`, v)),
                ...w.skus.map((s) => w.inventory.balanceOf(h, s).then((v) => out.set(`${h}|sku:${s}`, v))),
              ]),
            );
            return out;
          };

          /**
           * Sends `data` to `to` as `actor` (the hostile contract acts through `execute`, gas paid by admin). The
           * automining node mines a reverting transaction too, so its gas is reported for the balance check.
           */
          const send = async (
            actor: ActorName,
            to: string,
            data: string,
            value = 0n,
          ): Promise<{ receipt: TransactionReceipt | null; gasCost: bigint }> => {
            const blockBefore = await ethers.provider.getBlockNumber();
            try {
              const signer = signers[actor];
              const tx = signer
                ? await signer.sendTransaction({ to, data, value })
                : await w.hostile.connect(w.admin).execute(to, value, data, { value });
              const receipt = (await tx.wait()) as TransactionReceipt;
              return { receipt, gasCost: receipt.gasUsed * receipt.gasPrice };
            } catch {
              const blockAfter = await ethers.provider.getBlockNumber();
              if (blockAfter === blockBefore) return { receipt: null, gasCost: 0n };
              const block = await ethers.provider.getBlock(blockAfter);
              const mined = await ethers.provider.getTransactionReceipt(block!.transactions[0]);
              expect(mined!.status, "a failed action left a successful transaction").to.equal(0);
              return { receipt: null, gasCost: mined!.gasUsed * mined!.gasPrice };
            }
          };

          const pick = (n: number): MOrder | null =>
            model.orders.length === 0 ? null : model.orders[n % model.orders.length];
          const fakeRecord = (): OrderRecord => ({
            merchant: w.addr.merchant,
            buyer: w.addr.buyer,
            token: w.usdAddress,
            amount: 1n,
            feeBps: 100n,
            state: BigInt(OrderState.Paid),
            deadline: 0n,
            shipWithin: 0n,
            protectionPeriod: 0n,
            itemsHash: ZERO_HASH,
          });
          const toItems = (items: Item[]): LineItem[] =>
            items.map((i) => ({ skuId: w.skus[i.sku], quantity: BigInt(i.qty) }));
          const amountOf = (native: boolean, units: number) => (native ? BigInt(units) * NATIVE_UNIT : USD(units));

          /** Index of the order an action works on: mostly one in a state where the action can apply. */
          const resolveOrder = (kind: string, n: number): number => {
            if (model.orders.length === 0) return -1;
            const preferred = PREFERRED_STATES[kind] ?? [];
            if (n % 5 !== 0) {
              const candidates = model.orders.flatMap((o, i) => (preferred.includes(Number(o.rec.state)) ? [i] : []));
              if (candidates.length > 0) return candidates[n % candidates.length];
            }
            return n % model.orders.length;
          };
          /** Concrete order indices; a buyer-side action is often sent by the order's own buyer. */
          const resolveAction = (raw: Action): Action => {
            if (raw.kind === "batch") {
              return { ...raw, ops: raw.ops.map((op) => ({ ...op, order: resolveOrder(op.kind, op.order) })) };
            }
            if (!("order" in raw)) return raw;
            const order = resolveOrder(raw.kind, raw.order);
            let actor = raw.actor;
            const buyer = model.orders[order]?.rec.buyer;
            const party = ACTORS.find((a) => w.addr[a] === buyer);
            if (BUYER_SIDE.has(raw.kind) && party && raw.order % 3 !== 0) actor = party;
            return { ...raw, order, actor } as Action;
          };

          for (const raw of actions) {
            steps += 1;
            const action = resolveAction(raw);
            if (action.kind === "time") {
              await time.increase(action.seconds);
              continue;
            }
            const now = BigInt(await time.latest());
            const before = await snapshot();
            const actorAddr = w.addr[action.actor];
            const esc = w.escrow.interface;

            // Build the call and a simulator for it (pure over a model clone and a block time).
            let to = w.escrowAddress;
            let data = "0x";
            let value = 0n;
            let touched: string[] = [];
            let simulate: (ts: bigint) => Outcome;
            const stock = new Map<bigint, bigint>(w.skus.map((s) => [s, before.get(`${w.addr.merchant}|sku:${s}`)!]));
            const usdOf = (a: string) => before.get(`${a}|usd`) ?? 0n;

            // One escrow call's semantics on model `m` (used directly and by batch items).
            const apply = (m: Model, d: Delta, a: Action, caller: string, ts: bigint): boolean => {
              const target = "order" in a ? (m.orders[a.order] ?? null) : null;
              const r = target?.rec;
              switch (a.kind) {
                case "pay": {
                  if (!r || r.state !== BigInt(OrderState.Created) || ts > r.deadline) return false;
                  if (r.buyer !== ethers.ZeroAddress && r.buyer !== caller) return false;
                  if (a.permit && caller !== w.addr.hostile) {
                    if (r.token === ethers.ZeroAddress) return false;
                    m.allowance.set(caller, r.amount);
                  }
                  if (!sim.collect(m, d, r.token, caller, r.amount, usdOf(caller))) return false;
                  r.buyer = caller;
                  r.state = BigInt(OrderState.Paid);
                  r.deadline = ts + r.shipWithin;
                  return true;
                }
                case "ship": {
                  if (!sim.isMerchantSide(caller) || !r || r.state !== BigInt(OrderState.Paid)) return false;
                  r.state = BigInt(OrderState.Shipped);
                  r.deadline = ts + r.protectionPeriod;
                  return true;
                }
                case "confirm":
                case "autoRelease": {
                  if (!r || r.state !== BigInt(OrderState.Shipped)) return false;
                  if (a.kind === "confirm" && caller !== r.buyer) return false;
                  if (a.kind === "autoRelease" && ts <= r.deadline) return false;
                  const fee = (r.amount * r.feeBps) / 10_000n;
                  r.state = BigInt(OrderState.Completed);
                  sim.moveStock(m, d, target!.items, w.escrowAddress, r.buyer);
                  sim.payout(m, d, r.token, r.merchant, r.amount - fee);
                  sim.payout(m, d, r.token, w.feeRecipient.address, fee);
                  return true;
                }
                case "cancel": {
                  if (!r || r.state !== BigInt(OrderState.Created)) return false;
                  if (ts <= r.deadline && !sim.isMerchantSide(caller)) return false;
                  r.state = BigInt(OrderState.Cancelled);
                  sim.moveStock(m, d, target!.items, w.escrowAddress, r.merchant);
                  return true;
                }
                case "cancelUnshipped": {
                  if (!r || r.state !== BigInt(OrderState.Paid) || caller !== r.buyer || ts <= r.deadline) return false;
                  r.state = BigInt(OrderState.Refunded);
                  sim.moveStock(m, d, target!.items, w.escrowAddress, r.merchant);
                  sim.payout(m, d, r.token, r.buyer, r.amount);
                  return true;
                }
                case "refund": {
                  if (!sim.isMerchantSide(caller) || !r || !ESCROWED_STATES.has(r.state)) return false;
                  const amount = a.full ? r.amount : (r.amount * BigInt(a.partBps)) / 10_000n;
                  if (amount === 0n || amount > r.amount) return false;
                  if (amount === r.amount) {
                    r.state = BigInt(OrderState.Refunded);
                    sim.moveStock(m, d, target!.items, w.escrowAddress, r.merchant);
                  } else {
                    r.amount -= amount;
                  }
                  sim.payout(m, d, r.token, r.buyer, amount);
                  return true;
                }
                case "dispute": {
                  if (!r || caller !== r.buyer) return false;
                  if (r.state === BigInt(OrderState.Shipped)) {
                    if (ts > r.deadline) return false;
                  } else if (r.state !== BigInt(OrderState.Paid)) return false;
                  r.state = BigInt(OrderState.Disputed);
                  return true;
                }
                case "resolve": {
                  if (caller !== w.addr.arbiter || !r || r.state !== BigInt(OrderState.Disputed)) return false;
                  const buyerAmount = (r.amount * BigInt(a.buyerBps)) / 10_000n;
                  const share = r.amount - buyerAmount;
                  const fee = (share * r.feeBps) / 10_000n;
                  r.state = BigInt(OrderState.Resolved);
                  sim.moveStock(m, d, target!.items, w.escrowAddress, share === 0n ? r.merchant : r.buyer);
                  sim.payout(m, d, r.token, r.buyer, buyerAmount);
                  sim.payout(m, d, r.token, r.merchant, share - fee);
                  sim.payout(m, d, r.token, w.feeRecipient.address, fee);
                  return true;
                }
                default:
                  throw new Error(`not an order call: ${a.kind}`);
              }
            };
            const single =
              (a: Action) =>
              (ts: bigint): Outcome => {
                const m = model.clone();
                const d: Delta = new Map();
                return apply(m, d, a, actorAddr, ts) ? { delta: d, model: m } : null;
              };
            const target = "order" in action ? (model.orders[action.order] ?? null) : null;
            const recordArg = (o: MOrder | null) => (o ? o.rec : fakeRecord());
            const idArg = (o: MOrder | null) => (o ? o.id : ethers.id("no such order"));
            const itemsArg = (o: MOrder | null) => (o ? o.items : []);

            switch (action.kind) {
              case "create": {
                const reused = action.reuseOrder === null ? null : pick(action.reuseOrder);
                const id = reused ? reused.id : ethers.id(`property-order-${++idCounter}`);
                const items = toItems(action.items);
                const buyer = [w.addr.buyer, w.addr.otherBuyer, w.addr.hostile, ethers.ZeroAddress][action.buyerSel];
                const token = action.native ? ethers.ZeroAddress : w.usdAddress;
                const amount = amountOf(action.native, action.units);
                const paymentDeadline = now + BigInt(action.payDays) * DAY;
                const shipWithin = BigInt(action.shipDays) * DAY;
                const protectionPeriod = BigInt(action.protectDays) * DAY;
                data = esc.encodeFunctionData("createOrder", [
                  {
                    orderId: id,
                    merchant: w.addr.merchant,
                    buyer,
                    token,
                    amount,
                    paymentDeadline,
                    shipWithin,
                    protectionPeriod,
                  },
                  items,
                ]);
                touched = [id];
                simulate = () => {
                  if (!sim.isMerchantSide(actorAddr)) return null;
                  const m = model.clone();
                  const d: Delta = new Map();
                  const rec: OrderRecord = {
                    merchant: w.addr.merchant,
                    buyer,
                    token,
                    amount,
                    feeBps: 100n,
                    state: BigInt(OrderState.Created),
                    deadline: paymentDeadline,
                    shipWithin,
                    protectionPeriod,
                    itemsHash: items.length === 0 ? ZERO_HASH : hashItems(items),
                  };
                  return sim.create(m, d, id, rec, items, now + 1n, stock) ? { delta: d, model: m } : null;
                };
                break;
              }
              case "checkout": {
                const id = ethers.id(`property-order-${++idCounter}`);
                const items = toItems(action.items);
                const token = action.native ? ethers.ZeroAddress : w.usdAddress;
                const amount = amountOf(action.native, action.units);
                const offer = {
                  orderId: id,
                  merchant: w.addr.merchant,
                  buyer: action.bound ? w.addr.buyer : ethers.ZeroAddress,
                  token,
                  amount,
                  paymentDeadline: now + DAY,
                  shipWithin: 2n * DAY,
                  protectionPeriod: 2n * DAY,
                };
                const signer =
                  action.signer === "merchant" ? w.merchant : action.signer === "operator" ? w.operator : w.stranger;
                const signature = await signOffer(w.escrow, signer, offer, items);
                const usePermit =
                  action.permit && !action.native && action.actor !== "hostile" && signers[action.actor] !== null;
                if (usePermit) {
                  const permit = await signPermit(w.usd, signers[action.actor]!, w.escrowAddress, amount, now + DAY);
                  data = esc.encodeFunctionData("checkoutWithPermit", [offer, items, signature, permit]);
                } else {
                  data = esc.encodeFunctionData("checkout", [offer, items, signature]);
                  value = action.native ? amount : 0n;
                }
                touched = [id];
                simulate = (ts) => {
                  if (offer.buyer !== ethers.ZeroAddress && offer.buyer !== actorAddr) return null;
                  if (action.signer === "stranger") return null;
                  const m = model.clone();
                  const d: Delta = new Map();
                  const rec: OrderRecord = {
                    merchant: w.addr.merchant,
                    buyer: actorAddr,
                    token,
                    amount,
                    feeBps: 100n,
                    state: BigInt(OrderState.Paid),
                    deadline: ts + offer.shipWithin,
                    shipWithin: offer.shipWithin,
                    protectionPeriod: offer.protectionPeriod,
                    itemsHash: items.length === 0 ? ZERO_HASH : hashItems(items),
                  };
                  if (!sim.create(m, d, id, rec, items, ts, stock)) return null;
                  if (usePermit) m.allowance.set(actorAddr, amount);
                  if (!sim.collect(m, d, token, actorAddr, amount, usdOf(actorAddr))) return null;
                  return { delta: d, model: m };
                };
                break;
              }
              case "pay": {
                const usePermit = action.permit && action.actor !== "hostile";
                if (usePermit && target && target.rec.token !== ethers.ZeroAddress) {
                  const permit = await signPermit(
                    w.usd,
                    signers[action.actor]!,
                    w.escrowAddress,
                    target.rec.amount,
                    now + DAY,
                  );
                  data = esc.encodeFunctionData("payWithPermit", [target.id, target.rec, permit]);
                } else if (usePermit) {
                  const permit = { deadline: now + DAY, v: 27, r: ZERO_HASH, s: ZERO_HASH };
                  data = esc.encodeFunctionData("payWithPermit", [idArg(target), recordArg(target), permit]);
                } else {
                  data = esc.encodeFunctionData("pay", [idArg(target), recordArg(target)]);
                  value = target && target.rec.token === ethers.ZeroAddress ? target.rec.amount : 0n;
                }
                touched = target ? [target.id] : [];
                simulate = single({ ...action, permit: usePermit });
                break;
              }
              case "ship":
                data = esc.encodeFunctionData("ship", [idArg(target), recordArg(target), ZERO_HASH]);
                touched = target ? [target.id] : [];
                simulate = single(action);
                break;
              case "confirm":
              case "autoRelease":
              case "cancel":
              case "cancelUnshipped": {
                const fn = action.kind === "confirm" ? "confirmReceipt" : action.kind;
                data = esc.encodeFunctionData(fn as "cancel", [idArg(target), recordArg(target), itemsArg(target)]);
                touched = target ? [target.id] : [];
                simulate = single(action);
                break;
              }
              case "refund": {
                const amount = target
                  ? action.full
                    ? target.rec.amount
                    : (target.rec.amount * BigInt(action.partBps)) / 10_000n
                  : 1n;
                data = esc.encodeFunctionData("refund", [idArg(target), recordArg(target), amount, itemsArg(target)]);
                touched = target ? [target.id] : [];
                simulate = single(action);
                break;
              }
              case "dispute":
                data = esc.encodeFunctionData("dispute", [idArg(target), recordArg(target), ZERO_HASH]);
                touched = target ? [target.id] : [];
                simulate = single(action);
                break;
              case "resolve": {
                const buyerAmount = target ? (target.rec.amount * BigInt(action.buyerBps)) / 10_000n : 0n;
                data = esc.encodeFunctionData("resolveDispute", [
                  idArg(target),
                  recordArg(target),
                  buyerAmount,
                  itemsArg(target),
                ]);
                touched = target ? [target.id] : [];
                simulate = single(action);
                break;
              }
              case "withdraw": {
                const token = action.native ? ethers.ZeroAddress : w.usdAddress;
                data = esc.encodeFunctionData("withdraw", [token, w.addr.stranger]);
                simulate = () => {
                  const m = model.clone();
                  const d: Delta = new Map();
                  const k = `${actorAddr}|${sim.asset(token)}`;
                  const credit = m.credits.get(k) ?? 0n;
                  if (credit === 0n) return null;
                  m.credits.delete(k);
                  add(d, w.escrowAddress, sim.asset(token), -credit);
                  add(d, w.addr.stranger, sim.asset(token), credit);
                  return { delta: d, model: m };
                };
                break;
              }
              case "approve": {
                to = w.usdAddress;
                data = w.usd.interface.encodeFunctionData("approve", [w.escrowAddress, ethers.MaxUint256]);
                simulate = () => {
                  const m = model.clone();
                  m.allowance.set(actorAddr, ethers.MaxUint256);
                  return { delta: new Map(), model: m };
                };
                break;
              }
              case "batch": {
                const calls = action.ops.map((op) => {
                  const o = model.orders[op.order] ?? null;
                  if (op.kind === "ship") return esc.encodeFunctionData("ship", [idArg(o), recordArg(o), ZERO_HASH]);
                  if (op.kind === "cancel")
                    return esc.encodeFunctionData("cancel", [idArg(o), recordArg(o), itemsArg(o)]);
                  // Records change inside the batch; items refer to the record as it will be at that point.
                  return "refund";
                });
                // Refund amounts depend on earlier items of the same batch: build them on a model replay.
                const replay = model.clone();
                for (let i = 0; i < action.ops.length; i++) {
                  const op = action.ops[i];
                  const o = replay.orders[op.order] ?? null;
                  const single: Action =
                    op.kind === "refund"
                      ? {
                          kind: "refund",
                          actor: action.actor,
                          order: op.order,
                          full: op.partBps === 10_000,
                          partBps: op.partBps,
                        }
                      : { kind: op.kind, actor: action.actor, order: op.order };
                  const rec = o ? { ...o.rec } : fakeRecord();
                  if (op.kind === "refund") {
                    const amount = o
                      ? op.partBps === 10_000
                        ? o.rec.amount
                        : (o.rec.amount * BigInt(op.partBps)) / 10_000n
                      : 1n;
                    calls[i] = esc.encodeFunctionData("refund", [idArg(o), rec, amount, itemsArg(o)]);
                  } else if (o) {
                    calls[i] =
                      op.kind === "ship"
                        ? esc.encodeFunctionData("ship", [o.id, rec, ZERO_HASH])
                        : esc.encodeFunctionData("cancel", [o.id, rec, o.items]);
                  }
                  apply(replay, new Map(), single, actorAddr, now + 1n);
                  if (o) touched.push(o.id);
                }
                data = esc.encodeFunctionData("batch", [calls, action.atomic]);
                simulate = (ts) => {
                  if (actorAddr !== w.addr.operator) return null;
                  const m = model.clone();
                  const d: Delta = new Map();
                  for (const op of action.ops) {
                    const single: Action =
                      op.kind === "refund"
                        ? {
                            kind: "refund",
                            actor: action.actor,
                            order: op.order,
                            full: op.partBps === 10_000,
                            partBps: op.partBps,
                          }
                        : { kind: op.kind, actor: action.actor, order: op.order };
                    const trial = m.clone();
                    const trialDelta = new Map(d);
                    if (apply(trial, trialDelta, single, actorAddr, ts)) {
                      Object.assign(m, {
                        orders: trial.orders,
                        credits: trial.credits,
                        allowance: trial.allowance,
                        held: trial.held,
                      });
                      d.clear();
                      for (const [k, v] of trialDelta) d.set(k, v);
                    } else if (action.atomic) {
                      return null;
                    }
                  }
                  return { delta: d, model: m };
                };
                break;
              }
            }

            const low = simulate!(now + 1n);
            const high = simulate!(now + TIME_SLACK);
            const { receipt, gasCost } = await send(action.actor, to, data, value);
            const stat = kinds.get(action.kind) ?? [0, 0];
            kinds.set(action.kind, [stat[0] + 1, stat[1] + (receipt ? 1 : 0)]);
            const after = await snapshot();
            const label = `${action.kind} by ${action.actor} (step ${steps})`;

            let outcome: Outcome = null;
            if (receipt) {
              succeeded += 1;
              const ts = BigInt((await ethers.provider.getBlock(receipt.blockNumber))!.timestamp);
              outcome = simulate!(ts);
              expect(outcome, `${label} succeeded but the model says it must revert`).to.not.equal(null);
              applyOrderLogs(w.escrow.interface, receipt.logs, book);
            } else if ((low === null) === (high === null)) {
              expect(low, `${label} reverted but the model says it must succeed`).to.equal(null);
            }

            // Nobody's balance moved except as the model says (a revert moves nothing).
            const delta = outcome?.delta ?? new Map<string, bigint>();
            // Gas is the only other cost of the sender, whether the action succeeded or reverted.
            if (signers[action.actor]) add(delta, actorAddr, "eth", -gasCost);
            for (const [k, v] of after) {
              if (k.startsWith("untracked")) continue;
              expect(v - before.get(k)!, `${label}: balance change of ${k}`).to.equal(delta.get(k) ?? 0n);
            }

            // Allowed state moves, seen through the events (the records rebuilt like any client does).
            const next = outcome?.model ?? model;
            for (const id of touched) {
              const prev = model.orders.find((o) => o.id === id);
              const now2 = next.orders.find((o) => o.id === id);
              if (!now2) continue;
              const from = Number(prev?.rec.state ?? BigInt(OrderState.None));
              const toState = Number(now2.rec.state);
              if (from !== toState) {
                expect(ALLOWED_MOVES[from] ?? [], `${label}: move ${from} -> ${toState}`).to.include(toState);
              } else if (prev) {
                // Only a partial refund changes a record without changing its state.
                expect(now2.rec.amount <= prev.rec.amount, `${label}: amount grew`).to.equal(true);
              }
              expect(book.get(id), `${label}: record rebuilt from events`).to.deep.equal(now2.rec);
              expect(await w.escrow.isCurrent(id, now2.rec), `${label}: model record is current`).to.equal(true);
            }
            model = next;

            // The escrow holds exactly what it owes, per asset.
            for (const [asset, token] of [
              ["usd", w.usdAddress],
              ["eth", ethers.ZeroAddress],
            ] as const) {
              let owed = 0n;
              for (const o of model.orders)
                if (o.rec.token === token && ESCROWED_STATES.has(o.rec.state)) owed += o.rec.amount;
              for (const [k, v] of model.credits) if (k.endsWith(`|${asset}`)) owed += v;
              expect(
                after.get(`${w.escrowAddress}|${asset}`),
                `${label}: escrow ${asset} == escrowed + credited`,
              ).to.equal(owed);
            }
            for (const [k, v] of model.credits) {
              const [account, asset] = k.split("|");
              const token = asset === "eth" ? ethers.ZeroAddress : w.usdAddress;
              expect(await w.escrow.credited(account, token), `${label}: credit of ${k}`).to.equal(v);
            }
            // Stock: supply is all held by the tracked parties; the escrow holds what open orders reserve.
            for (const sku of w.skus) {
              let held = 0n;
              for (const h of holders) held += after.get(`${h}|sku:${sku}`)!;
              expect(await w.inventory.totalSupply(sku), `${label}: supply of ${sku}`).to.equal(held);
              let reserved = 0n;
              for (const o of model.orders) {
                if (!OPEN_STATES.has(o.rec.state)) continue;
                for (const i of o.items) if (i.skuId === sku) reserved += i.quantity;
              }
              const heldFor = model.held.get(sku) ?? 0n;
              expect(after.get(`${w.escrowAddress}|sku:${sku}`), `${label}: reserved + held ${sku}`).to.equal(
                reserved + heldFor,
              );
              expect(await w.inventory.heldTotal(sku), `${label}: held ${sku}`).to.equal(heldFor);
              expect(await w.inventory.heldStock(w.addr.hostile, sku), `${label}: held for hostile ${sku}`).to.equal(
                heldFor,
              );
            }
          }
        },
      ),
      { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
    );

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const table = [...kinds].map(([k, [n, ok]]) => `${k} ${ok}/${n}`).join(", ");
    console.log(`      property: ${steps} actions, ${succeeded} succeeded, ${seconds}s; succeeded/tried: ${table}`);
  });
});
