/**
 * The platform pays for a bounded number of the reverts a merchant's gasless buyers cause (front-running their own
 * authorisations): beyond BUYER_REVERTS_EXEMPT_PER_PERIOD per budget period, the merchant's budget pays again.
 * Against the store on its own PostgreSQL database (no chain needed: the rows are what the writer records).
 */
import { expect } from "chai";
import { openDb, type Db } from "../../relayer/src/store/db";
import { migrate } from "../../relayer/src/store/migrate";
import {
  BUYER_REVERTS_EXEMPT_PER_PERIOD,
  buyerCausedRevertSpend,
  buyerCausedReverts,
} from "../../relayer/src/store/relayReverts";
import { createTestDatabase } from "./harness";

describe("relayer: the gas of buyer-caused relay reverts the platform pays for is bounded", function () {
  let own: { url: string; drop(): Promise<void> };
  let q: Db;
  const BUYER = `0x${"cd".repeat(20)}`;

  before(async () => {
    own = await createTestDatabase();
    q = await openDb({ databaseUrl: own.url, poolSize: 2 });
    await migrate(q);
    await q.query(`insert into merchants (id, name, address, encrypted_key) values ('mch_g', 'g', $1, 'x')`, [
      `0x${"ab".repeat(20)}`,
    ]);
  });

  after(async () => {
    await q?.close();
    await own?.drop();
  });

  /** `n` relays of `buyer` that reverted with `code`, each having cost 100,000 gas at 1 gwei. */
  async function reverts(n: number, code: string, buyer = BUYER) {
    for (let i = 0; i < n; i++) {
      const c = await q.query<{ id: string }>(
        `insert into commands (kind, merchant_id, payload, status, error_code)
         values ('relay_authorization', 'mch_g', $1, 'failed', $2) returning id`,
        [{ buyer }, code],
      );
      await q.query(
        `insert into relay_spend (merchant_id, command_id, tx_hash, gas_used, cost_wei)
         values ('mch_g', $1, $2, 100000, 100000000000000)`,
        [c.rows[0].id, `0x${c.rows[0].id.padStart(64, "0")}`],
      );
    }
  }

  it("a griefer front-running from many fresh addresses is exempted up to the cap, then the merchant pays", async () => {
    await reverts(3, "AuthorizationUsedOrCanceled");
    expect(await buyerCausedRevertSpend(q, "mch_g", 30)).to.deep.equal({
      gas_used: 300_000n,
      cost_wei: 300_000_000_000_000n,
    });
    // A revert the relayer's own check should have caught is never the buyer's: not exempt.
    await reverts(2, "UnknownRevert");
    expect((await buyerCausedRevertSpend(q, "mch_g", 30)).gas_used).to.equal(300_000n);
    for (let i = 0; i < BUYER_REVERTS_EXEMPT_PER_PERIOD + 20; i++)
      await reverts(1, "ERC20InsufficientBalance", `0x${i.toString(16).padStart(40, "0")}`);
    const capped = await buyerCausedRevertSpend(q, "mch_g", 30);
    expect(capped.gas_used).to.equal(BigInt(BUYER_REVERTS_EXEMPT_PER_PERIOD) * 100_000n);
    expect(await buyerCausedReverts(q, BUYER.toUpperCase().replace("0X", "0x"), 24)).to.equal(3);
  });
});
