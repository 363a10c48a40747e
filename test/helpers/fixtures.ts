import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Forwarder, InventoryToken, MockStablecoin, PaymentEscrow } from "../../typechain-types";
import type { IPaymentEscrow } from "../../typechain-types/contracts/PaymentEscrow";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { PERMIT_TYPES, RECEIVE_WITH_AUTHORIZATION_TYPES } from "../../relayer/src/domain/typedData";
import {
  ORDER_TYPES,
  applyOrderLogs,
  escrowDomain,
  hashItems,
  offerDigest,
  orderIdOf,
  orderMessage,
  toTerms,
  type OrderTerms,
  type OrderView,
} from "../../sdk/orderRecord";

export type { OrderTerms, OrderView } from "../../sdk/orderRecord";
export type LineItem = { skuId: bigint; quantity: bigint };
/** The terms as the typechain struct type (what contract calls accept). */
export type OrderTermsStruct = IPaymentEscrow.OrderTermsStruct;

export const FEE_BPS = 100n; // 1%
/** The escrow's cap on the platform fee; the default `maxFeeBps` of the test terms. */
export const MAX_FEE_BPS = 1_000n;
/** Delay of a transfer of the escrow's admin role in the fixtures. */
export const ADMIN_DELAY = 2n * 24n * 3600n;
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
  Revoked: 9n,
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
  ).deploy(admin.address, ADMIN_DELAY, arbiter.address, await forwarder.getAddress(), feeRecipient.address, FEE_BPS);
  const inventory = await ethers.getContractAt("InventoryToken", await escrow.inventory());
  const usd = await (await ethers.getContractFactory("MockStablecoin")).deploy();

  await escrow.grantRole(await escrow.OPERATOR_ROLE(), operator.address);
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
/** A fresh salt, so every call of {@link terms} gives a new order. */
export function newSalt(): string {
  counter += 1;
  return ethers.keccak256(ethers.toUtf8Bytes(`order-${counter}-${Date.now()}`));
}

/**
 * Order terms with sane defaults: 100 USD to the merchant as payee, payable for one day, ship within 48h, 72h
 * buyer protection, no refund window, the fee cap as the signed maximum fee, a fresh salt. `items` set the
 * items commitment (pass the same items to the call).
 */
export async function terms(
  f: Pick<EscrowFixture, "merchant" | "buyer" | "usd">,
  overrides: Partial<OrderTerms> = {},
  items: LineItem[] = [],
): Promise<OrderTerms> {
  const now = BigInt(await time.latest());
  return {
    merchant: f.merchant.address,
    payee: overrides.merchant ?? f.merchant.address,
    buyer: f.buyer.address,
    token: await f.usd.getAddress(),
    amount: USD(100),
    maxFeeBps: MAX_FEE_BPS,
    paymentDeadline: now + 24n * HOUR,
    shipWithin: 48n * HOUR,
    protectionPeriod: 72n * HOUR,
    refundWindow: 0n,
    itemsHash: hashItems(items),
    salt: newSalt(),
    ...overrides,
  };
}

/** The escrow's EIP-712 domain on the current chain. */
export async function domainOf(escrow: PaymentEscrow) {
  const { chainId } = await ethers.provider.getNetwork();
  return escrowDomain({ chainId, verifyingContract: await escrow.getAddress() });
}

/** The order id of `t` (computed off chain, exactly as the escrow's `orderIdOf`). */
export async function idOf(escrow: PaymentEscrow, t: OrderTerms, items: LineItem[] = []): Promise<string> {
  void escrow; // the id depends on the terms alone; the escrow parameter keeps call sites explicit
  return orderIdOf(t, items);
}

export { ORDER_TYPES };

/** Signs a checkout offer (the order's EIP-712 typed data, items as a list) as `signer`. */
export async function signOffer(
  escrow: PaymentEscrow,
  signer: HardhatEthersSigner,
  offer: OrderTerms,
  items: LineItem[],
): Promise<string> {
  return signer.signTypedData(await domainOf(escrow), ORDER_TYPES, orderMessage(offer, items));
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
    PERMIT_TYPES,
    { owner: owner.address, spender, value, nonce, deadline },
  );
  const { v, r, s } = ethers.Signature.from(sig);
  return { deadline, v, r, s };
}

/**
 * The ERC-3009 nonce the escrow uses for an order: the order's EIP-712 digest in the escrow's domain (the digest a
 * merchant signs for an offer of these terms).
 */
export async function authorizationNonce(
  escrow: PaymentEscrow,
  t: OrderTerms,
  items: LineItem[] = [],
): Promise<string> {
  return offerDigest(await domainOf(escrow), t, items);
}

/**
 * `payer`'s ERC-3009 `receiveWithAuthorization` of `value` to `to` (the escrow) with `nonce` (the order's digest), as
 * the escrow's `payWithAuthorization` and `checkoutWithAuthorization` take it. Valid from now until `validBefore`.
 */
export async function signAuthorization(
  token: { name(): Promise<string>; getAddress(): Promise<string> },
  payer: HardhatEthersSigner,
  to: string,
  value: bigint,
  nonce: string,
  validBefore: bigint,
  validAfter = 0n,
): Promise<{ from: string; validAfter: bigint; validBefore: bigint; v: number; r: string; s: string }> {
  const { chainId } = await ethers.provider.getNetwork();
  const sig = await payer.signTypedData(
    { name: await token.name(), version: "1", chainId, verifyingContract: await token.getAddress() },
    RECEIVE_WITH_AUTHORIZATION_TYPES,
    { from: payer.address, to, value, validAfter, validBefore, nonce },
  );
  const { v, r, s } = ethers.Signature.from(sig);
  return { from: payer.address, validAfter, validBefore, v, r, s };
}

/**
 * Tracks the current view of every order from the escrow's events, as any client of the escrow does.
 * `send` waits for a transaction, requires success, folds its logs in and returns the receipt.
 */
export class OrderBook {
  readonly views = new Map<string, OrderView>();
  constructor(private readonly escrow: PaymentEscrow) {}

  async send(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
    const receipt = await (await tx).wait();
    if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
    applyOrderLogs(this.escrow.interface, await this.escrow.getAddress(), receipt.logs, this.views);
    return receipt;
  }

  get(orderId: string): OrderView {
    const v = this.views.get(orderId);
    if (!v) throw new Error(`unknown order ${orderId}`);
    return v;
  }
}

export { toTerms };
