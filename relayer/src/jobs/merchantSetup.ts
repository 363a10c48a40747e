/**
 * merchant_setup: every relayer signer becomes the merchant's operator on the escrow and the inventory, through
 * ERC-2771 requests relayed by a signer (Forwarder.executeBatch), so the merchant never needs gas.
 *   custodial merchant: the relayer signs the requests with the merchant's custodial key.
 *   external merchant: the relayer holds no key; the command carries the requests the merchant's own wallet
 *     signed (checked when they were accepted, services/merchants.ts), and the relayer only relays them.
 * The merchant becomes active only once the chain shows every approval.
 */
import { Wallet, ZeroAddress } from "ethers";
import type { ChainContext } from "../chain/context";
import { decryptPrivateKey } from "../domain/keys";
import { FORWARD_REQUEST_TYPES, type SignedApproval } from "../domain/typedData";
import { activateMerchant, getMerchant } from "../store/merchants";
import type { JobDeps, JobHandler, Prepared } from "../chain/jobPort";
import type { CommandRow } from "../store/commands";
import { forwarderDomain, noteOrderError, signatureDeadline } from "./common";

/**
 * The gas each approval request forwards: setOperatorApproval and setApprovalForAll each write one fresh slot
 * and log one event (~50,000 gas); a request with too little would spend its nonce and set nothing.
 */
export const APPROVAL_GAS = 120_000n;

/** An approval the merchant's address still has to give, as the call it signs. */
export interface ApprovalCall {
  to: string;
  data: string;
  contract: "escrow" | "inventory";
  operator: string;
}

/** The approvals still missing on chain for the merchant at `address`, in `operators` order, escrow first. */
export async function missingApprovals(
  chain: ChainContext,
  address: string,
  operators: readonly string[],
): Promise<ApprovalCall[]> {
  const calls: ApprovalCall[] = [];
  for (const op of operators) {
    if (!(await chain.escrow.isOperatorApproved(address, op))) {
      calls.push({
        to: chain.addresses.escrow,
        data: chain.escrow.interface.encodeFunctionData("setOperatorApproval", [op, true]),
        contract: "escrow",
        operator: op,
      });
    }
    if (!(await chain.inventory.isApprovedForAll(address, op))) {
      calls.push({
        to: chain.addresses.inventory,
        data: chain.inventory.interface.encodeFunctionData("setApprovalForAll", [op, true]),
        contract: "inventory",
        operator: op,
      });
    }
  }
  return calls;
}

const executeBatch = (deps: JobDeps, requests: Omit<SignedApproval, "nonce">[]): Prepared => ({
  type: "tx",
  to: deps.chain.addresses.forwarder,
  kind: "merchant_setup",
  // A zero refund receiver makes the batch atomic: any invalid request reverts it all.
  data: deps.chain.forwarder.interface.encodeFunctionData("executeBatch", [
    requests.map((r) => ({
      from: r.from,
      to: r.to,
      value: BigInt(r.value),
      gas: BigInt(r.gas),
      deadline: BigInt(r.deadline),
      data: r.data,
      signature: r.signature,
    })),
    ZeroAddress,
  ]),
});

/** The custodial key signs a request per missing approval, with consecutive forwarder nonces. */
async function custodialSetup(deps: JobDeps, address: string, encryptedKey: string, calls: ApprovalCall[]) {
  const wallet = new Wallet(decryptPrivateKey(encryptedKey, deps.merchantKeySecret));
  const domain = await forwarderDomain(deps);
  const nonce0 = await deps.chain.forwarder.nonces(address);
  const deadline = await signatureDeadline(deps, 3600);
  const requests = [];
  for (let i = 0; i < calls.length; i++) {
    const request = { from: address, to: calls[i].to, value: 0n, gas: APPROVAL_GAS, deadline, data: calls[i].data };
    const signature = await wallet.signTypedData(domain, FORWARD_REQUEST_TYPES, {
      ...request,
      nonce: nonce0 + BigInt(i),
    });
    requests.push({
      ...request,
      value: "0",
      gas: request.gas.toString(),
      deadline: deadline.toString(),
      signature,
    });
  }
  return executeBatch(deps, requests);
}

/**
 * The requests the merchant's wallet signed, relayed if the forwarder still takes them: their nonces start at the
 * address's next one and none has expired. Otherwise the merchant signs again (GET operator-approvals).
 */
async function externalSetup(cmd: CommandRow, deps: JobDeps, address: string): Promise<Prepared> {
  const requests = (cmd.payload as { requests?: SignedApproval[] }).requests ?? [];
  if (requests.length === 0) {
    return {
      type: "sleep",
      code: "OperatorApprovalsMissing",
      reason: `the chain does not show every operator approval of ${address}, and the merchant signs them itself`,
    };
  }
  const next = await deps.chain.forwarder.nonces(address);
  if (BigInt(requests[0].nonce) !== next) {
    return {
      type: "sleep",
      code: "OperatorApprovalsStale",
      reason: `the signed requests start at forwarder nonce ${requests[0].nonce}, but ${address} is at ${next}: sign the missing approvals again`,
    };
  }
  const latest = await deps.chain.provider.getBlock("latest");
  const now = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000));
  if (requests.some((r) => BigInt(r.deadline) <= now)) {
    return {
      type: "sleep",
      code: "OperatorApprovalsExpired",
      reason: "a signed request's deadline passed before it was relayed: sign the missing approvals again",
    };
  }
  return executeBatch(deps, requests);
}

export const merchantSetup: JobHandler = {
  async prepare(cmd, deps) {
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return { type: "fail", code: "MerchantNotFound", message: `merchant ${cmd.merchant_id} not found` };
    const calls = await missingApprovals(deps.chain, m.address, deps.operatorAddresses);
    if (calls.length === 0) return { type: "done", note: "operators already approved" };
    if (m.signer_kind === "external" || m.encrypted_key === null) return externalSetup(cmd, deps, m.address);
    return custodialSetup(deps, m.address, m.encrypted_key, calls);
  },

  // Checked against the chain itself, never taken from the transaction's success alone.
  async onConfirmed(cmd, deps) {
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return "done";
    // Not there yet (or reorged away): run the setup again. An external merchant's requests, once their nonces
    // are spent, fail the command visibly (OperatorApprovalsStale) rather than loop.
    if ((await missingApprovals(deps.chain, m.address, deps.operatorAddresses)).length > 0) return "again";
    await activateMerchant(deps.db, m.id);
    return "done";
  },

  onFailed: noteOrderError,
};
