/**
 * Calls relayed for buyers: an EIP-2612 permit, and an ERC-2771 forward request carrying the buyer's escrow call.
 * Both are checked against the chain again right before sending, so a relayer never pays for a call that cannot
 * succeed or already did.
 */
import { Contract, Signature, type ContractRunner } from "ethers";
import type { JobHandler } from "../chain/jobPort";
import { noteOrderError } from "./common";

/** The part of an EIP-2612 token the relayer calls: any permit token, not only the local mock. */
const PERMIT_TOKEN_ABI = [
  "function allowance(address owner, address spender) view returns (uint256)",
  "function nonces(address owner) view returns (uint256)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
];

/** A relay_permit command's payload (relay/buyerActions.ts); `nonce` is missing from permits queued before it was kept. */
interface PermitPayload {
  token: string;
  owner: string;
  spender: string;
  value: string;
  deadline: string;
  signature: string;
  nonce?: string;
}

/**
 * What became of the permit on chain: `used` when its nonce is past and the allowance covers its value; `superseded`
 * when its nonce is past but the allowance does not cover it (another permit took the nonce: this one can never
 * execute); `pending` otherwise. An allowance alone proves nothing: it may come from another order's permit or the
 * buyer's own approval, and be spent by that order. A permit queued without its nonce is judged by the allowance
 * alone, as it was queued. A read the node fails throws: the command is tried again, never failed for it.
 */
async function permitFate(p: PermitPayload, provider: ContractRunner): Promise<"used" | "superseded" | "pending"> {
  const token = new Contract(p.token, PERMIT_TOKEN_ABI, provider);
  const [allowance, current] = (await Promise.all([
    token.allowance(p.owner, p.spender),
    p.nonce === undefined ? undefined : token.nonces(p.owner),
  ])) as [bigint, bigint | undefined];
  const covered = allowance >= BigInt(p.value);
  if (p.nonce === undefined || current === undefined) return covered ? "used" : "pending";
  if (current <= BigInt(p.nonce)) return "pending";
  return covered ? "used" : "superseded";
}

export const relayPermit: JobHandler = {
  async prepare(cmd, { chain }) {
    const p = cmd.payload as unknown as PermitPayload;
    const fate = await permitFate(p, chain.provider);
    if (fate === "used") return { type: "done", note: "allowance already in place" };
    if (fate === "superseded") {
      return {
        type: "fail",
        code: "PermitNonceUsed",
        message: `the permit's nonce ${p.nonce} was used by another permit, whose allowance does not cover ${p.value}`,
      };
    }
    const token = new Contract(p.token, PERMIT_TOKEN_ABI, chain.provider);
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
  // Anyone may send a buyer's permit (a copy taken from the mempool and sent first): the relayer's then reverts,
  // and the permit's nonce is past with the allowance it was for in place all the same.
  async onReverted(cmd, _error, { chain }) {
    const fate = await permitFate(cmd.payload as unknown as PermitPayload, chain.provider);
    return fate === "used" ? { type: "confirmed" } : { type: "default" };
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
