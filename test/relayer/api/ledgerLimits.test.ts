/**
 * The ledger's costly routes against hostile tenants (issue "Relayer: exactly once on real chains and against
 * hostile tenants", item 14): reconciliation needs the `refunds` scope, not any read key, and is limited per
 * merchant; the CSV export covers at most 31 days and is streamed.
 */
import { expect } from "chai";
import { ledgerCsvChunks } from "../../../relayer/src/api/routes-ledger";
import { devWallet, errorOf, startApiEnv, type ApiEnv, type Merchant } from "./support";

const DAY_MS = 24 * 3600_000;

describe("relayer API: reconciliation and the CSV export are bounded", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let m: Merchant;

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Books");
    for (let i = 0; i < 3; i++) {
      const o = await env.call("POST", "/v1/orders", m.key, {
        reference: `BOOK-${i}`,
        amount: "1000",
        token: "native",
      });
      expect(o.status, o.text).to.equal(202);
      const created = await env.waitOrder(m.key, o.body.id, "created");
      await env.pay(devWallet(12, env.node.provider), created);
      await env.waitOrder(m.key, o.body.id, "paid");
    }
  });
  after(async () => env?.stop());

  async function staffKey(scopes: string[]): Promise<string> {
    const k = await env.call("POST", "/v1/keys", m.key, { name: `staff ${scopes.join("+")}`, scopes });
    expect(k.status, k.text).to.equal(201);
    return k.body.secret as string;
  }

  it("a leaked read-only key cannot make the relayer reconcile: 403 insufficient_scope; a key with refunds can", async () => {
    const reader = await staffKey(["read"]);
    const r = await env.call("GET", "/v1/ledger/reconciliation", reader);
    expect(r.status, r.text).to.equal(403);
    expect(errorOf(r)).to.deep.include({ code: "insufficient_scope" });
    expect(errorOf(r).details).to.deep.include({ required: "refunds" });
    const finance = await staffKey(["read", "refunds"]);
    const ok = await env.call("GET", "/v1/ledger/reconciliation", finance);
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.ok, JSON.stringify(ok.body.differences)).to.equal(true);
  });

  it("a tenant hammering reconciliation gets 429 rate_limited with Retry-After beyond 6 reports a minute, whichever of its keys asks", async () => {
    const other = await env.newMerchant("Books bystander");
    const keys = [await staffKey(["refunds"]), await staffKey(["refunds"])];
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 8; i++) {
      last = await env.call("GET", "/v1/ledger/reconciliation", keys[i % 2]);
      statuses.push(last.status);
    }
    // The previous test made one report for this merchant.
    expect(statuses.filter((s) => s === 200).length, String(statuses)).to.equal(5);
    expect(statuses.slice(5), String(statuses)).to.deep.equal([429, 429, 429]);
    expect(errorOf(last!).code).to.equal("rate_limited");
    const retryAfter = Number(last!.headers["retry-after"]);
    expect(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`).to.equal(true);
    expect((await env.call("GET", "/v1/ledger/reconciliation", other.key)).status, "another merchant").to.equal(200);
  });

  it("a tenant exporting years of ledger lines gets 400 range_too_large beyond 31 days", async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    for (const q of [
      `from=${iso(now - 400 * DAY_MS)}&to=${iso(now)}`,
      `from=2000-01-01T00:00:00Z`,
      `to=${iso(now)}&from=${iso(now - 31 * DAY_MS - 1000)}`,
    ]) {
      const r = await env.call("GET", `/v1/ledger/export.csv?${q}`, m.key);
      expect(r.status, `${q}: ${r.text.slice(0, 300)}`).to.equal(400);
      expect(errorOf(r).code).to.equal("range_too_large");
      expect(errorOf(r).details).to.deep.include({ maxDays: 31 });
    }
    const inverted = await env.call("GET", `/v1/ledger/export.csv?from=${iso(now)}&to=${iso(now - DAY_MS)}`, m.key);
    expect(inverted.status).to.equal(400);
    expect(errorOf(inverted).code).to.equal("validation_failed");
  });

  it("the export covers the last 31 days by default, as the entries do, and says which range in its file name", async () => {
    const csv = await env.call("GET", "/v1/ledger/export.csv", m.key);
    expect(csv.status, csv.text.slice(0, 300)).to.equal(200);
    expect(String(csv.headers["content-type"])).to.match(/^text\/csv/);
    expect(String(csv.headers["content-disposition"])).to.match(/^attachment; filename="ledger-\d{8}-\d{8}\.csv"$/);
    const lines = csv.text.trim().split("\n");
    expect(lines[0]).to.equal("id,at,block_number,tx_hash,chain_order_id,token,account,debit,credit");
    const entries = await env.call("GET", "/v1/ledger/entries?limit=1000", m.key);
    expect(lines.slice(1).map((l) => l.split(",")[0])).to.deep.equal(
      entries.body.data.map((e: { id: string }) => e.id),
    );
    expect(lines.length - 1, "two lines per payment").to.equal(6);
    const now = Date.now();
    const exactly31 = await env.call(
      "GET",
      `/v1/ledger/export.csv?from=${new Date(now - 31 * DAY_MS).toISOString()}&to=${new Date(now).toISOString()}`,
      m.key,
    );
    expect(exactly31.status).to.equal(200);
  });

  it("streams the export a page of lines at a time: pages of 2 lines make the same CSV as one page", async () => {
    const filter = { merchantId: m.id, from: new Date(Date.now() - DAY_MS) };
    const chunks: string[] = [];
    for await (const c of ledgerCsvChunks(env.relayer.db, filter, 2)) chunks.push(c);
    const whole: string[] = [];
    for await (const c of ledgerCsvChunks(env.relayer.db, filter)) whole.push(c);
    expect(whole).to.have.length(1);
    expect(chunks.join("")).to.equal(whole[0]);
    expect(
      chunks.map((c) => c.trim().split("\n").length),
      "header and 2 lines, then 2 lines a page",
    ).to.deep.equal([3, 2, 2]);
  });
});
