import { expect } from "chai";
import {
  apiContract,
  OpenApiContract,
  OpenApiContractError,
  type Exchange,
  type OpenApiDocument,
} from "../support/openapiContract";

/** The checker the call helpers run on every answer: it must find what the document does not promise. */
describe("OpenAPI contract checker", () => {
  const contract = apiContract();
  const json = (body: unknown) => JSON.stringify(body);
  const error = (code: string) => json({ error: { code, message: "m", details: {} } });
  const reply = (method: string, url: string, status: number, body: string, contentType = "application/json") =>
    ({ method, url, status, body, contentType: `${contentType}; charset=utf-8` }) satisfies Exchange;

  const merchant = {
    id: "mch_1",
    name: "Shop",
    address: "0x" + "ab".repeat(20),
    status: "active",
    signer: "custodial",
    createdAt: "2024-05-01T12:00:00.000Z",
  };

  /** A document with a closed object, to show additionalProperties: false is enforced. */
  const closed: OpenApiDocument = {
    openapi: "3.0.3",
    paths: {
      "/things/{id}": {
        get: {
          operationId: "getThing",
          responses: {
            200: {
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    required: ["id"],
                    additionalProperties: false,
                    properties: { id: { type: "string" }, size: { $ref: "#/components/schemas/Size" } },
                  },
                },
              },
            },
          },
        },
      },
    },
    components: { schemas: { Size: { type: "string", format: "uint48", nullable: true } } },
  };

  it("compiles the schema of every JSON response of the committed document, with every format it names", () => {
    expect(OpenApiContract.load().compileAll()).to.be.greaterThan(100);
  });

  it("refuses a document naming a format it does not know, rather than passing everything", () => {
    const unknown = structuredClone(closed);
    (unknown.components!.schemas as Record<string, { format: string }>).Size.format = "uint63";
    expect(() => new OpenApiContract(unknown).check(reply("GET", "/things/1", 200, json({ id: "1" })))).to.throw(
      /unknown format "uint63"/,
    );
  });

  it("passes a documented answer whose body validates, $refs and custom formats included", () => {
    expect(contract.check(reply("GET", "/v1/admin/merchants/mch_1", 200, json(merchant)))).to.equal(null);
    expect(contract.check(reply("GET", "/healthz", 200, json({ status: "ok" })))).to.equal(null);
  });

  it("passes a documented 404 error body", () => {
    expect(contract.check(reply("GET", "/v1/orders/ord_missing", 404, error("not_found")))).to.equal(null);
  });

  it("reports a status the operation does not document, naming the operation", () => {
    const v = contract.check(reply("GET", "/v1/orders/ord_1", 418, error("internal_error")))!;
    expect(v.kind).to.equal("undocumented_status");
    expect(v.operationId).to.equal("getOrder");
    expect(v.route).to.equal("GET /v1/orders/{id}");
    expect(v.status).to.equal(418);
    expect(v.message).to.include("GET /v1/orders/{id} (getOrder) answered 418").and.include("not documented");
  });

  it("reports a body missing a required property, with Ajv's error", () => {
    const { createdAt: _, ...partial } = merchant;
    const v = contract.check(reply("GET", "/v1/admin/merchants/mch_1", 200, json(partial)))!;
    expect(v.kind).to.equal("schema_mismatch");
    expect(v.operationId).to.equal("getMerchant");
    expect(v.errors.map((e) => e.params)).to.deep.include({ missingProperty: "createdAt" });
    expect(v.message).to.include("createdAt");
  });

  it("reports an error body missing its details", () => {
    const v = contract.check(reply("GET", "/v1/orders/x", 404, json({ error: { code: "not_found", message: "m" } })))!;
    expect(v.kind).to.equal("schema_mismatch");
    expect(v.errors.map((e) => e.params)).to.deep.include({ missingProperty: "details" });
  });

  it("reports a property a closed object schema does not list", () => {
    const c = new OpenApiContract(closed);
    expect(c.check(reply("GET", "/things/1", 200, json({ id: "1", size: "7" })))).to.equal(null);
    const v = c.check(reply("GET", "/things/1", 200, json({ id: "1", secret: "s" })))!;
    expect(v.kind).to.equal("schema_mismatch");
    expect(v.operationId).to.equal("getThing");
    expect(v.errors.map((e) => e.keyword)).to.include("additionalProperties");
    expect(v.message).to.include("secret");
  });

  it("knows the document's formats: date-time and the on-chain integers", () => {
    const badDate = contract.check(
      reply("GET", "/v1/admin/merchants/mch_1", 200, json({ ...merchant, createdAt: "yesterday" })),
    )!;
    expect(badDate.errors.map((e) => e.params)).to.deep.include({ format: "date-time" });
    const c = new OpenApiContract(closed);
    expect(c.check(reply("GET", "/things/1", 200, json({ id: "1", size: null })))).to.equal(null);
    const tooBig = c.check(reply("GET", "/things/1", 200, json({ id: "1", size: String(2n ** 48n) })))!;
    expect(tooBig.errors.map((e) => e.params)).to.deep.include({ format: "uint48" });
  });

  it("reports a path or a method the document does not have", () => {
    const path = contract.check(reply("GET", "/v1/nothing", 200, json({})))!;
    expect(path.kind).to.equal("unknown_route");
    expect(path.operationId).to.equal(null);
    expect(path.message).to.include("GET /v1/nothing");
    expect(contract.check(reply("DELETE", "/v1/orders", 200, json({})))!.kind).to.equal("unknown_route");
  });

  it("matches a path to its template, literal segments first, ignoring the query string", () => {
    expect(contract.operation("POST", "/v1/webhooks/deliveries/dlv_1/redeliver")?.operationId).to.equal(
      "redeliverWebhook",
    );
    expect(contract.operation("GET", "/v1/webhooks/wh_1/deliveries?limit=5")?.operationId).to.equal(
      "listWebhookDeliveries",
    );
    expect(contract.operation("GET", "/v1/ledger/export.csv?from=x")?.operationId).to.equal("exportLedgerCsv");
    expect(contract.operation("GET", "/v1/orders/a/b")).to.equal(null);
  });

  it("checks only the content type of a text answer, and reports one the status does not document", () => {
    expect(contract.check(reply("GET", "/v1/ledger/export.csv", 200, "a,b\n1,2\n", "text/csv"))).to.equal(null);
    expect(contract.check(reply("GET", "/metrics", 200, "# HELP x\n", "text/plain"))).to.equal(null);
    const v = contract.check(reply("GET", "/v1/ledger/export.csv", 200, json({ rows: [] })))!;
    expect(v.kind).to.equal("undocumented_content_type");
    const notJson = contract.check(reply("GET", "/healthz", 200, "ok"))!;
    expect(notJson.kind).to.equal("invalid_json");
  });

  describe("assertConforms, as the call helpers run it", () => {
    it("throws an OpenApiContractError naming the route, the status and what is wrong", () => {
      expect(() => contract.assertConforms(reply("GET", "/v1/orders/ord_1", 418, error("internal_error"))))
        .to.throw(OpenApiContractError)
        .with.property("message")
        .that.matches(/GET \/v1\/orders\/\{id\} \(getOrder\) answered 418: status 418 is not documented/);
    });

    it("lets through the API's 404 route_not_found for a route it does not have, and nothing else there", () => {
      expect(() =>
        contract.assertConforms(reply("PUT", "/v1/skus/sku_1", 404, error("route_not_found"))),
      ).to.not.throw();
      expect(() => contract.assertConforms(reply("GET", "/v1/nothing", 200, json({})))).to.throw(OpenApiContractError);
      expect(() => contract.assertConforms(reply("GET", "/v1/nothing", 404, json({ message: "no" })))).to.throw(
        OpenApiContractError,
      );
    });

    it("leaves alone the paths kept out of the document on purpose", () => {
      expect(() => contract.assertConforms(reply("GET", "/openapi.json", 200, json({})))).to.not.throw();
      expect(() => contract.assertConforms(reply("GET", "/", 200, "<html>", "text/html"))).to.not.throw();
    });
  });
});
