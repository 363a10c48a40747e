/**
 * A buyer that front-runs its own gasless payment, on a real Hardhat node and PostgreSQL. The buyer signs an ERC-3009
 * authorization; the relayer checks it against the chain and sends payWithAuthorization; before it is mined, the
 * buyer moves its tokens away with a higher tip, so the relayer's transaction reverts and its gas is spent. The
 * buyer gets its tokens back and does it again. After three such reverts in a day the relay refuses the buyer's
 * gasless requests (403 relay_policy_violation, reason buyer_relays_reverted), and none of that gas is counted
 * against the merchant's budget.
 */
import { expect } from "chai";
import { NonceManager, type HDNodeWallet, type TypedDataField, type Wallet } from "ethers";
import { MockStablecoin__factory } from "../../../typechain-types";
import { BuyerClient } from "../../../sdk/buyerClient";
import { devWallet, waitFor } from "../harness";
import { createMerchant, startStack, type Merchant, type Stack } from "./support";

const AMOUNT = 5_000_000n;

describe("relayer commerce: a buyer whose gasless payments revert by its own doing", function () {
  this.timeout(300_000);
  let stack: Stack;
  let shop: Merchant;
  const buyer = devWallet(13);
  const stash = devWallet(14).address;

  before(async () => {
    stack = await startStack();
    shop = await createMerchant(stack.api, "Front-run shop");
  });
  after(async () => {
    await stack?.node.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await stack?.stop();
  });

  const token = () => MockStablecoin__factory.connect(stack.deployed.stablecoin, stack.node.provider);

  async function signedAuthorization(w: Wallet | HDNodeWallet, chainOrderId: string) {
    const intent = await new BuyerClient(stack.base, w).authorizationIntent(chainOrderId);
    const a = intent.authorization;
    return {
      action: "pay",
      buyer: w.address,
      authorization: {
        domain: a.domain,
        message: a.message,
        signature: await w.signTypedData(a.domain, a.types as Record<string, TypedDataField[]>, a.message),
      },
    };
  }

  const submit = (chainOrderId: string, body: unknown) =>
    stack.api("POST", `/v1/checkout/${chainOrderId}/actions`, null, body);

  const relays = async (orderId: string) =>
    (
      await stack.relayer.db.query<{ id: string; status: string; error_code: string | null }>(
        `select id, status, error_code from commands where order_id = $1 and kind = 'relay_authorization' order by id`,
        [orderId],
      )
    ).rows;

  /** The relayer's payment is sent; the buyer moves its tokens away first (a higher tip, the same block). */
  async function frontRun(order: { id: string; chainOrderId: string }) {
    const provider = stack.node.provider;
    const body = await signedAuthorization(buyer, order.chainOrderId);
    const before = (await relays(order.id)).length;
    await provider.send("evm_setAutomine", [false]);
    try {
      const r = await submit(order.chainOrderId, body);
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      await waitFor(
        "the relayer's payment sent",
        async () => (await relays(order.id))[before]?.status === "submitted",
        60_000,
      );
      const b = buyer.connect(provider);
      await MockStablecoin__factory.connect(stack.deployed.stablecoin, b).transfer(stash, AMOUNT, {
        gasLimit: 100_000n,
        maxPriorityFeePerGas: 50_000_000_000n,
        maxFeePerGas: 100_000_000_000n,
      });
      await provider.send("evm_mine", []);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    const failed = await waitFor(
      "the relayer's payment reverted",
      async () => {
        const c = (await relays(order.id))[before];
        return c?.status === "failed" ? c : null;
      },
      60_000,
    );
    expect(failed.error_code).to.equal("ERC20InsufficientBalance");
    // The tokens come back to the buyer (from its other address), ready for the next round.
    const admin = new NonceManager(devWallet(0, provider));
    await (await MockStablecoin__factory.connect(stack.deployed.stablecoin, admin).mint(buyer.address, AMOUNT)).wait();
  }

  it("three front-runs in a day: the fourth request is refused with relay_policy_violation, and the merchant paid none of it", async () => {
    const admin = new NonceManager(devWallet(0, stack.node.provider));
    await (await MockStablecoin__factory.connect(stack.deployed.stablecoin, admin).mint(buyer.address, AMOUNT)).wait();
    const placed = await stack.api("POST", "/v1/orders", shop.key, {
      reference: "FR-1",
      amount: AMOUNT.toString(),
      token: stack.deployed.stablecoin,
      buyer: buyer.address,
    });
    expect(placed.status, JSON.stringify(placed.body)).to.equal(202);
    const order = { id: placed.body.id as string, chainOrderId: placed.body.chainOrderId as string };
    await waitFor(
      "order created",
      async () => (await stack.api("GET", `/v1/orders/${order.id}`, shop.key)).body.status === "created",
      60_000,
    );

    for (let i = 0; i < 3; i++) await frontRun(order);
    expect(await token().balanceOf(buyer.address)).to.equal(AMOUNT);

    // The fourth: refused before anything is queued.
    const queued = (await relays(order.id)).length;
    const refused = await submit(order.chainOrderId, await signedAuthorization(buyer, order.chainOrderId));
    expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
    expect(refused.body.error.code).to.equal("relay_policy_violation");
    expect(refused.body.error.details).to.include({ reason: "buyer_relays_reverted", reverted: 3, limit: 3 });
    expect((await relays(order.id)).length).to.equal(queued);

    // The reverted payments cost gas, and none of it is on the merchant's budget.
    const spend = await stack.relayer.db.query<{ total: string; reverted: string }>(
      `select coalesce(sum(s.cost_wei), 0)::text as total,
              coalesce(sum(s.cost_wei) filter (where c.kind = 'relay_authorization' and c.status = 'failed'), 0)::text
                as reverted
       from relay_spend s join commands c on c.id = s.command_id where s.merchant_id = $1`,
      [shop.id],
    );
    expect(BigInt(spend.rows[0].reverted) > 0n).to.equal(true);
    const budget = await stack.api("GET", "/v1/gas-budget", shop.key);
    expect(budget.status).to.equal(200);
    expect(BigInt(budget.body.spentWei)).to.equal(BigInt(spend.rows[0].total) - BigInt(spend.rows[0].reverted));

    // The buyer can still pay on chain itself.
    const b = buyer.connect(stack.node.provider);
    const usd = MockStablecoin__factory.connect(stack.deployed.stablecoin, b);
    await (await usd.approve(stack.deployed.escrow, AMOUNT)).wait();
  });
});
