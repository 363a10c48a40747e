import { expect } from "chai";
import { ethers } from "hardhat";
import type { ContractTransactionReceipt, ContractTransactionResponse, LogDescription } from "ethers";
import type { PaymentEscrow } from "../../typechain-types";
import type { LoadedOrder } from "../helpers/settlement";

/** Gas limit for transactions sent into a block that is not mined yet (no estimate against a moving state). */
export const RACE_GAS = 2_000_000n;

/**
 * Sends the transactions in the given order into one block and mines it: the first is placed ahead of the
 * second, as a front-runner's transaction is. Returns the receipts (each transaction must succeed) after
 * checking that they share a block in that order.
 */
export async function inOneBlock(
  sends: Array<() => Promise<ContractTransactionResponse>>,
): Promise<ContractTransactionReceipt[]> {
  const sent: ContractTransactionResponse[] = [];
  await ethers.provider.send("evm_setAutomine", [false]);
  try {
    for (const send of sends) sent.push(await send());
    await ethers.provider.send("evm_mine", []);
  } finally {
    await ethers.provider.send("evm_setAutomine", [true]);
  }
  const receipts: ContractTransactionReceipt[] = [];
  for (const tx of sent) {
    const receipt = await tx.wait();
    if (!receipt) throw new Error("transaction not mined");
    receipts.push(receipt);
  }
  for (let i = 1; i < receipts.length; i += 1) {
    expect(receipts[i].blockNumber).to.equal(receipts[0].blockNumber);
    expect(receipts[i].index).to.be.greaterThan(receipts[i - 1].index);
  }
  return receipts;
}

/** The escrow's events named `name` in a receipt, decoded. */
export async function eventsOf(
  escrow: PaymentEscrow,
  receipt: ContractTransactionReceipt,
  name: string,
): Promise<LogDescription[]> {
  const address = (await escrow.getAddress()).toLowerCase();
  return receipt.logs
    .filter((l) => l.address.toLowerCase() === address)
    .map((l) => escrow.interface.parseLog(l))
    .filter((d): d is LogDescription => d !== null && d.name === name);
}

/** What the settlement of an order changed: token balance changes, stock held afterwards, final state. */
export interface Outcome {
  buyer: bigint;
  payee: bigint;
  feeRecipient: bigint;
  escrow: bigint;
  /** SKU A and B held by the buyer afterwards. */
  buyerStock: bigint[];
  /** SKU A and B held by the merchant afterwards. */
  merchantStock: bigint[];
  state: bigint;
}

/** Runs `settle` on the loaded order and returns everyone's outcome (the payee is the terms' payee). */
export async function outcomeOf(f: LoadedOrder, settle: () => Promise<unknown>): Promise<Outcome> {
  const escrowAddress = await f.escrow.getAddress();
  const accounts = [f.buyer.address, f.terms.payee, f.feeRecipient.address, escrowAddress];
  const before = await Promise.all(accounts.map((a) => f.usd.balanceOf(a)));
  await settle();
  const after = await Promise.all(accounts.map((a) => f.usd.balanceOf(a)));
  const [buyer, payee, feeRecipient, escrow] = after.map((b, i) => b - before[i]);
  return {
    buyer,
    payee,
    feeRecipient,
    escrow,
    buyerStock: await f.inventory.balanceOfBatch([f.buyer.address, f.buyer.address], [f.skuA, f.skuB]),
    merchantStock: await f.inventory.balanceOfBatch([f.merchant.address, f.merchant.address], [f.skuA, f.skuB]),
    state: (await f.escrow.statusOf(f.orderId)).state,
  };
}
