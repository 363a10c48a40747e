import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Forwarder, InventoryToken, MockStablecoin, PaymentEscrow } from "../../typechain-types";
import type { IPaymentEscrow } from "../../typechain-types/contracts/PaymentEscrow";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { applyOrderLogs, hashItems, type OrderRecord } from "../../sdk/orderRecord";

export type { OrderRecord } from "../../sdk/orderRecord";

export type OrderTerms = IPaymentEscrow.OrderTermsStruct;
export type LineItem = { skuId: bigint; quantity: bigint };

export const FEE_BPS = 100n; // 1%
export const USD = (n: number | bigint): bigint => BigInt(n) * 1_000_000n;
export const HOUR = 3600n;

export const OrderState = {
  None: 0n,
  Created: 1n,
  Paid: 2n,
  Shipped: 3n,
  Completed: 4n,
  Cancelled: 5n,
  Refunded: 6n,
  Disputed: 7n,
  Resolved: 8n,
} as const;

export interface EscrowFixture {
  escrow: PaymentEscrow;
  inventory: InventoryToken;
  forwarder: Forwarder;
  usd: MockStablecoin;
  admin: HardhatEthersSigner;
  operator: HardhatEthersSigner;
  arbiter: HardhatEthersSigner;
  pauser: HardhatEthersSigner;
  feeRecipient: HardhatEthersSigner;
  merchant: HardhatEthersSigner;
  otherMerchant: HardhatEthersSigner;
  buyer: HardhatEthersSigner;
  otherBuyer: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
  skuA: bigint;
  skuB: bigint;
}

/** Deploys forwarder, inventory, escrow and a stablecoin; wires roles; gives the merchant two SKUs with stock
 * and approves the operator; funds both buyers with stablecoins and approves the escrow. */
export async function deployEscrowFixture(): Promise<EscrowFixture> {
  const [admin, operator, arbiter, pauser, feeRecipient, merchant, otherMerchant, buyer, otherBuyer, stranger] =
    await ethers.getSigners();
  const forwarder = await (await ethers.getContractFactory("Forwarder")).deploy();
  const escrow = await (
    await ethers.getContractFactory("PaymentEscrow")
  ).deploy(admin.address, await forwarder.getAddress(), feeRecipient.address, FEE_BPS);
  const inventory = await ethers.getContractAt("InventoryToken", await escrow.inventory());
  const usd = await (await ethers.getContractFactory("MockStablecoin")).deploy();

  await escrow.grantRole(await escrow.OPERATOR_ROLE(), operator.address);
  await escrow.grantRole(await escrow.ARBITER_ROLE(), arbiter.address);
  await escrow.grantRole(await escrow.PAUSER_ROLE(), pauser.address);
  await escrow.setTokenAllowed(await usd.getAddress(), true);

  await escrow.connect(merchant).setOperatorApproval(operator.address, true);
  await inventory.connect(merchant).setApprovalForAll(operator.address, true);
  await inventory.connect(merchant).createSku(merchant.address, "ipfs://sku-a");
  await inventory.connect(merchant).createSku(merchant.address, "ipfs://sku-b");
  const skuA = await inventory.skuId(merchant.address, 1);
  const skuB = await inventory.skuId(merchant.address, 2);
  await inventory.connect(merchant).mintStock([skuA, skuB], [100n, 100n]);

  for (const b of [buyer, otherBuyer]) {
    await usd.mint(b.address, USD(1_000_000));
    await usd.connect(b).approve(await escrow.getAddress(), ethers.MaxUint256);
  }
  return {
    escrow,
    inventory,
    forwarder,
    usd,
    admin,
    operator,
    arbiter,
    pauser,
    feeRecipient,
    merchant,
    otherMerchant,
    buyer,
    otherBuyer,
    stranger,
    skuA,
    skuB,
  };
}

let counter = 0;
/** A fresh order id. */
export function newOrderId(): string {
  counter += 1;
  return ethers.keccak256(ethers.toUtf8Bytes(`order-${counter}-${Date.now()}`));
}

/** Order terms with sane defaults: 100 USD, payable for one day, ship within 48h, 72h buyer protection. */
export async function terms(
  f: Pick<EscrowFixture, "merchant" | "buyer" | "usd">,
  overrides: Partial<OrderTerms> = {},
): Promise<OrderTerms> {
  const now = BigInt(await time.latest());
  return {
    orderId: newOrderId(),
    merchant: f.merchant.address,
    buyer: f.buyer.address,
    token: await f.usd.getAddress(),
    amount: USD(100),
    paymentDeadline: now + 24n * HOUR,
    shipWithin: 48n * HOUR,
    protectionPeriod: 72n * HOUR,
    ...overrides,
  };
}

/** EIP-712 type of a checkout offer (`OFFER_TYPEHASH`), with the items as their hash. */
export const OFFER_TYPES = {
  Offer: [
    { name: "orderId", type: "bytes32" },
    { name: "merchant", type: "address" },
    { name: "buyer", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "uint256" },
    { name: "paymentDeadline", type: "uint64" },
    { name: "shipWithin", type: "uint32" },
    { name: "protectionPeriod", type: "uint32" },
    { name: "itemsHash", type: "bytes32" },
  ],
};

/** Signs a checkout offer as `signer` (EIP-712, domain of the escrow). */
export async function signOffer(
  escrow: PaymentEscrow,
  signer: HardhatEthersSigner,
  offer: OrderTerms,
  items: LineItem[],
): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  const domain = {
    name: "orderchain PaymentEscrow",
    version: "1",
    chainId,
    verifyingContract: await escrow.getAddress(),
  };
  return signer.signTypedData(domain, OFFER_TYPES, { ...offer, itemsHash: itemsHash(items) });
}

/** The escrow's line-items commitment (the same function clients use). */
export const itemsHash = (items: LineItem[]): string => hashItems(items);

/** Signs an EIP-2612 permit of `owner` for the escrow. */
export async function signPermit(
  token: MockStablecoin,
  owner: HardhatEthersSigner,
  spender: string,
  value: bigint,
  deadline: bigint,
): Promise<{ deadline: bigint; v: number; r: string; s: string }> {
  const { chainId } = await ethers.provider.getNetwork();
  const nonce = await token.nonces(owner.address);
  const sig = await owner.signTypedData(
    { name: await token.name(), version: "1", chainId, verifyingContract: await token.getAddress() },
    {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    { owner: owner.address, spender, value, nonce, deadline },
  );
  const { v, r, s } = ethers.Signature.from(sig);
  return { deadline, v, r, s };
}

/**
 * Tracks the current record of every order from the escrow's events, as any client of the escrow does.
 * `send` waits for a transaction, requires success, folds its logs in and returns the receipt.
 */
export class OrderBook {
  readonly records = new Map<string, OrderRecord>();
  constructor(private readonly escrow: PaymentEscrow) {}

  async send(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
    const receipt = await (await tx).wait();
    if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
    applyOrderLogs(this.escrow.interface, receipt.logs, this.records);
    return receipt;
  }

  get(orderId: string): OrderRecord {
    const r = this.records.get(orderId);
    if (!r) throw new Error(`unknown order ${orderId}`);
    return r;
  }
}
