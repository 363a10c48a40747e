/** The evidence a buyer gives when disputing an order (one per order; the arbiter reads it). */
import type { Queryable } from "./db";

/** Records the buyer's evidence for the order, replacing any given before. */
export async function recordDisputeEvidence(
  q: Queryable,
  e: { orderId: string; buyer: string; evidence: string; evidenceHash: string },
): Promise<void> {
  await q.query(
    `insert into dispute_evidence (order_id, buyer, evidence, evidence_hash) values ($1, $2, $3, $4)
       on conflict (order_id) do update set evidence = excluded.evidence, evidence_hash = excluded.evidence_hash, created_at = now()`,
    [e.orderId, e.buyer, e.evidence, e.evidenceHash],
  );
}
