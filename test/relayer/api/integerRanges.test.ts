import { expect } from "chai";
import { ARBITER_KEY } from "../harness";
import { errorOf, startApiEnv, type ApiEnv, type Merchant, type Method } from "./support";

const UINT256_MAX = 2n ** 256n - 1n;
const UINT48_MAX = 2n ** 48n - 1n;
/** The escrow's largest amount (`_MAX_AMOUNT = type(uint184).max`, AmountTooLarge): refunds fit its uint184 slot. */
const ESCROW_MAX_AMOUNT = 2n ** 184n - 1n;

/**
 * Every integer the API passes to the chain is checked against its Solidity type (contracts/interfaces/
 * IPaymentEscrow.sol, the forwarder's and permit's typed data) when the request arrives: 400 value_out_of_range,
 * never a command the chain can never accept, retried forever.
 */
describe("relayer API: on-chain integers are refused outside their Solidity types", function () {
  this.timeout(120_000);
  let env: ApiEnv;
  let m: Merchant;
  let order: { id: string; chainOrderId: string };

  before(async () => {
    env = await startApiEnv();
    m = await env.newMerchant("Ranges");
    const o = await env.call("POST", "/v1/orders", m.key, { reference: "RANGE-0", amount: "10", token: "native" });
    order = o.body;
  });
  after(async () => env?.stop());

  const refused = (r: { status: number; text: string }, path: string) => {
    expect(r.status, r.text).to.equal(400);
    const e = errorOf(r as never);
    expect(e.code, r.text).to.equal("value_out_of_range");
    expect(e.details, r.text).to.deep.include({ path });
  };

  it("a merchant's amount above 2^256-1 (78 digits) is refused with 400 value_out_of_range, not accepted and stuck pending", async () => {
    const before = await env.relayer.db.query("select count(*) from orders");
    const r = await env.call("POST", "/v1/orders", m.key, {
      reference: "RANGE-1",
      amount: (UINT256_MAX + 1n).toString(),
      token: "native",
    });
    refused(r, "/amount");
    expect((await env.relayer.db.query("select count(*) from orders")).rows).to.deep.equal(before.rows);
  });

  it("an amount above the escrow's limit (2^184-1, AmountTooLarge) is refused at the API; the limit itself goes on chain", async () => {
    refused(
      await env.call("POST", "/v1/orders", m.key, {
        reference: "RANGE-2",
        amount: (ESCROW_MAX_AMOUNT + 1n).toString(),
        token: "native",
      }),
      "/amount",
    );
    const max = await env.call("POST", "/v1/orders", m.key, {
      reference: "RANGE-3",
      amount: ESCROW_MAX_AMOUNT.toString(),
      token: "native",
    });
    expect(max.status, max.text).to.equal(202);
    await env.waitOrder(m.key, max.body.id, "created");
  });

  it("a merchant's or the arbiter's refund and split amounts above 2^256-1 are refused with 400", async () => {
    const huge = (UINT256_MAX + 1n).toString();
    const requests: [Method, string, string, unknown, string][] = [
      ["POST", `/v1/orders/${order.id}/refund`, m.key, { amount: huge }, "/amount"],
      ["POST", `/v1/orders/${order.id}/settlement/propose`, m.key, { buyerTotal: huge }, "/buyerTotal"],
      ["POST", `/v1/orders/${order.id}/settlement/accept`, m.key, { buyerTotal: huge }, "/buyerTotal"],
      ["POST", `/v1/arbiter/disputes/${order.chainOrderId}/resolve`, ARBITER_KEY, { buyerTotal: huge }, "/buyerTotal"],
      [
        "POST",
        `/v1/arbiter/disputes/${order.chainOrderId}/resolve`,
        ARBITER_KEY,
        { buyerAmount: huge },
        "/buyerAmount",
      ],
    ];
    for (const [method, url, key, body, field] of requests) refused(await env.call(method, url, key, body), field);
  });

  it("a buyer's values outside uint256, or a forward request deadline outside uint48, are refused with 400", async () => {
    const address = "0x00000000000000000000000000000000000000b1";
    const domain = { name: "d", version: "1", chainId: "31337", verifyingContract: address };
    const signature = `0x${"11".repeat(65)}`;
    const action = (message: Record<string, string>, permit?: Record<string, string>) => ({
      action: "pay",
      buyer: address,
      forwardRequest: {
        domain,
        signature,
        message: {
          from: address,
          to: address,
          value: "0",
          gas: "100000",
          nonce: "0",
          deadline: String(Math.floor(Date.now() / 1000) + 600),
          data: "0x",
          ...message,
        },
      },
      ...(permit && {
        permit: {
          domain,
          signature,
          message: { owner: address, spender: address, value: "10", nonce: "0", deadline: "9999999999", ...permit },
        },
      }),
    });
    const url = `/v1/checkout/${order.chainOrderId}/actions`;
    const huge = (UINT256_MAX + 1n).toString();
    refused(
      await env.call("POST", url, null, action({ deadline: (UINT48_MAX + 1n).toString() })),
      "/forwardRequest/message/deadline",
    );
    refused(await env.call("POST", url, null, action({ gas: huge })), "/forwardRequest/message/gas");
    refused(await env.call("POST", url, null, action({}, { value: huge })), "/permit/message/value");
    refused(
      await env.call("POST", `/v1/checkout/${order.chainOrderId}/intents`, null, {
        action: "propose_settlement",
        buyer: address,
        buyerTotal: huge,
      }),
      "/buyerTotal",
    );
  });
});
