import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  OrderBook,
  deployEscrowFixture,
  terms,
  type EscrowFixture,
  type LineItem,
  type OrderRecord,
  type OrderTerms,
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
  record: OrderRecord;
}

/** Creates an order (as the merchant unless `from` is given) and returns its id, terms, items and record. */
export async function createOrder(
  f: CreationFixture,
  overrides: Partial<OrderTerms> = {},
  items: LineItem[] = [],
  from: HardhatEthersSigner = f.merchant,
): Promise<CreatedOrder> {
  const t = await terms(f, overrides);
  await f.book.send(f.escrow.connect(from).createOrder(t, items));
  const id = t.orderId as string;
  return { id, terms: t, items, record: f.book.get(id) };
}

/** Creates an order and pays it as its buyer (`payer`, default the fixture's buyer). */
export async function createPaidOrder(
  f: CreationFixture,
  overrides: Partial<OrderTerms> = {},
  items: LineItem[] = [],
  payer: HardhatEthersSigner = f.buyer,
): Promise<CreatedOrder> {
  const o = await createOrder(f, overrides, items);
  const value = o.record.token === ethers.ZeroAddress ? o.record.amount : 0n;
  await f.book.send(f.escrow.connect(payer).pay(o.id, o.record, { value }));
  return { ...o, record: f.book.get(o.id) };
}

/** The record as a positional tuple, for comparing with what a call returned. */
export function recordTuple(r: OrderRecord): unknown[] {
  return [
    r.merchant,
    r.buyer,
    r.token,
    r.amount,
    r.feeBps,
    r.state,
    r.deadline,
    r.shipWithin,
    r.protectionPeriod,
    r.itemsHash,
  ];
}

/** Line items as positional tuples, the shape events decode to. */
export function itemTuples(items: LineItem[]): bigint[][] {
  return items.map((i) => [i.skuId, i.quantity]);
}
