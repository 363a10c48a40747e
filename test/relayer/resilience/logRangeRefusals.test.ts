import { expect } from "chai";
import { makeError } from "ethers";
import { refusedRange } from "../../../relayer/src/indexer/logReader";
import { RANGE_TOO_LARGE_ERRORS } from "../support/rpcProxy";

/** A JSON-RPC error answer as ethers' provider raises it (the node's error object under `error`). */
const rpcError = (code: number, message: string) =>
  makeError("could not coalesce error", "UNKNOWN_ERROR", {
    error: { code, message },
    payload: { method: "eth_getLogs", params: [{ address: ["0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"] }] },
  } as never);

describe("relayer indexer: which eth_getLogs errors are a provider refusing a range as too large", () => {
  it("every provider's wording of 'range too large' (Alchemy, Infura, QuickNode, Ankr, geth, -32005) is a refusal", () => {
    for (const e of RANGE_TOO_LARGE_ERRORS) {
      expect(refusedRange(rpcError(e.code, e.message)), e.message).to.not.equal(null);
    }
    expect(refusedRange(rpcError(-32005, "something the node will not say more about"))).to.not.equal(null);
  });

  it("takes the range a provider suggests, or the limit it names", () => {
    expect(
      refusedRange(
        rpcError(-32005, "query returned more than 10000 results. Try with this block range [0x10, 0x1f3]."),
      ),
    ).to.deep.equal({ suggestedSpan: 0x1f3 - 0x10 + 1 });
    expect(refusedRange(rpcError(-32602, "eth_getLogs block range too large, range: 2000, max: 1000"))).to.deep.equal({
      suggestedSpan: 1000,
    });
    expect(refusedRange(rpcError(-32000, "exceed maximum block range: 5000"))).to.deep.equal({ suggestedSpan: 5000 });
    expect(refusedRange(rpcError(-32600, "eth_getLogs is limited to a 10,000 range"))).to.deep.equal({
      suggestedSpan: 10000,
    });
    expect(refusedRange(rpcError(-32000, "block range is too wide"))).to.deep.equal({});
  });

  it("rate limits, network failures and other errors are not refusals (the caller backs off instead of narrowing)", () => {
    const http429 = makeError("RPC endpoint answered HTTP 429: Too Many Requests", "SERVER_ERROR", {
      info: { responseStatus: 429, responseBody: '{"error":{"code":-32005,"message":"Too Many Requests"}}' },
    } as never);
    expect(refusedRange(http429)).to.equal(null);
    expect(refusedRange(rpcError(-32005, "project ID request rate exceeded"))).to.equal(null);
    expect(refusedRange(rpcError(429, "Your app has exceeded its compute units per second capacity"))).to.equal(null);
    expect(
      refusedRange(makeError("RPC request to http://x failed: fetch failed", "NETWORK_ERROR", { event: "request" })),
    ).to.equal(null);
    expect(refusedRange(rpcError(-32000, "header not found"))).to.equal(null);
    expect(refusedRange(rpcError(-32601, "the method eth_getLogs does not exist/is not available"))).to.equal(null);
  });
});
