/**
 * Calls relayed for buyers: an EIP-2612 permit, and an ERC-2771 forward request carrying the buyer's escrow call.
 * Both are checked against the chain again right before sending, so a relayer never pays for a call that cannot
 * succeed or already did.
 */
import { Contract, Signature } from "ethers";
import type { JobHandler } from "../chain/jobPort";
import { noteOrderError } from "./common";

/** The part of an EIP-2612 token the relayer calls: any permit token, not only the local mock. */
const PERMIT_TOKEN_ABI = [
  "function allowance(address owner, address spender) view returns (uint256)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
];

export const relayPermit: JobHandler = {
  async prepare(cmd, { chain }) {
    const p = cmd.payload as Record<string, string>;
    const token = new Contract(p.token, PERMIT_TOKEN_ABI, chain.provider);
    const allowance = (await token.allowance(p.owner, p.spender)) as bigint;
    if (allowance >= BigInt(p.value)) return { type: "done", note: "allowance already in place" };
    const sig = Signature.from(p.signature);
    return {
      type: "tx",
      to: p.token,
      kind: "relay_permit",
      data: token.interface.encodeFunctionData("permit", [
        p.owner,
        p.spender,
        BigInt(p.value),
        BigInt(p.deadline),
        sig.v,
        sig.r,
        sig.s,
      ]),
    };
  },
  onFailed: noteOrderError,
};

export const relayForward: JobHandler = {
  async prepare(cmd, { chain }) {
    const r = (cmd.payload as { request: Record<string, string> }).request;
    const request = {
      from: r.from,
      to: r.to,
      value: BigInt(r.value),
      gas: BigInt(r.gas),
      deadline: BigInt(r.deadline),
      data: r.data,
      signature: r.signature,
    };
    const current = await chain.forwarder.nonces(r.from);
    if (current > BigInt(r.nonce)) return { type: "done", note: "forward request nonce already consumed" };
    if (!(await chain.forwarder.verify(request))) {
      return {
        type: "fail",
        code: "ForwardRequestInvalid",
        message: "the forwarder no longer accepts the request (expired or superseded)",
      };
    }
    return {
      type: "tx",
      to: chain.addresses.forwarder,
      kind: "relay_forward",
      data: chain.forwarder.interface.encodeFunctionData("execute", [request]),
    };
  },
  onFailed: noteOrderError,
};
