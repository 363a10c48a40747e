/**
 * The jobs' decisions, without a node or a database: a fake chain answers the reads a job makes, and a fake store
 * records the statements it runs. What the writer does with a decision is covered by the relayer tests.
 */
import { expect } from "chai";
import { ZeroAddress, getAddress, id as keccakText } from "ethers";
import { PaymentEscrow__factory } from "../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { InventoryToken__factory } from "../../typechain-types/factories/contracts/InventoryToken__factory";
import { Forwarder__factory } from "../../typechain-types/factories/contracts/Forwarder__factory";
import { CachedAbi } from "../../relayer/src/chain/abi";
import type { JobDeps, JobHandler } from "../../relayer/src/chain/jobPort";
import type { ChainContext } from "../../relayer/src/chain/context";
import type { Db, Queryable } from "../../relayer/src/store/db";
import type { CommandRow } from "../../relayer/src/store/commands";
import { COMMAND_KINDS, type CommandKind } from "../../relayer/src/domain/command";
import { JOBS } from "../../relayer/src/jobs/registry";
import { CREATE_ORDER_GAS_BOUND, CREATE_ORDER_ITEM_GAS_BOUND } from "../../relayer/src/jobs/createOrder";
import { OrderState, orderIdOf, termsToJson, hashItems, type OrderTerms } from "../../sdk/orderRecord";

const MERCHANT = getAddress("0x00000000000000000000000000000000000000aa");
const OPERATOR = getAddress("0x00000000000000000000000000000000000000bb");
const ESCROW = getAddress("0x00000000000000000000000000000000000000e5");
const INVENTORY = getAddress("0x00000000000000000000000000000000000000e6");
const FORWARDER = getAddress("0x00000000000000000000000000000000000000f0");

const items = [{ skuId: "7", quantity: "2" }];
const terms: OrderTerms = {
  merchant: MERCHANT,
  payee: MERCHANT,
  buyer: ZeroAddress,
  token: ZeroAddress,
  amount: 1_000n,
  maxFeeBps: 100n,
  paymentDeadline: 2_000_000_000n,
  shipWithin: 86_400n,
  protectionPeriod: 86_400n,
  refundWindow: 0n,
  itemsHash: hashItems(items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }))),
  salt: keccakText("ORD-1"),
};
const ownId = orderIdOf(
  terms,
  items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) })),
);

/** Records every statement; `answer` gives the rows of a select. */
class FakeDb implements Db {
  readonly statements: { sql: string; params: unknown[] }[] = [];
  constructor(private readonly answer: (sql: string, params: unknown[]) => unknown[] = () => []) {}
  async query<T>(sql: string, params: unknown[] = []) {
    this.statements.push({ sql, params });
    const rows = this.answer(sql, params) as T[];
    return { rows, rowCount: rows.length };
  }
  async exec(): Promise<void> {}
  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

interface ChainState {
  status?: { state: number; refunded: bigint };
  approved?: boolean;
  skuCount?: bigint;
  forwarderNonce?: bigint;
  verifies?: boolean;
}

function fakeChain(s: ChainState): ChainContext {
  const escrowIface = PaymentEscrow__factory.createInterface();
  const inventoryIface = InventoryToken__factory.createInterface();
  const forwarderIface = Forwarder__factory.createInterface();
  return {
    addresses: { escrow: ESCROW, inventory: INVENTORY, forwarder: FORWARDER, startBlock: 0 },
    escrowAbi: new CachedAbi(escrowIface),
    inventoryAbi: new CachedAbi(inventoryIface),
    escrow: {
      interface: escrowIface,
      statusOf: async () => s.status ?? { state: OrderState.None, refunded: 0n },
      isOperatorApproved: async () => s.approved ?? false,
    },
    inventory: {
      interface: inventoryIface,
      isApprovedForAll: async () => s.approved ?? false,
      skuCount: async () => s.skuCount ?? 0n,
    },
    forwarder: {
      interface: forwarderIface,
      nonces: async () => s.forwarderNonce ?? 0n,
      verify: async () => s.verifies ?? true,
      eip712Domain: async () => ({
        name: "orderchain Forwarder",
        version: "1",
        chainId: 31337n,
        verifyingContract: FORWARDER,
      }),
    },
  } as unknown as ChainContext;
}

function deps(chain: ChainState = {}, db = new FakeDb(), extra: Partial<JobDeps> = {}): JobDeps {
  return { db, chain: fakeChain(chain), operatorAddresses: [OPERATOR], merchantKeySecret: "s".repeat(32), ...extra };
}

function command(kind: CommandKind, payload: Record<string, unknown>, more: Partial<CommandRow> = {}): CommandRow {
  return {
    id: "1",
    kind,
    merchant_id: "mch_1",
    order_id: "ord_1",
    sku_id: null,
    payload,
    status: "claimed",
    attempts: 0,
    tx_signer: null,
    tx_nonce: null,
    batch_index: null,
    error_code: null,
    error_message: null,
    created_at: new Date(0),
    ...more,
  };
}

const createCmd = (orderId = ownId) => command("create_order", { orderId, terms: termsToJson(terms), items });
/** A store that holds the order's terms, as accepted. */
const withTerms = (status = "paid") =>
  new FakeDb((sql) =>
    sql.includes("from orders") ? [{ chain_order_id: ownId, status, terms: termsToJson(terms), items }] : [],
  );
const revert = (name: string, args: Record<string, string> = {}) => ({ name, args });
const escrowCall = (data: string) => PaymentEscrow__factory.createInterface().parseTransaction({ data })!;

describe("jobs (unit): what each command kind prepares and what its outcome means", function () {
  it("the registry has one handler for every command kind", function () {
    for (const kind of COMMAND_KINDS)
      expect((JOBS as Record<string, JobHandler>)[kind], kind).to.have.property("prepare");
    expect(Object.keys(JOBS).sort()).to.deep.equal([...COMMAND_KINDS].sort());
  });

  describe("create_order", function () {
    it("encodes createOrder from the stored terms with a gas bound per line item", async function () {
      const p = await JOBS.create_order.prepare(createCmd(), deps());
      expect(p.type).to.equal("escrow");
      if (p.type !== "escrow") return;
      expect(p.gasBound).to.equal(CREATE_ORDER_GAS_BOUND + CREATE_ORDER_ITEM_GAS_BOUND);
      const call = escrowCall(p.data);
      expect(call.name).to.equal("createOrder");
      expect(call.args[0].salt).to.equal(terms.salt);
      expect(call.args[1].map((i: { skuId: bigint }) => i.skuId)).to.deep.equal([7n]);
    });

    it("OrderAlreadyExists for its own id with the order on chain is its own earlier success", async function () {
      const d = await JOBS.create_order.onReverted!(
        createCmd(),
        revert("OrderAlreadyExists", { orderId: ownId }),
        deps({ status: { state: OrderState.Created, refunded: 0n } }),
      );
      expect(d).to.deep.equal({ type: "confirmed" });
    });

    it("OrderAlreadyExists naming another id fails with OrderIdMismatch (never taken as success)", async function () {
      const other = keccakText("someone else's order");
      const d = await JOBS.create_order.onReverted!(
        createCmd(),
        revert("OrderAlreadyExists", { orderId: other }),
        deps({ status: { state: OrderState.Paid, refunded: 0n } }),
      );
      expect(d).to.include({ type: "fail", code: "OrderIdMismatch" });
    });

    it("a command whose stored id is not its terms' id fails with OrderIdMismatch", async function () {
      const d = await JOBS.create_order.onReverted!(
        createCmd(keccakText("tampered")),
        revert("OrderAlreadyExists", { orderId: ownId }),
        deps({ status: { state: OrderState.Created, refunded: 0n } }),
      );
      expect(d).to.include({ type: "fail", code: "OrderIdMismatch" });
    });

    it("its own id revoked on chain fails with OfferRevoked; an id with no order with OrderAlreadyExists", async function () {
      const revoked = await JOBS.create_order.onReverted!(
        createCmd(),
        revert("OrderAlreadyExists", { orderId: ownId }),
        deps({ status: { state: OrderState.Revoked, refunded: 0n } }),
      );
      expect(revoked).to.include({ type: "fail", code: "OfferRevoked" });
      const none = await JOBS.create_order.onReverted!(
        createCmd(),
        revert("OrderAlreadyExists", { orderId: ownId }),
        deps({ status: { state: OrderState.None, refunded: 0n } }),
      );
      expect(none).to.include({ type: "fail", code: "OrderAlreadyExists" });
    });

    it("FeeAboveSignedMax fails at once, naming both fees; any other revert takes the writer's default", async function () {
      const d = await JOBS.create_order.onReverted!(
        createCmd(),
        revert("FeeAboveSignedMax", { feeBps: "150", maxFeeBps: "100" }),
        deps(),
      );
      expect(d.type).to.equal("fail");
      if (d.type === "fail") {
        expect(d.code).to.equal("FeeAboveSignedMax");
        expect(d.message).to.contain("150 bps").and.contain("100 bps");
      }
      expect(await JOBS.create_order.onReverted!(createCmd(), revert("EnforcedPause"), deps())).to.deep.equal({
        type: "default",
      });
    });

    it("a failed creation fails the order that is still pending; another order command only notes its error", async function () {
      const db = new FakeDb();
      await JOBS.create_order.onFailed!(db, createCmd(), "X", "boom");
      expect(db.statements[0].sql).to.contain("update orders");
      expect(db.statements[0].params).to.deep.equal(["ord_1", "X", "create_order: boom", true]);
      const db2 = new FakeDb();
      await JOBS.ship_order.onFailed!(db2, command("ship_order", {}), "Y", "no");
      expect(db2.statements[0].params).to.deep.equal(["ord_1", "Y", "ship_order: no", false]);
    });
  });

  describe("calls on an existing order", function () {
    it("a full refund refunds what is escrowed now (read from the chain) and returns the stock", async function () {
      const d = deps({ status: { state: OrderState.Shipped, refunded: 300n } }, withTerms());
      const p = await JOBS.refund_order.prepare(command("refund_order", { amount: null }), d);
      if (p.type !== "escrow") throw new Error(p.type);
      const call = escrowCall(p.data);
      expect(call.name).to.equal("refund");
      expect(call.args[1]).to.equal(700n);
      expect(call.args[2]).to.have.length(1);
    });

    it("a partial refund keeps the stock in escrow (no items)", async function () {
      const d = deps({ status: { state: OrderState.Shipped, refunded: 0n } }, withTerms());
      const p = await JOBS.refund_order.prepare(command("refund_order", { amount: "10" }), d);
      if (p.type !== "escrow") throw new Error(p.type);
      const call = escrowCall(p.data);
      expect(call.args[1]).to.equal(10n);
      expect(call.args[2]).to.have.length(0);
    });

    it("ship, cancel and the settlement calls are encoded from the stored terms", async function () {
      const expected: [CommandKind, Record<string, unknown>, string][] = [
        ["ship_order", { trackingHash: keccakText("t") }, "ship"],
        ["cancel_order", {}, "cancel"],
        ["propose_settlement", { buyerTotal: "400" }, "proposeSettlement"],
        ["accept_settlement", { buyerTotal: "400" }, "acceptSettlement"],
      ];
      for (const [kind, payload, fn] of expected) {
        const p = await JOBS[kind].prepare(command(kind, payload), deps({}, withTerms()));
        if (p.type !== "escrow") throw new Error(`${kind}: ${p.type}`);
        const call = escrowCall(p.data);
        expect(call.name, kind).to.equal(fn);
        expect(call.args[0].salt, kind).to.equal(terms.salt);
      }
    });

    it("a merchant's call on an order whose creation failed on chain fails at once with OrderNotCreated (no retries of OrderNotFound)", async function () {
      for (const kind of [
        "ship_order",
        "refund_order",
        "cancel_order",
        "propose_settlement",
        "accept_settlement",
      ] as const) {
        const p = await JOBS[kind].prepare(command(kind, { buyerTotal: "1" }), deps({}, withTerms("failed")));
        expect(p, kind).to.include({ type: "fail", code: "OrderNotCreated" });
      }
    });

    it("an order without stored terms fails with OrderTermsMissing", async function () {
      for (const kind of ["ship_order", "refund_order", "cancel_order", "resolve_dispute"] as const) {
        const p = await JOBS[kind].prepare(
          command(kind, {}),
          deps({}, new FakeDb(), { arbiterKey: "0x" + "11".repeat(32) }),
        );
        expect(p, kind).to.include({ type: "fail", code: "OrderTermsMissing" });
      }
    });

    it("a resolution without an arbiter key fails with ArbiterNotConfigured", async function () {
      const p = await JOBS.resolve_dispute.prepare(
        command("resolve_dispute", { buyerTotal: "1" }),
        deps({}, withTerms()),
      );
      expect(p).to.include({ type: "fail", code: "ArbiterNotConfigured" });
    });
  });

  describe("inventory and relayed calls", function () {
    it("create_sku is done when the SKU exists, waits for an earlier one, and is sent when it is next", async function () {
      const cmd = command("create_sku", { merchant: MERCHANT, skuNumber: 3, uri: "ipfs://x" }, { sku_id: "sku_1" });
      expect(await JOBS.create_sku.prepare(cmd, deps({ skuCount: 3n }))).to.include({ type: "done" });
      expect(await JOBS.create_sku.prepare(cmd, deps({ skuCount: 1n }))).to.include({ type: "wait" });
      expect(await JOBS.create_sku.prepare(cmd, deps({ skuCount: 2n }))).to.include({ type: "tx", to: INVENTORY });
    });

    it("a failed create_sku marks the SKU failed", async function () {
      const db = new FakeDb();
      await JOBS.create_sku.onFailed!(db, command("create_sku", {}, { sku_id: "sku_1", order_id: null }), "E", "m");
      expect(db.statements.map((s) => s.sql).join()).to.contain("update skus set status = 'failed'");
      expect(db.statements[0].params).to.deep.equal(["sku_1"]);
    });

    it("a forward request whose nonce was used is done; one the forwarder refuses fails", async function () {
      const request = {
        from: MERCHANT,
        to: ESCROW,
        value: "0",
        gas: "100000",
        nonce: "4",
        deadline: "2000000000",
        data: "0x",
        signature: "0x",
      };
      const cmd = command("relay_forward", { request });
      expect(await JOBS.relay_forward.prepare(cmd, deps({ forwarderNonce: 5n }))).to.include({ type: "done" });
      expect(await JOBS.relay_forward.prepare(cmd, deps({ forwarderNonce: 4n, verifies: false }))).to.include({
        type: "fail",
        code: "ForwardRequestInvalid",
      });
      expect(await JOBS.relay_forward.prepare(cmd, deps({ forwarderNonce: 4n }))).to.include({
        type: "tx",
        to: FORWARDER,
      });
    });
  });

  describe("merchant_setup", function () {
    it("after confirmation, activates the merchant only when the chain shows every approval", async function () {
      const merchantRow = [{ id: "mch_1", address: MERCHANT, encrypted_key: "x" }];
      const missing = new FakeDb((sql) => (sql.includes("from merchants") ? merchantRow : []));
      expect(
        await JOBS.merchant_setup.onConfirmed!(command("merchant_setup", {}), deps({ approved: false }, missing)),
      ).to.equal("again");
      expect(missing.statements.some((s) => s.sql.includes("status = 'active'"))).to.equal(false);
      const present = new FakeDb((sql) => (sql.includes("from merchants") ? merchantRow : []));
      expect(
        await JOBS.merchant_setup.onConfirmed!(command("merchant_setup", {}), deps({ approved: true }, present)),
      ).to.equal("done");
      expect(present.statements.some((s) => s.sql.includes("status = 'active'"))).to.equal(true);
    });

    it("prepares nothing when every operator is approved, and fails for an unknown merchant", async function () {
      const merchantRow = [{ id: "mch_1", address: MERCHANT, encrypted_key: "x" }];
      const db = new FakeDb((sql) => (sql.includes("from merchants") ? merchantRow : []));
      expect(await JOBS.merchant_setup.prepare(command("merchant_setup", {}), deps({ approved: true }, db))).to.include(
        {
          type: "done",
        },
      );
      expect(await JOBS.merchant_setup.prepare(command("merchant_setup", {}), deps())).to.include({
        type: "fail",
        code: "MerchantNotFound",
      });
    });
  });
});
