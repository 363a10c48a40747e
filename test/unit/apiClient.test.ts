/** The generated client's behaviour around the API: headers it adds, and the one error class for every failure. */
import { expect } from "chai";
import { ApiError, createApiClient, ok } from "../../sdk/api/client";

function recorder(answer: (req: Request) => Response | Promise<Response>) {
  const seen: Request[] = [];
  const fetchImpl = (async (req: Request) => {
    seen.push(req);
    return answer(req);
  }) as typeof fetch;
  return { seen, fetchImpl };
}
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("sdk/api client (openapi-fetch over the generated schema)", () => {
  it("sends the key as a bearer token and a fresh Idempotency-Key on each POST, none on GET", async () => {
    const { seen, fetchImpl } = recorder(() => json(202, { id: "sku_1" }));
    const api = createApiClient({ baseUrl: "http://relayer.test/", key: "oc_live_x", fetch: fetchImpl });
    await ok(api.POST("/v1/skus", { body: { reference: "A-1", name: "A" } }));
    await ok(api.POST("/v1/skus", { body: { reference: "A-2", name: "B" } }));
    await ok(api.GET("/v1/skus/{id}", { params: { path: { id: "sku_1" } } }));
    expect(seen.map((r) => `${r.method} ${r.url}`)).to.deep.equal([
      "POST http://relayer.test/v1/skus",
      "POST http://relayer.test/v1/skus",
      "GET http://relayer.test/v1/skus/sku_1",
    ]);
    expect(seen.every((r) => r.headers.get("authorization") === "Bearer oc_live_x")).to.equal(true);
    const keys = seen.map((r) => r.headers.get("idempotency-key"));
    expect(keys[0]).to.match(/^[0-9a-f-]{36}$/);
    expect(keys[1])
      .to.match(/^[0-9a-f-]{36}$/)
      .and.not.equal(keys[0]);
    expect(keys[2]).to.equal(null);
  });

  it("keeps an Idempotency-Key the caller chose (a retried click must replay, not act twice)", async () => {
    const { seen, fetchImpl } = recorder(() => json(202, {}));
    const api = createApiClient({ baseUrl: "http://relayer.test", key: () => "k", fetch: fetchImpl });
    await ok(
      api.POST("/v1/orders/{id}/cancel", {
        params: { path: { id: "ord_1" }, header: { "Idempotency-Key": "click-1" } },
      }),
    );
    expect(seen[0].headers.get("idempotency-key")).to.equal("click-1");
  });

  it("a refusal is an ApiError with the API's status, code, message and details", async () => {
    const { fetchImpl } = recorder(() =>
      json(409, { error: { code: "invalid_state", message: "order is paid", details: { status: "paid" } } }),
    );
    const api = createApiClient({ baseUrl: "http://relayer.test", fetch: fetchImpl });
    const err = await ok(api.POST("/v1/orders/{id}/cancel", { params: { path: { id: "o" } } })).catch((e) => e);
    expect(err).to.be.instanceOf(ApiError);
    expect(err).to.include({ status: 409, code: "invalid_state", message: "order is paid" });
    expect(err.details).to.deep.equal({ status: "paid" });
  });

  it("an answer that is not the API's error body (a proxy's 502) is http_502 with its text", async () => {
    const { fetchImpl } = recorder(() => new Response("Bad Gateway", { status: 502 }));
    const api = createApiClient({ baseUrl: "http://relayer.test", fetch: fetchImpl });
    const err = await ok(api.GET("/healthz")).catch((e) => e);
    expect(err).to.include({ status: 502, code: "http_502" });
  });

  it("no answer at all is an ApiError network_error (status 0)", async () => {
    const api = createApiClient({
      baseUrl: "http://relayer.test",
      fetch: (async () => {
        throw new TypeError("fetch failed");
      }) as typeof fetch,
    });
    const err = await ok(api.GET("/healthz")).catch((e) => e);
    expect(err).to.be.instanceOf(ApiError);
    expect(err).to.include({ status: 0, code: "network_error" });
  });
});
