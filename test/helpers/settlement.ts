import { ethers } from "hardhat";
import type { PaymentEscrow } from "../../typechain-types";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  FEE_BPS,
  OrderBook,
  deployEscrowFixture,
  idOf,
  terms,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
  type OrderView,
} from "./fixtures";

/** Order amount of the settlement fixtures: not a round number, so the fee's rounding down shows. */
export const AMOUNT = 123_456_789n;
/** Native order amount of the settlement fixtures. */
export const NATIVE_AMOUNT = ethers.parseEther("1.000000000000000777");
export const TRACKING = ethers.id("tracking: DHL 0042");
export const EVIDENCE = ethers.id("evidence: parcel empty");

/** The platform fee the escrow takes from `amount` at the fixture's 1% rate. */
export const feeOf = (amount: bigint, feeBps: bigint = FEE_BPS): bigint => (amount * feeBps) / 10_000n;

/** The line items of the settlement fixtures' order: 2 of SKU A and 1 of SKU B. */
export const itemsOf = (f: Pick<EscrowFixture, "skuA" | "skuB">): LineItem[] => [
  { skuId: f.skuA, quantity: 2n },
  { skuId: f.skuB, quantity: 1n },
];

export type Stage = "Created" | "Paid" | "Shipped" | "Disputed";

export interface PlaceOptions {
  terms?: Partial<OrderTerms>;
  items?: LineItem[];
  payer?: HardhatEthersSigner;
  /** Who creates and ships: the merchant (default) or an operator it approved. */
  seller?: HardhatEthersSigner;
}

/** Creates an order (as the merchant, or `opts.seller`) and takes it up to `stage`, folding every event into `book`. */
export async function placeOrder(
  f: EscrowFixture,
  book: OrderBook,
  stage: Stage,
  opts: PlaceOptions = {},
): Promise<{ orderId: string; terms: OrderTerms; items: LineItem[] }> {
  const items = opts.items ?? [];
  const t = await terms(f, opts.terms, items);
  const orderId = await idOf(f.escrow, t, items);
  const seller = opts.seller ?? f.merchant;
  await book.send(f.escrow.connect(seller).createOrder(t, items));
  const placed = { orderId, terms: t, items };
  if (stage === "Created") return placed;

  const value = t.token === ethers.ZeroAddress ? t.amount : 0n;
  const payer = opts.payer ?? f.buyer;
  await book.send(f.escrow.connect(payer).pay(t, { value }));
  if (stage === "Paid") return placed;

  if (stage === "Disputed") {
    await book.send(f.escrow.connect(payer).dispute(t, EVIDENCE));
    return placed;
  }
  await book.send(f.escrow.connect(seller).ship(t, TRACKING));
  return placed;
}

export interface OrderFixture extends EscrowFixture {
  orderId: string;
  terms: OrderTerms;
  items: LineItem[];
  /** The views after the fixture ran; copy them into a fresh book for every test. */
  views: ReadonlyMap<string, OrderView>;
}

export type LoadedOrder<T extends OrderFixture = OrderFixture> = Omit<T, "views"> & {
  book: OrderBook;
  /** The current view of the fixture's order. */
  view(): OrderView;
};

async function orderFixture(stage: Stage, native: boolean): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const overrides: Partial<OrderTerms> = native
    ? { token: ethers.ZeroAddress, amount: NATIVE_AMOUNT }
    : { amount: AMOUNT };
  const placed = await placeOrder(f, book, stage, { terms: overrides, items: itemsOf(f) });
  return { ...f, ...placed, views: new Map(book.views) };
}

export const createdOrderFixture = () => orderFixture("Created", false);
export const paidOrderFixture = () => orderFixture("Paid", false);
export const shippedOrderFixture = () => orderFixture("Shipped", false);
export const disputedOrderFixture = () => orderFixture("Disputed", false);
export const paidNativeOrderFixture = () => orderFixture("Paid", true);
export const shippedNativeOrderFixture = () => orderFixture("Shipped", true);
export const disputedNativeOrderFixture = () => orderFixture("Disputed", true);

/**
 * Loads a fixture and gives the test its own OrderBook: fixtures hand back the same objects every time, while
 * the chain is reverted to the snapshot, so a shared book would carry the views of an earlier test.
 */
export async function load<T extends OrderFixture>(fixture: () => Promise<T>): Promise<LoadedOrder<T>> {
  const { views, ...rest } = await loadFixture(fixture);
  const book = new OrderBook(rest.escrow);
  for (const [id, v] of views) book.views.set(id, { ...v });
  return { ...rest, book, view: () => book.get(rest.orderId) };
}

/** `IPaymentEscrow.Party` and `IPaymentEscrow.Resolution` as the bigints the contract returns. */
export const Party = { None: 0n, Buyer: 1n, Merchant: 2n } as const;
export const Resolution = { Arbiter: 0n, Settlement: 1n, Default: 2n } as const;

/** The order's status slot as a plain object. */
export async function statusOf(escrow: PaymentEscrow, orderId: string) {
  const s = await escrow.statusOf(orderId);
  return { state: s.state, feeBps: s.feeBps, deadline: s.deadline, refunded: s.refunded };
}

/** The pending proposal as [by, buyerTotal]. */
export async function proposalOf(escrow: PaymentEscrow, orderId: string): Promise<[bigint, bigint]> {
  const p = await escrow.proposalOf(orderId);
  return [p.by, p.buyerTotal];
}

/** ERC-1155 balances of SKU A and B held by `holder`. */
export async function stock(f: Pick<EscrowFixture, "inventory" | "skuA" | "skuB">, holder: string): Promise<bigint[]> {
  return f.inventory.balanceOfBatch([holder, holder], [f.skuA, f.skuB]);
}
