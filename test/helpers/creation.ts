import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  OrderBook,
  deployEscrowFixture,
  idOf,
  terms,
  type EscrowFixture,
  type LineItem,
  type OrderTerms,
  type OrderView,
} from "./fixtures";

export const ZERO_HASH = ethers.ZeroHash;

/** The escrow fixture plus an order book that follows its events. */
export interface CreationFixture extends EscrowFixture {
  book: OrderBook;
}

export async function deployCreationFixture(): Promise<CreationFixture> {
  const f = await deployEscrowFixture();
  return { ...f, book: new OrderBook(f.escrow) };
}

export interface CreatedOrder {
  id: string;
  terms: OrderTerms;
  items: LineItem[];
  view: OrderView;
}

/** Creates an order (as the merchant unless `from` is given) and returns its id, terms, items and view. */
export async function createOrder(
  f: CreationFixture,
  overrides: Partial<OrderTerms> = {},
  items: LineItem[] = [],
  from: HardhatEthersSigner = f.merchant,
): Promise<CreatedOrder> {
  const t = await terms(f, overrides, items);
  await f.book.send(f.escrow.connect(from).createOrder(t, items));
  const id = await idOf(f.escrow, t, items);
  return { id, terms: t, items, view: f.book.get(id) };
}

/** Creates an order and pays it as its buyer (`payer`, default the fixture's buyer). */
export async function createPaidOrder(
  f: CreationFixture,
  overrides: Partial<OrderTerms> = {},
  items: LineItem[] = [],
  payer: HardhatEthersSigner = f.buyer,
): Promise<CreatedOrder> {
  const o = await createOrder(f, overrides, items);
  const value = o.terms.token === ethers.ZeroAddress ? o.terms.amount : 0n;
  await f.book.send(f.escrow.connect(payer).pay(o.terms, { value }));
  return { ...o, view: f.book.get(o.id) };
}

/** The terms as a positional tuple, for comparing with what an event carries. */
export function termsTuple(t: OrderTerms): unknown[] {
  return [
    t.merchant,
    t.payee,
    t.buyer,
    t.token,
    t.amount,
    t.maxFeeBps,
    t.paymentDeadline,
    t.shipWithin,
    t.protectionPeriod,
    t.refundWindow,
    t.itemsHash,
    t.salt,
  ];
}

/** Line items as positional tuples, the shape events decode to. */
export function itemTuples(items: LineItem[]): bigint[][] {
  return items.map((i) => [i.skuId, i.quantity]);
}
