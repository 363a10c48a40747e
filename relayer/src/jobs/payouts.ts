/**
 * The merchant's money at its custodial address, moved with the custodial key's signatures and relayed by a
 * relayer signer (the custodial address never needs gas):
 *   set_payout_address: the merchant's setPayoutAddress, as an ERC-2771 request through the forwarder, once the
 *     change is due; the payout address becomes active when the chain shows it.
 *   sweep_payouts: the escrow's credits of the custodial address (withdraw, relayed as the merchant), then its
 *     token balance to the payout address with an ERC-3009 transferWithAuthorization the custodial key signs.
 */
import { Contract, hexlify, isError, randomBytes, Signature, Wallet, ZeroAddress } from "ethers";
import { decryptPrivateKey } from "../domain/keys";
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from "../domain/typedData";
import {
  activatePayout,
  custodialWorkAhead,
  dropFailedPayoutChange,
  getPayout,
  lockPayoutSwitch,
  ordersWithOtherPayeeInFlight,
} from "../store/payouts";
import { getMerchant, type MerchantRow } from "../store/merchants";
import type { JobDeps, JobHandler, Prepared } from "../chain/jobPort";
import type { CommandRow } from "../store/commands";
import { signatureDeadline, signedForward } from "./common";

const SWEEP_TOKEN_ABI = [
  "function balanceOf(address owner) view returns (uint256)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
];

/** A command that signs with the custodial key waits for the merchant's earlier ones (one nonce sequence each). */
const WAIT_TURN: Prepared = {
  type: "wait",
  delayMs: 500,
  reason: "an earlier command of the custodial key runs first",
};

/** The merchant and its custodial key, or why the relayer cannot sign for it. */
async function custodialWallet(
  deps: JobDeps,
  merchantId: string,
): Promise<{ fail: Prepared } | { merchant: MerchantRow; wallet: Wallet }> {
  const m = await getMerchant(deps.db, merchantId);
  if (!m) return { fail: { type: "fail", code: "MerchantNotFound", message: `merchant ${merchantId} not found` } };
  // Refused when requested (services/payouts.ts); a command written otherwise ends visibly.
  if (m.encrypted_key === null) {
    return {
      fail: {
        type: "fail",
        code: "MerchantSignsItself",
        message: `the merchant's own wallet ${m.address} signs for it: the relayer holds no key of it`,
      },
    };
  }
  return { merchant: m, wallet: new Wallet(decryptPrivateKey(m.encrypted_key, deps.merchantKeySecret)) };
}

export const setPayoutAddress: JobHandler = {
  async prepare(cmd, deps) {
    const row = await getPayout(deps.db, cmd.merchant_id!);
    // Cancelled, or replaced by a later request: that one's own command applies it.
    if (!row || row.pending_command_id !== cmd.id) return { type: "done", note: "superseded or cancelled" };
    const c = await custodialWallet(deps, cmd.merchant_id!);
    if ("fail" in c) return c.fail;
    if (
      (await deps.chain.escrow.payoutAddressOf(c.merchant.address)).toLowerCase() === row.pending_address!.toLowerCase()
    )
      return { type: "done", note: "the chain already shows the payout address" };
    if (await custodialWorkAhead(deps.db, cmd.merchant_id!, cmd.id)) return WAIT_TURN;
    // Orders accepted with the address it replaces are created first (the escrow would refuse them after). An
    // acceptance that read that address before the change was due may not have stored its order yet: the lock
    // waits for it, and from the due time on, acceptances name the merchant itself (activePayoutAddress).
    const merchantAddress = c.merchant.address;
    const inFlight = await deps.db.tx(async (q) => {
      await lockPayoutSwitch(q, cmd.merchant_id!);
      return ordersWithOtherPayeeInFlight(q, cmd.merchant_id!, merchantAddress, row.pending_address!);
    });
    if (inFlight)
      return { type: "wait", delayMs: 500, reason: "orders with the previous payout address are being created" };
    const data = deps.chain.escrow.interface.encodeFunctionData("setPayoutAddress", [row.pending_address!]);
    return signedForward(deps, c.wallet, deps.chain.addresses.escrow, data, "set_payout_address");
  },

  // Active only once the chain shows it: orders created from then on may name it as payee.
  async onConfirmed(cmd, deps) {
    const row = await getPayout(deps.db, cmd.merchant_id!);
    if (!row || row.pending_command_id !== cmd.id) return "done";
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    const onChain = await deps.chain.escrow.payoutAddressOf(m!.address);
    if (onChain.toLowerCase() !== row.pending_address!.toLowerCase()) return "again";
    await activatePayout(deps.db, cmd.merchant_id!, cmd.id);
    return "done";
  },

  // Left pending, a change past its due time would keep the payout address "applying" for good: no new change
  // accepted, none to cancel, and orders paying the custodial address instead of the active payout address.
  async onFailed(q, cmd) {
    await dropFailedPayoutChange(q, cmd.merchant_id!, cmd.id);
  },
};

/**
 * What is left to sweep in the command's token: credits at the escrow, a token balance at the custodial address.
 * Both read at one block (the latest when asked): read apart, a withdrawal mined between them (or an answer
 * cached from before it) could show the credit gone and the balance not yet arrived, and end the sweep early.
 */
async function sweepable(deps: JobDeps, custodial: string, token: string) {
  const blockTag = await deps.chain.provider.getBlockNumber();
  const credited = await deps.chain.escrow.credited(custodial, token, { blockTag });
  const balance =
    token === ZeroAddress
      ? 0n // the custodial key holds no gas to send native currency itself; see docs/RELAYER.md "Payout address"
      : ((await new Contract(token, SWEEP_TOKEN_ABI, deps.chain.provider).balanceOf(custodial, {
          blockTag,
        })) as bigint);
  return { credited, balance };
}

async function supportsErc3009(deps: JobDeps, token: string, owner: string): Promise<boolean> {
  try {
    await new Contract(token, SWEEP_TOKEN_ABI, deps.chain.provider).authorizationState(owner, ZeroHash32);
    return true;
  } catch (err) {
    // Only the token's answer says it has no such function; a node that failed to answer says nothing (the
    // caller tries again), or a sweep would end with the balance left behind.
    if (isError(err, "CALL_EXCEPTION") || isError(err, "BAD_DATA")) return false;
    throw err;
  }
}
const ZeroHash32 = `0x${"00".repeat(32)}`;

async function transferWithAuthorization(
  deps: JobDeps,
  wallet: Wallet,
  token: string,
  to: string,
  value: bigint,
): Promise<Prepared> {
  const t = new Contract(token, SWEEP_TOKEN_ABI, deps.chain.provider);
  let d: { name: string; version: string; chainId: bigint; verifyingContract: string };
  try {
    d = await t.eip712Domain();
  } catch {
    return {
      type: "fail",
      code: "TokenNotSweepable",
      message: `token ${token} does not publish its EIP-712 domain (EIP-5267): its balance stays at ${wallet.address}`,
    };
  }
  const domain = { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
  const message = {
    from: wallet.address,
    to,
    value,
    validAfter: 0n,
    validBefore: await signatureDeadline(deps),
    nonce: hexlify(randomBytes(32)),
  };
  const sig = Signature.from(await wallet.signTypedData(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message));
  return {
    type: "tx",
    to: token,
    kind: "sweep_payouts",
    data: t.interface.encodeFunctionData("transferWithAuthorization", [
      message.from,
      message.to,
      message.value,
      message.validAfter,
      message.validBefore,
      message.nonce,
      sig.v,
      sig.r,
      sig.s,
    ]),
  };
}

async function nextSweepStep(cmd: CommandRow, deps: JobDeps): Promise<Prepared> {
  const token = (cmd.payload as { token: string }).token;
  const c = await custodialWallet(deps, cmd.merchant_id!);
  if ("fail" in c) return c.fail;
  // Checked again at each step: the admin may have removed the token since the sweep was accepted.
  if (!(await deps.chain.escrow.isTokenAllowed(token)))
    return { type: "fail", code: "TokenNotAllowed", message: `token ${token} is not accepted by the escrow` };
  const payout = (await getPayout(deps.db, cmd.merchant_id!))?.address;
  if (!payout) return { type: "fail", code: "PayoutAddressNotSet", message: "the merchant has no payout address" };
  const left = await sweepable(deps, c.merchant.address, token);
  if (left.credited > 0n) {
    if (await custodialWorkAhead(deps.db, cmd.merchant_id!, cmd.id)) return WAIT_TURN;
    // A token credit can only be withdrawn to the credited account itself (then swept with the balance);
    // a native credit goes to the payout address directly.
    const to = token === ZeroAddress ? payout : c.merchant.address;
    const data = deps.chain.escrow.interface.encodeFunctionData("withdraw", [token, to]);
    return signedForward(deps, c.wallet, deps.chain.addresses.escrow, data, "sweep_payouts");
  }
  if (left.balance > 0n) {
    if (!(await supportsErc3009(deps, token, c.merchant.address))) {
      return {
        type: "fail",
        code: "TokenNotSweepable",
        message: `token ${token} has no transferWithAuthorization (ERC-3009): its balance stays at ${c.merchant.address}`,
      };
    }
    return transferWithAuthorization(deps, c.wallet, token, payout, left.balance);
  }
  return { type: "done", note: "nothing left at the custodial address" };
}

export const sweepPayouts: JobHandler = {
  prepare: nextSweepStep,
  // One step per transaction: after each, the next (a withdrawn credit is then swept with the balance).
  async onConfirmed(cmd, deps) {
    const token = (cmd.payload as { token: string }).token;
    const m = await getMerchant(deps.db, cmd.merchant_id!);
    if (!m) return "done";
    const left = await sweepable(deps, m.address, token);
    if (left.credited > 0n) return "again";
    if (left.balance > 0n && (await supportsErc3009(deps, token, m.address))) return "again";
    return "done";
  },
};
