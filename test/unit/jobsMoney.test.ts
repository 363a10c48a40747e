/**
 * The jobs that move stock and money, without a node: what each prepares (read through a node that answers
 * contract reads from scripts, with the real typed contracts) and what its outcome writes (the store's real SQL on
 * PGlite, with the relayer's migrations). Kinds: mint_stock, burn_stock, relay_permit, relay_authorization,
 * set_payout_address, sweep_payouts, return_order.
 */
import { expect } from "chai";
import {
  Interface,
  Signature,
  Wallet,
  ZeroAddress,
  ZeroHash,
  getAddress,
  id as keccakText,
  toQuantity,
  verifyTypedData,
} from "ethers";
import { PaymentEscrow__factory } from "../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { InventoryToken__factory } from "../../typechain-types/factories/contracts/InventoryToken__factory";
import { Forwarder__factory } from "../../typechain-types/factories/contracts/Forwarder__factory";
import { makeChainContext } from "../../relayer/src/chain/context";
import type { JobDeps } from "../../relayer/src/chain/jobPort";
import { encryptPrivateKey } from "../../relayer/src/domain/keys";
import {
  FORWARD_REQUEST_TYPES,
  PERMIT_TYPES,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
} from "../../relayer/src/domain/typedData";
import type { CommandKind } from "../../relayer/src/domain/command";
import { claimReadyCommands, enqueueCommand, markConfirmed, type CommandRow } from "../../relayer/src/store/commands";
import { JOBS } from "../../relayer/src/jobs/registry";
import { OrderState, hashItems, orderIdOf, termsToJson, type OrderTerms } from "../../sdk/orderRecord";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";
import { Revert, ScriptedReads } from "./support/scriptedReads";

const SECRET = "s".repeat(32);
const CUSTODIAL = new Wallet(`0x${"11".repeat(32)}`);
const BUYER = new Wallet(`0x${"22".repeat(32)}`);
const EXTERNAL = getAddress(`0x${"ee".repeat(20)}`);
const PAYOUT = getAddress(`0x${"a0".repeat(20)}`);
const NEXT_PAYOUT = getAddress(`0x${"b0".repeat(20)}`);
const PAYEE_WALLET = getAddress(`0x${"c0".repeat(20)}`);
const OPERATOR = getAddress(`0x${"0b".repeat(20)}`);
const ESCROW = getAddress(`0x${"e5".repeat(20)}`);
const INVENTORY = getAddress(`0x${"e6".repeat(20)}`);
const FORWARDER = getAddress(`0x${"f0".repeat(20)}`);
const TOKEN = getAddress(`0x${"70".repeat(20)}`);

const escrowIface = PaymentEscrow__factory.createInterface();
const inventoryIface = InventoryToken__factory.createInterface();
const forwarderIface = Forwarder__factory.createInterface();
const TOKEN_ABI = new Interface([
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function nonces(address owner) view returns (uint256)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "error AccountBlocked(address account)",
  "error AuthorizationNotInTime(uint256 validAfter, uint256 validBefore, uint256 nowTs)",
  "error ERC2612InvalidSigner(address signer, address owner)",
]);
const TOKEN_DOMAIN = { name: "USD Coin", version: "2", chainId: 31337n, verifyingContract: TOKEN };
const FORWARDER_DOMAIN = { name: "orderchain Forwarder", version: "1", chainId: 31337n, verifyingContract: FORWARDER };

/** What the chain shows; each case changes what it needs. */
interface ChainState {
  payoutOnChain: string;
  credited: bigint;
  balance: bigint;
  tokenAllowed: boolean;
  /** The token has ERC-3009 (authorizationState, transferWithAuthorization). */
  erc3009: boolean;
  /** The token publishes its EIP-712 domain (EIP-5267). */
  eip5267: boolean;
  allowance: bigint;
  authorizationUsed: boolean;
  orderState: number;
  permitNonce: bigint;
  forwarderNonce: bigint;
  /** The escrow's answer to a simulated payWithAuthorization: undefined passes, else it reverts with this data. */
  payRevert?: string;
  /** The node fails to answer the ERC-3009 probe (not a revert). */
  probeFails?: boolean;
}

const chainState = (): ChainState => ({
  payoutOnChain: ZeroAddress,
  credited: 0n,
  balance: 0n,
  tokenAllowed: true,
  erc3009: true,
  eip5267: true,
  allowance: 0n,
  authorizationUsed: false,
  orderState: OrderState.Created,
  permitNonce: 3n,
  forwarderNonce: 5n,
});

function scriptedChain(s: ChainState): ScriptedReads {
  const node = new ScriptedReads();
  node.script(ESCROW, escrowIface, {
    payoutAddressOf: () => s.payoutOnChain,
    credited: () => s.credited,
    isTokenAllowed: () => s.tokenAllowed,
    statusOf: () => [s.orderState, 100, 0, 0],
    payWithAuthorization: () => {
      if (s.payRevert !== undefined) throw new Revert(s.payRevert);
      return [];
    },
  });
  node.script(FORWARDER, forwarderIface, {
    nonces: () => s.forwarderNonce,
    eip712Domain: () => ["0x0f", FORWARDER_DOMAIN.name, "1", 31337n, FORWARDER, ZeroHash, []],
  });
  node.script(TOKEN, TOKEN_ABI, {
    balanceOf: () => s.balance,
    allowance: () => s.allowance,
    nonces: () => s.permitNonce,
    authorizationState: () => {
      if (s.probeFails) throw new Error("socket hang up");
      if (!s.erc3009) throw new Revert("0x");
      return s.authorizationUsed;
    },
    eip712Domain: () => {
      if (!s.eip5267) throw new Revert("0x");
      return ["0x0f", TOKEN_DOMAIN.name, TOKEN_DOMAIN.version, 31337n, TOKEN, ZeroHash, []];
    },
  });
  return node;
}

/** A forward request the relayer sends, decoded, with the address its signature recovers to. */
function forwarded(data: string) {
  const call = forwarderIface.parseTransaction({ data })!;
  expect(call.name).to.equal("execute");
  const r = call.args[0];
  return {
    from: getAddress(r.from),
    to: getAddress(r.to),
    data: r.data as string,
    signer: (nonce: bigint) =>
      verifyTypedData(
        FORWARDER_DOMAIN,
        FORWARD_REQUEST_TYPES,
        { from: r.from, to: r.to, value: r.value, gas: r.gas, nonce, deadline: r.deadline, data: r.data },
        r.signature,
      ),
  };
}

const items = [
  { skuId: "7", quantity: "2" },
  { skuId: "9", quantity: "1" },
];
const chainItems = items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));
const termsOf = (merchant: string, payee: string, salt: string): OrderTerms => ({
  merchant,
  payee,
  buyer: BUYER.address,
  token: TOKEN,
  amount: 1_000n,
  maxFeeBps: 100n,
  paymentDeadline: 2_000_000_000n,
  shipWithin: 86_400n,
  protectionPeriod: 86_400n,
  refundWindow: 86_400n,
  itemsHash: hashItems(chainItems),
  salt: keccakText(salt),
});
/** An order of the custodial merchant paid to its custodial address, one paid to a wallet it holds, one of the external merchant. */
const CUSTODIAL_ORDER = termsOf(CUSTODIAL.address, CUSTODIAL.address, "R-1");
const WALLET_ORDER = termsOf(CUSTODIAL.address, PAYEE_WALLET, "R-2");
const EXTERNAL_ORDER = termsOf(EXTERNAL, EXTERNAL, "R-3");

describe("jobs (unit): stock and money, what each command prepares and what its outcome writes", function () {
  let db: MemoryDb;
  let s: ChainState;
  let node: ScriptedReads;
  let deps: JobDeps;

  before(async () => {
    db = await openMemoryDb();
    await db.query(`insert into merchants (id, name, address, encrypted_key) values ('mch_1', 'm', $1, $2)`, [
      CUSTODIAL.address,
      encryptPrivateKey(CUSTODIAL.privateKey, SECRET),
    ]);
    await db.query(
      `insert into merchants (id, name, address, encrypted_key, signer_kind) values ('mch_ext', 'e', $1, null, 'external')`,
      [EXTERNAL],
    );
    const orders: [string, string, OrderTerms, string][] = [
      ["ord_c", "mch_1", CUSTODIAL_ORDER, "completed"],
      ["ord_w", "mch_1", WALLET_ORDER, "completed"],
      ["ord_x", "mch_ext", EXTERNAL_ORDER, "completed"],
    ];
    for (const [id, merchant, t, status] of orders)
      await db.query(
        `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, items, payment_deadline,
                             ship_within, protection_period, status, terms)
         values ($1, $2, $1, $3, $4, 1000, $5, 0, 60, 60, $6, $7)`,
        [id, merchant, orderIdOf(t, chainItems), TOKEN, JSON.stringify(items), status, termsToJson(t)],
      );
    await db.query(
      `insert into skus (id, merchant_id, reference, name, metadata_uri, sku_number, chain_sku_id, status)
       values ('sku_7', 'mch_1', 'S-7', 'seven', 'ipfs://7', 1, 7, 'active')`,
    );
  });
  after(() => db.close());

  beforeEach(async () => {
    await db.query(`delete from commands`);
    await db.query(`delete from payout_addresses`);
    await db.query(`update orders set error_code = null, error_message = null, status = 'completed'`);
    s = chainState();
    node = scriptedChain(s);
    deps = {
      db,
      chain: makeChainContext(node, 31337n, {
        escrow: ESCROW,
        inventory: INVENTORY,
        forwarder: FORWARDER,
        startBlock: 0,
      }),
      operatorAddresses: [OPERATOR],
      merchantKeySecret: SECRET,
    };
  });

  /** Queues a command as the services do and reads it back as the writer claims it. */
  async function queued(
    kind: CommandKind,
    payload: Record<string, unknown>,
    more: { merchantId?: string; orderId?: string | null; skuId?: string | null } = {},
  ): Promise<CommandRow> {
    const id = await enqueueCommand(db, {
      kind,
      merchantId: more.merchantId ?? "mch_1",
      orderId: more.orderId ?? null,
      skuId: more.skuId ?? null,
      payload,
    });
    return (await db.query<CommandRow>(`select * from commands where id = $1`, [id])).rows[0];
  }

  const orderRow = async (id: string) =>
    (await db.query(`select status, error_code, error_message from orders where id = $1`, [id])).rows[0];
  const payoutRow = async () =>
    (
      await db.query<{ address: string | null; pending_address: string | null; pending_command_id: string | null }>(
        `select address, pending_address, pending_command_id from payout_addresses where merchant_id = 'mch_1'`,
      )
    ).rows[0];

  describe("mint_stock and burn_stock", function () {
    it("call the inventory with the payload's SKU and quantity, in a transaction of their own", async function () {
      for (const [kind, fn] of [
        ["mint_stock", "mintStock"],
        ["burn_stock", "burnStock"],
      ] as const) {
        const cmd = await queued(kind, { merchant: CUSTODIAL.address, skuId: "7", quantity: "40" }, { skuId: "sku_7" });
        const p = await JOBS[kind].prepare(cmd, deps);
        expect(p, kind).to.include({ type: "tx", to: INVENTORY, kind });
        const call = inventoryIface.parseTransaction({ data: (p as { data: string }).data })!;
        expect(call.name, kind).to.equal(fn);
        expect(
          call.args.map((a: bigint[]) => [...a]),
          kind,
        ).to.deep.equal([[7n], [40n]]);
      }
    });

    it("a burn queued behind the merchant's pending mint is not claimed until the mint is finished (it would burn stock not minted yet)", async function () {
      const mint = await queued("mint_stock", { skuId: "7", quantity: "40" }, { skuId: "sku_7" });
      const burn = await queued("burn_stock", { skuId: "7", quantity: "30" }, { skuId: "sku_7" });
      // Another merchant's lane is not held back.
      const other = await queued("mint_stock", { skuId: "8", quantity: "1" }, { merchantId: "mch_ext" });
      expect((await claimReadyCommands(db, "w1", 10)).map((c) => c.id)).to.deep.equal([mint.id, other.id]);
      expect(await claimReadyCommands(db, "w1", 10)).to.deep.equal([]);
      await db.query(`update commands set status = 'submitted' where id = $1`, [mint.id]);
      expect(await claimReadyCommands(db, "w1", 10)).to.deep.equal([]);
      await markConfirmed(db, [mint.id]);
      expect((await claimReadyCommands(db, "w1", 10)).map((c) => c.id)).to.deep.equal([burn.id]);
    });

    it("a stock change that fails leaves its SKU active and notes its error on its order only when it has one", async function () {
      const change = await queued("burn_stock", { skuId: "7", quantity: "999" }, { skuId: "sku_7" });
      await db.tx((q) => JOBS.burn_stock.onFailed!(q, change, "ERC1155InsufficientBalance", "not enough stock"));
      expect((await db.query(`select status from skus where id = 'sku_7'`)).rows[0]).to.deep.equal({
        status: "active",
      });
      expect(await orderRow("ord_c")).to.deep.equal({ status: "completed", error_code: null, error_message: null });
      const forOrder = await queued("mint_stock", { skuId: "7", quantity: "2" }, { orderId: "ord_c" });
      await db.tx((q) => JOBS.mint_stock.onFailed!(q, forOrder, "NotOperator", "no approval"));
      expect(await orderRow("ord_c")).to.deep.equal({
        status: "completed",
        error_code: "NotOperator",
        error_message: "mint_stock: no approval",
      });
    });
  });

  describe("relay_permit", function () {
    async function permitCommand() {
      const deadline = 2_000_000_000n;
      const signature = await BUYER.signTypedData(TOKEN_DOMAIN, PERMIT_TYPES, {
        owner: BUYER.address,
        spender: ESCROW,
        value: 1_000n,
        nonce: 0n,
        deadline,
      });
      const payload = {
        token: TOKEN,
        owner: BUYER.address,
        spender: ESCROW,
        value: "1000",
        deadline: deadline.toString(),
        signature,
      };
      return { cmd: await queued("relay_permit", payload, { orderId: "ord_c" }), signature };
    }

    it("sends the buyer's permit to the token, its signature split into v, r, s", async function () {
      const { cmd, signature } = await permitCommand();
      s.allowance = 999n;
      const p = await JOBS.relay_permit.prepare(cmd, deps);
      expect(p).to.include({ type: "tx", to: TOKEN, kind: "relay_permit" });
      const call = TOKEN_ABI.parseTransaction({ data: (p as { data: string }).data })!;
      const sig = Signature.from(signature);
      expect(call.name).to.equal("permit");
      expect([...call.args]).to.deep.equal([
        BUYER.address,
        ESCROW,
        1_000n,
        2_000_000_000n,
        BigInt(sig.v),
        sig.r,
        sig.s,
      ]);
    });

    it("is done without gas when the allowance is in place already (the permit was used, by anyone)", async function () {
      const { cmd } = await permitCommand();
      s.allowance = 1_000n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.deep.equal({
        type: "done",
        note: "allowance already in place",
      });
    });

    it("a permit copied from the mempool and used first: the relayer's reverted permit counts as done, not as a failure", async function () {
      const { cmd } = await permitCommand();
      // Used in the same block, ahead of the relayer's transaction: its nonce moved, the allowance is there.
      s.allowance = 1_000n;
      const used = TOKEN_ABI.encodeErrorResult("ERC2612InvalidSigner", [OPERATOR, BUYER.address]);
      expect(
        await JOBS.relay_permit.onReverted!(cmd, { name: "UnknownRevert", args: {}, data: used } as never, deps),
      ).to.deep.equal({ type: "confirmed" });
      // Refused without the allowance in place (a permit past its deadline): the writer's default, a failure.
      s.allowance = 0n;
      expect(
        await JOBS.relay_permit.onReverted!(cmd, { name: "UnknownRevert", args: {}, data: used } as never, deps),
      ).to.deep.equal({ type: "default" });
    });

    it("a failed permit notes its error on the order and leaves the order's state alone", async function () {
      const { cmd } = await permitCommand();
      await db.tx((q) => JOBS.relay_permit.onFailed!(q, cmd, "UnknownRevert", "UnknownRevert()"));
      expect(await orderRow("ord_c")).to.deep.equal({
        status: "completed",
        error_code: "UnknownRevert",
        error_message: "relay_permit: UnknownRevert()",
      });
    });
  });

  describe("relay_authorization", function () {
    const nonce = keccakText("the order's digest");
    async function authorizationCommand() {
      const signature = BUYER.signingKey.sign(keccakText("authorization")).serialized;
      const payload = {
        buyer: BUYER.address,
        token: TOKEN,
        validAfter: "0",
        validBefore: "2000000000",
        nonce,
        signature,
      };
      await db.query(`update orders set status = 'created' where id = 'ord_c'`);
      return { cmd: await queued("relay_authorization", payload, { orderId: "ord_c" }), signature };
    }
    const unknownRevert = (data = "0x") => ({ name: "UnknownRevert", args: {}, data }) as never;

    it("sends payWithAuthorization with the stored terms and the buyer's signature once the escrow's simulation passes", async function () {
      const { cmd, signature } = await authorizationCommand();
      const p = await JOBS.relay_authorization.prepare(cmd, deps);
      expect(p).to.include({ type: "tx", to: ESCROW, kind: "relay_authorization" });
      const call = escrowIface.parseTransaction({ data: (p as { data: string }).data })!;
      const sig = Signature.from(signature);
      expect(call.name).to.equal("payWithAuthorization");
      expect(call.args[0].salt).to.equal(CUSTODIAL_ORDER.salt);
      expect([...call.args[1]]).to.deep.equal([BUYER.address, 0n, 2_000_000_000n, BigInt(sig.v), sig.r, sig.s]);
      expect(node.reads.map((r) => r.method)).to.deep.equal(["authorizationState", "payWithAuthorization"]);
    });

    it("an authorization used already, the order paid with it, is done without simulating or sending anything", async function () {
      const { cmd } = await authorizationCommand();
      s.authorizationUsed = true;
      s.orderState = OrderState.Paid;
      expect(await JOBS.relay_authorization.prepare(cmd, deps)).to.include({ type: "done" });
      expect(node.reads.map((r) => r.method)).to.deep.equal(["authorizationState", "statusOf"]);
    });

    it("a blocked buyer fails at once with the token's error decoded, without gas", async function () {
      const { cmd } = await authorizationCommand();
      s.payRevert = TOKEN_ABI.encodeErrorResult("AccountBlocked", [BUYER.address]);
      expect(await JOBS.relay_authorization.prepare(cmd, deps)).to.deep.equal({
        type: "fail",
        code: "AccountBlocked",
        message: `the payment by authorization was refused: AccountBlocked(account=${BUYER.address})`,
      });
    });

    it("an order whose creation is not mined yet (OrderNotFound) waits; an order without terms fails", async function () {
      const { cmd } = await authorizationCommand();
      s.payRevert = escrowIface.encodeErrorResult("OrderNotFound", [orderIdOf(CUSTODIAL_ORDER, chainItems)]);
      expect(await JOBS.relay_authorization.prepare(cmd, deps)).to.include({ type: "wait", reason: "OrderNotFound" });
      const orphan = await queued("relay_authorization", cmd.payload, { orderId: null });
      expect(await JOBS.relay_authorization.prepare({ ...orphan, order_id: "ord_none" }, deps)).to.include({
        type: "fail",
        code: "OrderTermsMissing",
      });
    });

    it("someone else submitted the buyer's authorization first (anyone may): the order is paid with it, and the relayer's revert counts as done, not as a failure or the buyer's revert", async function () {
      const { cmd } = await authorizationCommand();
      s.authorizationUsed = true;
      s.orderState = OrderState.Paid;
      const invalidState = {
        name: "InvalidState",
        args: { orderId: orderIdOf(CUSTODIAL_ORDER, chainItems), current: String(OrderState.Paid) },
      };
      expect(await JOBS.relay_authorization.onReverted!(cmd, invalidState, deps)).to.deep.equal({ type: "confirmed" });
      // The same revert while the order is not paid (it was cancelled) is not a success.
      s.orderState = OrderState.Cancelled;
      expect(await JOBS.relay_authorization.onReverted!(cmd, invalidState, deps)).to.deep.equal({ type: "default" });
    });

    it("the buyer cancelled its authorization in the same block (front-ran the relayer): fails as AuthorizationUsedOrCanceled, the buyer's doing", async function () {
      const { cmd } = await authorizationCommand();
      s.authorizationUsed = true;
      expect(await JOBS.relay_authorization.onReverted!(cmd, unknownRevert(), deps)).to.deep.equal({
        type: "fail",
        code: "AuthorizationUsedOrCanceled",
        message: `the payment by authorization was refused: AuthorizationUsedOrCanceled(authorizer=${BUYER.address}, nonce=${nonce})`,
      });
    });

    it("the buyer moved its tokens away in the same block: fails as ERC20InsufficientBalance with the amounts", async function () {
      const { cmd } = await authorizationCommand();
      s.balance = 10n;
      expect(await JOBS.relay_authorization.onReverted!(cmd, unknownRevert(), deps)).to.deep.include({
        type: "fail",
        code: "ERC20InsufficientBalance",
      });
      // Nothing of the buyer's explains it: the writer's default.
      s.balance = 1_000n;
      expect(await JOBS.relay_authorization.onReverted!(cmd, unknownRevert(), deps)).to.deep.equal({ type: "default" });
    });

    it("a revert carrying the token's own error fails with it decoded", async function () {
      const { cmd } = await authorizationCommand();
      const data = TOKEN_ABI.encodeErrorResult("AuthorizationNotInTime", [0n, 5n, 6n]);
      expect(await JOBS.relay_authorization.onReverted!(cmd, unknownRevert(data), deps)).to.deep.equal({
        type: "fail",
        code: "AuthorizationNotInTime",
        message:
          "the payment by authorization was refused: AuthorizationNotInTime(validAfter=0, validBefore=5, nowTs=6)",
      });
    });
  });

  describe("set_payout_address", function () {
    /** The merchant asked for `pending` with the change now due; `active` is the payout address the chain shows. */
    async function change(active: string | null, pending = NEXT_PAYOUT) {
      const cmd = await queued("set_payout_address", { address: pending });
      await db.query(
        `insert into payout_addresses (merchant_id, address, pending_address, pending_due_at, pending_requested_at,
           pending_requested_by, pending_command_id)
         values ('mch_1', $1, $2, now(), now(), 'key_owner', $3)`,
        [active, pending, cmd.id],
      );
      s.payoutOnChain = active ?? ZeroAddress;
      return cmd;
    }

    it("relays the merchant's setPayoutAddress, a forward request the custodial key signs, once due", async function () {
      const cmd = await change(PAYOUT);
      const p = await JOBS.set_payout_address.prepare(cmd, deps);
      expect(p).to.include({ type: "tx", to: FORWARDER, kind: "set_payout_address" });
      const req = forwarded((p as { data: string }).data);
      expect([req.from, req.to]).to.deep.equal([CUSTODIAL.address, ESCROW]);
      expect(req.signer(5n)).to.equal(CUSTODIAL.address);
      expect([...escrowIface.decodeFunctionData("setPayoutAddress", req.data)]).to.deep.equal([NEXT_PAYOUT]);
    });

    it("a change superseded by a later request, or cancelled, is done without sending", async function () {
      const cmd = await change(PAYOUT);
      await db.query(`update payout_addresses set pending_command_id = $1`, [String(Number(cmd.id) + 1)]);
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.deep.equal({
        type: "done",
        note: "superseded or cancelled",
      });
      await db.query(`delete from payout_addresses`);
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.include({ type: "done" });
    });

    it("waits while an order accepted with the previous payout address is still to be created (the escrow would refuse it after)", async function () {
      const cmd = await change(PAYOUT);
      const create = await queued("create_order", { terms: termsToJson({ ...CUSTODIAL_ORDER, payee: PAYOUT }) });
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.include({ type: "wait", delayMs: 500 });
      await markConfirmed(db, [create.id]);
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.include({ type: "tx" });
    });

    it("becomes active only once the chain shows it: again until then, and the chain showing it already needs no transaction", async function () {
      const cmd = await change(PAYOUT);
      expect(await JOBS.set_payout_address.onConfirmed!(cmd, deps)).to.equal("again");
      expect(await payoutRow()).to.deep.equal({
        address: PAYOUT,
        pending_address: NEXT_PAYOUT,
        pending_command_id: cmd.id,
      });
      s.payoutOnChain = NEXT_PAYOUT.toLowerCase();
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.include({ type: "done" });
      expect(await JOBS.set_payout_address.onConfirmed!(cmd, deps)).to.equal("done");
      expect(await payoutRow()).to.deep.equal({
        address: NEXT_PAYOUT,
        pending_address: null,
        pending_command_id: null,
      });
    });

    it("a failed change (the forwarder refused it) is dropped: the previous payout address stays active and a new change can be asked for", async function () {
      const cmd = await change(PAYOUT);
      await db.tx((q) => JOBS.set_payout_address.onFailed!(q, cmd, "ERC2771ForwarderExpiredRequest", "expired"));
      expect(await payoutRow()).to.deep.equal({ address: PAYOUT, pending_address: null, pending_command_id: null });
    });

    it("a superseded change that fails leaves the later request's change pending", async function () {
      const old = await change(PAYOUT);
      const later = await queued("set_payout_address", { address: PAYEE_WALLET });
      await db.query(`update payout_addresses set pending_address = $1, pending_command_id = $2`, [
        PAYEE_WALLET,
        later.id,
      ]);
      await db.tx((q) => JOBS.set_payout_address.onFailed!(q, old, "PayoutChangeReplaced", "replaced"));
      expect(await payoutRow()).to.deep.equal({
        address: PAYOUT,
        pending_address: PAYEE_WALLET,
        pending_command_id: later.id,
      });
    });

    it("a merchant whose own wallet signs fails with MerchantSignsItself (the relayer holds no key of it)", async function () {
      const cmd = await queued("set_payout_address", { address: NEXT_PAYOUT }, { merchantId: "mch_ext" });
      await db.query(
        `insert into payout_addresses (merchant_id, pending_address, pending_due_at, pending_command_id)
         values ('mch_ext', $1, now(), $2)`,
        [NEXT_PAYOUT, cmd.id],
      );
      expect(await JOBS.set_payout_address.prepare(cmd, deps)).to.include({
        type: "fail",
        code: "MerchantSignsItself",
      });
    });
  });

  describe("sweep_payouts", function () {
    async function sweep(token = TOKEN, payout: string | null = PAYOUT) {
      if (payout) await db.query(`insert into payout_addresses (merchant_id, address) values ('mch_1', $1)`, [payout]);
      return queued("sweep_payouts", { token });
    }

    it("withdraws the escrow's credit to the custodial address first, relayed as the merchant, credit and balance read at one block", async function () {
      const cmd = await sweep();
      s.credited = 500n;
      s.balance = 200n;
      const p = await JOBS.sweep_payouts.prepare(cmd, deps);
      expect(p).to.include({ type: "tx", to: FORWARDER, kind: "sweep_payouts" });
      const req = forwarded((p as { data: string }).data);
      expect([req.from, req.to, req.signer(5n)]).to.deep.equal([CUSTODIAL.address, ESCROW, CUSTODIAL.address]);
      expect([...escrowIface.decodeFunctionData("withdraw", req.data)]).to.deep.equal([TOKEN, CUSTODIAL.address]);
      const blocks = node.reads
        .filter((r) => r.method === "credited" || r.method === "balanceOf")
        .map((r) => r.blockTag);
      expect(blocks).to.deep.equal([toQuantity(10), toQuantity(10)]);
    });

    it("a native credit is withdrawn to the payout address directly", async function () {
      const cmd = await sweep(ZeroAddress);
      s.credited = 500n;
      const p = await JOBS.sweep_payouts.prepare(cmd, deps);
      const req = forwarded((p as { data: string }).data);
      expect([...escrowIface.decodeFunctionData("withdraw", req.data)]).to.deep.equal([ZeroAddress, PAYOUT]);
    });

    it("then moves the custodial balance to the payout address with a transferWithAuthorization the custodial key signs", async function () {
      const cmd = await sweep();
      s.balance = 700n;
      const p = await JOBS.sweep_payouts.prepare(cmd, deps);
      expect(p).to.include({ type: "tx", to: TOKEN, kind: "sweep_payouts" });
      const [from, to, value, validAfter, validBefore, nonce, v, r, sv] = TOKEN_ABI.decodeFunctionData(
        "transferWithAuthorization",
        (p as { data: string }).data,
      );
      expect([from, to, value, validAfter]).to.deep.equal([CUSTODIAL.address, PAYOUT, 700n, 0n]);
      const signer = verifyTypedData(
        TOKEN_DOMAIN,
        TRANSFER_WITH_AUTHORIZATION_TYPES,
        { from, to, value, validAfter, validBefore, nonce },
        Signature.from({ v, r, s: sv }),
      );
      expect(signer).to.equal(CUSTODIAL.address);
    });

    it("runs step after step until nothing is left: withdraw, transfer, then done", async function () {
      const cmd = await sweep();
      s.credited = 500n;
      s.balance = 200n;
      const steps: string[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await JOBS.sweep_payouts.prepare(cmd, deps);
        if (p.type !== "tx") throw new Error(`step ${i}: ${p.type}`);
        const step =
          p.to === FORWARDER
            ? "withdraw"
            : `transfer ${TOKEN_ABI.decodeFunctionData("transferWithAuthorization", p.data)[2]}`;
        steps.push(step);
        // The step's effect on chain, then the writer's follow-up.
        if (step === "withdraw") [s.credited, s.balance] = [0n, s.balance + s.credited];
        else s.balance = 0n;
        const next = await JOBS.sweep_payouts.onConfirmed!(cmd, deps);
        steps.push(next);
        if (next === "done") break;
      }
      expect(steps).to.deep.equal(["withdraw", "again", "transfer 700", "done"]);
      expect(await JOBS.sweep_payouts.prepare(cmd, deps)).to.deep.equal({
        type: "done",
        note: "nothing left at the custodial address",
      });
    });

    it("a token without ERC-3009 fails TokenNotSweepable and its balance ends the follow-up (no endless again)", async function () {
      const cmd = await sweep();
      s.erc3009 = false;
      s.balance = 700n;
      expect(await JOBS.sweep_payouts.prepare(cmd, deps)).to.include({ type: "fail", code: "TokenNotSweepable" });
      expect(await JOBS.sweep_payouts.onConfirmed!(cmd, deps)).to.equal("done");
      s.credited = 1n;
      expect(await JOBS.sweep_payouts.onConfirmed!(cmd, deps)).to.equal("again");
    });

    it("a node failing to answer the ERC-3009 probe is not taken for a token without it (the step is tried again)", async function () {
      const cmd = await sweep();
      s.balance = 700n;
      s.probeFails = true;
      let thrown: unknown;
      await JOBS.sweep_payouts.prepare(cmd, deps).catch((e) => (thrown = e));
      expect(thrown, "prepare must throw, not fail the sweep").to.be.instanceOf(Error);
    });

    it("a token without EIP-5267 fails TokenNotSweepable, naming the custodial address where the balance stays", async function () {
      const cmd = await sweep();
      s.eip5267 = false;
      s.balance = 700n;
      const p = await JOBS.sweep_payouts.prepare(cmd, deps);
      expect(p).to.include({ type: "fail", code: "TokenNotSweepable" });
      expect((p as { message: string }).message).to.contain(CUSTODIAL.address);
    });

    it("fails when the admin removed the token since, or without a payout address", async function () {
      s.credited = 500n;
      s.tokenAllowed = false;
      expect(await JOBS.sweep_payouts.prepare(await sweep(), deps)).to.include({
        type: "fail",
        code: "TokenNotAllowed",
      });
      await db.query(`delete from payout_addresses`);
      s.tokenAllowed = true;
      expect(await JOBS.sweep_payouts.prepare(await sweep(TOKEN, null), deps)).to.include({
        type: "fail",
        code: "PayoutAddressNotSet",
      });
    });

    it("a withdrawal waits behind the merchant's earlier custodial-key command (one forwarder nonce sequence)", async function () {
      await queued("set_payout_address", { address: NEXT_PAYOUT });
      const cmd = await sweep();
      s.credited = 500n;
      expect(await JOBS.sweep_payouts.prepare(cmd, deps)).to.include({ type: "wait", delayMs: 500 });
      await db.query(`update commands set status = 'confirmed' where kind = 'set_payout_address'`);
      expect(await JOBS.sweep_payouts.prepare(cmd, deps)).to.include({ type: "tx", to: FORWARDER });
    });
  });

  describe("return_order", function () {
    const returnCommand = (orderId: string, payload: Record<string, unknown>, merchantId = "mch_1") =>
      queued("return_order", { amount: "400", restock: false, ...payload }, { orderId, merchantId });

    it("a custodial payee's return carries a permit the custodial key signs for the escrow, for the amount, at the token's nonce", async function () {
      const p = await JOBS.return_order.prepare(await returnCommand("ord_c", {}), deps);
      expect(p.type).to.equal("escrow");
      const call = escrowIface.parseTransaction({ data: (p as { data: string }).data })!;
      expect(call.name).to.equal("refundCompletedWithPermit");
      expect(call.args[0].salt).to.equal(CUSTODIAL_ORDER.salt);
      expect(call.args[1]).to.equal(400n);
      const { deadline, v, r, s: sv } = call.args[2];
      const signer = verifyTypedData(
        TOKEN_DOMAIN,
        PERMIT_TYPES,
        { owner: CUSTODIAL.address, spender: ESCROW, value: 400n, nonce: 3n, deadline },
        Signature.from({ v, r, s: sv }),
      );
      expect(signer).to.equal(CUSTODIAL.address);
    });

    it("uses the permit the request carried as given, and a payee wallet's or an external merchant's allowance otherwise", async function () {
      const permit = { deadline: "2000000000", v: 27, r: keccakText("r"), s: keccakText("s") };
      const given = await JOBS.return_order.prepare(await returnCommand("ord_w", { permit }), deps);
      const withPermit = escrowIface.parseTransaction({ data: (given as { data: string }).data })!;
      expect(withPermit.name).to.equal("refundCompletedWithPermit");
      expect([...withPermit.args[2]]).to.deep.equal([2_000_000_000n, 27n, permit.r, permit.s]);
      for (const [orderId, merchantId] of [
        ["ord_w", "mch_1"],
        ["ord_x", "mch_ext"],
      ]) {
        await db.query(`delete from commands`);
        const p = await JOBS.return_order.prepare(await returnCommand(orderId, {}, merchantId), deps);
        const call = escrowIface.parseTransaction({ data: (p as { data: string }).data })!;
        expect([call.name, call.args[1]], orderId).to.deep.equal(["refundCompleted", 400n]);
      }
    });

    it("waits behind the merchant's earlier custodial-key command (one permit nonce sequence)", async function () {
      await queued("sweep_payouts", { token: TOKEN });
      const cmd = await returnCommand("ord_c", {});
      expect(await JOBS.return_order.prepare(cmd, deps)).to.include({ type: "wait", delayMs: 500 });
    });

    it("a token that no longer publishes its EIP-712 domain fails TokenNotPermittable; an order without terms OrderTermsMissing", async function () {
      s.eip5267 = false;
      expect(await JOBS.return_order.prepare(await returnCommand("ord_c", {}), deps)).to.include({
        type: "fail",
        code: "TokenNotPermittable",
      });
      const cmd = await returnCommand("ord_c", {});
      expect(await JOBS.return_order.prepare({ ...cmd, order_id: "ord_none" }, deps)).to.include({
        type: "fail",
        code: "OrderTermsMissing",
      });
    });

    const restocks = async () =>
      (
        await db.query<{ kind: string; merchant_id: string; order_id: string | null; payload: unknown }>(
          `select kind, merchant_id, order_id, payload from commands where kind = 'mint_stock' order by id`,
        )
      ).rows;

    it("queues one mint per SKU returned with its confirmation, once, even when the confirmation is recorded twice (two writers settling one receipt)", async function () {
      const cmd = await returnCommand("ord_c", { restock: true, restockItems: [{ skuId: "9", quantity: "1" }] });
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, cmd));
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, cmd));
      expect(await restocks()).to.deep.equal([
        {
          kind: "mint_stock",
          merchant_id: "mch_1",
          order_id: null,
          payload: { merchant: CUSTODIAL.address, skuId: "9", quantity: "1", returnOf: "ord_c", restockOf: cmd.id },
        },
      ]);
    });

    it("a return accepted before restockItems existed restocks every line item; one without restock queues nothing", async function () {
      const none = await returnCommand("ord_c", {});
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, none));
      expect(await restocks()).to.deep.equal([]);
      const all = await returnCommand("ord_c", { restock: true });
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, all));
      expect((await restocks()).map((r) => r.payload)).to.deep.equal(
        items.map((i) => ({ merchant: CUSTODIAL.address, ...i, returnOf: "ord_c", restockOf: all.id })),
      );
    });

    it("a second return of the order restocks too (once per return, not once per order)", async function () {
      const first = await returnCommand("ord_c", { restock: true, restockItems: [{ skuId: "7", quantity: "1" }] });
      const second = await returnCommand("ord_c", { restock: true, restockItems: [{ skuId: "7", quantity: "1" }] });
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, first));
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, second));
      await db.tx((q) => JOBS.return_order.onConfirmedInTransaction!(q, first));
      expect((await restocks()).map((r) => (r.payload as { restockOf: string }).restockOf)).to.deep.equal([
        first.id,
        second.id,
      ]);
    });

    it("a failed return notes its error on the order, which stays completed", async function () {
      const cmd = await returnCommand("ord_c", {});
      await db.tx((q) => JOBS.return_order.onFailed!(q, cmd, "ERC20InsufficientAllowance", "allowance too low"));
      expect(await orderRow("ord_c")).to.deep.equal({
        status: "completed",
        error_code: "ERC20InsufficientAllowance",
        error_message: "return_order: allowance too low",
      });
    });
  });
});
