/**
 * merchant_setup: the merchant's custodial key signs ERC-2771 requests that approve every relayer signer as its
 * operator on the escrow and the inventory; a signer relays them through the forwarder, so the merchant never needs
 * gas. The merchant becomes active only once the chain shows every approval.
 */
import { Wallet, ZeroAddress } from "ethers";
import { decryptPrivateKey } from "../domain/keys";
import { FORWARD_REQUEST_TYPES } from "../domain/typedData";
import { activateMerchant, getMerchant } from "../store/merchants";
import type { JobDeps, JobHandler } from "../chain/jobPort";
import { forwarderDomain, noteOrderError } from "./common";

/** The approvals still missing on chain for the merchant at `address`, as calls the merchant must sign. */
async function missingApprovals({ chain, operatorAddresses }: JobDeps, address: string) {
  const calls: { to: string; data: string }[] = [];
  for (const op of operatorAddresses) {
    if (!(await chain.escrow.isOperatorApproved(address, op))) {
      calls.push({
        to: chain.addresses.escrow,
        data: chain.escrow.interface.encodeFunctionData("setOperatorApproval", [op, true]),
      });
    }
    if (!(await chain.inventory.isApprovedForAll(address, op))) {
      calls.push({
        to: chain.addresses.inventory,
        data: chain.inventory.interface.encodeFunctionData("setApprovalForAll", [op, true]),
      });
    }
  }
  return calls;
}

export const merchantSetup: JobHandler = {
  async prepare(cmd, deps) {
    const { chain } = deps;
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return { type: "fail", code: "MerchantNotFound", message: `merchant ${cmd.merchant_id} not found` };
    const calls = await missingApprovals(deps, m.address);
    if (calls.length === 0) return { type: "done", note: "operators already approved" };
    const wallet = new Wallet(decryptPrivateKey(m.encrypted_key, deps.merchantKeySecret));
    const domain = await forwarderDomain(deps);
    const nonce0 = await chain.forwarder.nonces(m.address);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const requests = [];
    for (let i = 0; i < calls.length; i++) {
      const request = { from: m.address, to: calls[i].to, value: 0n, gas: 120_000n, deadline, data: calls[i].data };
      const signature = await wallet.signTypedData(domain, FORWARD_REQUEST_TYPES, {
        ...request,
        nonce: nonce0 + BigInt(i),
      });
      requests.push({ ...request, signature });
    }
    return {
      type: "tx",
      to: chain.addresses.forwarder,
      kind: "merchant_setup",
      // A zero refund receiver makes the batch atomic: any invalid request reverts it all.
      data: chain.forwarder.interface.encodeFunctionData("executeBatch", [requests, ZeroAddress]),
    };
  },

  // Checked against the chain itself, never taken from the transaction's success alone.
  async onConfirmed(cmd, deps) {
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return "done";
    // Not there yet (or reorged away): run the setup again.
    if ((await missingApprovals(deps, m.address)).length > 0) return "again";
    await activateMerchant(deps.db, m.id);
    return "done";
  },

  onFailed: noteOrderError,
};
