/**
 * Transactions the node refused without showing them, which a backend behind a balancer may have taken all the
 * same. Their nonce was given back, so later transactions of other commands may stand at the same nonce; the
 * commands are told apart by the lane's record of what each refused one carried.
 */
import { reclaimRefusedTx } from "../../store/chainTxs";
import type { CommandRow } from "../../store/commands";
import type { SignerLane, SubmitterContext } from "./lane";

/**
 * The chain used a nonce at which the node refused transactions of ours: they are tracked again with those of
 * their commands still waiting (so these are not sent a second time elsewhere), and the tracker decides from the
 * receipts.
 */
export async function reclaimRefused(ctx: SubmitterContext, lane: SignerLane, nonce: bigint): Promise<void> {
  for (const rec of lane.refused.get(nonce) ?? []) {
    if (rec.rebound) continue;
    rec.rebound = await ctx.db.tx((q) => reclaimRefusedTx(q, lane.address, nonce, rec.hash, rec.ids));
    lane.possiblyTaken.add(nonce);
    ctx.log.warn(
      { signer: lane.address, nonce: String(nonce), hash: rec.hash, commands: rec.rebound.length },
      "the chain used the nonce of a transaction the node refused: tracked again until the chain decides",
    );
  }
}

/**
 * Which commands bound to a nonce the transaction mined there ran, and which did not (they go back to the queue):
 * a refused transaction ran what it carried; any other ran what it carried, not the refused ones' commands bound
 * to the nonce again.
 */
export function splitByRefusal(
  lane: SignerLane | undefined,
  nonce: bigint,
  minedHash: string,
  cmds: CommandRow[],
): { ran: CommandRow[]; notRun: CommandRow[] } {
  const recs = (lane?.refused.get(nonce) ?? []).filter((t) => t.rebound);
  if (recs.length === 0) return { ran: cmds, notRun: [] };
  const mined = recs.find((t) => t.hash === minedHash);
  const carried = new Set(mined ? mined.ids : recs.flatMap((t) => t.rebound!));
  const marked = cmds.filter((c) => carried.has(String(c.id)));
  const rest = cmds.filter((c) => !carried.has(String(c.id)));
  return mined ? { ran: marked, notRun: rest } : { ran: rest, notRun: marked };
}
