import { expect } from "chai";
import { ethers, network } from "hardhat";
import fc from "fast-check";
import {
  AbiCoder,
  ErrorFragment,
  Interface,
  SigningKey,
  TypedDataEncoder,
  concat,
  getAddress,
  keccak256,
  toBeHex,
  toQuantity,
} from "ethers";
import type { BlocklistStablecoin, HostileReceiver } from "../../typechain-types";
import { deployEscrowFixture, type EscrowFixture } from "../helpers/fixtures";
import { OrderState, escrowDomain, hashItems, type OrderTerms } from "../../sdk/orderRecord";
import { termsTuple } from "../helpers/creation";
import {
  FORWARD_REQUEST_TYPES,
  PERMIT_TYPES,
  RECEIVE_WITH_AUTHORIZATION_TYPES,
} from "../../relayer/src/domain/typedData";

/*
 * Model-based campaign: random sequences of every escrow and inventory action, by random actors (merchants, their
 * operator, buyers, a stranger, a second merchant, the arbiter, the admin), directly, relayed by the ERC-2771
 * forwarder or grouped in batches, over native currency, a permit stablecoin and a blocklist stablecoin, with time
 * steps that land exactly on deadlines. A TypeScript model predicts for every call either success or its exact
 * revert data, and every balance, credit and status it moves; after each call the chain must agree with the model,
 * the escrow must hold exactly the money open orders escrow plus the credits it owes (per token), and exactly the
 * stock open orders reserve plus held stock (per SKU).
 *
 * PROPERTY_RUNS / PROPERTY_STEPS size one round of runs; PROPERTY_CALLS keeps running rounds until that many calls
 * were made; PROPERTY_MIN_SUCCESS makes the run fail if an action succeeded in fewer than that share of its
 * attempts. A failure is shrunk (PROPERTY_SHRINK=0 reports it unshrunk) and printed with its seed and path:
 * PROPERTY_SEED (with the same PROPERTY_RUNS / PROPERTY_STEPS) replays the round, PROPERTY_PATH the counterexample,
 * PROPERTY_DEBUG prints every call.
 *
 * Transactions pay no gas (base fee 0, gas price 0), so every native balance is exact; each block's time is set
 * explicitly, so deadlines are hit to the second. Reads after a call go through one eth_call (see READER).
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 16);
const STEPS = Number(process.env.PROPERTY_STEPS ?? 80);
const TARGET_CALLS = Number(process.env.PROPERTY_CALLS ?? 0);
const MIN_SUCCESS = process.env.PROPERTY_MIN_SUCCESS ? Number(process.env.PROPERTY_MIN_SUCCESS) : undefined;
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;
/** With PROPERTY_SEED, replays one counterexample (the `path` fast-check reports). */
const PATH = process.env.PROPERTY_PATH;
const DEBUG = process.env.PROPERTY_DEBUG !== undefined;
const PROGRESS_EVERY = 5_000;

const ZERO = ethers.ZeroAddress;
const MAX = ethers.MaxUint256;
const DAY = 86_400n;
const DISPUTE_PERIOD = 14n * DAY;
const MAX_FEE = 1_000n;
const TX_GAS = toQuantity(8_000_000n);
const FORWARD_GAS = 3_000_000n;
const MNEMONIC = "test test test test test test test test test test test junk";
const coder = AbiCoder.defaultAbiCoder();

/** The escrow's order states (the sdk's table). */
const S = OrderState;
const Party = { None: 0, Buyer: 1, Merchant: 2 } as const;
const OPEN = new Set<number>([S.Created, S.Paid, S.Shipped, S.Disputed]);
const ESCROWED = new Set<number>([S.Paid, S.Shipped, S.Disputed]);

// ------------------------------------------------------------------ world

const EOAS = [
  "admin",
  "operator",
  "arbiter",
  "pauser",
  "feeRecipient",
  "merchant",
  "merchantB",
  "buyer",
  "otherBuyer",
  "stranger",
  "relayer",
  "payout",
] as const;
type Eoa = (typeof EOAS)[number];
/** Who random actions are attempted by. */
const ACTORS: Eoa[] = ["merchant", "merchantB", "operator", "buyer", "otherBuyer", "stranger", "arbiter", "admin"];

/** An order's fixed terms, as the sdk types them. */
type Terms = OrderTerms;
interface Item {
  skuId: bigint;
  quantity: bigint;
}

interface World {
  f: EscrowFixture;
  busd: BlocklistStablecoin;
  hostile: HostileReceiver;
  a: Record<Eoa | "hostile" | "escrow" | "inventory" | "forwarder" | "usd" | "busd", string>;
  keys: Map<string, SigningKey>;
  domainSeparator: string;
  orderTypehash: string;
  forwarderDomain: ReturnType<typeof escrowDomain>;
  permitDomains: Map<string, { name: string; version: string; chainId: bigint; verifyingContract: string }>;
  /** Addresses with code. */
  contracts: Set<string>;
  roles: { admin: string; operator: string; pauser: string; arbiter: string };
  tokens: string[];
  holders: string[];
  initial: Model;
  snapshot: string;
  t0: bigint;
  errors: Interface;
  esc: Interface;
  inv: Interface;
  erc20: Interface;
  fwd: Interface;
  hostileIface: Interface;
}

let W: World;
const rpc = (method: string, params: unknown[] = []) => network.provider.request({ method, params });

// ------------------------------------------------------------------ model

/** A call the model says must revert, with the exact revert data. */
class Revert {
  constructor(readonly data: string) {}
}
const fail = (name: string, ...args: unknown[]): never => {
  throw new Revert(W.errors.encodeErrorResult(name, args));
};

interface Status {
  state: number;
  feeBps: bigint;
  deadline: bigint;
  refunded: bigint;
}
interface MOrder {
  id: string;
  terms: Terms;
  items: Item[];
  st: Status;
  /** The payer of an order open to any payer (written once, at payment). */
  payer: string;
  prop: { by: number; amount: bigint };
}

class Model {
  orders = new Map<string, MOrder>();
  /** `${holder}|${asset}`: asset is a token address (ZERO for native) or `sku:${id}`. */
  bal = new Map<string, bigint>();
  /** `${owner}|${token}` -> allowance for the escrow. */
  allowance = new Map<string, bigint>();
  permitNonce = new Map<string, bigint>();
  forwarderNonce = new Map<string, bigint>();
  /** `${account}|${token}` -> credited payouts. */
  credits = new Map<string, bigint>();
  blocked = new Set<string>();
  feeBps = 0n;
  feeRecipient = "";
  paused = false;
  allowed = new Set<string>();
  /** `${merchant}|${operator}` of the escrow's operator approvals and the inventory's ERC-1155 approvals. */
  opApproved = new Set<string>();
  stockApproved = new Set<string>();
  /** merchant -> registered payout address (absent: the merchant itself). */
  payouts = new Map<string, string>();
  /** `${payee}|${merchant}` of the payees' agreements to fund a merchant's returns. */
  returnFunding = new Set<string>();
  skus = new Map<string, bigint[]>();
  dirty = new Set<string>();
  dirtyCredits = new Set<string>();
  touched = new Set<string>();

  clone(): Model {
    const m = new Model();
    for (const [k, o] of this.orders) m.orders.set(k, { ...o, st: { ...o.st }, prop: { ...o.prop } });
    m.bal = new Map(this.bal);
    m.allowance = new Map(this.allowance);
    m.permitNonce = new Map(this.permitNonce);
    m.forwarderNonce = new Map(this.forwarderNonce);
    m.credits = new Map(this.credits);
    m.blocked = new Set(this.blocked);
    m.feeBps = this.feeBps;
    m.feeRecipient = this.feeRecipient;
    m.paused = this.paused;
    m.allowed = new Set(this.allowed);
    m.opApproved = new Set(this.opApproved);
    m.stockApproved = new Set(this.stockApproved);
    m.payouts = new Map(this.payouts);
    m.returnFunding = new Set(this.returnFunding);
    for (const [k, v] of this.skus) m.skus.set(k, [...v]);
    m.dirty = new Set(this.dirty);
    m.dirtyCredits = new Set(this.dirtyCredits);
    m.touched = new Set(this.touched);
    return m;
  }

  balance(holder: string, asset: string): bigint {
    return this.bal.get(`${holder}|${asset}`) ?? 0n;
  }
  setBalance(holder: string, asset: string, v: bigint) {
    this.bal.set(`${holder}|${asset}`, v);
    this.dirty.add(`${holder}|${asset}`);
  }
  move(from: string, to: string, asset: string, v: bigint) {
    this.setBalance(from, asset, this.balance(from, asset) - v);
    this.setBalance(to, asset, this.balance(to, asset) + v);
  }
  credit(account: string, token: string, v: bigint) {
    const k = `${account}|${token}`;
    this.credits.set(k, (this.credits.get(k) ?? 0n) + v);
    this.dirtyCredits.add(k);
  }
  state(id: string): number {
    return this.orders.get(id)?.st.state ?? S.None;
  }
  merchantSide(merchant: string, who: string): boolean {
    return who === merchant || this.opApproved.has(`${merchant}|${who}`);
  }
  stockSide(owner: string, who: string): boolean {
    return who === owner || this.stockApproved.has(`${owner}|${who}`);
  }
}

const skuAsset = (id: bigint) => `sku:${id}`;
const skuMerchant = (id: bigint) => getAddress(toBeHex(id >> 96n, 20));
const escrowedOf = (o: MOrder) => o.terms.amount - o.st.refunded;
/** The order's buyer: from the terms, or the payer of an order open to any payer (zero until paid). */
const buyerOf = (o: MOrder) => (o.terms.buyer !== ZERO ? o.terms.buyer : o.payer);
const MAX_AMOUNT = 2n ** 184n - 1n;
const NO_ITEMS = keccak256("0x");

function orderIdOf(t: Terms): string {
  const structHash = keccak256(
    coder.encode(
      [
        "bytes32",
        "address",
        "address",
        "address",
        "address",
        "uint256",
        "uint16",
        "uint64",
        "uint32",
        "uint32",
        "uint32",
        "bytes32",
        "bytes32",
      ],
      [W.orderTypehash, ...termsTuple(t)],
    ),
  );
  return structHash;
}
/** The EIP-712 digest a merchant (or operator) signs for a checkout offer with order id `id`. */
const offerDigest = (id: string) => keccak256(concat(["0x1901", W.domainSeparator, id]));

/** The escrow, inventory and tokens, as the model sees them. Each method throws {@link Revert} like the contract. */
const sim = {
  // ---- tokens
  /** `transferFrom(from, escrow, amount)` by the escrow. */
  pull(m: Model, token: string, from: string, amount: bigint) {
    const k = `${from}|${token}`;
    const allowance = m.allowance.get(k) ?? 0n;
    if (allowance !== MAX) {
      if (allowance < amount) fail("ERC20InsufficientAllowance", W.a.escrow, allowance, amount);
      m.allowance.set(k, allowance - amount);
    }
    if (token === W.a.busd) {
      if (m.blocked.has(from)) fail("AccountBlocked", from);
      if (m.blocked.has(W.a.escrow)) fail("AccountBlocked", W.a.escrow);
    }
    const b = m.balance(from, token);
    if (b < amount) fail("ERC20InsufficientBalance", from, b, amount);
    m.move(from, W.a.escrow, token, amount);
  },
  /** Whether the escrow can push `token` to `to` (a refused push is credited or fails a withdrawal). */
  canPush(m: Model, token: string, to: string): boolean {
    if (token === ZERO) return to !== W.a.hostile && to !== W.a.escrow && to !== W.a.inventory;
    if (token === W.a.busd) return !m.blocked.has(W.a.escrow) && !m.blocked.has(to);
    return true;
  },
  payout(m: Model, token: string, to: string, amount: bigint) {
    if (amount === 0n) return;
    if (sim.canPush(m, token, to)) m.move(W.a.escrow, to, token, amount);
    else {
      m.credit(to, token, amount);
    }
  },
  permit(m: Model, owner: string, token: string, amount: bigint, valid: boolean) {
    // The permit is tried (a low-level call) before the terms are checked; a token address without code accepts
    // the call and does nothing, and the checks that follow name the problem.
    if (!W.permitDomains.has(token) && !W.contracts.has(token)) return;
    if (!valid) return; // the escrow ignores a failing permit
    const k = `${owner}|${token}`;
    m.allowance.set(k, amount);
    m.permitNonce.set(k, (m.permitNonce.get(k) ?? 0n) + 1n);
  },
  /** The escrow's ERC-3009 pull: `receiveWithAuthorization` of exactly the amount, nonce = the order id. */
  receive(m: Model, t: Terms, id: string, payer: string, valid: boolean) {
    if (t.token === ZERO) fail("PermitForNativeOrder", id);
    if (t.token !== W.a.usd) fail("AuthorizationNotSupported", t.token); // the blocklist token has no ERC-3009
    // Without a key here the signature is empty (r = s = 0), which the token's ECDSA refuses outright.
    if (!valid) fail(W.keys.has(payer) ? "InvalidAuthorizationSignature" : "ECDSAInvalidSignature");
    const b = m.balance(payer, t.token);
    if (b < t.amount) fail("ERC20InsufficientBalance", payer, b, t.amount);
    m.move(payer, W.a.escrow, t.token, t.amount);
  },
  collect(m: Model, token: string, payer: string, amount: bigint, value: bigint) {
    if (token === ZERO) {
      if (value !== amount) fail("WrongNativeAmount", amount, value);
      return; // the value itself moves with the transaction
    }
    if (value !== 0n) fail("UnexpectedNativeValue", value);
    sim.pull(m, token, payer, amount);
  },

  // ---- stock
  reserve(m: Model, merchant: string, items: Item[]) {
    for (const i of items) if (skuMerchant(i.skuId) !== merchant) fail("NotSkuMerchant", i.skuId, merchant);
    for (const i of items) {
      const b = m.balance(merchant, skuAsset(i.skuId));
      if (b < i.quantity) fail("ERC1155InsufficientBalance", merchant, b, i.quantity, i.skuId);
      m.move(merchant, W.a.escrow, skuAsset(i.skuId), i.quantity);
    }
  },
  moveStock(m: Model, o: MOrder, given: Item[], to: string) {
    const h = hashItems(given);
    if (h !== o.terms.itemsHash) fail("LineItemsMismatch", o.terms.itemsHash, h);
    for (const i of given) {
      const b = m.balance(W.a.escrow, skuAsset(i.skuId));
      if (b < i.quantity) fail("ERC1155InsufficientBalance", W.a.escrow, b, i.quantity, i.skuId);
      m.move(W.a.escrow, to, skuAsset(i.skuId), i.quantity);
    }
  },

  // ---- escrow
  load(m: Model, t: Terms, expected?: number): MOrder {
    const id = orderIdOf(t);
    const o = m.orders.get(id);
    if (!o || o.st.state === S.None) fail("OrderNotFound", id);
    m.touched.add(id);
    if (expected !== undefined && o!.st.state !== expected) fail("InvalidState", id, o!.st.state);
    return o!;
  },
  checkMerchant(m: Model, merchant: string, caller: string) {
    if (!m.merchantSide(merchant, caller)) fail("NotMerchantOrOperator", merchant, caller);
  },
  /** What an operator (not the merchant) may put in terms it creates or signs. */
  checkOperatorTerms(m: Model, t: Terms, operator: string) {
    if (t.payee !== t.merchant && t.payee !== (m.payouts.get(t.merchant) ?? t.merchant)) {
      fail("PayeeNotAuthorized", t.merchant, t.payee, operator);
    }
    sim.checkItemAuthority(m, t, operator);
  },
  /** Moving the merchant's goods below their price (creating, partial refunds, merchant-side settlements) needs
   * the merchant's stock authority when an operator does it. */
  checkItemAuthority(m: Model, t: Terms, caller: string) {
    if (caller !== t.merchant && t.itemsHash !== NO_ITEMS && !m.stockApproved.has(`${t.merchant}|${caller}`)) {
      fail("NotStockOperator", t.merchant, caller);
    }
  },
  newOrder(m: Model, t: Terms, given: Item[], ts: bigint): { o: MOrder; fee: bigint } {
    if (t.merchant === ZERO || t.payee === ZERO) fail("ZeroAddress");
    if (t.payee === W.a.escrow || t.payee === W.a.inventory) fail("InvalidPayee", t.payee);
    if (t.amount === 0n) fail("ZeroAmount");
    if (t.amount > MAX_AMOUNT) fail("AmountTooLarge", t.amount, MAX_AMOUNT);
    if (t.paymentDeadline < ts || t.paymentDeadline >= 2n ** 40n) fail("InvalidDeadline", t.paymentDeadline, ts);
    if (!m.allowed.has(t.token)) fail("TokenNotAllowed", t.token);
    const fee = m.feeBps;
    if (fee > t.maxFeeBps) fail("FeeAboveSignedMax", fee, t.maxFeeBps);
    if (given.length > 64) fail("TooManyLineItems", given.length, 64);
    const h = hashItems(given);
    if (h !== t.itemsHash) fail("LineItemsMismatch", t.itemsHash, h);
    const id = orderIdOf(t);
    if (m.state(id) !== S.None) fail("OrderAlreadyExists", id);
    for (const i of given) if (i.quantity === 0n) fail("ZeroQuantity", i.skuId);
    if (given.length > 0) sim.reserve(m, t.merchant, given);
    const o: MOrder = {
      id,
      terms: t,
      items: given,
      st: { state: S.None, feeBps: fee, deadline: 0n, refunded: 0n },
      payer: ZERO,
      prop: { by: Party.None, amount: 0n },
    };
    m.orders.set(id, o);
    m.touched.add(id);
    return { o, fee };
  },
  createOrder(m: Model, c: string, ts: bigint, t: Terms, given: Item[]) {
    if (m.paused) fail("EnforcedPause");
    sim.checkMerchant(m, t.merchant, c);
    if (c !== t.merchant) sim.checkOperatorTerms(m, t, c);
    const { o, fee } = sim.newOrder(m, t, given, ts);
    o.st = { state: S.Created, feeBps: fee, deadline: t.paymentDeadline, refunded: 0n };
  },
  checkout(
    m: Model,
    c: string,
    ts: bigint,
    t: Terms,
    given: Item[],
    signer: string,
    value: bigint,
    permit: boolean | null,
    auth?: boolean,
  ) {
    if (m.paused) fail("EnforcedPause");
    if (permit !== null) {
      if (t.token === ZERO) fail("PermitForNativeOrder", orderIdOf(t));
      sim.permit(m, c, t.token, t.amount, permit);
    }
    const { o, fee } = sim.newOrder(m, t, given, ts);
    if (t.buyer !== ZERO && t.buyer !== c) fail("NotBuyer", o.id, c);
    if (signer !== t.merchant) {
      if (signer === ZERO || !m.opApproved.has(`${t.merchant}|${signer}`)) fail("InvalidOfferSignature", o.id, signer);
      sim.checkOperatorTerms(m, t, signer);
    }
    o.st = { state: S.Paid, feeBps: fee, deadline: ts + t.shipWithin, refunded: 0n };
    if (t.buyer === ZERO) o.payer = c;
    if (auth !== undefined) sim.receive(m, t, o.id, c, auth);
    else sim.collect(m, t.token, c, t.amount, value);
  },
  /** `pay` and `payWithPermit` by `c`; with `auth`, `payWithAuthorization` paid by `c` (the signer). */
  pay(m: Model, c: string, ts: bigint, t: Terms, value: bigint, permit: boolean | null, auth?: boolean) {
    if (m.paused) fail("EnforcedPause");
    if (permit !== null) {
      if (t.token === ZERO) fail("PermitForNativeOrder", orderIdOf(t));
      sim.permit(m, c, t.token, t.amount, permit);
    }
    const o = sim.load(m, t, S.Created);
    if (ts > o.st.deadline) fail("PaymentDeadlinePassed", o.id, o.st.deadline, ts);
    if (t.buyer === ZERO) o.payer = c;
    else if (t.buyer !== c) fail("NotBuyer", o.id, c);
    o.st.state = S.Paid;
    o.st.deadline = ts + t.shipWithin;
    if (auth !== undefined) sim.receive(m, t, o.id, c, auth);
    else sim.collect(m, t.token, c, t.amount, value);
  },
  ship(m: Model, c: string, ts: bigint, t: Terms) {
    sim.checkMerchant(m, t.merchant, c);
    const o = sim.load(m, t, S.Paid);
    if (ts > o.st.deadline) fail("ShipByPassed", o.id, o.st.deadline, ts);
    o.st.state = S.Shipped;
    o.st.deadline = ts + t.protectionPeriod;
  },
  complete(m: Model, o: MOrder, ts: bigint, given: Item[]) {
    const escrowed = escrowedOf(o);
    const fee = (escrowed * o.st.feeBps) / 10_000n;
    o.st.state = S.Completed;
    o.st.deadline = ts + o.terms.refundWindow;
    sim.moveStock(m, o, given, buyerOf(o));
    sim.payout(m, o.terms.token, o.terms.payee, escrowed - fee);
    sim.payout(m, o.terms.token, m.feeRecipient, fee);
  },
  confirmReceipt(m: Model, c: string, ts: bigint, t: Terms, given: Item[]) {
    const o = sim.load(m, t, S.Shipped);
    if (c !== buyerOf(o)) fail("NotBuyer", o.id, c);
    sim.complete(m, o, ts, given);
  },
  autoRelease(m: Model, _c: string, ts: bigint, t: Terms, given: Item[]) {
    const o = sim.load(m, t, S.Shipped);
    if (ts <= o.st.deadline) fail("ProtectionPeriodActive", o.id, o.st.deadline, ts);
    sim.complete(m, o, ts, given);
  },
  cancel(m: Model, c: string, ts: bigint, t: Terms, given: Item[]) {
    const o = sim.load(m, t, S.Created);
    if (ts <= o.st.deadline && !m.merchantSide(t.merchant, c)) {
      fail("PaymentDeadlineNotPassed", o.id, o.st.deadline, ts);
    }
    o.st.state = S.Cancelled;
    sim.moveStock(m, o, given, t.merchant);
  },
  cancelUnshipped(m: Model, c: string, ts: bigint, t: Terms, given: Item[]) {
    const o = sim.load(m, t, S.Paid);
    if (c !== buyerOf(o)) fail("NotBuyer", o.id, c);
    if (ts <= o.st.deadline) fail("ShipByNotPassed", o.id, o.st.deadline, ts);
    const escrowed = escrowedOf(o);
    o.st.state = S.Refunded;
    sim.moveStock(m, o, given, t.merchant);
    sim.payout(m, t.token, buyerOf(o), escrowed);
  },
  refund(m: Model, c: string, _ts: bigint, t: Terms, amount: bigint, given: Item[]) {
    sim.checkMerchant(m, t.merchant, c);
    const o = sim.load(m, t);
    if (!ESCROWED.has(o.st.state)) fail("InvalidState", o.id, o.st.state);
    if (amount === 0n) fail("ZeroAmount");
    const escrowed = escrowedOf(o);
    if (amount > escrowed) fail("RefundExceedsEscrow", o.id, amount, escrowed);
    const remaining = escrowed - amount;
    if (remaining === 0n) {
      // A full refund ends a dispute too, with any pending proposal.
      if (o.st.state === S.Disputed) o.prop = { by: Party.None, amount: 0n };
      o.st.state = S.Refunded;
      sim.moveStock(m, o, given, t.merchant);
    } else {
      sim.checkItemAuthority(m, t, c);
      o.st.refunded = t.amount - remaining;
    }
    sim.payout(m, t.token, buyerOf(o), amount);
  },
  /** `refundCompleted` (`permit` null) or `refundCompletedWithPermit`: a return funded by the payee. */
  refundCompleted(m: Model, c: string, ts: bigint, t: Terms, amount: bigint, value: bigint, permit: boolean | null) {
    // Only the merchant itself or a payee that agreed funds a return; checked first, before anything is used.
    if (t.payee !== t.merchant && !m.returnFunding.has(`${t.payee}|${t.merchant}`)) {
      fail("ReturnFundingNotAllowed", t.payee, t.merchant);
    }
    sim.checkMerchant(m, t.merchant, c);
    const o = sim.load(m, t, S.Completed);
    if (ts > o.st.deadline) fail("RefundWindowClosed", o.id, o.st.deadline, ts);
    if (amount === 0n) fail("ZeroAmount");
    const refundable = escrowedOf(o);
    if (amount > refundable) fail("RefundExceedsPaid", o.id, amount, refundable);
    o.st.refunded += amount;
    if (o.st.refunded === t.amount) o.st.state = S.Refunded;
    // The permit is used only once the return is checked and booked.
    if (permit !== null) {
      if (t.token === ZERO) fail("PermitForNativeOrder", o.id);
      sim.permit(m, t.payee, t.token, amount, permit);
    }
    sim.collect(m, t.token, t.payee, amount, value);
    sim.payout(m, t.token, buyerOf(o), amount);
  },
  dispute(m: Model, c: string, ts: bigint, t: Terms) {
    const o = sim.load(m, t);
    if (c !== buyerOf(o)) fail("NotBuyer", o.id, c);
    if (o.st.state === S.Shipped) {
      if (ts > o.st.deadline) fail("ProtectionPeriodOver", o.id, o.st.deadline, ts);
    } else if (o.st.state !== S.Paid) fail("InvalidState", o.id, o.st.state);
    o.st.state = S.Disputed;
    o.st.deadline = ts + DISPUTE_PERIOD;
  },
  propose(m: Model, c: string, _ts: bigint, t: Terms, amount: bigint) {
    const o = sim.load(m, t, S.Disputed);
    let by: number = Party.None;
    if (c === buyerOf(o)) by = Party.Buyer;
    else if (m.merchantSide(t.merchant, c)) {
      sim.checkItemAuthority(m, t, c);
      by = Party.Merchant;
    } else fail("NotCounterparty", o.id, c);
    if (amount > t.amount) fail("SplitExceedsAmount", o.id, amount, t.amount);
    o.prop = { by, amount };
  },
  /** Ends a dispute: the buyer's share of the whole order is `buyerTotal` (partial refunds count towards it). */
  split(m: Model, o: MOrder, buyerTotal: bigint, given: Item[]) {
    if (buyerTotal > o.terms.amount) fail("SplitExceedsAmount", o.id, buyerTotal, o.terms.amount);
    const buyerAmount = buyerTotal > o.st.refunded ? buyerTotal - o.st.refunded : 0n;
    const share = o.terms.amount - o.st.refunded - buyerAmount;
    const fee = (share * o.st.feeBps) / 10_000n;
    o.st.state = S.Resolved;
    sim.moveStock(m, o, given, share === 0n ? o.terms.merchant : buyerOf(o));
    sim.payout(m, o.terms.token, buyerOf(o), buyerAmount);
    sim.payout(m, o.terms.token, o.terms.payee, share - fee);
    sim.payout(m, o.terms.token, m.feeRecipient, fee);
  },
  accept(m: Model, c: string, _ts: bigint, t: Terms, amount: bigint, given: Item[]) {
    const o = sim.load(m, t, S.Disputed);
    const p = o.prop;
    const counterparty =
      p.by === Party.Buyer ? m.merchantSide(t.merchant, c) : p.by === Party.Merchant && c === buyerOf(o);
    if (!counterparty) fail("NotCounterparty", o.id, c);
    if (p.by === Party.Buyer) sim.checkItemAuthority(m, t, c);
    if (p.amount !== amount) fail("ProposalMismatch", o.id, p.amount, amount);
    o.prop = { by: Party.None, amount: 0n };
    sim.split(m, o, amount, given);
  },
  resolve(m: Model, c: string, _ts: bigint, t: Terms, amount: bigint, given: Item[]) {
    if (c !== W.a.arbiter) fail("NotArbiter", c);
    const o = sim.load(m, t, S.Disputed);
    o.prop = { by: Party.None, amount: 0n };
    sim.split(m, o, amount, given);
  },
  settleExpired(m: Model, _c: string, ts: bigint, t: Terms, given: Item[]) {
    const o = sim.load(m, t, S.Disputed);
    if (ts <= o.st.deadline) fail("DisputePeriodActive", o.id, o.st.deadline, ts);
    o.prop = { by: Party.None, amount: 0n };
    sim.split(m, o, t.amount, given);
  },
  revokeOffer(m: Model, c: string, _ts: bigint, t: Terms, items: Item[]) {
    sim.checkMerchant(m, t.merchant, c);
    const id = orderIdOf(t);
    if (m.state(id) !== S.None) fail("OrderAlreadyExists", id);
    m.orders.set(id, {
      id,
      terms: t,
      items,
      st: { state: S.Revoked, feeBps: 0n, deadline: 0n, refunded: 0n },
      payer: ZERO,
      prop: { by: Party.None, amount: 0n },
    });
    m.touched.add(id);
  },
  withdraw(m: Model, c: string, token: string, to: string) {
    if (to === ZERO) fail("ZeroAddress");
    if (token !== ZERO && to !== c) fail("CreditNotTransferable", c, to);
    const k = `${c}|${token}`;
    const amount = m.credits.get(k) ?? 0n;
    if (amount === 0n) fail("NothingToWithdraw", c, token);
    m.credits.set(k, 0n);
    m.dirtyCredits.add(k);
    if (!sim.canPush(m, token, to)) fail("WithdrawFailed", c, token, amount);
    m.move(W.a.escrow, to, token, amount);
  },
  setPayoutAddress(m: Model, c: string, payout: string) {
    if (payout === W.a.escrow || payout === W.a.inventory) fail("InvalidPayee", payout);
    if (payout === ZERO) m.payouts.delete(c);
    else m.payouts.set(c, payout);
  },
  setReturnFunding(m: Model, c: string, merchant: string, allowed: boolean) {
    if (allowed) m.returnFunding.add(`${c}|${merchant}`);
    else m.returnFunding.delete(`${c}|${merchant}`);
  },
  setOperatorApproval(m: Model, c: string, op: string, approved: boolean) {
    if (op === ZERO) fail("ZeroAddress");
    if (approved) m.opApproved.add(`${c}|${op}`);
    else m.opApproved.delete(`${c}|${op}`);
  },
  onlyRole(c: string, holder: string, role: string) {
    if (c !== holder) fail("AccessControlUnauthorizedAccount", c, role);
  },
  setFeeBps(m: Model, c: string, fee: bigint) {
    sim.onlyRole(c, W.a.admin, W.roles.admin);
    if (fee > MAX_FEE) fail("FeeTooHigh", fee, MAX_FEE);
    m.feeBps = fee;
  },
  setTokenAllowed(m: Model, c: string, token: string, allowed: boolean) {
    sim.onlyRole(c, W.a.admin, W.roles.admin);
    if (allowed && token !== ZERO && !W.contracts.has(token)) fail("TokenNotAllowed", token);
    if (allowed) m.allowed.add(token);
    else m.allowed.delete(token);
  },
  setFeeRecipient(m: Model, c: string, r: string) {
    sim.onlyRole(c, W.a.admin, W.roles.admin);
    if (r === ZERO) fail("ZeroAddress");
    m.feeRecipient = r;
  },
  pause(m: Model, c: string, on: boolean) {
    sim.onlyRole(c, W.a.pauser, W.roles.pauser);
    if (on && m.paused) fail("EnforcedPause");
    if (!on && !m.paused) fail("ExpectedPause");
    m.paused = on;
  },

  // ---- inventory
  checkStockSide(m: Model, owner: string, c: string) {
    if (!m.stockSide(owner, c)) fail("NotMerchantOrOperator", owner, c);
  },
  createSku(m: Model, c: string, merchant: string, uri: string) {
    if (merchant === ZERO) fail("ZeroAddress");
    sim.checkStockSide(m, merchant, c);
    if (uri.length === 0) fail("EmptyUri");
    const list = m.skus.get(merchant) ?? [];
    list.push((BigInt(merchant) << 96n) | BigInt(list.length + 1));
    m.skus.set(merchant, list);
  },
  skuExists(m: Model, id: bigint): string | null {
    const merchant = skuMerchant(id);
    return (m.skus.get(merchant) ?? []).includes(id) ? merchant : null;
  },
  commonMerchant(m: Model, ids: bigint[], amounts: bigint[]): string {
    if (ids.length !== amounts.length || ids.length === 0) fail("LengthMismatch", ids.length, amounts.length);
    const merchant = sim.skuExists(m, ids[0]) ?? fail("SkuNotFound", ids[0]);
    for (const id of ids.slice(1)) {
      const other = sim.skuExists(m, id) ?? fail("SkuNotFound", id);
      if (other !== merchant) fail("NotSkuMerchant", id, merchant);
    }
    return merchant;
  },
  mintStock(m: Model, c: string, ids: bigint[], amounts: bigint[]) {
    const merchant = sim.commonMerchant(m, ids, amounts);
    sim.checkStockSide(m, merchant, c);
    ids.forEach((id, i) => m.setBalance(merchant, skuAsset(id), m.balance(merchant, skuAsset(id)) + amounts[i]));
  },
  burnStock(m: Model, c: string, ids: bigint[], amounts: bigint[]) {
    const merchant = sim.commonMerchant(m, ids, amounts);
    sim.checkStockSide(m, merchant, c);
    ids.forEach((id, i) => {
      const b = m.balance(merchant, skuAsset(id));
      if (b < amounts[i]) fail("ERC1155InsufficientBalance", merchant, b, amounts[i], id);
      m.setBalance(merchant, skuAsset(id), b - amounts[i]);
    });
  },
  transferStock(m: Model, c: string, from: string, to: string, id: bigint, amount: bigint) {
    if (from !== c && !m.stockApproved.has(`${from}|${c}`)) fail("ERC1155MissingApprovalForAll", c, from);
    if (to === ZERO) fail("ERC1155InvalidReceiver", ZERO);
    const b = m.balance(from, skuAsset(id));
    if (b < amount) fail("ERC1155InsufficientBalance", from, b, amount, id);
    // Neither the escrow nor the hostile contract implements the ERC-1155 receiver hook.
    if (to === W.a.escrow || to === W.a.hostile) fail("ERC1155InvalidReceiver", to);
    m.move(from, to, skuAsset(id), amount);
  },
  setApprovalForAll(m: Model, c: string, op: string, approved: boolean) {
    if (op === ZERO) fail("ERC1155InvalidOperator", ZERO);
    if (approved) m.stockApproved.add(`${c}|${op}`);
    else m.stockApproved.delete(`${c}|${op}`);
  },
};

// ------------------------------------------------------------------ actions

const KINDS = {
  create: 9,
  checkout: 5,
  checkoutWithPermit: 3,
  pay: 6,
  payWithPermit: 3,
  payWithAuthorization: 4,
  checkoutWithAuthorization: 4,
  ship: 6,
  confirmReceipt: 4,
  autoRelease: 3,
  cancel: 3,
  cancelUnshipped: 2,
  refund: 5,
  refundCompleted: 4,
  setPayoutAddress: 1,
  setReturnFunding: 1,
  dispute: 4,
  proposeSettlement: 3,
  acceptSettlement: 3,
  resolveDispute: 2,
  settleExpiredDispute: 2,
  revokeOffer: 2,
  withdraw: 3,
  createSku: 1,
  mintStock: 2,
  burnStock: 1,
  transferStock: 2,
  stockApproval: 1,
  operatorApproval: 1,
  setFeeBps: 1,
  setTokenAllowed: 1,
  pauseToggle: 1,
  setFeeRecipient: 1,
  block: 2,
  approve: 1,
  batch: 3,
  time: 9,
} as const;
type Kind = keyof typeof KINDS;
const SUB_KINDS = [
  "create",
  "revokeOffer",
  "ship",
  "refund",
  "refundCompleted",
  "cancel",
  "proposeSettlement",
  "acceptSettlement",
] as const;

interface RawBase {
  a: number;
  o: number;
  x: number;
  y: number;
  v: number;
  r: number;
}
interface Raw extends RawBase {
  k: Kind;
  sub?: (RawBase & { k: Kind })[];
}

const nat = fc.nat({ max: 1_000_000 });
const base = { a: nat, o: nat, x: nat, y: nat, v: nat, r: fc.nat({ max: 9 }) };
const rawArb: fc.Arbitrary<Raw> = fc.oneof(
  ...(Object.entries(KINDS) as [Kind, number][]).map(([k, weight]) => ({
    weight,
    arbitrary:
      k === "batch"
        ? fc.record({
            ...base,
            k: fc.constant(k),
            sub: fc.array(fc.record({ ...base, k: fc.constantFrom<Kind>(...SUB_KINDS) }), {
              minLength: 1,
              maxLength: 4,
            }),
          })
        : fc.record({ ...base, k: fc.constant(k) }),
  })),
);

/** One call as sent, and what the model says it does. */
interface Call {
  label: string;
  /** The sender as the contracts see it (`_msgSender()`). */
  caller: string;
  target: string;
  data: string;
  value: bigint;
  via: "direct" | "forwarder" | "hostile" | "issuer";
  /** Applies the call to a model; throws Revert when the contract must revert. Returns expected batch failures. */
  run: (m: Model, ts: bigint) => [number, string][] | void;
}

/** Terms the run has seen (created, revoked, or only signed), by id. */
type Registry = Map<string, { terms: Terms; items: Item[] }>;

interface RunCtx {
  m: Model;
  clock: bigint;
  registry: Registry;
  counter: { salt: number };
}

const pick = <T>(arr: readonly T[], n: number): T => arr[n % arr.length];
const pct = (n: number, p: number) => n % 100 < p;

function actor(raw: RawBase, candidates: string[], pref = 85): string {
  const preferred = candidates.filter((x) => x !== ZERO);
  if (preferred.length > 0 && pct(raw.a, pref)) return pick(preferred, Math.floor(raw.a / 100));
  return W.a[pick(ACTORS, Math.floor(raw.a / 7))];
}
function merchantActors(m: Model, merchant: string): string[] {
  return [merchant, W.a.operator, W.a.stranger].filter((x) => m.merchantSide(merchant, x));
}
function stockActors(m: Model, owner: string): string[] {
  return [owner, W.a.operator, W.a.stranger].filter((x) => m.stockSide(owner, x));
}
function pickOrder(ctx: RunCtx, raw: RawBase, pred: (o: MOrder) => boolean, pref = 90): MOrder | null {
  const all = [...ctx.m.orders.values()].filter((o) => o.st.state !== S.None);
  const cands = all.filter(pred);
  if (cands.length > 0 && pct(raw.o, pref)) return pick(cands, Math.floor(raw.o / 100));
  return all.length > 0 ? pick(all, raw.o) : null;
}
/** Wrong items for a settlement call, sometimes (LineItemsMismatch). */
function itemsFor(o: MOrder, raw: RawBase): Item[] {
  if (raw.v % 25 !== 24) return o.items;
  if (o.items.length === 0) return [{ skuId: pick(W.initial.skus.get(o.terms.merchant)!, 0), quantity: 1n }];
  return [{ ...o.items[0], quantity: o.items[0].quantity + 1n }, ...o.items.slice(1)];
}

/** Fresh terms of `merchant`; `given` are the items passed to the call (they differ from the committed ones in the
 * mismatch variant). */
function freshTerms(
  ctx: RunCtx,
  merchant: string,
  raw: RawBase,
  invalid: boolean,
): { terms: Terms; items: Item[]; given: Item[] } {
  const m = ctx.m;
  const skus = m.skus.get(merchant)!;
  const items: Item[] = [];
  for (let i = 0; i < raw.y % 3; i++) {
    items.push({ skuId: pick(skus, raw.x >> (3 * i)), quantity: 1n + BigInt((raw.y >> (2 + 2 * i)) % 3) });
  }
  const variant = invalid ? (raw.v >> 5) % 24 : 0;
  let given = items;
  const token = pick([ZERO, W.a.usd, W.a.busd], raw.x);
  const units = BigInt(1 + (raw.x % 997));
  const t: Terms = {
    merchant,
    payee: pick([merchant, merchant, merchant, merchant, merchant, W.a.payout, W.a.payout, W.a.hostile], raw.o >> 3),
    buyer: pick(
      [W.a.buyer, W.a.otherBuyer, ZERO, ZERO, merchant === W.a.merchant ? W.a.merchantB : W.a.operator],
      raw.o >> 6,
    ),
    token,
    amount: token === ZERO ? units * 10n ** 12n : units * 10_000n + BigInt(raw.y % 7),
    maxFeeBps: MAX_FEE,
    paymentDeadline: ctx.clock + pick([1n, 600n, 3_600n, DAY, 2n * DAY], raw.y >> 1),
    shipWithin: pick([0n, 600n, DAY, DAY, 2n * DAY], raw.y >> 4),
    protectionPeriod: pick([1n, 600n, DAY, 3n * DAY], raw.y >> 7),
    refundWindow: pick([0n, DAY, 30n * DAY, 30n * DAY], raw.y >> 9),
    itemsHash: "",
    salt: keccak256(toBeHex(++ctx.counter.salt, 32)),
  };
  switch (variant) {
    case 17:
      given = [{ skuId: items[0]?.skuId ?? skus[0], quantity: 0n }, ...items.slice(1)];
      break;
    case 18: {
      const other = m.skus.get(merchant === W.a.merchant ? W.a.merchantB : W.a.merchant)!;
      given = [...items, { skuId: other[0], quantity: 1n }];
      break;
    }
    case 19:
      given = [...items, { skuId: skus[0], quantity: 1n }];
      t.itemsHash = hashItems(items);
      break;
    case 20:
      given = [{ skuId: skus[0], quantity: 10_000n }];
      break;
    case 21:
      // payable up to and including the deadline second: the deadline may be the creation time, not before
      t.paymentDeadline = ctx.clock - BigInt(raw.y % 2);
      break;
    case 22:
      t.maxFeeBps = m.feeBps > 0n ? m.feeBps - 1n : 0n;
      break;
    case 23: {
      const sub = raw.y % 4;
      if (sub === 0) t.token = W.a.stranger; // not a token: TokenNotAllowed
      if (sub === 1) t.amount = 0n;
      if (sub === 2) t.amount = MAX_AMOUNT + 1n;
      if (sub === 3) t.payee = pick([W.a.escrow, W.a.inventory], raw.y >> 2);
      break;
    }
  }
  if (t.itemsHash === "") t.itemsHash = hashItems(given);
  return { terms: t, items: variant === 19 ? items : given, given };
}

function signDigest(signer: string, digest: string): string {
  return W.keys.get(signer)!.sign(digest).serialized;
}

/**
 * `payer`'s ERC-3009 authorization for order `id` (the nonce: its digest in the escrow's domain). An invalid one is signed for another nonce, or is no
 * signature at all when the payer has no key here.
 */
function authorizationFor(ctx: RunCtx, payer: string, t: Terms, id: string, valid: boolean) {
  const validBefore = ctx.clock + 3_600n;
  if (!W.keys.has(payer))
    return { from: payer, validAfter: 0n, validBefore, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash };
  const domain = W.permitDomains.get(t.token) ?? W.permitDomains.get(W.a.usd)!;
  const digest = TypedDataEncoder.hash(domain, RECEIVE_WITH_AUTHORIZATION_TYPES, {
    from: payer,
    to: W.a.escrow,
    value: t.amount,
    validAfter: 0n,
    validBefore,
    nonce: valid ? offerDigest(id) : ethers.id(`not ${id}`),
  });
  const sig = W.keys.get(payer)!.sign(digest);
  return { from: payer, validAfter: 0n, validBefore, v: sig.v, r: sig.r, s: sig.s };
}

function permitFor(ctx: RunCtx, owner: string, token: string, amount: bigint, valid: boolean) {
  const deadline = ctx.clock + 3_600n;
  if (!valid || !W.permitDomains.has(token))
    return { permit: { deadline, v: 27, r: ethers.ZeroHash, s: ethers.ZeroHash } };
  const digest = TypedDataEncoder.hash(W.permitDomains.get(token)!, PERMIT_TYPES, {
    owner,
    spender: W.a.escrow,
    value: amount,
    nonce: ctx.m.permitNonce.get(`${owner}|${token}`) ?? 0n,
    deadline,
  });
  const sig = W.keys.get(owner)!.sign(digest);
  return { permit: { deadline, v: sig.v, r: sig.r, s: sig.s } };
}

/** Builds the call `raw` stands for in the current state (orders picked mostly in the state the action needs). */
function build(ctx: RunCtx, raw: Raw, forced?: string): Call {
  const m = ctx.m;
  const esc = W.esc;
  const relay = forced === undefined && raw.r === 0;
  const via = relay ? "forwarder" : "direct";
  const call = (
    label: string,
    caller: string,
    data: string,
    run: Call["run"],
    value = 0n,
    target = W.a.escrow,
  ): Call => ({
    label,
    caller,
    target,
    data,
    value,
    via,
    run,
  });
  const who = (preferred: string[], p = 85) => forced ?? actor(raw, preferred, p);
  const merchantOf = () => (raw.o % 4 === 3 ? W.a.merchantB : W.a.merchant);
  const fallbackTerms = () => freshTerms(ctx, merchantOf(), raw, false);
  const buyers = [W.a.buyer, W.a.otherBuyer, W.a.buyer, W.a.otherBuyer, W.a.merchantB, W.a.operator];
  const now = ctx.clock;
  let kind = raw.k;

  // While paused, some creation attempts are the pauser lifting the pause instead (so pauses stay short).
  if (
    m.paused &&
    [
      "create",
      "checkout",
      "checkoutWithPermit",
      "checkoutWithAuthorization",
      "pay",
      "payWithPermit",
      "payWithAuthorization",
    ].includes(kind) &&
    raw.v % 3 === 0
  )
    kind = "pauseToggle";

  switch (kind) {
    case "create": {
      const reused = raw.v % 40 === 39 && ctx.registry.size > 0 ? pick([...ctx.registry.values()], raw.x) : null;
      const {
        terms: t,
        items,
        given,
      } = reused ? { ...reused, given: reused.items } : freshTerms(ctx, merchantOf(), raw, true);
      ctx.registry.set(orderIdOf(t), { terms: t, items });
      const c = who(merchantActors(m, t.merchant));
      return call("createOrder", c, esc.encodeFunctionData("createOrder", [t, given]), (mm, ts) =>
        sim.createOrder(mm, c, ts, t, given),
      );
    }
    case "checkout":
    case "checkoutWithPermit": {
      const permit = kind === "checkoutWithPermit";
      const unused = [...ctx.registry.entries()].filter(([id]) => {
        const st = m.state(id);
        return st === S.None || st === S.Revoked;
      });
      const reuse = raw.v % 10 === 9 && unused.length > 0;
      const chosen = reuse ? pick(unused, raw.x)[1] : null;
      const fresh = chosen ? null : freshTerms(ctx, merchantOf(), raw, raw.v % 4 === 0);
      if (fresh && permit && fresh.terms.token === ZERO && raw.y % 10 !== 0) {
        // permit checkouts are for ERC-20 offers (a native one is tried now and then)
        fresh.terms.token = pick([W.a.usd, W.a.busd], raw.x);
        fresh.terms.amount = BigInt(1 + (raw.x % 997)) * 10_000n;
      }
      const t = chosen?.terms ?? fresh!.terms;
      const items = chosen?.items ?? fresh!.items;
      const given = chosen?.items ?? fresh!.given;
      const id = orderIdOf(t);
      ctx.registry.set(id, { terms: t, items });
      const c = who(t.buyer !== ZERO ? [t.buyer] : buyers);
      const sel = (raw.v >> 4) % 20;
      const signer = sel < 16 ? t.merchant : sel < 18 ? W.a.operator : sel < 19 ? W.a.stranger : ZERO;
      const signature = signer === ZERO ? "0x" + "00".repeat(65) : signDigest(signer, offerDigest(id));
      const wrongValue = (raw.v >> 9) % 25 === 0;
      if (permit) {
        const valid = (raw.v >> 6) % 10 !== 0;
        const { permit: p } = permitFor(ctx, c, t.token, t.amount, valid && W.keys.has(c));
        const data = esc.encodeFunctionData("checkoutWithPermit", [t, given, signature, p]);
        return call("checkoutWithPermit", c, data, (mm, ts) =>
          sim.checkout(mm, c, ts, t, given, signer, 0n, valid && W.keys.has(c)),
        );
      }
      const wanted = t.token === ZERO ? t.amount + (wrongValue ? 1n : 0n) : wrongValue ? 1n : 0n;
      const value = wanted > 10n ** 21n ? 0n : wanted; // more than anyone holds: such terms fail before payment
      const data = esc.encodeFunctionData("checkout", [t, given, signature]);
      return call(
        "checkout",
        c,
        data,
        (mm, ts) => sim.checkout(mm, c, ts, t, given, signer, value, null),
        forced === undefined ? value : 0n,
      );
    }
    case "pay":
    case "payWithPermit": {
      const permit = kind === "payWithPermit";
      const o = pickOrder(
        ctx,
        raw,
        (x) => x.st.state === S.Created && x.st.deadline >= now && (!permit || x.terms.token !== ZERO),
      );
      const t = o?.terms ?? fallbackTerms().terms;
      const c = who(t.buyer !== ZERO ? [t.buyer] : buyers);
      if (permit) {
        const valid = (raw.v >> 6) % 10 !== 0 && W.keys.has(c);
        const { permit: p } = permitFor(ctx, c, t.token, t.amount, valid);
        return call("payWithPermit", c, esc.encodeFunctionData("payWithPermit", [t, p]), (mm, ts) =>
          sim.pay(mm, c, ts, t, 0n, valid),
        );
      }
      const wrongValue = raw.v % 25 === 0;
      const wanted = t.token === ZERO ? t.amount + (wrongValue ? 1n : 0n) : wrongValue ? 1n : 0n;
      const value = wanted > 10n ** 21n ? 0n : wanted; // more than anyone holds: such terms fail before payment
      return call(
        "pay",
        c,
        esc.encodeFunctionData("pay", [t]),
        (mm, ts) => sim.pay(mm, c, ts, t, forced === undefined ? value : 0n, null),
        forced === undefined ? value : 0n,
      );
    }
    case "payWithAuthorization": {
      // Mostly orders in the one token with ERC-3009; the others are tried now and then.
      const o = pickOrder(
        ctx,
        raw,
        (x) => x.st.state === S.Created && x.st.deadline >= now && (x.terms.token === W.a.usd || raw.y % 10 === 0),
      );
      const t = o?.terms ?? fallbackTerms().terms;
      const payer = forced ?? (t.buyer !== ZERO && raw.y % 8 !== 0 ? t.buyer : pick(buyers, raw.y));
      const valid = (raw.v >> 6) % 10 !== 0 && W.keys.has(payer);
      const auth = authorizationFor(ctx, payer, t, orderIdOf(t), valid);
      // Anyone may send it: mostly the relayer.
      const c = who([W.a.operator, W.a.relayer, W.a.stranger], 60);
      return call("payWithAuthorization", c, esc.encodeFunctionData("payWithAuthorization", [t, auth]), (mm, ts) =>
        sim.pay(mm, payer, ts, t, 0n, null, valid),
      );
    }
    case "checkoutWithAuthorization": {
      const fresh = freshTerms(ctx, merchantOf(), raw, raw.v % 4 === 0);
      if (fresh.terms.token !== W.a.usd && raw.y % 10 !== 0) {
        // authorizations are for the ERC-3009 token (another token is tried now and then)
        fresh.terms.token = W.a.usd;
        fresh.terms.amount = BigInt(1 + (raw.x % 997)) * 10_000n;
      }
      const { terms: t, items, given } = fresh;
      const id = orderIdOf(t);
      ctx.registry.set(id, { terms: t, items });
      const payer = forced ?? (t.buyer !== ZERO && raw.y % 8 !== 0 ? t.buyer : pick(buyers, raw.y));
      const sel = (raw.v >> 4) % 20;
      const signer = sel < 16 ? t.merchant : sel < 18 ? W.a.operator : sel < 19 ? W.a.stranger : ZERO;
      const signature = signer === ZERO ? "0x" + "00".repeat(65) : signDigest(signer, offerDigest(id));
      const valid = (raw.v >> 6) % 10 !== 0 && W.keys.has(payer);
      const auth = authorizationFor(ctx, payer, t, id, valid);
      const c = who([W.a.operator, W.a.relayer, W.a.stranger], 60);
      const data = esc.encodeFunctionData("checkoutWithAuthorization", [t, given, signature, auth]);
      return call("checkoutWithAuthorization", c, data, (mm, ts) =>
        sim.checkout(mm, payer, ts, t, given, signer, 0n, null, valid),
      );
    }
    case "ship": {
      const o = pickOrder(ctx, raw, (x) => x.st.state === S.Paid && x.st.deadline >= now);
      const t = o?.terms ?? fallbackTerms().terms;
      const c = who(merchantActors(m, t.merchant));
      return call("ship", c, esc.encodeFunctionData("ship", [t, ethers.id(`track-${raw.x}`)]), (mm, ts) =>
        sim.ship(mm, c, ts, t),
      );
    }
    case "confirmReceipt":
    case "autoRelease":
    case "cancel":
    case "cancelUnshipped":
    case "settleExpiredDispute": {
      const preds: Record<string, (x: MOrder) => boolean> = {
        confirmReceipt: (x) => x.st.state === S.Shipped,
        autoRelease: (x) => x.st.state === S.Shipped && x.st.deadline < now,
        cancel: (x) => x.st.state === S.Created,
        cancelUnshipped: (x) => x.st.state === S.Paid && x.st.deadline < now,
        settleExpiredDispute: (x) => x.st.state === S.Disputed && x.st.deadline < now,
      };
      const o = pickOrder(ctx, raw, preds[kind]);
      const t = o?.terms ?? fallbackTerms().terms;
      const given = o ? itemsFor(o, raw) : [];
      const anyone = ACTORS.map((n) => W.a[n]);
      const preferred =
        kind === "confirmReceipt" || kind === "cancelUnshipped"
          ? [o ? buyerOf(o) : W.a.buyer]
          : kind === "cancel" && o && o.st.deadline >= now
            ? merchantActors(m, t.merchant)
            : anyone;
      const c = who(preferred);
      const fn = {
        confirmReceipt: sim.confirmReceipt,
        autoRelease: sim.autoRelease,
        cancel: sim.cancel,
        cancelUnshipped: sim.cancelUnshipped,
        settleExpiredDispute: sim.settleExpired,
      }[kind];
      return call(kind, c, esc.encodeFunctionData(kind, [t, given]), (mm, ts) => fn(mm, c, ts, t, given));
    }
    case "refund": {
      const o = pickOrder(ctx, raw, (x) => ESCROWED.has(x.st.state));
      const t = o?.terms ?? fallbackTerms().terms;
      const escrowed = o ? escrowedOf(o) : t.amount;
      const sel = raw.x % 20;
      const amount =
        sel < 8 || escrowed < 2n
          ? escrowed
          : sel < 18
            ? 1n + (BigInt(raw.y) % (escrowed - 1n))
            : sel === 18
              ? 0n
              : escrowed + 1n;
      const c = who(merchantActors(m, t.merchant));
      const given = o ? itemsFor(o, raw) : [];
      const label = amount === escrowed || amount > escrowed ? "refundFull" : "refundPartial";
      return call(label, c, esc.encodeFunctionData("refund", [t, amount, given]), (mm, ts) =>
        sim.refund(mm, c, ts, t, amount, given),
      );
    }
    case "refundCompleted": {
      const o = pickOrder(ctx, raw, (x) => x.st.state === S.Completed && x.st.deadline >= now);
      const t = o?.terms ?? fallbackTerms().terms;
      const refundable = o ? escrowedOf(o) : t.amount;
      const sel = raw.x % 20;
      const amount =
        sel < 6 || refundable < 2n
          ? refundable
          : sel < 18
            ? 1n + (BigInt(raw.y) % (refundable - 1n))
            : sel === 18
              ? 0n
              : refundable + 1n;
      const c = who(merchantActors(m, t.merchant));
      const label = amount >= refundable ? "returnFull" : "returnPartial";
      if (t.token !== ZERO && (raw.v >> 3) % 3 === 0) {
        // The payee's permit; now and then invalid (the return then needs an allowance already there).
        const valid = (raw.v >> 6) % 10 !== 0 && W.keys.has(t.payee);
        const { permit: p } = permitFor(ctx, t.payee, t.token, amount, valid);
        return call(
          `${label}WithPermit`,
          c,
          esc.encodeFunctionData("refundCompletedWithPermit", [t, amount, p]),
          (mm, ts) => sim.refundCompleted(mm, c, ts, t, amount, 0n, valid),
        );
      }
      const wrongValue = raw.v % 25 === 0;
      const wanted = t.token === ZERO ? amount + (wrongValue ? 1n : 0n) : wrongValue ? 1n : 0n;
      const value = forced === undefined && wanted <= 10n ** 21n ? wanted : 0n;
      return call(
        label,
        c,
        esc.encodeFunctionData("refundCompleted", [t, amount]),
        (mm, ts) => sim.refundCompleted(mm, c, ts, t, amount, value, null),
        value,
      );
    }
    case "setPayoutAddress": {
      const owner = forced ?? pick([W.a.merchant, W.a.merchant, W.a.merchantB, W.a.operator, W.a.stranger], raw.a);
      const payout = pick(
        [W.a.payout, W.a.payout, ZERO, W.a.hostile, W.a.operator, W.a.merchantB, W.a.escrow, W.a.inventory],
        raw.x,
      );
      return call("setPayoutAddress", owner, esc.encodeFunctionData("setPayoutAddress", [payout]), (mm) =>
        sim.setPayoutAddress(mm, owner, payout),
      );
    }
    case "setReturnFunding": {
      // Mostly the payout wallet about merchant A (by meta-transaction now and then); others try too.
      const payee = forced ?? pick([W.a.payout, W.a.payout, W.a.merchantB, W.a.stranger, W.a.buyer], raw.a);
      const merchant = pick([W.a.merchant, W.a.merchant, W.a.merchantB, W.a.stranger], raw.x);
      const allowed = raw.y % 4 !== 0;
      return call("setReturnFunding", payee, esc.encodeFunctionData("setReturnFunding", [merchant, allowed]), (mm) =>
        sim.setReturnFunding(mm, payee, merchant, allowed),
      );
    }
    case "dispute": {
      const o = pickOrder(ctx, raw, (x) => x.st.state === S.Paid || (x.st.state === S.Shipped && x.st.deadline >= now));
      const t = o?.terms ?? fallbackTerms().terms;
      const c = who([o ? buyerOf(o) : W.a.buyer]);
      return call("dispute", c, esc.encodeFunctionData("dispute", [t, ethers.id(`evidence-${raw.x}`)]), (mm, ts) =>
        sim.dispute(mm, c, ts, t),
      );
    }
    case "proposeSettlement":
    case "acceptSettlement":
    case "resolveDispute": {
      const o = pickOrder(ctx, raw, (x) =>
        kind === "acceptSettlement" ? x.st.state === S.Disputed && x.prop.by !== Party.None : x.st.state === S.Disputed,
      );
      const t = o?.terms ?? fallbackTerms().terms;
      const escrowed = o ? escrowedOf(o) : t.amount;
      const given = o ? itemsFor(o, raw) : [];
      const sel = raw.x % 20;
      // the buyer's share of the whole order (partial refunds count towards it)
      const whole = t.amount;
      let amount =
        sel < 3
          ? 0n
          : sel < 6
            ? whole
            : sel < 8
              ? whole - escrowed
              : sel === 19
                ? whole + 1n
                : BigInt(raw.y) % (whole + 1n);
      if (kind === "proposeSettlement") {
        const c = who(raw.y % 2 === 0 ? [o ? buyerOf(o) : W.a.buyer] : merchantActors(m, t.merchant));
        return call("proposeSettlement", c, esc.encodeFunctionData("proposeSettlement", [t, amount]), (mm, ts) =>
          sim.propose(mm, c, ts, t, amount),
        );
      }
      if (kind === "acceptSettlement") {
        if (o && o.prop.by !== Party.None && sel !== 19) amount = o.prop.amount;
        const c = who(o?.prop.by === Party.Buyer ? merchantActors(m, t.merchant) : [o ? buyerOf(o) : W.a.buyer]);
        return call("acceptSettlement", c, esc.encodeFunctionData("acceptSettlement", [t, amount, given]), (mm, ts) =>
          sim.accept(mm, c, ts, t, amount, given),
        );
      }
      const c = who([W.a.arbiter]);
      return call("resolveDispute", c, esc.encodeFunctionData("resolveDispute", [t, amount, given]), (mm, ts) =>
        sim.resolve(mm, c, ts, t, amount, given),
      );
    }
    case "revokeOffer": {
      const sel = raw.v % 10;
      const unused = [...ctx.registry.values()].filter((e) => m.state(orderIdOf(e.terms)) === S.None);
      const existing = [...m.orders.values()].filter((o) => o.st.state !== S.None);
      const chosen =
        sel >= 6 && sel < 9 && unused.length > 0
          ? pick(unused, raw.x)
          : sel === 9 && existing.length > 0
            ? pick(existing, raw.x)
            : null;
      const { terms: t, items } = chosen ?? freshTerms(ctx, merchantOf(), raw, false);
      ctx.registry.set(orderIdOf(t), { terms: t, items });
      const c = who(merchantActors(m, t.merchant));
      return call("revokeOffer", c, esc.encodeFunctionData("revokeOffer", [t]), (mm, ts) =>
        sim.revokeOffer(mm, c, ts, t, items),
      );
    }
    case "withdraw": {
      const owed = withdrawable(m);
      const [account, token] =
        owed.length > 0 && pct(raw.o, 90)
          ? pick(owed, Math.floor(raw.o / 100))[0].split("|")
          : [forced ?? W.a[pick(ACTORS, raw.a)], pick([ZERO, W.a.usd, W.a.busd], raw.x)];
      const c = forced ?? (pct(raw.a, 90) ? account : W.a[pick(ACTORS, raw.a)]);
      const sel = raw.y % 20;
      // An ERC-20 credit goes to its owner only; a native credit (a contract that refused it) goes elsewhere.
      const elsewhere = [W.a.payout, W.a.stranger, W.a.otherBuyer].find((x) => x !== c)!;
      const to = sel < 16 ? (token === ZERO && c === W.a.hostile ? elsewhere : c) : sel < 19 ? elsewhere : ZERO;
      const data = esc.encodeFunctionData("withdraw", [token, to]);
      const out = call("withdraw", c, data, (mm) => sim.withdraw(mm, c, token, to));
      if (c === W.a.hostile && forced === undefined) out.via = "hostile";
      return out;
    }
    case "createSku":
    case "mintStock":
    case "burnStock": {
      const merchant = raw.o % 3 === 2 ? W.a.merchantB : W.a.merchant;
      const skus = m.skus.get(merchant)!;
      const c = who(stockActors(m, merchant));
      const inv = W.inv;
      if (kind === "createSku" && skus.length < 4) {
        const uri = raw.v % 20 === 19 ? "" : `ipfs://sku-${raw.x}`;
        return call(
          "createSku",
          c,
          inv.encodeFunctionData("createSku", [merchant, uri]),
          (mm) => sim.createSku(mm, c, merchant, uri),
          0n,
          W.a.inventory,
        );
      }
      const burn = kind === "burnStock";
      const ids = [pick(skus, raw.x)];
      if (raw.y % 3 === 0) ids.push(pick(skus, raw.x >> 4));
      const amounts = ids.map((id, i) => {
        const held = m.balance(merchant, skuAsset(id));
        if (!burn) return BigInt(1 + ((raw.y >> (3 * i)) % 50));
        return held > 0n && raw.v % 10 !== 9
          ? 1n + (BigInt(raw.y >> (3 * i)) % (held < 20n ? held : 20n)) / 2n
          : held + 1n;
      });
      const sel = raw.v % 20;
      if (sel === 16) ids.push(pick(m.skus.get(merchant === W.a.merchant ? W.a.merchantB : W.a.merchant)!, raw.x));
      if (sel === 16) amounts.push(1n);
      if (sel === 17) ids[0] = (BigInt(merchant) << 96n) | BigInt(skus.length + 1);
      if (sel === 18) amounts.push(1n);
      const fn = burn ? "burnStock" : "mintStock";
      return call(
        fn,
        c,
        inv.encodeFunctionData(fn, [ids, amounts]),
        (mm) => (burn ? sim.burnStock : sim.mintStock)(mm, c, ids, amounts),
        0n,
        W.a.inventory,
      );
    }
    case "transferStock": {
      const holders = [...m.bal.entries()].filter(
        ([k, v]) => v > 0n && k.includes("|sku:") && !k.startsWith(W.a.escrow),
      );
      const [key] =
        holders.length > 0 ? pick(holders, raw.o) : [`${W.a.buyer}|${skuAsset(W.initial.skus.get(W.a.merchant)![0])}`];
      const [from, asset] = key.split("|");
      const id = BigInt(asset.slice(4));
      const held = m.balance(from, asset);
      const amount = held > 0n && raw.v % 10 !== 9 ? 1n + (BigInt(raw.y) % held) : held + 1n;
      const sel = raw.x % 20;
      const to =
        sel < 17
          ? W.a[pick(["merchant", "merchantB", "buyer", "otherBuyer", "stranger", "payout"] as const, raw.x >> 5)]
          : sel === 17
            ? W.a.escrow
            : sel === 18
              ? W.a.hostile
              : ZERO;
      const c = forced ?? (pct(raw.a, 85) ? from : pick([W.a.operator, W.a.stranger, W.a.merchant], raw.a));
      return call(
        "transferStock",
        c,
        W.inv.encodeFunctionData("safeTransferFrom", [from, to, id, amount, "0x"]),
        (mm) => sim.transferStock(mm, c, from, to, id, amount),
        0n,
        W.a.inventory,
      );
    }
    case "stockApproval":
    case "operatorApproval": {
      const owner = forced ?? pick([W.a.merchant, W.a.merchantB, W.a.merchantB, W.a.buyer], raw.a);
      const op = raw.v % 20 === 19 ? ZERO : pick([W.a.operator, W.a.operator, W.a.stranger], raw.x);
      const stock = kind === "stockApproval";
      const current = (stock ? m.stockApproved : m.opApproved).has(`${owner}|${op}`);
      // Merchant A keeps its operator most of the time; other approvals come and go.
      const keep = owner === W.a.merchant && op === W.a.operator ? 9 : 6;
      const approved = current ? raw.y % 10 < keep : raw.y % 10 < 7;
      if (stock) {
        return call(
          "setApprovalForAll",
          owner,
          W.inv.encodeFunctionData("setApprovalForAll", [op, approved]),
          (mm) => sim.setApprovalForAll(mm, owner, op, approved),
          0n,
          W.a.inventory,
        );
      }
      return call("setOperatorApproval", owner, esc.encodeFunctionData("setOperatorApproval", [op, approved]), (mm) =>
        sim.setOperatorApproval(mm, owner, op, approved),
      );
    }
    case "setFeeBps": {
      const fee = pick([0n, 50n, 100n, 100n, 250n, 1_000n, 1_001n], raw.x);
      const c = who([W.a.admin]);
      return call("setFeeBps", c, esc.encodeFunctionData("setFeeBps", [fee]), (mm) => sim.setFeeBps(mm, c, fee));
    }
    case "setTokenAllowed": {
      const token = pick([W.a.usd, W.a.busd, ZERO, W.a.usd, W.a.busd, ZERO, W.a.stranger], raw.x);
      const allowed = raw.y % 4 !== 0;
      const c = who([W.a.admin]);
      return call("setTokenAllowed", c, esc.encodeFunctionData("setTokenAllowed", [token, allowed]), (mm) =>
        sim.setTokenAllowed(mm, c, token, allowed),
      );
    }
    case "setFeeRecipient": {
      const r = pick([W.a.feeRecipient, W.a.feeRecipient, W.a.payout, W.a.hostile, W.a.feeRecipient], raw.x);
      const to = raw.v % 20 === 19 ? ZERO : r;
      const c = who([W.a.admin]);
      return call("setFeeRecipient", c, esc.encodeFunctionData("setFeeRecipient", [to]), (mm) =>
        sim.setFeeRecipient(mm, c, to),
      );
    }
    case "pauseToggle": {
      const on = m.paused ? raw.y % 10 === 9 : raw.y % 10 !== 9;
      const c = who([W.a.pauser]);
      return call(on ? "pause" : "unpause", c, esc.encodeFunctionData(on ? "pause" : "unpause"), (mm) =>
        sim.pause(mm, c, on),
      );
    }
    case "block": {
      const escrowBlocked = m.blocked.has(W.a.escrow);
      // Blocked accounts with credits are unblocked now and then, so that they can withdraw.
      const stuck = [...m.credits.entries()]
        .filter(([k, v]) => v > 0n && k.endsWith(`|${W.a.busd}`) && m.blocked.has(k.split("|")[0]))
        .map(([k]) => k.split("|")[0]);
      const target =
        stuck.length > 0 && raw.x % 3 === 0
          ? pick(stuck, raw.x >> 2)
          : escrowBlocked && raw.x % 2 === 0
            ? W.a.escrow
            : raw.x % 100 === 0
              ? W.a.escrow
              : W.a[
                  pick(
                    ["buyer", "otherBuyer", "merchant", "merchantB", "payout", "feeRecipient", "stranger"] as const,
                    raw.x >> 1,
                  )
                ];
      const blocked = !m.blocked.has(target);
      const out = call(
        "block",
        W.a.admin,
        W.busd.interface.encodeFunctionData("setBlocked", [target, blocked]),
        (mm) => {
          if (blocked) mm.blocked.add(target);
          else mm.blocked.delete(target);
        },
        0n,
        W.a.busd,
      );
      out.via = "issuer";
      return out;
    }
    case "approve": {
      const owner =
        forced ??
        pick([W.a.buyer, W.a.otherBuyer, W.a.merchantB, W.a.operator, W.a.stranger, W.a.merchant, W.a.payout], raw.a);
      const token = pick([W.a.usd, W.a.busd], raw.x);
      const amount = raw.y % 10 < 7 ? MAX : raw.y % 10 < 9 ? 0n : BigInt(raw.y) * 100n;
      const out = call(
        "approve",
        owner,
        W.erc20.encodeFunctionData("approve", [W.a.escrow, amount]),
        (mm) => {
          mm.allowance.set(`${owner}|${token}`, amount);
        },
        0n,
        token,
      );
      out.via = "issuer";
      return out;
    }
    case "batch": {
      const c = who([W.a.operator], 90);
      const atomic = raw.v % 2 === 0;
      // Each item is built against the state the earlier items leave, exactly as the batch will run them.
      let scratch = m.clone();
      const items: Call[] = [];
      for (const sub of raw.sub ?? []) {
        const item = build({ ...ctx, m: scratch }, { ...sub }, c);
        items.push(item);
        const next = scratch.clone();
        try {
          item.run(next, now);
          scratch = next;
        } catch (e) {
          if (!(e instanceof Revert)) throw e;
        }
      }
      const data = esc.encodeFunctionData("batch", [items.map((i) => i.data), atomic]);
      return call("batch", c, data, (mm, ts) => {
        if (!batchHolders(c)) fail("AccessControlUnauthorizedAccount", c, W.roles.operator);
        const failures: [number, string][] = [];
        items.forEach((item, i) => {
          const trial = mm.clone();
          try {
            item.run(trial, ts);
            Object.assign(mm, trial);
          } catch (e) {
            if (!(e instanceof Revert)) throw e;
            if (atomic) fail("BatchCallFailed", i, e.data);
            failures.push([i, e.data]);
          }
        });
        return failures;
      });
    }
    case "time":
      throw new Error("time is not a call");
  }
}
const batchHolders = (c: string) => c === W.a.operator;

// ------------------------------------------------------------------ reading the chain in one call

/*
 * Creation code run by eth_call: for each entry appended after it ([kind:1][address:20][length:2][calldata]) it
 * appends to its output either the return data of a staticcall (kind 0) or the native balance of the address
 * (kind 1), and returns the whole output. Saves one JSON-RPC round trip per read.
 */
const READER = (() => {
  const ops: (string | number)[] = [];
  const labels = new Map<string, number>();
  const fix: [number, string][] = [];
  const op = (...xs: (string | number)[]) => ops.push(...xs);
  const push2 = (label: string) => {
    op(0x61);
    fix.push([ops.length, label]);
    op(0, 0);
  };
  const here = (label: string) => {
    labels.set(label, ops.length);
    op(0x5b);
  };
  push2("P"); // ptr
  op(0x60, 0); // out
  here("loop");
  op(0x81, 0x38, 0x11, 0x15); // DUP2 CODESIZE GT ISZERO
  push2("end");
  op(0x57);
  op(0x60, 23, 0x82, 0x82, 0x39); // header -> mem[out]
  op(0x80, 0x51); // word
  op(0x80, 0x60, 248, 0x1c); // kind
  op(0x81, 0x60, 88, 0x1c, 0x73, ...Array(20).fill(0xff), 0x16); // addr
  op(0x82, 0x60, 72, 0x1c, 0x61, 0xff, 0xff, 0x16); // len
  op(0x92, 0x50); // SWAP3 POP -> ptr out len kind addr
  op(0x81);
  push2("bal");
  op(0x57);
  op(0x82, 0x85, 0x60, 23, 0x01, 0x85, 0x39); // calldata -> mem[out]
  op(0x60, 0, 0x60, 0, 0x84, 0x86, 0x84, 0x5a, 0xfa); // STATICCALL
  op(0x15);
  push2("fail");
  op(0x57);
  op(0x3d, 0x60, 0, 0x85, 0x3e); // RETURNDATACOPY(out, 0, rds)
  op(0x50, 0x50, 0x90, 0x3d, 0x01, 0x91, 0x01, 0x60, 23, 0x01, 0x90);
  push2("loop");
  op(0x56);
  here("bal");
  op(0x31, 0x83, 0x52, 0x50, 0x90, 0x60, 32, 0x01, 0x91, 0x01, 0x60, 23, 0x01, 0x90);
  push2("loop");
  op(0x56);
  here("fail");
  op(0x60, 0, 0x80, 0xfd);
  here("end");
  op(0x60, 0, 0xf3);
  labels.set("P", ops.length);
  for (const [at, label] of fix) {
    const v = labels.get(label)!;
    ops[at] = v >> 8;
    ops[at + 1] = v & 0xff;
  }
  return "0x" + ops.map((b) => Number(b).toString(16).padStart(2, "0")).join("");
})();

interface Read {
  what: string;
  /** For balance reads: `${holder}|${asset}`. */
  key?: string;
  target: string;
  data: string | null; // null: native balance
  words: number;
  expect: bigint[];
}

async function readAll(reads: Read[]): Promise<bigint[][]> {
  const out: bigint[][] = [];
  for (let i = 0; i < reads.length;) {
    let payload = "";
    let size = 0;
    const chunk: Read[] = [];
    while (i < reads.length && size + reads[i].words * 32 < 20_000) {
      const r = reads[i++];
      const data = r.data ? r.data.slice(2) : "";
      payload +=
        (r.data ? "00" : "01") +
        r.target.slice(2).toLowerCase() +
        (data.length / 2).toString(16).padStart(4, "0") +
        data;
      size += r.words * 32;
      chunk.push(r);
    }
    const res = (await rpc("eth_call", [{ data: READER + payload, gas: toQuantity(16_000_000n) }, "latest"])) as string;
    let at = 2;
    for (const r of chunk) {
      const words: bigint[] = [];
      for (let k = 0; k < r.words; k++, at += 64) words.push(BigInt("0x" + res.slice(at, at + 64)));
      out.push(words);
    }
  }
  return out;
}

function balanceRead(m: Model, key: string): Read {
  const [holder, asset] = key.split("|");
  const expectV = [m.bal.get(key) ?? 0n];
  if (asset === ZERO)
    return { what: `native balance of ${holder}`, key, target: holder, data: null, words: 1, expect: expectV };
  if (asset.startsWith("sku:")) {
    return {
      what: `stock ${asset} of ${holder}`,
      key,
      target: W.a.inventory,
      data: W.inv.encodeFunctionData("balanceOf", [holder, BigInt(asset.slice(4))]),
      words: 1,
      expect: expectV,
    };
  }
  return {
    what: `${asset === W.a.usd ? "usd" : "busd"} balance of ${holder}`,
    key,
    target: asset,
    data: W.erc20.encodeFunctionData("balanceOf", [holder]),
    words: 1,
    expect: expectV,
  };
}
function creditRead(m: Model, key: string): Read {
  const [account, token] = key.split("|");
  return {
    what: `credit of ${account} in ${token}`,
    target: W.a.escrow,
    data: W.esc.encodeFunctionData("credited", [account, token]),
    words: 1,
    expect: [m.credits.get(key) ?? 0n],
  };
}
function orderReads(m: Model, id: string, all = true): Read[] {
  const o = m.orders.get(id);
  const st = o?.st ?? { state: 0, feeBps: 0n, deadline: 0n, refunded: 0n };
  const reads: Read[] = [
    {
      what: `statusOf(${id.slice(0, 10)})`,
      target: W.a.escrow,
      data: W.esc.encodeFunctionData("statusOf", [id]),
      words: 4,
      expect: [BigInt(st.state), st.feeBps, st.deadline, st.refunded],
    },
    {
      what: `payerOf(${id.slice(0, 10)})`,
      target: W.a.escrow,
      data: W.esc.encodeFunctionData("payerOf", [id]),
      words: 1,
      expect: [BigInt(o?.payer ?? ZERO)],
    },
    {
      what: `proposalOf(${id.slice(0, 10)})`,
      target: W.a.escrow,
      data: W.esc.encodeFunctionData("proposalOf", [id]),
      words: 2,
      expect: [BigInt(o?.prop.by ?? 0), o?.prop.amount ?? 0n],
    },
  ];
  // After a call, the payer matters for open orders and the proposal for disputes; a sweep reads everything.
  if (all) return reads;
  return reads.filter(
    (r, n) =>
      n === 0 ||
      (n === 1 && o?.terms.buyer === ZERO) ||
      (n === 2 && o !== undefined && (o.st.state === S.Disputed || o.st.state === S.Resolved || o.prop.by !== 0)),
  );
}
const allSkus = (m: Model) => [...m.skus.values()].flat();
const assets = (m: Model) => [...W.tokens, ...allSkus(m).map(skuAsset)];

/** Reads of the whole state the model knows. */
function sweepReads(m: Model): Read[] {
  const reads: Read[] = [];
  for (const h of W.holders) for (const a of assets(m)) reads.push(balanceRead(m, `${h}|${a}`));
  for (const h of W.holders) for (const t of W.tokens) reads.push(creditRead(m, `${h}|${t}`));
  for (const id of m.orders.keys()) reads.push(...orderReads(m, id));
  for (const sku of allSkus(m)) {
    let supply = 0n;
    for (const h of W.holders) supply += m.balance(h, skuAsset(sku));
    reads.push({
      what: `totalSupply(${sku})`,
      target: W.a.inventory,
      data: W.inv.encodeFunctionData("totalSupply", [sku]),
      words: 1,
      expect: [supply],
    });
  }
  for (const sku of allSkus(m)) {
    reads.push({
      what: `heldTotal(${sku})`,
      target: W.a.inventory,
      data: W.inv.encodeFunctionData("heldTotal", [sku]),
      words: 1,
      expect: [0n],
    });
  }
  const e = W.esc;
  reads.push({
    what: "feeBps",
    target: W.a.escrow,
    data: e.encodeFunctionData("feeBps"),
    words: 1,
    expect: [m.feeBps],
  });
  reads.push({
    what: "paused",
    target: W.a.escrow,
    data: e.encodeFunctionData("paused"),
    words: 1,
    expect: [m.paused ? 1n : 0n],
  });
  reads.push({
    what: "feeRecipient",
    target: W.a.escrow,
    data: e.encodeFunctionData("feeRecipient"),
    words: 1,
    expect: [BigInt(m.feeRecipient)],
  });
  for (const t of W.tokens) {
    reads.push({
      what: `isTokenAllowed(${t})`,
      target: W.a.escrow,
      data: e.encodeFunctionData("isTokenAllowed", [t]),
      words: 1,
      expect: [m.allowed.has(t) ? 1n : 0n],
    });
  }
  for (const owner of [W.a.merchant, W.a.merchantB, W.a.buyer]) {
    for (const op of [W.a.operator, W.a.stranger]) {
      reads.push({
        what: `isOperatorApproved(${owner}, ${op})`,
        target: W.a.escrow,
        data: e.encodeFunctionData("isOperatorApproved", [owner, op]),
        words: 1,
        expect: [m.opApproved.has(`${owner}|${op}`) ? 1n : 0n],
      });
      reads.push({
        what: `isApprovedForAll(${owner}, ${op})`,
        target: W.a.inventory,
        data: W.inv.encodeFunctionData("isApprovedForAll", [owner, op]),
        words: 1,
        expect: [m.stockApproved.has(`${owner}|${op}`) ? 1n : 0n],
      });
    }
  }
  for (const merchant of [W.a.merchant, W.a.merchantB, W.a.operator, W.a.stranger]) {
    reads.push({
      what: `payoutAddressOf(${merchant})`,
      target: W.a.escrow,
      data: e.encodeFunctionData("payoutAddressOf", [merchant]),
      words: 1,
      expect: [BigInt(m.payouts.get(merchant) ?? merchant)],
    });
  }
  for (const payee of [W.a.payout, W.a.merchantB, W.a.stranger, W.a.buyer]) {
    for (const merchant of [W.a.merchant, W.a.merchantB, W.a.stranger]) {
      reads.push({
        what: `fundsReturnsOf(${payee}, ${merchant})`,
        target: W.a.escrow,
        data: e.encodeFunctionData("fundsReturnsOf", [payee, merchant]),
        words: 1,
        expect: [payee === merchant || m.returnFunding.has(`${payee}|${merchant}`) ? 1n : 0n],
      });
    }
  }
  for (const h of W.holders) {
    for (const t of [W.a.usd, W.a.busd]) {
      reads.push({
        what: `allowance(${h}, ${t})`,
        target: t,
        data: W.erc20.encodeFunctionData("allowance", [h, W.a.escrow]),
        words: 1,
        expect: [m.allowance.get(`${h}|${t}`) ?? 0n],
      });
    }
  }
  return reads;
}

/** Reads after one call: the escrow's holdings, everything the model says moved, and the orders it touched. */
function stepReads(m: Model, caller: string): Read[] {
  const keys = new Set<string>(m.dirty);
  for (const a of assets(m)) keys.add(`${W.a.escrow}|${a}`);
  keys.add(`${caller}|${ZERO}`);
  keys.add(`${W.a.relayer}|${ZERO}`);
  const reads = [...keys].map((k) => balanceRead(m, k));
  for (const k of m.dirtyCredits) reads.push(creditRead(m, k));
  for (const id of m.touched) reads.push(...orderReads(m, id, false));
  return reads;
}

function checkReads(reads: Read[], got: bigint[][], where: () => string) {
  reads.forEach((r, i) => {
    if (r.expect.some((v, k) => v !== got[i][k])) {
      throw new Error(`${where()}: ${r.what} is [${got[i].join(", ")}], the model says [${r.expect.join(", ")}]`);
    }
  });
}

/** Per token, escrow balance == escrowed by open orders + credits; per SKU, escrow stock == reserved + held. */
function checkConservation(m: Model, escrowHoldings: Map<string, bigint>, where: () => string) {
  for (const token of W.tokens) {
    let owed = 0n;
    for (const o of m.orders.values()) if (o.terms.token === token && ESCROWED.has(o.st.state)) owed += escrowedOf(o);
    for (const [k, v] of m.credits) if (k.endsWith(`|${token}`)) owed += v;
    const held = escrowHoldings.get(token)!;
    if (held !== owed)
      throw new Error(`${where()}: escrow holds ${held} of ${token}, owes ${owed} (escrowed + credits)`);
  }
  for (const sku of allSkus(m)) {
    let reserved = 0n;
    for (const o of m.orders.values()) {
      if (OPEN.has(o.st.state)) for (const i of o.items) if (i.skuId === sku) reserved += i.quantity;
    }
    const held = escrowHoldings.get(skuAsset(sku))!;
    if (held !== reserved)
      throw new Error(`${where()}: escrow holds ${held} of SKU ${sku}, open orders reserve ${reserved}`);
  }
}

// ------------------------------------------------------------------ sending

type Outcome = { ok: true; hash: string } | { ok: false; data: string };

async function send(from: string, to: string, data: string, value: bigint): Promise<Outcome> {
  try {
    const hash = (await rpc("eth_sendTransaction", [
      { from, to, data, value: toQuantity(value), gas: TX_GAS, gasPrice: "0x0" },
    ])) as string;
    return { ok: true, hash };
  } catch (e) {
    const d = (e as { data?: unknown }).data;
    if (typeof d === "string") return { ok: false, data: d };
    throw e;
  }
}

function describeError(data: string): string {
  try {
    const e = W.errors.parseError(data);
    return e ? `${e.name}(${e.args.map(String).join(", ")})` : data;
  } catch {
    return data;
  }
}

const FAILED_CALL = ethers.id("FailedCall()").slice(0, 10);

/** Sends the call as its via says; returns the outcome and, for a relayed call, the inner revert data. */
async function execute(ctx: RunCtx, c: Call, expected: string | null): Promise<{ out: Outcome; inner?: string }> {
  await rpc("evm_setNextBlockTimestamp", [Number(ctx.clock)]);
  if (c.via === "forwarder") {
    const request = {
      from: c.caller,
      to: c.target,
      value: c.value,
      gas: FORWARD_GAS,
      nonce: ctx.m.forwarderNonce.get(c.caller) ?? 0n,
      deadline: ctx.clock + 3_600n,
      data: c.data,
    };
    const signature = W.keys
      .get(c.caller)!
      .sign(TypedDataEncoder.hash(W.forwarderDomain, FORWARD_REQUEST_TYPES, request)).serialized;
    let inner: string | undefined;
    if (expected !== null) {
      // The forwarder reports only FailedCall: the inner revert is read by running the call as the forwarder would.
      try {
        await rpc("eth_call", [
          {
            from: W.a.forwarder,
            to: c.target,
            data: c.data + c.caller.slice(2).toLowerCase(),
            value: toQuantity(c.value),
            gas: toQuantity(FORWARD_GAS),
          },
          "pending",
        ]);
        inner = "0x";
      } catch (e) {
        inner = String((e as { data?: unknown }).data);
      }
    }
    // The pending call used up the next block's timestamp: set it again for the transaction.
    if (expected !== null) await rpc("evm_setNextBlockTimestamp", [Number(ctx.clock)]);
    const { from, to, value, gas, deadline, data } = request;
    const out = await send(
      W.a.relayer,
      W.a.forwarder,
      W.fwd.encodeFunctionData("execute", [{ from, to, value, gas, deadline, data, signature }]),
      c.value,
    );
    return { out, inner };
  }
  if (c.via === "hostile") {
    return {
      out: await send(
        W.a.relayer,
        W.a.hostile,
        W.hostileIface.encodeFunctionData("execute", [c.target, c.value, c.data]),
        c.value,
      ),
    };
  }
  return { out: await send(c.caller, c.target, c.data, c.value) };
}

// ------------------------------------------------------------------ the campaign

const stats = new Map<string, [number, number]>();
let calls = 0;
let lastProgress = 0;
let started = 0;
const count = (label: string, ok: boolean) => {
  const s = stats.get(label) ?? [0, 0];
  s[0] += 1;
  if (ok) s[1] += 1;
  stats.set(label, s);
};

function timeTarget(ctx: RunCtx, raw: Raw): bigint {
  const sel = raw.v % 10;
  if (sel < 6) {
    const deadlines = [...ctx.m.orders.values()]
      .filter((o) => OPEN.has(o.st.state) && o.st.deadline + 1n >= ctx.clock)
      .map((o) => o.st.deadline);
    if (deadlines.length > 0) return pick(deadlines, raw.o) + BigInt(raw.x % 2);
  }
  if (sel < 8) return ctx.clock + BigInt(1 + (raw.x % 3_600));
  return ctx.clock + BigInt(1 + (raw.x % (3 * 86_400)));
}

interface Need {
  /** Orders the action can succeed on now. */
  ready: (o: MOrder, now: bigint) => boolean;
  /** Orders in the right state that wait for a deadline to pass. */
  waiting?: (o: MOrder) => boolean;
  /** The action that brings orders into the state this one needs. */
  before: Kind;
}
const NEEDS: Partial<Record<Kind, Need>> = {
  pay: { ready: (o, now) => o.st.state === S.Created && o.st.deadline >= now, before: "create" },
  payWithPermit: {
    ready: (o, now) => o.st.state === S.Created && o.st.deadline >= now && o.terms.token !== ZERO,
    before: "create",
  },
  payWithAuthorization: {
    ready: (o, now) => o.st.state === S.Created && o.st.deadline >= now && o.terms.token === W.a.usd,
    before: "create",
  },
  cancel: { ready: (o) => o.st.state === S.Created, before: "create" },
  ship: { ready: (o, now) => o.st.state === S.Paid && o.st.deadline >= now, before: "pay" },
  cancelUnshipped: {
    ready: (o, now) => o.st.state === S.Paid && o.st.deadline < now,
    waiting: (o) => o.st.state === S.Paid,
    before: "pay",
  },
  refund: { ready: (o) => ESCROWED.has(o.st.state), before: "pay" },
  refundCompleted: {
    ready: (o, now) => o.st.state === S.Completed && o.st.deadline >= now,
    before: "confirmReceipt",
  },
  dispute: {
    ready: (o, now) => o.st.state === S.Paid || (o.st.state === S.Shipped && o.st.deadline >= now),
    before: "pay",
  },
  confirmReceipt: { ready: (o) => o.st.state === S.Shipped, before: "ship" },
  autoRelease: {
    ready: (o, now) => o.st.state === S.Shipped && o.st.deadline < now,
    waiting: (o) => o.st.state === S.Shipped,
    before: "ship",
  },
  proposeSettlement: { ready: (o) => o.st.state === S.Disputed, before: "dispute" },
  resolveDispute: { ready: (o) => o.st.state === S.Disputed, before: "dispute" },
  acceptSettlement: {
    ready: (o) => o.st.state === S.Disputed && o.prop.by !== Party.None,
    before: "proposeSettlement",
  },
  settleExpiredDispute: {
    ready: (o, now) => o.st.state === S.Disputed && o.st.deadline < now,
    waiting: (o) => o.st.state === S.Disputed,
    before: "dispute",
  },
};

/**
 * The action to take for `raw`: mostly, an action with no order in the state it needs is replaced by the one that
 * leads there (a time step to the deadline it waits for, or the previous step of the lifecycle), so that every
 * action is attempted mostly where it can succeed; now and then it is tried anyway.
 */
/** Credits their owner can withdraw now. */
function withdrawable(m: Model): [string, bigint][] {
  return [...m.credits.entries()].filter(([k, v]) => {
    const [account, token] = k.split("|");
    return v > 0n && (token !== W.a.busd || (!m.blocked.has(account) && !m.blocked.has(W.a.escrow)));
  });
}

function resolveKind(ctx: RunCtx, raw: Raw): { kind: Kind; timeTo?: bigint } {
  let kind = raw.k;
  if (kind === "withdraw" && withdrawable(ctx.m).length === 0 && raw.o % 10 !== 0) kind = "block";
  const orders = [...ctx.m.orders.values()];
  for (let depth = 0; depth < 5; depth++) {
    const need = NEEDS[kind];
    if (!need || orders.some((o) => need.ready(o, ctx.clock)) || (raw.o >> 3) % 10 === 0) return { kind };
    const waiting = need.waiting ? orders.filter(need.waiting) : [];
    if (waiting.length > 0) {
      return { kind: "time", timeTo: pick(waiting, raw.o).st.deadline + BigInt((raw.x >> 2) % 2) };
    }
    kind = need.before;
  }
  return { kind };
}

async function runSequence(raws: Raw[]) {
  await rpc("evm_revert", [W.snapshot]);
  W.snapshot = (await rpc("evm_snapshot")) as string;
  const ctx: RunCtx = { m: W.initial.clone(), clock: W.t0 + 1n, registry: new Map(), counter: { salt: 0 } };
  const trace: string[] = [];
  const where = () => `after ${trace.length} steps:\n    ${trace.slice(-12).join("\n    ")}\n  failing`;

  for (const raw of raws) {
    const { kind, timeTo } = resolveKind(ctx, raw);
    if (kind === "time") {
      const target = timeTo ?? timeTarget(ctx, raw);
      if (target > ctx.clock) ctx.clock = target;
      trace.push(`time -> ${ctx.clock}`);
      continue;
    }
    ctx.m.dirty.clear();
    ctx.m.dirtyCredits.clear();
    ctx.m.touched.clear();
    const c = build(ctx, { ...raw, k: kind });
    const next = ctx.m.clone();
    let expected: string | null = null;
    let failures: [number, string][] = [];
    try {
      failures = c.run(next, ctx.clock) ?? [];
      if (c.value > 0n) next.move(c.via === "direct" ? c.caller : W.a.relayer, c.target, ZERO, c.value);
      if (c.via === "forwarder") next.forwarderNonce.set(c.caller, (next.forwarderNonce.get(c.caller) ?? 0n) + 1n);
    } catch (e) {
      if (!(e instanceof Revert)) throw e;
      expected = e.data;
    }
    const step = `${c.label}${c.via === "direct" ? "" : ` via ${c.via}`} by ${c.caller} at ${ctx.clock}: model ${expected === null ? "ok" : describeError(expected)}`;
    trace.push(step);
    const { out, inner } = await execute(ctx, c, expected);
    if (DEBUG) {
      const receipt = out.ok ? await rpc("eth_getTransactionReceipt", [out.hash]) : null;
      const block = await rpc("eth_getBlockByNumber", ["latest", false]);
      console.log(step, JSON.stringify({ out, inner, ts: (block as { timestamp: string }).timestamp }));
    }
    ctx.clock += 1n;
    calls += 1;
    count(c.label, out.ok);
    if (c.via === "forwarder") {
      count("(relayed)", out.ok);
      const block = (await rpc("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
      expect(BigInt(block.timestamp), `${where()}: block time`).to.equal(ctx.clock - 1n);
    }

    if (expected === null && !out.ok) {
      throw new Error(`${where()}: the call reverted with ${describeError(out.data)}, the model says it succeeds`);
    }
    if (expected !== null && out.ok) {
      throw new Error(`${where()}: the call succeeded, the model says it reverts with ${describeError(expected)}`);
    }
    if (expected !== null && !out.ok) {
      const actual = c.via === "forwarder" ? inner! : out.data;
      if (c.via === "forwarder" && out.data !== FAILED_CALL) {
        throw new Error(`${where()}: the forwarder reverted with ${describeError(out.data)}, not FailedCall`);
      }
      if (actual !== expected) {
        throw new Error(
          `${where()}: reverted with ${describeError(actual)}, the model says ${describeError(expected)}`,
        );
      }
    }
    if (out.ok && c.label === "batch") {
      const receipt = (await rpc("eth_getTransactionReceipt", [out.hash])) as {
        logs: { topics: string[]; data: string }[];
      };
      const got: [number, string][] = [];
      for (const log of receipt.logs) {
        const ev = W.esc.parseLog(log);
        if (ev?.name === "BatchItemFailed") got.push([Number(ev.args[0]), ev.args[1] as string]);
      }
      expect(
        got.map(([i, d]) => `${i}:${describeError(d)}`),
        `${where()}: failed batch items`,
      ).to.deep.equal(failures.map(([i, d]) => `${i}:${describeError(d)}`));
    }
    if (out.ok) ctx.m = next;

    const reads = stepReads(ctx.m, c.caller);
    const got = await readAll(reads);
    checkReads(reads, got, where);
    const holdings = new Map<string, bigint>();
    reads.forEach((r, i) => {
      const [holder, asset] = (r.key ?? "|").split("|");
      if (holder === W.a.escrow) holdings.set(asset, got[i][0]);
    });
    checkConservation(ctx.m, holdings, where);

    if (calls - lastProgress >= PROGRESS_EVERY) {
      lastProgress = calls - (calls % PROGRESS_EVERY);
      const secs = (Date.now() - started) / 1000;
      console.log(`      progress: ${calls} calls in ${secs.toFixed(0)}s (${(calls / secs).toFixed(0)}/s)`);
    }
  }
  const reads = sweepReads(ctx.m);
  checkReads(reads, await readAll(reads), () => `final sweep ${where()}`);
}

async function setup(): Promise<World> {
  const f = await deployEscrowFixture();
  const signers = await ethers.getSigners();
  const [relayer, payout] = [signers[10], signers[11]];
  const keys = new Map<string, SigningKey>();
  const root = ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0");
  for (let i = 0; i < 12; i++) {
    const w = root.deriveChild(i);
    expect(w.address).to.equal(signers[i].address);
    keys.set(w.address, w.signingKey);
  }
  const busd = await (await ethers.getContractFactory("BlocklistStablecoin")).connect(f.admin).deploy();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  await hostile.setMode(1, ZERO, "0x"); // refuses native currency
  const escrowAddr = await f.escrow.getAddress();
  await f.escrow.connect(f.admin).setTokenAllowed(await busd.getAddress(), true);
  await f.inventory.connect(f.otherMerchant).createSku(f.otherMerchant.address, "ipfs://sku-b1");
  const skuB1 = await f.inventory.skuId(f.otherMerchant.address, 1);
  await f.inventory.connect(f.otherMerchant).mintStock([skuB1], [100n]);
  for (const s of [f.buyer, f.otherBuyer, f.otherMerchant, f.operator, f.merchant]) {
    await f.usd.mint(s.address, 1_000_000n * 10n ** 6n);
    await busd.mint(s.address, 1_000_000n * 10n ** 6n);
  }
  for (const s of [f.buyer, f.otherBuyer]) await busd.connect(s).approve(escrowAddr, MAX);
  // Merchant A and the payout wallet fund returns in the permit stablecoin from a standing allowance.
  for (const s of [f.merchant, payout]) await f.usd.connect(s).approve(escrowAddr, MAX);
  // The payout wallet agreed to fund merchant A's returns; any other payee must agree first.
  await f.escrow.connect(payout).setReturnFunding(f.merchant.address, true);
  const fwdAddr = await f.forwarder.getAddress();
  await rpc("hardhat_setBalance", [fwdAddr, toQuantity(10n ** 24n)]);
  await rpc("hardhat_setNextBlockBaseFeePerGas", ["0x0"]);
  await rpc("evm_mine");

  const { chainId } = await ethers.provider.getNetwork();
  const a = {
    admin: f.admin.address,
    operator: f.operator.address,
    arbiter: f.arbiter.address,
    pauser: f.pauser.address,
    feeRecipient: f.feeRecipient.address,
    merchant: f.merchant.address,
    merchantB: f.otherMerchant.address,
    buyer: f.buyer.address,
    otherBuyer: f.otherBuyer.address,
    stranger: f.stranger.address,
    relayer: relayer.address,
    payout: payout.address,
    hostile: await hostile.getAddress(),
    escrow: escrowAddr,
    inventory: await f.inventory.getAddress(),
    forwarder: fwdAddr,
    usd: await f.usd.getAddress(),
    busd: await busd.getAddress(),
  };
  const errorFragments = new Map<string, ErrorFragment>();
  for (const iface of [
    f.escrow.interface,
    f.inventory.interface,
    f.usd.interface,
    busd.interface,
    f.forwarder.interface,
  ]) {
    iface.forEachError((e) => errorFragments.set(e.format("sighash"), e));
  }
  errorFragments.set("FailedCall()", ErrorFragment.from("error FailedCall()"));
  const world: World = {
    f,
    busd,
    hostile,
    a,
    keys,
    domainSeparator: TypedDataEncoder.hashDomain(escrowDomain({ chainId, verifyingContract: escrowAddr })),
    orderTypehash: await f.escrow.ORDER_TYPEHASH(),
    forwarderDomain: { name: "orderchain Forwarder", version: "1", chainId, verifyingContract: fwdAddr },
    permitDomains: new Map([
      [a.usd, { name: "Mock USD", version: "1", chainId, verifyingContract: a.usd }],
      [a.busd, { name: "Blocklist USD", version: "1", chainId, verifyingContract: a.busd }],
    ]),
    roles: {
      admin: ethers.ZeroHash,
      operator: await f.escrow.OPERATOR_ROLE(),
      pauser: await f.escrow.PAUSER_ROLE(),
      arbiter: await f.escrow.ARBITER_ROLE(),
    },
    tokens: [ZERO, a.usd, a.busd],
    contracts: new Set([a.usd, a.busd, a.escrow, a.inventory, a.forwarder, a.hostile]),
    holders: [...EOAS.map((n) => a[n]), a.hostile, a.escrow, a.forwarder],
    initial: new Model(),
    snapshot: "",
    t0: 0n,
    errors: new Interface([...errorFragments.values()]),
    esc: f.escrow.interface,
    inv: f.inventory.interface,
    erc20: f.usd.interface,
    fwd: f.forwarder.interface,
    hostileIface: hostile.interface,
  };
  W = world;

  const m = world.initial;
  m.feeBps = await f.escrow.feeBps();
  m.feeRecipient = a.feeRecipient;
  m.allowed = new Set(world.tokens);
  m.opApproved.add(`${a.merchant}|${a.operator}`);
  m.stockApproved.add(`${a.merchant}|${a.operator}`);
  m.skus.set(a.merchant, [f.skuA, f.skuB]);
  m.skus.set(a.merchantB, [skuB1]);
  for (const owner of [a.buyer, a.otherBuyer]) for (const t of [a.usd, a.busd]) m.allowance.set(`${owner}|${t}`, MAX);
  for (const owner of [a.merchant, a.payout]) m.allowance.set(`${owner}|${a.usd}`, MAX);
  m.returnFunding.add(`${a.payout}|${a.merchant}`);
  // Balances as they are now; every later change is the model's.
  const probe = [];
  for (const h of world.holders) for (const as of assets(m)) probe.push(balanceRead(m, `${h}|${as}`));
  const got = await readAll(probe);
  probe.forEach((r, i) => m.bal.set(r.key!, got[i][0]));
  const sample = freshTerms(
    { m, clock: 10n ** 9n, registry: new Map(), counter: { salt: 7 } },
    a.merchant,
    { a: 1, o: 2, x: 3, y: 5, v: 0, r: 0 },
    false,
  ).terms;
  expect(await f.escrow.orderIdOf(sample)).to.equal(orderIdOf(sample));
  const sweep = sweepReads(m);
  checkReads(sweep, await readAll(sweep), () => "initial state");
  world.t0 = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  world.snapshot = (await rpc("evm_snapshot")) as string;
  return world;
}

describe("invariants: escrow under random action sequences", function () {
  this.timeout(0);

  before(async function () {
    await setup();
  });

  it(`matches the model and conserves money and stock (${RUNS} runs of up to ${STEPS} actions per round)`, async function () {
    started = Date.now();
    let round = 0;
    do {
      const seed = SEED ?? (Date.now() ^ (round * 0x9e3779b1)) >>> 0;
      console.log(`      round ${round}: seed=${seed}, numRuns=${RUNS}, maxSteps=${STEPS}`);
      await fc.assert(
        fc.asyncProperty(fc.array(rawArb, { minLength: 1, maxLength: STEPS, size: "max" }), runSequence),
        { numRuns: RUNS, seed, path: PATH, endOnFailure: process.env.PROPERTY_SHRINK === "0" },
      );
      round += 1;
    } while (calls < TARGET_CALLS);

    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const rows = [...stats.entries()].sort(([x], [y]) => x.localeCompare(y));
    console.log(`      ${calls} calls in ${secs}s; per action, successes/attempts:`);
    for (const [label, [n, ok]] of rows) {
      console.log(
        `        ${label.padEnd(22)} ${String(ok).padStart(7)} / ${String(n).padStart(7)}  (${((100 * ok) / n).toFixed(1)}%)`,
      );
    }
    if (MIN_SUCCESS !== undefined) {
      const low = rows.filter(([, [n, ok]]) => ok < MIN_SUCCESS * n).map(([l]) => l);
      expect(low, `actions that succeeded in less than ${MIN_SUCCESS * 100}% of their attempts`).to.deep.equal([]);
      expect(calls).to.be.at.least(TARGET_CALLS);
    }
  });
});
