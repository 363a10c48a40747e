/**
 * A buyer's ERC-3009 payment (relay/authorization.ts accepted it): the relayer calls `payWithAuthorization` with
 * the buyer's signature. Checked against the chain right before sending: an authorization already used is done
 * when the escrow shows the order paid (the escrow uses it only for this order), and fails as
 * AuthorizationUsedOrCanceled, the buyer's doing, when not (the buyer cancelled it: `cancelAuthorization` marks it
 * used too). A call the token or the escrow would refuse (a blocked account, an expired authorization, an order no
 * longer payable) fails visibly with the token's reason, without gas.
 */
import { Contract, Interface, Signature } from "ethers";
import type { DecodedRevert, JobDeps, JobHandler, Prepared } from "../chain/jobPort";
import type { CommandRow } from "../store/commands";
import { decodeRevertData, RETRYABLE_ERRORS, revertDataOf } from "../chain/decodeError";
import { OrderState } from "../../../sdk/orderRecord";
import { NO_TERMS, noteOrderError, orderTermsOf } from "./common";

/** The errors stablecoins revert with on an authorization (USDC-like tokens, OpenZeppelin's ERC-20). */
const TOKEN_ERRORS = new Interface([
  "error AccountBlocked(address account)",
  "error AuthorizationNotInTime(uint256 validAfter, uint256 validBefore, uint256 nowTs)",
  "error AuthorizationUsedOrCanceled(address authorizer, bytes32 nonce)",
  "error InvalidAuthorizationSignature()",
  "error CallerMustBePayee(address caller, address to)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
]);

const AUTHORIZATION_STATE_ABI = ["function authorizationState(address authorizer, bytes32 nonce) view returns (bool)"];
const BALANCE_OF = "function balanceOf(address owner) view returns (uint256)";

interface AuthorizationPayload {
  buyer: string;
  token: string;
  validAfter: string;
  validBefore: string;
  nonce: string;
  signature: string;
}

/** A revert as the escrow's ABIs decode it, else as a token error. */
function decodeAuthorizationRevert(data: string | undefined): DecodedRevert {
  const decoded = decodeRevertData(data);
  if (decoded.name !== "UnknownRevert" || !data) return decoded;
  try {
    const parsed = TOKEN_ERRORS.parseError(data);
    if (!parsed) return decoded;
    const args: Record<string, string> = {};
    parsed.fragment.inputs.forEach((input, i) => (args[input.name] = String(parsed.args[i])));
    return { name: parsed.name, args };
  } catch {
    return decoded;
  }
}

function failure(d: DecodedRevert): Prepared & { type: "fail" } {
  const args = Object.entries(d.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return { type: "fail", code: d.name, message: `the payment by authorization was refused: ${d.name}(${args})` };
}

/** The token's refusal of an authorization marked used: used already, or cancelled by the buyer. */
const usedOrCanceled = (p: AuthorizationPayload): DecodedRevert => ({
  name: "AuthorizationUsedOrCanceled",
  args: { authorizer: p.buyer, nonce: p.nonce },
});

/** What the buyer did on chain that makes its authorization unusable now, if anything. */
async function buyerFrontRun(cmd: CommandRow, deps: JobDeps): Promise<DecodedRevert | undefined> {
  const p = cmd.payload as unknown as AuthorizationPayload;
  const token = new Contract(p.token, [...AUTHORIZATION_STATE_ABI, BALANCE_OF], deps.chain.provider);
  if ((await token.authorizationState(p.buyer, p.nonce)) as boolean) return usedOrCanceled(p);
  const o = await orderTermsOf(deps, cmd.order_id!);
  const balance = (await token.balanceOf(p.buyer)) as bigint;
  if (o && balance < o.terms.amount)
    return {
      name: "ERC20InsufficientBalance",
      args: { sender: p.buyer, balance: balance.toString(), needed: o.terms.amount.toString() },
    };
  return undefined;
}

/** Order states only a payment leads to. */
const PAID_STATES: ReadonlySet<number> = new Set([
  OrderState.Paid,
  OrderState.Shipped,
  OrderState.Completed,
  OrderState.Refunded,
  OrderState.Disputed,
  OrderState.Resolved,
]);

/**
 * What became of the command's authorization: unused; used to pay the order (it is used, and the escrow shows the
 * order paid: anyone may submit a buyer's authorization, and one sent first makes the relayer's call meet a paid
 * order); or used up without paying it (the buyer cancelled it).
 */
async function authorizationFate(
  deps: JobDeps,
  p: AuthorizationPayload,
  chainOrderId: string,
): Promise<"unused" | "paid" | "cancelled"> {
  const token = new Contract(p.token, AUTHORIZATION_STATE_ABI, deps.chain.provider);
  // Both read at one block: a node behind a load balancer may answer the second from a block before the payment.
  const blockTag = await deps.chain.provider.getBlockNumber();
  if (!((await token.authorizationState(p.buyer, p.nonce, { blockTag })) as boolean)) return "unused";
  const status = await deps.chain.escrow.statusOf(chainOrderId, { blockTag });
  return PAID_STATES.has(Number(status.state)) ? "paid" : "cancelled";
}

/** Whether the order was paid with the command's authorization (see authorizationFate). */
async function paidWithTheAuthorization(cmd: CommandRow, deps: JobDeps): Promise<boolean> {
  const o = await orderTermsOf(deps, cmd.order_id!);
  if (!o) return false;
  return (await authorizationFate(deps, cmd.payload as unknown as AuthorizationPayload, o.chainOrderId)) === "paid";
}

export const relayAuthorization: JobHandler = {
  async prepare(cmd, deps) {
    const { chain } = deps;
    const o = await orderTermsOf(deps, cmd.order_id!);
    if (!o) return NO_TERMS;
    const p = cmd.payload as unknown as AuthorizationPayload;
    const fate = await authorizationFate(deps, p, o.chainOrderId);
    if (fate === "paid") return { type: "done", note: "the authorization was used: the order is paid" };
    // Cancelled by the buyer before the relayer sent it: fails with the code of the buyer's own doing.
    if (fate === "cancelled") return failure(usedOrCanceled(p));
    const sig = Signature.from(p.signature);
    const auth = {
      from: p.buyer,
      validAfter: BigInt(p.validAfter),
      validBefore: BigInt(p.validBefore),
      v: sig.v,
      r: sig.r,
      s: sig.s,
    };
    const data = chain.escrowAbi.encode("payWithAuthorization", [o.terms, auth]);
    try {
      await chain.provider.call({ to: chain.addresses.escrow, data });
    } catch (err) {
      const revert = revertDataOf(err);
      if (revert === undefined) throw err;
      const decoded = decodeAuthorizationRevert(revert);
      if (RETRYABLE_ERRORS.has(decoded.name)) return { type: "wait", delayMs: 1000, reason: decoded.name };
      return failure(decoded);
    }
    return { type: "tx", to: chain.addresses.escrow, data, kind: "relay_authorization" };
  },
  async onReverted(cmd, error, deps) {
    if (await paidWithTheAuthorization(cmd, deps).catch(() => false)) return { type: "confirmed" };
    if (error.name !== "UnknownRevert") return { type: "default" };
    const decoded = decodeAuthorizationRevert((error as DecodedRevert & { data?: string }).data);
    if (decoded.name !== "UnknownRevert") return failure(decoded);
    // The replay before the block passed: a transaction earlier in the same block made the call revert. When the
    // buyer's own (it used or cancelled the authorization, or moved its tokens away: it front-ran the relayer),
    // the failure says so, and the relay policy counts it against the buyer rather than the merchant's budget.
    const front = await buyerFrontRun(cmd, deps).catch(() => undefined);
    return front ? failure(front) : { type: "default" };
  },
  onFailed: noteOrderError,
};
