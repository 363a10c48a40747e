import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BytesLike, ContractTransactionResponse, TransactionReceipt } from "ethers";
import type { Forwarder, HostileReceiver, ReentrantToken } from "../../typechain-types";
import { deployEscrowFixture, USD, type EscrowFixture } from "./fixtures";
import { FORWARD_REQUEST_TYPES } from "../../relayer/src/domain/typedData";

/** A forward request as the forwarder's `execute` takes it, signature included. */
export interface SignedForwardRequest {
  from: string;
  to: string;
  value: bigint;
  gas: bigint;
  deadline: bigint;
  data: string;
  signature: string;
}

/**
 * Signs an ERC-2771 forward request (EIP-712 domain "orderchain Forwarder", version "1"). `chainId` and `nonce`
 * default to the live ones; tests override them to forge requests for another chain or to replay one.
 */
export async function signForwardRequest(
  forwarder: Forwarder,
  signer: HardhatEthersSigner,
  request: { to: string; data: BytesLike; value?: bigint; gas?: bigint; deadline?: bigint },
  overrides: { chainId?: bigint; nonce?: bigint; verifyingContract?: string } = {},
): Promise<SignedForwardRequest> {
  const chainId = overrides.chainId ?? (await ethers.provider.getNetwork()).chainId;
  const nonce = overrides.nonce ?? (await forwarder.nonces(signer.address));
  const latest = await ethers.provider.getBlock("latest");
  const message = {
    from: signer.address,
    to: request.to,
    value: request.value ?? 0n,
    gas: request.gas ?? 1_000_000n,
    nonce,
    deadline: request.deadline ?? BigInt(latest!.timestamp) + 3600n,
    data: ethers.hexlify(request.data),
  };
  const signature = await signer.signTypedData(
    {
      name: "orderchain Forwarder",
      version: "1",
      chainId,
      verifyingContract: overrides.verifyingContract ?? (await forwarder.getAddress()),
    },
    FORWARD_REQUEST_TYPES,
    message,
  );
  const { nonce: _unused, ...rest } = message;
  void _unused;
  return { ...rest, signature };
}

/** Address the forwarder recovers from `request` as it stands now (used to predict InvalidSigner arguments). */
export async function recoverForwardSigner(
  forwarder: Forwarder,
  request: SignedForwardRequest,
  nonce: bigint,
): Promise<string> {
  const { chainId } = await ethers.provider.getNetwork();
  return ethers.verifyTypedData(
    { name: "orderchain Forwarder", version: "1", chainId, verifyingContract: await forwarder.getAddress() },
    FORWARD_REQUEST_TYPES,
    { ...request, nonce },
    request.signature,
  );
}

export interface AttackFixture extends EscrowFixture {
  evilToken: ReentrantToken;
  hostile: HostileReceiver;
}

/** The escrow fixture plus an allowlisted re-entrant token (buyers funded and approved) and a hostile receiver. */
export async function deployAttackFixture(): Promise<AttackFixture> {
  const base = await deployEscrowFixture();
  const evilToken = await (await ethers.getContractFactory("ReentrantToken")).deploy();
  const hostile = await (await ethers.getContractFactory("HostileReceiver")).deploy();
  const escrowAddress = await base.escrow.getAddress();
  await base.escrow.connect(base.admin).setTokenAllowed(await evilToken.getAddress(), true);
  for (const b of [base.buyer, base.otherBuyer]) {
    await evilToken.mint(b.address, USD(1_000));
    await evilToken.connect(b).approve(escrowAddress, ethers.MaxUint256);
  }
  return { ...base, evilToken, hostile };
}

/** Name of the custom error encoded in `data`, decoded with the escrow's ABI. */
export function errorName(iface: { parseError(data: BytesLike): { name: string } | null }, data: BytesLike): string {
  if (ethers.dataLength(data) < 4) return `no error (${ethers.hexlify(data)})`;
  return iface.parseError(data)?.name ?? `unknown(${ethers.hexlify(data)})`;
}

/** Overrides the transactions of {@link mineInOneBlock} are sent with (explicit gas: nothing is estimated). */
export interface QueuedOverrides {
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** One transaction for {@link mineInOneBlock}: how to send it, and the priority fee (tip) it offers. */
export interface Queued {
  send: (overrides: QueuedOverrides) => Promise<ContractTransactionResponse>;
  /** Tip in gwei; the block orders its transactions by it, highest first. */
  tipGwei: bigint;
}

/** A mined transaction of {@link mineInOneBlock}: its receipt, and the revert data if it failed. */
export interface MinedTx {
  receipt: TransactionReceipt;
  ok: boolean;
  /** The revert data of a failed transaction ("0x" for a successful one). */
  revertData: string;
}

/**
 * Sends `txs` in the given order with automine off (as pending transactions a block producer sees), then mines
 * them together in one block, optionally at `timestamp`. The block orders them by tip, so a later sender with a
 * higher tip is placed ahead of an earlier one: a front-runner. Automine is restored whatever happens. Returns
 * one result per transaction, in the order given.
 */
export async function mineInOneBlock(txs: Queued[], timestamp?: bigint): Promise<MinedTx[]> {
  const provider = ethers.provider;
  await provider.send("evm_setAutomine", [false]);
  const hashes: string[] = [];
  try {
    for (const q of txs) {
      const tip = ethers.parseUnits(q.tipGwei.toString(), "gwei");
      const tx = await q.send({
        gasLimit: 3_000_000n,
        maxFeePerGas: tip + ethers.parseUnits("100", "gwei"),
        maxPriorityFeePerGas: tip,
      });
      hashes.push(tx.hash);
    }
    if (timestamp !== undefined) await provider.send("evm_setNextBlockTimestamp", [ethers.toQuantity(timestamp)]);
    await provider.send("evm_mine", []);
  } finally {
    await provider.send("evm_setAutomine", [true]);
  }
  const mined: MinedTx[] = [];
  for (const hash of hashes) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (!receipt) throw new Error(`transaction ${hash} was not mined in the block`);
    const ok = receipt.status === 1;
    mined.push({ receipt, ok, revertData: ok ? "0x" : await revertDataOf(hash) });
  }
  const blocks = new Set(mined.map((m) => m.receipt.blockNumber));
  if (blocks.size !== 1) throw new Error(`transactions were mined in ${blocks.size} blocks, expected one`);
  return mined;
}

/** The revert data of a mined, failed transaction (from the node's trace of it). */
export async function revertDataOf(hash: string): Promise<string> {
  const trace = (await ethers.provider.send("debug_traceTransaction", [
    hash,
    { disableMemory: true, disableStack: true, disableStorage: true },
  ])) as { failed: boolean; returnValue: string };
  if (!trace.failed) return "0x";
  const data = trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
  return data;
}
