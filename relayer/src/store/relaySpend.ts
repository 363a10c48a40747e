/** Gas the relayer spent on behalf of merchants and their buyers (relay policy limits read it). */
import type { Queryable } from "./db";

export async function recordRelaySpend(
  q: Queryable,
  s: { merchantId: string; commandId: string; txHash: string; gasUsed: bigint; costWei: bigint },
): Promise<void> {
  await q.query(
    `insert into relay_spend (merchant_id, command_id, tx_hash, gas_used, cost_wei) values ($1, $2, $3, $4, $5)`,
    [s.merchantId, s.commandId, s.txHash, s.gasUsed.toString(), s.costWei.toString()],
  );
}
