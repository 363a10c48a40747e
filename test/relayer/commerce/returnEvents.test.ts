import { expect } from "chai";
import { NonceManager, Wallet, type ContractTransactionReceipt, type ContractTransactionResponse } from "ethers";
import { PaymentEscrow__factory } from "../../../typechain-types";
import { decryptPrivateKey } from "../../../relayer/src/domain/keys";
import { devWallet, relayerConfig, waitFor } from "../harness";
import {
  createMerchant,
  lineItems,
  orderRows,
  startStack,
  terms,
  waitIdle,
  waitStatuses,
  type Merchant,
  type OrderRowLite,
  type Stack,
} from "./support";

const PRICE = 1_000_000n;
const GAS = { gasLimit: 400_000n };

interface StoredEvent {
  type: string;
  sequence: number;
  payload: { data: Record<string, unknown> };
}

/**
 * Webhook events are derived per chain event, not per block range: several events of one order indexed in one
 * pass (one block here) each give exactly one webhook event, in chain order, and neither a second pass over the
 * same blocks nor a reorg that replaces them announces anything twice or loses anything.
 */
describe("relayer commerce: one webhook event per chain event, whatever falls in one indexed range", function () {
  this.timeout(180_000);
  let stack: Stack;
  let merchant: Merchant;
  let merchantWallet: Wallet;
  let id: string;
  let order: OrderRowLite;
  let fork: string;
  const buyerKey = devWallet(15);

  before(async () => {
    stack = await startStack();
    merchant = await createMerchant(stack.api, "Returns in one block");
    // The merchant acts on the escrow with its own key, not through the relayer's API: returns of a native
    // order, sent in the same block as the buyer's confirmation (the API would wait for each to be indexed).
    const m = await stack.relayer.db.query<{ encrypted_key: string }>(
      `select encrypted_key from merchants where id = $1`,
      [merchant.id],
    );
    const secret = relayerConfig(stack.node).merchantKeySecret;
    merchantWallet = new Wallet(decryptPrivateKey(m.rows[0].encrypted_key, secret), stack.node.provider);
    const funder = devWallet(16, stack.node.provider);
    await (await funder.sendTransaction({ to: merchantWallet.address, value: 10n ** 18n })).wait();
  });
  after(async () => {
    await stack?.node.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await stack?.stop();
  });

  const events = async (): Promise<StoredEvent[]> =>
    (
      await stack.relayer.db.query<StoredEvent>(
        `select type, sequence, payload from webhook_events where order_id = $1 order by sequence`,
        [id],
      )
    ).rows;

  /** Sends the transactions with automine off, then mines them all in one block; returns their receipts. */
  async function inOneBlock(send: () => Promise<ContractTransactionResponse[]>) {
    const provider = stack.node.provider;
    await provider.send("evm_setAutomine", [false]);
    let txs: ContractTransactionResponse[];
    try {
      txs = await send();
      await provider.send("evm_mine", []);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    const receipts = await Promise.all(txs.map((t) => t.wait()));
    expect(new Set(receipts.map((r) => r!.blockNumber)).size, "one block").to.equal(1);
    return receipts.map((r) => r!);
  }

  /** `<txHash>:<logIndex>` of the order's escrow event in the receipt. */
  const eventRefOf = (r: ContractTransactionReceipt) => {
    const log = r.logs.find((l) => l.address === stack.deployed.escrow && l.topics[1] === order.chain_order_id);
    return `${r.hash}:${log!.index}`;
  };

  const returned = async (want: string) =>
    waitFor(
      `returned ${want} indexed`,
      async () => (await orderRows(stack.relayer, [id])).get(id)!.record?.returned === want,
      60_000,
      100,
    );

  it("announces the completion and both returns that landed in one block: order.completed, then one order.returned each", async () => {
    const created = await stack.api("POST", "/v1/orders", merchant.key, {
      reference: "ONE-BLOCK-1",
      amount: PRICE.toString(),
      token: "native",
      buyer: buyerKey.address,
      refundWindowSeconds: 3600,
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    id = created.body.id as string;
    order = (await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created")).get(id)!;
    const buyer = new NonceManager(buyerKey.connect(stack.node.provider));
    await (
      await PaymentEscrow__factory.connect(stack.deployed.escrow, buyer).pay(terms(order), { value: PRICE })
    ).wait();
    await waitStatuses(stack.relayer, new Map([[id, "paid"]]), "paid");
    expect(
      (await stack.api("POST", `/v1/orders/${id}/ship`, merchant.key, { trackingReference: "T-1" })).status,
    ).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[id, "shipped"]]), "shipped");
    await waitIdle(stack.relayer);

    const asBuyer = PaymentEscrow__factory.connect(stack.deployed.escrow, buyer);
    const asMerchant = PaymentEscrow__factory.connect(stack.deployed.escrow, new NonceManager(merchantWallet));
    // The reorg test below goes back here.
    fork = await stack.node.provider.send("evm_snapshot", []);
    const receipts = await inOneBlock(async () => [
      await asBuyer.confirmReceipt(terms(order), lineItems(order), GAS),
      await asMerchant.refundCompleted(terms(order), 300_000n, { ...GAS, value: 300_000n }),
      await asMerchant.refundCompleted(terms(order), 200_000n, { ...GAS, value: 200_000n }),
    ]);
    expect(receipts.map((r) => r.status)).to.deep.equal([1, 1, 1]);
    await returned("500000");

    const evs = await events();
    expect(evs.map((e) => e.type)).to.deep.equal([
      "order.created",
      "order.paid",
      "order.shipped",
      "order.completed",
      "order.returned",
      "order.returned",
    ]);
    expect(evs.map((e) => e.sequence)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    // Each event carries the order as of its own chain event, and names that event.
    const [completed, first, second] = evs.slice(3).map((e) => e.payload.data);
    expect(completed).to.include({ status: "completed", previousStatus: "shipped" });
    expect(first).to.include({ status: "completed", returnAmount: "300000", totalReturned: "300000" });
    expect(first.returnedAmount).to.equal("300000");
    expect(second).to.include({ status: "completed", returnAmount: "200000", totalReturned: "500000" });
    expect(second.returnedAmount).to.equal("500000");
    const refs = [completed, first, second].map((d) => d.eventRef);
    expect(refs).to.deep.equal(receipts.map(eventRefOf));
  });

  it("a second pass over the same blocks (a lagging indexer) announces nothing again", async () => {
    const before = await events();
    const { indexer } = stack.relayer;
    await indexer.stop();
    const head = await stack.node.provider.getBlockNumber();
    const rewindTo = head - 3;
    const block = await stack.node.provider.getBlock(rewindTo);
    await stack.relayer.db.query(`update indexer_state set last_block = $1, last_hash = $2 where id = 1`, [
      rewindTo,
      block!.hash,
    ]);
    await indexer.start();
    await waitFor(
      "indexed again up to the head",
      async () => (await indexer.checkpoint()).lastBlock >= BigInt(head),
      60_000,
      100,
    );
    expect(await events()).to.deep.equal(before);
  });

  it("a reorg that replaces the block announces order.reverted naming what it took back, then each re-mined event once", async () => {
    const provider = stack.node.provider;
    const before = await events();
    const announced = before.slice(3).map((e) => e.payload.data.eventRef);
    const oldHead = await provider.getBlockNumber();
    // The other branch: from the block before, the confirmation and only the first return, then empty blocks
    // until it is longer than the branch the indexer followed.
    expect(await provider.send("evm_revert", [fork])).to.equal(true);
    const buyer = new NonceManager(buyerKey.connect(provider));
    const asBuyer = PaymentEscrow__factory.connect(stack.deployed.escrow, buyer);
    const asMerchant = PaymentEscrow__factory.connect(stack.deployed.escrow, new NonceManager(merchantWallet));
    const receipts = await inOneBlock(async () => [
      await asBuyer.confirmReceipt(terms(order), lineItems(order), GAS),
      await asMerchant.refundCompleted(terms(order), 300_000n, { ...GAS, value: 300_000n }),
    ]);
    while ((await provider.getBlockNumber()) <= oldHead) await provider.send("evm_mine", []);
    await waitFor("the new branch indexed", async () => (await events()).length === before.length + 3, 60_000, 100);
    await returned("300000");

    const evs = await events();
    expect(evs.slice(0, before.length)).to.deep.equal(before);
    const after = evs.slice(before.length);
    expect(after.map((e) => e.type)).to.deep.equal(["order.reverted", "order.completed", "order.returned"]);
    expect(after.map((e) => e.sequence)).to.deep.equal([7, 8, 9]);
    expect(after[0].payload.data).to.include({ status: "shipped", previousStatus: "completed" });
    expect(after[0].payload.data.revertedEvents).to.deep.equal(announced);
    expect(after[1].payload.data).to.include({ status: "completed", previousStatus: "shipped" });
    expect(after[2].payload.data).to.include({ status: "completed", returnAmount: "300000", totalReturned: "300000" });
    expect(after.slice(1).map((e) => e.payload.data.eventRef)).to.deep.equal(receipts.map(eventRefOf));
  });
});
