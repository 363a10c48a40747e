import { expect } from "chai";
import { NonceManager } from "ethers";
import { CommandOutcomes } from "../../../relayer/src/chain/submitter/outcomes";
import type { SubmitterContext, WriterOptions } from "../../../relayer/src/chain/submitter/lane";
import { JOBS } from "../../../relayer/src/jobs/registry";
import type { CommandRow } from "../../../relayer/src/store/commands";
import { devWallet, relayerConfig, waitFor } from "../harness";
import {
  contracts,
  createMerchant,
  lineItems,
  startStack,
  terms,
  waitIdle,
  waitStatuses,
  type Merchant,
  type Stack,
} from "./support";

describe("relayer commerce: a return's restock is queued once, however often its confirmation is recorded", function () {
  this.timeout(180_000);
  let stack: Stack;
  let merchant: Merchant;

  before(async () => {
    stack = await startStack();
    merchant = await createMerchant(stack.api, "Restock once");
  });
  after(async () => stack?.stop());

  it("two writers finalizing the same return at once (a signer's lease taken over mid-receipt) mint its goods back once", async () => {
    const sku = await stack.api("POST", "/v1/skus", merchant.key, { reference: "ONCE-SKU", name: "Mug" });
    expect(sku.status, JSON.stringify(sku.body)).to.equal(202);
    const skuId = sku.body.id as string;
    const available = async () => (await stack.api("GET", `/v1/skus/${skuId}`, merchant.key)).body.stock?.available;
    await waitFor(
      "SKU created",
      async () => (await stack.api("GET", `/v1/skus/${skuId}`, merchant.key)).body.status === "created",
      30_000,
      200,
    );
    expect((await stack.api("POST", `/v1/skus/${skuId}/stock`, merchant.key, { quantity: "5" })).status).to.equal(202);
    await waitFor("stock minted", async () => (await available()) === "5", 30_000, 200);

    const created = await stack.api("POST", "/v1/orders", merchant.key, {
      reference: "ONCE-1",
      amount: "1000000",
      token: stack.deployed.stablecoin,
      refundWindowSeconds: 3600,
      items: [{ sku: skuId, quantity: 2 }],
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    const id = created.body.id as string;
    const o = (await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created")).get(id)!;
    const buyer = new NonceManager(devWallet(12, stack.node.provider));
    const { usd, escrow } = contracts(stack, buyer);
    await (await usd.mint(await buyer.getAddress(), 1_000_000n)).wait();
    await (await usd.approve(stack.deployed.escrow, 1_000_000n)).wait();
    await (await escrow.pay(terms(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "paid"]]), "paid");
    expect(
      (await stack.api("POST", `/v1/orders/${id}/ship`, merchant.key, { trackingReference: "T" })).status,
    ).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[id, "shipped"]]), "shipped");
    await (await escrow.confirmReceipt(terms(o), lineItems(o))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "completed"]]), "completed");
    expect(await available()).to.equal("3");

    const r = await stack.api("POST", `/v1/orders/${id}/return`, merchant.key, {
      amount: "300000",
      restock: [{ sku: skuId, quantity: 1 }],
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    await waitFor("one unit restocked", async () => (await available()) === "4", 60_000, 200);
    await waitIdle(stack.relayer);

    // What a second writer read while the return's receipt was being settled: the command still submitted.
    const [row] = (
      await stack.relayer.db.query<CommandRow>(`select * from commands where order_id = $1 and kind = 'return_order'`, [
        id,
      ])
    ).rows;
    expect(row.status).to.equal("confirmed");
    const stale: CommandRow = { ...row, status: "submitted" };
    const ctx: SubmitterContext = {
      db: stack.relayer.db,
      chain: stack.relayer.chain,
      opts: { jobs: JOBS, merchantKeySecret: relayerConfig(stack.node).merchantKeySecret } as WriterOptions,
      log: stack.relayer.log,
      metrics: stack.relayer.metrics,
      instanceId: "a-second-writer",
      lanes: new Map(),
    };
    const second = new CommandOutcomes(ctx, () => []);
    await Promise.all([second.confirmed([stale]), second.confirmed([stale])]);
    await waitIdle(stack.relayer);

    const mints = await stack.relayer.db.query<{ status: string; payload: Record<string, unknown> }>(
      `select status, payload from commands where kind = 'mint_stock' and payload->>'returnOf' = $1`,
      [id],
    );
    expect(mints.rows.map((m) => m.status)).to.deep.equal(["confirmed"]);
    // The stock as the chain holds it.
    expect(await available()).to.equal("4");
  });
});
