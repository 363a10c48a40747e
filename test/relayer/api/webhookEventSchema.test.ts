import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { payoutView } from "../../../relayer/src/services/payouts";
import { WEBHOOK_EVENT_TYPES } from "../../../relayer/src/webhooks/events";
import { OpenApiContract, OPENAPI_DOCUMENT } from "../support/openapiContract";

/**
 * The webhook bodies and the escrow's record as the OpenAPI document describes them: an integrator validates a
 * delivery against components/schemas/WebhookEvent, and calls the escrow with the values of `terms`, `record`
 * and `proposal` as the Solidity types the document names.
 */
describe("OpenAPI document: webhook bodies and the escrow's values", () => {
  const contract = OpenApiContract.load(OPENAPI_DOCUMENT);
  const schemas = contract.document.components!.schemas as Record<string, Schema>;
  interface Schema {
    properties?: Record<string, Schema>;
    anyOf?: Schema[];
    oneOf?: Schema[];
    allOf?: Schema[];
    enum?: string[];
    format?: string;
    pattern?: string;
    description?: string;
    $ref?: string;
  }
  const deref = (s: Schema): Schema => (s.$ref ? deref(schemas[s.$ref.split("/").pop()!]) : s);
  /** The object branch of `X | null`. */
  const nonNull = (s: Schema): Schema => deref((s.anyOf ?? [s]).find((b) => (b as { type?: string }).type !== "null")!);

  const address = (n: number) => "0x" + n.toString(16).padStart(40, "0");
  const terms = {
    merchant: address(1),
    payee: address(2),
    buyer: address(0),
    token: address(0),
    amount: "1000000",
    maxFeeBps: "100",
    paymentDeadline: "1767225600",
    shipWithin: "604800",
    protectionPeriod: "1209600",
    refundWindow: "0",
    itemsHash: "0x" + "ab".repeat(32),
    salt: "0x" + "cd".repeat(32),
  };
  const record = {
    terms,
    items: [{ skuId: "1", quantity: "2" }],
    feeBps: "100",
    state: "7",
    deadline: "1767312000",
    buyer: address(3),
    escrowed: "1000000",
    refunded: "0",
    proposal: { by: "1", buyerTotal: "400000" },
  };
  const order = {
    id: "ord_1",
    reference: "INV-1",
    chainOrderId: "0x" + "12".repeat(32),
    status: "disputed",
    buyer: null,
    token: address(0),
    amount: "1000000",
    escrowed: "1000000",
    refunded: "0",
    returnedAmount: "0",
    feeBps: 100,
    maxFeeBps: 100,
    payee: address(2),
    deadline: null,
    disputeDefaultAfter: null,
    settlementProposal: null,
    allowedActions: { merchant: [], buyer: [], arbiter: [] },
    terms,
    items: [],
    paymentDeadline: "2026-01-01T00:00:00.000Z",
    shipWithinSeconds: 604800,
    protectionPeriodSeconds: 1209600,
    chainProof: null,
    error: null,
    metadata: {},
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
  };
  const orderEvent = {
    id: "evt_1",
    type: "order.disputed",
    createdAt: "2026-01-01T00:00:00.000Z",
    data: { ...order, orderId: "ord_1", sequence: 3, lastEventBlock: 12, previousStatus: "shipped", eventRef: "0x:1" },
  };
  /** `merchant.payout_address_pending` as relayer/src/services/payouts.ts announces it. */
  const payoutEvent = {
    id: "evt_2",
    type: "merchant.payout_address_pending",
    createdAt: "2026-01-01T00:00:00.000Z",
    data: {
      merchantId: "mch_1",
      ...payoutView(address(1), {
        merchant_id: "mch_1",
        address: null,
        activated_at: null,
        pending_address: address(9),
        pending_due_at: new Date("2099-01-01T00:00:00Z"),
        pending_requested_at: new Date("2026-01-01T00:00:00Z"),
        pending_requested_by: "key_1",
      } as unknown as Parameters<typeof payoutView>[1]),
    },
  };

  describe("WebhookEvent", () => {
    it("describes the merchant.payout_address_pending body, which carries no order fields", () => {
      expect(payoutEvent.data.state).to.equal("pending");
      expect(contract.componentMismatch("WebhookEvent", payoutEvent)).to.equal(null);
    });

    it("describes an order event's body", () => {
      expect(contract.componentMismatch("WebhookEvent", orderEvent)).to.equal(null);
    });

    it("refuses a forged body: an order event without the order, or a payout event missing its view", () => {
      const { data: _d, ...bare } = orderEvent;
      expect(contract.componentMismatch("WebhookEvent", { ...bare, data: payoutEvent.data })).to.be.a("string");
      const { custodialAddress: _c, ...partial } = payoutEvent.data;
      expect(contract.componentMismatch("WebhookEvent", { ...payoutEvent, data: partial })).to.be.a("string");
      expect(contract.componentMismatch("WebhookEvent", { ...payoutEvent, type: "order.paid" })).to.be.a("string");
      expect(contract.componentMismatch("WebhookEvent", { ...orderEvent, type: "order.exploded" })).to.be.a("string");
    });

    it("lists every event type the relayer sends, each in exactly one shape", () => {
      const types = (deref(schemas.WebhookEvent).oneOf ?? []).flatMap((b) => {
        const t = deref(b).properties!.type;
        return t.enum ?? (t.anyOf ?? []).flatMap((x) => x.enum ?? []);
      });
      expect([...types].sort()).to.deep.equal([...WEBHOOK_EVENT_TYPES].sort());
    });
  });

  describe("the escrow's values (terms, record, proposal)", () => {
    /** `struct Name { type field; ... }` of the escrow's interface: each field's Solidity type. */
    function solidityStruct(name: string): Record<string, string> {
      const src = fs.readFileSync(
        path.join(__dirname, "..", "..", "..", "contracts", "interfaces", "IPaymentEscrow.sol"),
        "utf8",
      );
      const body = new RegExp(`struct ${name} \\{([^}]*)\\}`).exec(src)![1];
      return Object.fromEntries(
        [...body.matchAll(/^\s*(\w+)\s+(\w+);/gm)].map(([, type, field]) => [field, type === "Party" ? "uint8" : type]),
      );
    }
    const detail = deref(schemas.OrderDetail);
    const recordSchema = nonNull(detail.properties!.record);
    const termsSchema = nonNull(recordSchema.properties!.terms);

    it("names each terms field's Solidity type as its format and in its description, with a pattern", () => {
      const struct = solidityStruct("OrderTerms");
      expect(Object.keys(termsSchema.properties!).sort()).to.deep.equal(Object.keys(struct).sort());
      for (const [field, type] of Object.entries(struct)) {
        const s = termsSchema.properties![field];
        expect(s.format, field).to.equal(type);
        expect(s.pattern, field).to.be.a("string");
        expect(s.description, field).to.include(`Solidity ${type}`);
      }
      expect(nonNull(deref(schemas.Order).properties!.terms)).to.deep.equal(termsSchema);
    });

    it("types the record's status fields and the proposal as the escrow stores them", () => {
      const status = solidityStruct("OrderStatus");
      for (const field of ["feeBps", "deadline", "refunded"]) {
        expect(recordSchema.properties![field].format, field).to.equal(status[field]);
      }
      const proposal = deref(recordSchema.properties!.proposal).properties!;
      expect(proposal.buyerTotal.format).to.equal(solidityStruct("Proposal").buyerTotal);
      expect(proposal.by.enum).to.deep.equal(["1", "2"]);
    });

    it("documents the OrderState table 0..9 by the names of the escrow's enum", () => {
      const src = fs.readFileSync(
        path.join(__dirname, "..", "..", "..", "contracts", "interfaces", "IPaymentEscrow.sol"),
        "utf8",
      );
      const names = /enum OrderState \{([^}]*)\}/
        .exec(src)![1]
        .split(",")
        .map((n) => n.trim());
      expect(names).to.have.length(10);
      const state = recordSchema.properties!.state;
      expect(state.enum).to.deep.equal(names.map((_, i) => String(i)));
      for (const [i, name] of names.entries()) expect(state.description).to.include(`${i} ${name}`);
    });

    it("passes an order's record and refuses values the escrow could not take back", () => {
      const detailOf = (r: unknown) => ({ ...order, record: r, events: [], commands: [] });
      expect(contract.componentMismatch("OrderDetail", detailOf(record))).to.equal(null);
      const bad: [string, unknown][] = [
        ["a state past Revoked", { ...record, state: "10" }],
        ["a deadline past uint40", { ...record, deadline: String(2n ** 40n) }],
        ["a paymentDeadline past uint64", { ...record, terms: { ...terms, paymentDeadline: String(2n ** 64n) } }],
        ["a fee in hex", { ...record, feeBps: "0x64" }],
        ["a short salt", { ...record, terms: { ...terms, salt: "0x1234" } }],
        ["a payee that is no address", { ...record, terms: { ...terms, payee: "shop.eth" } }],
        ["a proposal by no party", { ...record, proposal: { by: "0", buyerTotal: "1" } }],
      ];
      for (const [what, r] of bad) {
        expect(contract.componentMismatch("OrderDetail", detailOf(r)), what).to.be.a("string");
      }
    });
  });
});
