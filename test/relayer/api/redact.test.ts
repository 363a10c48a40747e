import { expect } from "chai";
import { redactUrl } from "../../../sdk/redact";

describe("RPC URLs in messages", function () {
  it("keeps only scheme and host of a hosted provider's URL, whose path or query carries its API key", function () {
    expect(redactUrl("https://eth-sepolia.g.alchemy.com/v2/abcDEF123secret")).to.equal(
      "https://eth-sepolia.g.alchemy.com/…",
    );
    expect(redactUrl("https://rpc.example/?apikey=secret")).to.equal("https://rpc.example/…");
    expect(redactUrl("https://user:secret@rpc.example")).to.equal("https://rpc.example/…");
    expect(redactUrl("wss://base-sepolia.infura.io/ws/v3/secret")).to.equal("wss://base-sepolia.infura.io/…");
  });

  it("shows a URL without a path in full, and says only how long a value that is not a URL is", function () {
    expect(redactUrl("http://127.0.0.1:8545")).to.equal("http://127.0.0.1:8545");
    expect(redactUrl("not a url with secret123")).to.equal("(24 characters, not a URL)");
  });
});
