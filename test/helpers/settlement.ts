import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  FEE_BPS,
  OrderBook,
  deployEscrowFixture,
  terms,
  type EscrowFixture,
  type LineItem,
  type OrderRecord,
  type OrderTerms,
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
): Promise<{ orderId: string; items: LineItem[] }> {
  const t = await terms(f, opts.terms);
  const orderId = t.orderId as string;
  const items = opts.items ?? [];
  const seller = opts.seller ?? f.merchant;
  await book.send(f.escrow.connect(seller).createOrder(t, items));
  if (stage === "Created") return { orderId, items };

  const rec = book.get(orderId);
  const value = rec.token === ethers.ZeroAddress ? rec.amount : 0n;
  await book.send(f.escrow.connect(opts.payer ?? f.buyer).pay(orderId, rec, { value }));
  if (stage === "Paid") return { orderId, items };

  if (stage === "Disputed") {
    const payer = opts.payer ?? f.buyer;
    await book.send(f.escrow.connect(payer).dispute(orderId, book.get(orderId), EVIDENCE));
    return { orderId, items };
  }
  await book.send(f.escrow.connect(seller).ship(orderId, book.get(orderId), TRACKING));
  return { orderId, items };
}

export interface OrderFixture extends EscrowFixture {
  orderId: string;
  items: LineItem[];
  /** The records after the fixture ran; copy them into a fresh book for every test. */
  records: ReadonlyMap<string, OrderRecord>;
}

export type LoadedOrder<T extends OrderFixture = OrderFixture> = Omit<T, "records"> & {
  book: OrderBook;
  /** The current record of the fixture's order. */
  record(): OrderRecord;
};

async function orderFixture(stage: Stage, native: boolean): Promise<OrderFixture> {
  const f = await deployEscrowFixture();
  const book = new OrderBook(f.escrow);
  const overrides: Partial<OrderTerms> = native
    ? { token: ethers.ZeroAddress, amount: NATIVE_AMOUNT }
    : { amount: AMOUNT };
  const { orderId, items } = await placeOrder(f, book, stage, { terms: overrides, items: itemsOf(f) });
  return { ...f, orderId, items, records: new Map(book.records) };
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
 * the chain is reverted to the snapshot, so a shared book would carry the records of an earlier test.
 */
export async function load<T extends OrderFixture>(fixture: () => Promise<T>): Promise<LoadedOrder<T>> {
  const { records, ...rest } = await loadFixture(fixture);
  const book = new OrderBook(rest.escrow);
  for (const [id, rec] of records) book.records.set(id, { ...rec });
  return { ...rest, book, record: () => book.get(rest.orderId) };
}
