/** resolve_dispute: the arbiter's ruling, signed with the arbiter key the relayer holds and relayed. */
import { Wallet } from "ethers";
import type { JobHandler } from "../chain/jobPort";
import { NO_TERMS, noteOrderError, orderTermsOf, signedForward } from "./common";

export const resolveDispute: JobHandler = {
  async prepare(cmd, deps) {
    const o = await orderTermsOf(deps, cmd.order_id!);
    if (!o) return NO_TERMS;
    if (!deps.arbiterKey)
      return { type: "fail", code: "ArbiterNotConfigured", message: "ARBITER_SIGNER_KEY is not set" };
    const buyerTotal = BigInt((cmd.payload as { buyerTotal: string }).buyerTotal);
    const data = deps.chain.escrowAbi.encode("resolveDispute", [o.terms, buyerTotal, o.items]);
    return signedForward(deps, new Wallet(deps.arbiterKey), deps.chain.addresses.escrow, data, "resolve_dispute");
  },
  onFailed: noteOrderError,
};
