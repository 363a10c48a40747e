import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromiumSource, launchChromium } from "../helpers/browser";
import { MockStablecoin__factory } from "../../typechain-types";
import { BuyerClient } from "../../sdk/buyerClient";
import { startRelayer, type Relayer } from "../../relayer/src/relayer";
import {
  ADMIN_KEY,
  createTestDatabase,
  deployContracts,
  devWallet,
  relayerConfig,
  ROOT,
  startNode,
  waitFor,
  type Deployed,
  type LocalNode,
} from "../relayer/harness";

const SHOTS = path.join(ROOT, "test-artifacts", "screenshots");
const DOC_IMAGES = path.join(ROOT, "docs", "img");
const USD = (n: number) => BigInt(Math.round(n * 1e6));

/** What the browser reported as errors: uncaught exceptions, console.error and failed loads. */
interface ConsoleRecord {
  text: string;
  url: string;
}

describe("web pages: merchant dashboard and buyer checkout in a real browser", function () {
  this.timeout(240_000);
  let node: LocalNode;
  let deployed: Deployed;
  let db: { url: string; drop(): Promise<void> };
  let relayer: Relayer;
  let base: string;
  let browser: Browser;
  let merchantKey: string;
  let order: { id: string; chainOrderId: string; reference: string };
  const errors = new Map<Page, ConsoleRecord[]>();
  const buyer = devWallet(10);

  const api = async (method: string, p: string, key: string | null, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith("{") ? JSON.parse(text) : text };
  };
  const orderStatus = async (id: string) => (await api("GET", `/v1/orders/${id}`, merchantKey)).body.status as string;
  const createOrder = async (reference: string, buyerAddress: string, extra: Record<string, unknown> = {}) => {
    const o = await api("POST", "/v1/orders", merchantKey, {
      reference,
      amount: USD(25).toString(),
      token: deployed.stablecoin,
      buyer: buyerAddress,
      ...extra,
    });
    expect(o.status).to.equal(202);
    await waitFor(`${reference} created`, async () => (await orderStatus(o.body.id)) === "created");
    return o.body as { id: string; chainOrderId: string; reference: string };
  };

  async function newPage(ctx?: BrowserContext, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const page = ctx ? await ctx.newPage() : await browser.newPage({ viewport });
    const list: ConsoleRecord[] = [];
    errors.set(page, list);
    page.on("console", (m) => {
      if (m.type() === "error") list.push({ text: m.text(), url: m.location().url });
    });
    page.on("pageerror", (e) => list.push({ text: `uncaught: ${e.message}`, url: "" }));
    return page;
  }

  /**
   * No script error of any kind. `expectedResponses` lists API answers the page was made to receive on
   * purpose (a 404 for an unknown order, a 422 for a low balance): Chromium logs every 4xx fetch as
   * "Failed to load resource", and those lines are allowed only for exactly those URLs and statuses.
   */
  function expectCleanConsole(page: Page, expectedResponses: { status: number; path: string }[] = []) {
    const unexpected = errors.get(page)!.filter((e) => {
      const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(e.text);
      return !(m && expectedResponses.some((x) => Number(m[1]) === x.status && e.url.endsWith(x.path)));
    });
    expect(unexpected, JSON.stringify(unexpected, null, 2)).to.deep.equal([]);
  }

  async function shot(page: Page, name: string, docCopy?: string) {
    fs.mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    // The README's screenshots are refreshed on request only, so a test run never changes tracked files.
    if (docCopy && process.env.UPDATE_DOC_SCREENSHOTS === "1") {
      fs.mkdirSync(DOC_IMAGES, { recursive: true });
      fs.copyFileSync(file, path.join(DOC_IMAGES, docCopy));
    }
  }

  async function logIn(page: Page, key: string) {
    await page.goto(`${base}/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Log in" }).click();
  }

  before(async () => {
    node = await startNode();
    deployed = await deployContracts(node.provider);
    db = await createTestDatabase();
    relayer = await startRelayer({
      config: relayerConfig(node, { DATABASE_URL: db.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent" }),
      chainId: deployed.chainId,
      addresses: deployed,
    });
    base = await relayer.listen();
    // CHROMIUM_PATH, else a system Chromium on PATH, else the one inside the @sparticuz/chromium npm package.
    browser = await launchChromium();
    console.log(`      browser: ${chromiumSource()}`);

    const m = await api("POST", "/v1/admin/merchants", ADMIN_KEY, { name: "Harbour Coffee Roasters" });
    await waitFor(
      "merchant active",
      async () => (await api("GET", `/v1/admin/merchants/${m.body.id}`, ADMIN_KEY)).body.status === "active",
    );
    merchantKey = (await api("POST", `/v1/admin/merchants/${m.body.id}/keys`, ADMIN_KEY, { name: "owner" })).body
      .secret;
    const sku = await api("POST", "/v1/skus", merchantKey, { reference: "MUG-1", name: "Enamel mug" });
    await waitFor(
      "sku created",
      async () => (await api("GET", `/v1/skus/${sku.body.id}`, merchantKey)).body.status === "created",
    );
    await api("POST", `/v1/skus/${sku.body.id}/stock`, merchantKey, { quantity: "40" });
    await waitFor(
      "stock minted",
      async () => (await api("GET", `/v1/skus/${sku.body.id}`, merchantKey)).body.stock?.available === "40",
    );

    const usd = MockStablecoin__factory.connect(deployed.stablecoin, devWallet(0, node.provider));
    await (await usd.mint(buyer.address, USD(500))).wait();
    order = await createOrder("W-1001", buyer.address, { items: [{ sku: sku.body.id, quantity: 2 }] });
  });

  after(async () => {
    await browser?.close();
    await relayer?.stop();
    await db?.drop();
    await node?.stop();
  });

  it("serves both pages from the relayer and keeps them out of the OpenAPI document", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).to.equal(200);
    expect(index.headers.get("content-type")).to.match(/text\/html/);
    expect(index.headers.get("content-security-policy")).to.include("default-src 'self'");
    const checkout = await fetch(`${base}/checkout/${order.chainOrderId}`);
    expect(checkout.status).to.equal(200);
    expect(await checkout.text()).to.include("/checkout.js");
    const doc = (await api("GET", "/openapi.json", null)).body;
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => !p.startsWith("/v1/") && !/^\/(healthz|readyz|metrics)$/.test(p))).to.deep.equal([]);
    expect(paths).to.include("/v1/introspect");
    expect((await fetch(`${base}/.build-stamp`)).status).to.equal(404);
  });

  it("refuses a wrong API key with a clear message and no failed request", async () => {
    const page = await newPage();
    await logIn(page, "ock_not-a-real-key");
    await page.getByText("That API key was not accepted").waitFor();
    expect(await page.locator("#app").isHidden()).to.equal(true);
    await shot(page, "dashboard-wrong-key");
    expectCleanConsole(page);
    await page.close();
  });

  it("the merchant logs in and sees the order with live status, stock per SKU and the timeline", async () => {
    const page = await newPage();
    await logIn(page, merchantKey);
    const row = page.locator(`tr[data-reference="${order.reference}"]`);
    await row.waitFor();
    expect(await row.locator("[data-status]").getAttribute("data-status")).to.equal("created");
    expect(await row.textContent()).to.include("25.00 mUSD");
    await row.click();
    await page.locator("#timeline li[data-event='OrderCreated']").waitFor();
    expect(await page.locator("#timeline").textContent()).to.match(/tx 0x[0-9a-f]{8}.*block \d+.*log \d+/);
    expect(await page.evaluate(() => sessionStorage.getItem("orderchain.apiKey"))).to.equal(merchantKey);

    await page.getByRole("tab", { name: "Stock" }).click();
    const mug = page.locator("#stock-table tr", { hasText: "MUG-1" });
    await mug.waitFor();
    expect(await mug.locator("td.num").allTextContents()).to.deep.equal(["38", "2", "0", "40"]);
    await page.getByRole("tab", { name: "Orders" }).click();
    expectCleanConsole(page);
    await page.close();
  });

  it("the buyer pays gaslessly with the development wallet, the merchant ships, the buyer confirms, the ledger records it", async () => {
    const ethBefore = await node.provider.getBalance(buyer.address);
    const checkout = await newPage(undefined, { width: 900, height: 1000 });
    await checkout.goto(`${base}/checkout/${order.chainOrderId}`);
    await checkout.locator("#checkout").waitFor();
    expect(await checkout.locator("#merchant-name").textContent()).to.equal("Harbour Coffee Roasters");
    expect(await checkout.locator("#you-pay").textContent()).to.equal("25.00 mUSD");
    expect(await checkout.locator("#fee").textContent()).to.include("0.25 mUSD");
    expect(await checkout.getByText("Development wallet — local chain only").count()).to.be.greaterThan(0);
    expect(await checkout.locator("#dev-account").inputValue()).to.equal("10");
    // The terms as a wallet shows the EIP-712 order, items as a list, and the id checked in the page to be their hash.
    await checkout.locator("#terms-check[data-verified='true']").waitFor();
    expect(await checkout.locator("#terms [data-field='items'] li").allTextContents()).to.have.length(1);
    expect(await checkout.locator("#terms [data-field='items'] li").first().textContent()).to.match(/^2 × Enamel mug/);
    expect(await checkout.locator("#terms [data-field='amount']").textContent()).to.equal("25.00 mUSD");
    expect(await checkout.locator("#terms [data-field='maxFeeBps']").textContent()).to.match(/^\d+\.\d\d %$/);
    await shot(checkout, "checkout-awaiting-payment", "checkout.png");

    await checkout.getByRole("button", { name: "Use development wallet" }).click();
    expect(await checkout.locator("#wallet-address").textContent()).to.equal(buyer.address);
    await checkout.getByRole("button", { name: /^Pay 25\.00 mUSD$/ }).click();
    await checkout.locator("#state-note [data-status='paid']").waitFor({ timeout: 30_000 });
    await checkout.getByText("The order is now paid.").waitFor();
    await shot(checkout, "checkout-paid");

    const dash = await newPage();
    await logIn(dash, merchantKey);
    const row = dash.locator(`tr[data-reference="${order.reference}"]`);
    await row.locator("[data-status='paid']").waitFor({ timeout: 10_000 });
    await row.click();
    await dash.getByLabel("Tracking reference").fill("DHL 00340434");
    await dash.getByRole("button", { name: "Mark shipped" }).click();
    // The confirmation stays only while the order's status is unchanged: on a fast chain the status may already
    // be "shipped" (and the message gone) by the time the page is looked at; either shows the click worked.
    await dash
      .getByText("Marked shipped")
      .or(row.locator("[data-status='shipped']"))
      .first()
      .waitFor({ timeout: 60_000 });
    await row.locator("[data-status='shipped']").waitFor({ timeout: 30_000 });

    await checkout.locator("#state-note [data-status='shipped']").waitFor({ timeout: 10_000 });
    await checkout.getByRole("button", { name: "Confirm receipt" }).click();
    await checkout.locator("#state-note [data-status='completed']").waitFor({ timeout: 30_000 });
    await shot(checkout, "checkout-completed");

    await row.locator("[data-status='completed']").waitFor({ timeout: 10_000 });
    await dash.locator("#timeline li[data-event='OrderCompleted']").waitFor({ timeout: 10_000 });
    const events = await dash
      .locator("#timeline li")
      .evaluateAll((lis) => lis.map((li) => li.getAttribute("data-event")));
    expect(events).to.include.members(["OrderCreated", "OrderPaid", "OrderShipped", "OrderCompleted"]);
    await shot(dash, "dashboard-orders", "dashboard.png");

    await dash.getByRole("tab", { name: "Ledger" }).click();
    await dash.locator("[data-account='merchant_payouts']").waitFor();
    expect(await dash.locator("[data-account='merchant_payouts']").textContent()).to.equal("24.75");
    expect(await dash.locator("[data-account='platform_fees']").textContent()).to.equal("0.25");
    expect(await dash.locator("[data-account='escrow']").textContent()).to.equal("0.00");
    expect(await dash.locator("#ledger-table tbody tr").count()).to.be.greaterThanOrEqual(5);
    expect(
      await dash.evaluate(() => (document.getElementById("volume-chart") as HTMLCanvasElement).width),
    ).to.be.greaterThan(0);
    await shot(dash, "dashboard-ledger", "dashboard-ledger.png");

    await dash.getByRole("tab", { name: "Stock" }).click();
    const mug = dash.locator("#stock-table tr", { hasText: "MUG-1" });
    await waitFor(
      "stock delivered",
      async () => (await mug.locator("td.num").allTextContents()).join(",") === "38,0,2,40",
    );

    expect(await node.provider.getBalance(buyer.address)).to.equal(ethBefore);
    expect(await orderStatus(order.id)).to.equal("completed");
    expectCleanConsole(checkout);
    expectCleanConsole(dash);
    await checkout.close();
    await dash.close();
  });

  it("a dispute is settled by a proposal: the merchant proposes on the dashboard, the buyer accepts on the checkout", async () => {
    const o = await createOrder("W-1006", buyer.address);
    const client = new BuyerClient(base, buyer.connect(node.provider));
    await client.pay(o.chainOrderId);
    await waitFor("W-1006 paid", async () => (await orderStatus(o.id)) === "paid");
    expect((await api("POST", `/v1/orders/${o.id}/ship`, merchantKey, { trackingReference: "UPS 1" })).status).to.equal(
      202,
    );
    await waitFor("W-1006 shipped", async () => (await orderStatus(o.id)) === "shipped");

    const checkout = await newPage(undefined, { width: 900, height: 1100 });
    await checkout.goto(`${base}/checkout/${o.chainOrderId}`);
    await checkout.getByRole("button", { name: "Use development wallet" }).click();
    await checkout.getByLabel("Evidence for the arbiter").fill("the mug arrived chipped");
    await checkout.getByRole("button", { name: "Open dispute" }).click();
    await checkout.locator("#state-note [data-status='disputed']").waitFor({ timeout: 30_000 });
    expect(await checkout.locator("#default-after").count()).to.equal(1);

    const dash = await newPage();
    await logIn(dash, merchantKey);
    const row = dash.locator(`tr[data-reference="${o.reference}"]`);
    await row.locator("[data-status='disputed']").waitFor({ timeout: 10_000 });
    await row.click();
    await dash.getByLabel(/Propose what the buyer gets back/).fill("10");
    await dash.getByRole("button", { name: "Propose" }).click();
    await dash.getByText("Settlement proposed").waitFor({ timeout: 60_000 });
    await dash.locator("#own-proposal").waitFor({ timeout: 30_000 });

    await checkout.locator("#merchant-proposal").waitFor({ timeout: 10_000 });
    expect(await checkout.locator("#merchant-proposal").textContent()).to.include(
      "The merchant proposes 10.00 mUSD back to you",
    );
    await shot(checkout, "checkout-settlement-proposed");
    await checkout.getByRole("button", { name: "Accept: 10.00 mUSD back to me" }).click();
    await checkout.locator("#state-note [data-status='resolved']").waitFor({ timeout: 30_000 });
    await row.locator("[data-status='resolved']").waitFor({ timeout: 10_000 });
    await dash.locator("#timeline li[data-event='DisputeResolved']").waitFor({ timeout: 10_000 });
    const events = await dash
      .locator("#timeline li")
      .evaluateAll((lis) => lis.map((li) => li.getAttribute("data-event")));
    expect(events).to.include.members(["OrderDisputed", "SettlementProposed", "DisputeResolved"]);
    expectCleanConsole(checkout);
    expectCleanConsole(dash);
    await checkout.close();
    await dash.close();
  });

  it("shows that an unknown order does not exist, and that a malformed link is not an order", async () => {
    const unknown = `0x${"ab".repeat(32)}`;
    const page = await newPage(undefined, { width: 900, height: 700 });
    await page.goto(`${base}/checkout/${unknown}`);
    await page.getByText("No order with this id exists").waitFor();
    expect(await page.locator("#page-message code").textContent()).to.equal("not_found");
    await shot(page, "checkout-unknown-order");
    expectCleanConsole(page, [{ status: 404, path: `/v1/checkout/${unknown}` }]);

    await page.goto(`${base}/checkout/not-an-order`);
    await page.getByText("This is not a valid checkout link").waitFor();
    expectCleanConsole(page, [{ status: 404, path: `/v1/checkout/${unknown}` }]);
    await page.close();
  });

  it("a cancelled order (cancel button on the dashboard) cannot be paid", async () => {
    const o = await createOrder("W-1002", buyer.address);
    const dash = await newPage();
    await logIn(dash, merchantKey);
    const row = dash.locator(`tr[data-reference="${o.reference}"]`);
    await row.click();
    await dash.getByRole("button", { name: "Cancel order" }).click();
    await dash.getByRole("button", { name: "Confirm cancellation" }).click();
    await row.locator("[data-status='cancelled']").waitFor({ timeout: 30_000 });

    const page = await newPage(undefined, { width: 900, height: 900 });
    await page.goto(`${base}/checkout/${o.chainOrderId}`);
    await page.locator("#not-payable").waitFor();
    expect(await page.locator("#not-payable").textContent()).to.include("cancelled");
    expect(await page.locator("#pay").count()).to.equal(0);
    expectCleanConsole(dash);
    expectCleanConsole(page);
    await dash.close();
    await page.close();
  });

  it("an order whose payment deadline has passed says so instead of offering to pay", async () => {
    const o = await createOrder("W-1003", buyer.address);
    const page = await newPage(undefined, { width: 900, height: 900 });
    await page.clock.setFixedTime(Date.now() + 48 * 3600 * 1000);
    await page.goto(`${base}/checkout/${o.chainOrderId}`);
    await page.getByText("The payment deadline passed").waitFor();
    expect(await page.locator("#pay").count()).to.equal(0);
    await shot(page, "checkout-expired");
    expectCleanConsole(page);
    await page.close();
  });

  it("a buyer whose balance is too low sees the relayer's 422 explained with its code", async () => {
    const poor = devWallet(11);
    const o = await createOrder("W-1004", poor.address);
    const page = await newPage(undefined, { width: 900, height: 1000 });
    await page.goto(`${base}/checkout/${o.chainOrderId}`);
    await page.locator("#dev-account").waitFor();
    expect(await page.locator("#dev-account").inputValue()).to.equal("11");
    await page.getByRole("button", { name: "Use development wallet" }).click();
    await page.locator("#pay").click();
    await page.getByText("Your balance is too low to pay this order").waitFor();
    expect(await page.locator("#action-message code").textContent()).to.equal("unprocessable");
    expect(await page.locator("#action-message").textContent()).to.include("you have 0.00 mUSD and need 25.00 mUSD");
    await shot(page, "checkout-insufficient-balance");
    expectCleanConsole(page, [{ status: 422, path: `/v1/checkout/${o.chainOrderId}/actions` }]);
    expect(await orderStatus(o.id)).to.equal("created");

    // Another test account is not the buyer: the relayer refuses it with wrong_signer, shown with its code.
    await page.getByRole("button", { name: "Use another wallet" }).click();
    await page.locator("#dev-account").selectOption("12");
    await page.getByRole("button", { name: "Use development wallet" }).click();
    await page.getByText("not this order's buyer").waitFor();
    expect(await page.locator("#pay").isDisabled()).to.equal(true);
    await page.close();
  });

  it("a signature refused in an injected wallet is reported and nothing is sent", async () => {
    const o = await createOrder("W-1005", buyer.address);
    const ctx = await browser.newContext({ viewport: { width: 900, height: 1000 } });
    // A minimal EIP-1193 wallet on the local chain whose user declines every signature request.
    await ctx.addInitScript((address: string) => {
      (window as unknown as { ethereum: unknown }).ethereum = {
        async request({ method }: { method: string }) {
          if (method === "eth_chainId") return "0x7a69";
          if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
          if (method === "eth_signTypedData_v4")
            throw Object.assign(new Error("User rejected the request."), { code: 4001 });
          throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
        },
        on() {},
        removeListener() {},
      };
    }, buyer.address);
    const page = await newPage(ctx);
    await page.goto(`${base}/checkout/${o.chainOrderId}`);
    await page.getByRole("button", { name: "Connect browser wallet" }).click();
    expect(await page.locator("#wallet-address").textContent()).to.equal(buyer.address);
    await page.locator("#pay").click();
    await page.getByText("You declined the signature in your wallet").waitFor();
    await shot(page, "checkout-signature-refused");
    expectCleanConsole(page);
    expect(await orderStatus(o.id)).to.equal("created");
    await ctx.close();
  });

  it("the merchant searches orders with the query language; a refused query is shown with its position", async () => {
    const tagged = await api("POST", "/v1/orders", merchantKey, {
      reference: "W-1007",
      amount: USD(7).toString(),
      token: deployed.stablecoin,
      metadata: { channel: "phone" },
    });
    expect(tagged.status).to.equal(202);
    const page = await newPage();
    await logIn(page, merchantKey);
    await page.locator(`tr[data-reference="${order.reference}"]`).waitFor();
    const box = page.getByLabel("Search or find by reference");
    await box.fill("metadata['channel']:'phone' AND amount<10000000000000000000");
    await page.getByRole("button", { name: "Find" }).click();
    await page.locator("#orders-message code.query").waitFor();
    await page.waitForFunction(() => document.querySelectorAll("#orders-table tbody tr").length === 1);
    expect(await page.locator("#orders-table tbody tr").getAttribute("data-reference")).to.equal("W-1007");

    await box.fill("amount>1 OR status:'paid'");
    await page.getByRole("button", { name: "Find" }).click();
    const caret = page.locator("#search-error pre.query-error");
    await caret.waitFor();
    expect(await caret.getAttribute("data-position")).to.equal("12");
    expect(await page.locator("#search-error").textContent()).to.include("error at character 13");
    // The table keeps the last good search.
    expect(await page.locator("#orders-table tbody tr").count()).to.equal(1);
    await box.fill("");
    await page.getByRole("button", { name: "Find" }).click();
    await page.locator(`tr[data-reference="${order.reference}"]`).waitFor();
    expect(await page.locator("#search-error").isHidden()).to.equal(true);
    // As the client encodes it (quotes too).
    const refused = `/v1/orders/search?query=${encodeURIComponent("amount>1 OR status:'paid'").replace(/'/g, "%27")}&limit=50`;
    expectCleanConsole(page, [{ status: 400, path: refused }]);
    await page.close();
  });
});
