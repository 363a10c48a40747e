import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BytesLike } from "ethers";
import type { Forwarder, HostileReceiver, ReentrantToken } from "../../typechain-types";
import { deployEscrowFixture, USD, type EscrowFixture } from "./fixtures";
import { FORWARD_REQUEST_TYPES } from "../../relayer/src/relay/typedData";

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
    {
      ForwardRequest: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "gas", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint48" },
        { name: "data", type: "bytes" },
      ],
    },
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
  return iface.parseError(data)?.name ?? `unknown(${ethers.hexlify(data)})`;
}
