import type { Queryable } from "./db";

export interface AuditEntry {
  merchantId: string | null;
  apiKeyId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  details?: Record<string, unknown>;
}

export async function recordAudit(q: Queryable, e: AuditEntry): Promise<void> {
  await q.query(
    `insert into audit_log (merchant_id, api_key_id, action, resource_type, resource_id, details) values ($1, $2, $3, $4, $5, $6)`,
    [e.merchantId, e.apiKeyId, e.action, e.resourceType, e.resourceId, JSON.stringify(e.details ?? {})],
  );
}

export async function listAudit(q: Queryable, merchantId: string, limit: number, beforeId?: string) {
  const params: unknown[] = [merchantId, limit];
  let cond = "";
  if (beforeId) {
    params.push(beforeId);
    cond = ` and id < $3`;
  }
  return (
    await q.query<{
      id: string;
      api_key_id: string | null;
      action: string;
      resource_type: string;
      resource_id: string | null;
      details: unknown;
      created_at: Date;
    }>(`select * from audit_log where merchant_id = $1${cond} order by id desc limit $2`, params)
  ).rows;
}
