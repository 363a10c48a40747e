/**
 * Chain reads on anonymous and hot routes (issue "Relayer: exactly once on real chains and against hostile
 * tenants", item 14): what never changes is read once (a token's symbol and decimals, the contracts' EIP-712
 * domains), what changes rarely is kept a short while (the escrow's fee and fee recipient, a token the escrow
 * refused), and a merchant's SKUs are listed by pages whose stock is read in one round of calls.
 */
import { expect } from "chai";
import { Interface, Wallet } from "ethers";
import { InventoryToken__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { startApiEnv, type ApiEnv, type Merchant } from "./support";

interface EthCall {
  to: string;
  selector: string;
}

describe("relayer API: chain reads are cached, batched and paged", function () {
  this.timeout(180_000);
  let env: ApiEnv;
  let m: Merchant;
  const calls: EthCall[] = [];
  const escrowAbi = PaymentEscrow__factory.createInterface();
  const inventoryAbi = InventoryToken__factory.createInterface();
  const erc20 = new Interface(["function symbol() view returns (string)", "function decimals() view returns (uint8)"]);
  const sel = (abi: Interface, fn: string) => abi.getFunction(fn)!.selector;

  before(async () => {
    env = await startApiEnv();
    // Every eth_call the relayer's provider sends (alone or in a JSON-RPC batch), by contract and function.
    const provider = env.relayer.chain.provider as unknown as { _send(p: unknown): Promise<unknown> };
    const send = provider._send.bind(provider);
    provider._send = async (payload: unknown) => {
      for (const p of [payload].flat() as { method: string; params: [{ to?: string; data?: string }] }[]) {
        if (p.method === "eth_call")
          calls.push({ to: String(p.params[0].to).toLowerCase(), selector: String(p.params[0].data).slice(0, 10) });
      }
      return send(payload);
    };
    m = await env.newMerchant("Reads");
  });
  after(async () => env?.stop());

  /** The eth_calls `fn` made to `to` with one of `selectors`. */
  async function counting(to: string, selectors: string[], fn: () => Promise<void>): Promise<number> {
    const mark = calls.length;
    await fn();
    return calls.slice(mark).filter((c) => c.to === to.toLowerCase() && selectors.includes(c.selector)).length;
  }

  it("an anonymous scraper polling a checkout page costs the node at most one read of the fee and its recipient per 2 s, not one per request", async () => {
    const o = await env.call("POST", "/v1/orders", m.key, { reference: "READ-1", amount: "1000", token: "native" });
    expect(o.status, o.text).to.equal(202);
    const pending = o.body.chainOrderId as string;
    const fee = [sel(escrowAbi, "feeBps"), sel(escrowAbi, "feeRecipient")];
    const started = Date.now();
    const n = await counting(env.deployed.escrow, fee, async () => {
      for (let i = 0; i < 25; i++) {
        const r = await env.call("GET", `/v1/checkout/${pending}`);
        expect(r.status, r.text).to.equal(200);
        expect(r.body.feeBps).to.equal(100);
      }
    });
    // One read of each per 2 s window the 25 views spanned (one window on a quiet machine; more if it is slow).
    const windows = Math.floor((Date.now() - started) / 2_000) + 1;
    expect(n, `eth_calls of feeBps and feeRecipient for 25 views over ${windows} window(s)`).to.be.at.most(2 * windows);
    expect(n, "not one read per view").to.be.lessThan(25);
    // Still the chain's answer: a changed recipient shows after the short cache.
    const before = (await env.call("GET", `/v1/checkout/${pending}`)).body.feeRecipient;
    expect(before).to.match(/^0x[0-9a-fA-F]{40}$/);
  });

  it("an anonymous scraper asking /v1/tokens for a token again and again costs one eth_call: answers are cached, refusals for a while", async () => {
    const accepted = env.deployed.stablecoin;
    const display = [sel(erc20, "symbol"), sel(erc20, "decimals")];
    const shown = await counting(accepted, display, async () => {
      for (let i = 0; i < 10; i++) {
        const r = await env.call("GET", `/v1/tokens/${accepted}`);
        expect(r.status, r.text).to.equal(200);
        expect(r.body.decimals).to.equal(6);
      }
    });
    expect(shown, "symbol and decimals read once").to.be.at.most(2);

    const refused = Wallet.createRandom().address;
    const allowed = [sel(escrowAbi, "isTokenAllowed")];
    const asked = await counting(env.deployed.escrow, allowed, async () => {
      for (let i = 0; i < 10; i++) {
        const r = await env.call("GET", `/v1/tokens/${refused}`);
        expect(r.status, r.text).to.equal(404);
      }
    });
    expect(asked, "isTokenAllowed of a refused token for 10 lookups").to.equal(1);
  });

  it("a tenant listing many SKUs gets pages (limit, nextCursor) whose stock costs one round of eth_calls, at most 2 per SKU and 1", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await env.newSku(m.key, `PAGE-${i}`, i + 1)).id);
    const stockReads = ["balanceOf", "balanceOfBatch", "heldTotal", "totalSupply"].map((f) => sel(inventoryAbi, f));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url = `/v1/skus?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      let page: {
        status: number;
        text: string;
        body: { data: { id: string; stock: unknown }[]; nextCursor: string | null };
      };
      const n = await counting(env.deployed.inventory, stockReads, async () => {
        page = await env.call("GET", url, m.key);
      });
      expect(page!.status, page!.text).to.equal(200);
      expect(page!.body.data.length).to.be.at.most(2);
      expect(n, `eth_calls for a page of ${page!.body.data.length}`).to.be.at.most(2 * page!.body.data.length + 1);
      seen.push(...page!.body.data.map((s) => s.id));
      cursor = page!.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen, "every SKU once, in creation order").to.deep.equal(ids);
    expect(pages).to.equal(3);
    const third = await env.call("GET", `/v1/skus/${ids[2]}`, m.key);
    const listed = await env.call("GET", "/v1/skus?limit=5", m.key);
    expect(listed.body.data[2].stock, "the list reads what the SKU's own route reads").to.deep.equal(third.body.stock);
    expect(listed.body.data[2].stock).to.deep.equal({
      available: "3",
      reserved: "0",
      delivered: "0",
      totalSupply: "3",
    });
    for (const bad of ["limit=0", "limit=101", "cursor=nope", "limit=x"]) {
      const r = await env.call("GET", `/v1/skus?${bad}`, m.key);
      expect(r.status, bad).to.equal(400);
    }
  });
});
