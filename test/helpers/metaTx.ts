import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import { FORWARD_REQUEST_TYPES } from "../../relayer/src/domain/typedData";
import type { Forwarder } from "../../typechain-types";
import type { ERC2771Forwarder } from "../../typechain-types/@openzeppelin/contracts/metatx/ERC2771Forwarder";

export interface ForwardCall {
  to: string;
  data: string;
  value?: bigint;
  gas?: bigint;
  deadline?: bigint;
  /** Claimed sender; defaults to the signer's address (set it to forge a request). */
  from?: string;
}

/**
 * Signs a request for the project's Forwarder (domain "orderchain Forwarder", version "1") with the signer's
 * next nonce and returns the struct `forwarder.execute` takes.
 */
export async function signForwardRequest(
  forwarder: Forwarder,
  signer: Signer,
  call: ForwardCall,
): Promise<ERC2771Forwarder.ForwardRequestDataStruct> {
  const { chainId } = await ethers.provider.getNetwork();
  const from = call.from ?? (await signer.getAddress());
  const message = {
    from,
    to: call.to,
    value: call.value ?? 0n,
    gas: call.gas ?? 300_000n,
    nonce: await forwarder.nonces(from),
    deadline: call.deadline ?? BigInt(await time.latest()) + 3600n,
    data: call.data,
  };
  const domain = {
    name: "orderchain Forwarder",
    version: "1",
    chainId,
    verifyingContract: await forwarder.getAddress(),
  };
  const signature = await signer.signTypedData(domain, FORWARD_REQUEST_TYPES, message);
  return {
    from: message.from,
    to: message.to,
    value: message.value,
    gas: message.gas,
    deadline: message.deadline,
    data: message.data,
    signature,
  };
}
