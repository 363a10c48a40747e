/**
 * Relayed buyer payments against a buyer who undoes its own signature and a node that fails to answer: what
 * relay_authorization and relay_permit count as done, what fails (and with which code), and what is tried again.
 * Reads go through a node that answers contract reads from scripts; the store is the real SQL on PGlite.
 */
import { expect } from "chai";
import { Interface, Wallet, ZeroHash, getAddress, id as keccakText } from "ethers";
import { PaymentEscrow__factory } from "../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { makeChainContext } from "../../relayer/src/chain/context";
import type { JobDeps } from "../../relayer/src/chain/jobPort";
import { PERMIT_TYPES } from "../../relayer/src/domain/typedData";
import type { CommandKind } from "../../relayer/src/domain/command";
import { enqueueCommand, type CommandRow } from "../../relayer/src/store/commands";
import { BUYER_CAUSED_REVERTS } from "../../relayer/src/store/relayReverts";
import { JOBS } from "../../relayer/src/jobs/registry";
import { OrderState, hashItems, orderIdOf, termsToJson, type OrderTerms } from "../../sdk/orderRecord";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";
import { ScriptedReads } from "./support/scriptedReads";

const MERCHANT = getAddress(`0x${"a1".repeat(20)}`);
const BUYER = new Wallet(`0x${"22".repeat(32)}`);
const OPERATOR = getAddress(`0x${"0b".repeat(20)}`);
const ESCROW = getAddress(`0x${"e5".repeat(20)}`);
const INVENTORY = getAddress(`0x${"e6".repeat(20)}`);
const FORWARDER = getAddress(`0x${"f0".repeat(20)}`);
const TOKEN = getAddress(`0x${"70".repeat(20)}`);

const escrowIface = PaymentEscrow__factory.createInterface();
const TOKEN_ABI = new Interface([
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function nonces(address owner) view returns (uint256)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "error ERC2612InvalidSigner(address signer, address owner)",
]);
const TOKEN_DOMAIN = { name: "USD Coin", version: "2", chainId: 31337n, verifyingContract: TOKEN };

interface ChainState {
  balance: bigint;
  allowance: bigint;
  permitNonce: bigint;
  authorizationUsed: boolean;
  orderState: number;
  /** The node fails to answer token reads (not a revert). */
  tokenReadsFail: boolean;
}

function scriptedChain(s: ChainState): ScriptedReads {
  const node = new ScriptedReads();
  const answer =
    <T>(v: () => T) =>
    () => {
      if (s.tokenReadsFail) throw new Error("socket hang up");
      return v();
    };
  node.script(ESCROW, escrowIface, {
    statusOf: () => [s.orderState, 100, 0, 0],
    payWithAuthorization: () => [],
  });
  node.script(TOKEN, TOKEN_ABI, {
    balanceOf: answer(() => s.balance),
    allowance: answer(() => s.allowance),
    nonces: answer(() => s.permitNonce),
    authorizationState: answer(() => s.authorizationUsed),
  });
  return node;
}

const items = [{ skuId: "7", quantity: "2" }];
const chainItems = items.map((i) => ({ skuId: BigInt(i.skuId), quantity: BigInt(i.quantity) }));
const ORDER: OrderTerms = {
  merchant: MERCHANT,
  payee: MERCHANT,
  buyer: BUYER.address,
  token: TOKEN,
  amount: 1_000n,
  maxFeeBps: 100n,
  paymentDeadline: 2_000_000_000n,
  shipWithin: 86_400n,
  protectionPeriod: 86_400n,
  refundWindow: 86_400n,
  itemsHash: hashItems(chainItems),
  salt: keccakText("R-1"),
};

describe("jobs (unit): relayed buyer payments the buyer undoes, and reads the node fails", function () {
  let db: MemoryDb;
  let s: ChainState;
  let deps: JobDeps;

  before(async () => {
    db = await openMemoryDb();
    await db.query(
      `insert into merchants (id, name, address, encrypted_key, signer_kind) values ('mch_1', 'm', $1, null, 'external')`,
      [MERCHANT],
    );
    await db.query(
      `insert into orders (id, merchant_id, reference, chain_order_id, token, amount, items, payment_deadline,
                           ship_within, protection_period, status, terms)
       values ('ord_1', 'mch_1', 'R-1', $1, $2, 1000, $3, 0, 60, 60, 'created', $4)`,
      [orderIdOf(ORDER, chainItems), TOKEN, JSON.stringify(items), termsToJson(ORDER)],
    );
  });
  after(() => db.close());

  beforeEach(async () => {
    await db.query(`delete from commands`);
    await db.query(`update orders set error_code = null, error_message = null, status = 'created'`);
    s = {
      balance: 1_000n,
      allowance: 0n,
      permitNonce: 3n,
      authorizationUsed: false,
      orderState: OrderState.Created,
      tokenReadsFail: false,
    };
    deps = {
      db,
      chain: makeChainContext(scriptedChain(s), 31337n, {
        escrow: ESCROW,
        inventory: INVENTORY,
        forwarder: FORWARDER,
        startBlock: 0,
      }),
      operatorAddresses: [OPERATOR],
      merchantKeySecret: "s".repeat(32),
    };
  });

  async function queued(kind: CommandKind, payload: Record<string, unknown>): Promise<CommandRow> {
    const id = await enqueueCommand(db, { kind, merchantId: "mch_1", orderId: "ord_1", payload });
    return (await db.query<CommandRow>(`select * from commands where id = $1`, [id])).rows[0];
  }

  describe("relay_authorization", function () {
    const nonce = keccakText("the order's digest");
    const authorization = () =>
      queued("relay_authorization", {
        buyer: BUYER.address,
        token: TOKEN,
        validAfter: "0",
        validBefore: "2000000000",
        nonce,
        signature: BUYER.signingKey.sign(keccakText("authorization")).serialized,
      });

    it("the buyer cancelled its authorization before the relayer sent it (cancelAuthorization): fails as AuthorizationUsedOrCanceled, a buyer-caused code, not done", async function () {
      const cmd = await authorization();
      s.authorizationUsed = true;
      const p = await JOBS.relay_authorization.prepare(cmd, deps);
      expect(p).to.deep.equal({
        type: "fail",
        code: "AuthorizationUsedOrCanceled",
        message: `the payment by authorization was refused: AuthorizationUsedOrCanceled(authorizer=${BUYER.address}, nonce=${nonce})`,
      });
      expect(BUYER_CAUSED_REVERTS).to.include((p as { code: string }).code);
      // The order stays unpaid and shows why.
      await db.tx((q) => JOBS.relay_authorization.onFailed!(q, cmd, "AuthorizationUsedOrCanceled", "cancelled"));
      expect((await db.query(`select status, error_code from orders where id = 'ord_1'`)).rows[0]).to.deep.equal({
        status: "created",
        error_code: "AuthorizationUsedOrCanceled",
      });
    });

    it("the authorization was used and the escrow shows the order paid (someone submitted it first): done without sending", async function () {
      const cmd = await authorization();
      s.authorizationUsed = true;
      for (const state of [OrderState.Paid, OrderState.Shipped, OrderState.Refunded]) {
        s.orderState = state;
        expect(await JOBS.relay_authorization.prepare(cmd, deps), `state ${state}`).to.include({ type: "done" });
      }
    });
  });

  describe("relay_permit", function () {
    /** A permit of the buyer's with token nonce `nonce`, queued as the relay queues it (`withNonce`: as today). */
    async function permit(nonce: bigint, value = 1_000n, withNonce = true) {
      const deadline = 2_000_000_000n;
      const signature = await BUYER.signTypedData(TOKEN_DOMAIN, PERMIT_TYPES, {
        owner: BUYER.address,
        spender: ESCROW,
        value,
        nonce,
        deadline,
      });
      return queued("relay_permit", {
        token: TOKEN,
        owner: BUYER.address,
        spender: ESCROW,
        value: value.toString(),
        deadline: deadline.toString(),
        signature,
        ...(withNonce ? { nonce: nonce.toString() } : {}),
      });
    }
    const invalidSigner = {
      name: "UnknownRevert",
      args: {},
      data: TOKEN_ABI.encodeErrorResult("ERC2612InvalidSigner", [OPERATOR, BUYER.address]),
    } as never;

    it("an allowance that another approval put in place while this permit's nonce is unused: the permit is sent, not counted done", async function () {
      const cmd = await permit(3n);
      s.allowance = 5_000n;
      s.permitNonce = 3n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.include({ type: "tx", to: TOKEN, kind: "relay_permit" });
    });

    it("a permit reverted while its nonce is unused: not confirmed by an allowance from elsewhere (the later payment would fail)", async function () {
      const cmd = await permit(3n);
      s.allowance = 5_000n;
      s.permitNonce = 3n;
      expect(await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps)).to.deep.equal({ type: "default" });
    });

    it("the permit's nonce was used (a copy sent first) and the allowance is in place: done before sending, confirmed after a revert", async function () {
      const cmd = await permit(3n);
      s.permitNonce = 4n;
      s.allowance = 1_000n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.include({ type: "done" });
      expect(await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps)).to.deep.equal({ type: "confirmed" });
    });

    it("the permit's nonce was used by another permit whose allowance does not cover this one: fails without gas, not sent to revert", async function () {
      const cmd = await permit(3n, 1_000n);
      s.permitNonce = 4n;
      s.allowance = 400n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.include({ type: "fail", code: "PermitNonceUsed" });
      expect(await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps)).to.deep.equal({ type: "default" });
    });

    it("the node fails to answer after the permit reverted: tried again (throws), never failed as if the allowance were missing", async function () {
      const cmd = await permit(3n);
      s.permitNonce = 4n;
      s.allowance = 1_000n;
      s.tokenReadsFail = true;
      const err = await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Error);
      // Once the node answers, the same revert is confirmed.
      s.tokenReadsFail = false;
      expect(await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps)).to.deep.equal({ type: "confirmed" });
    });

    it("a permit queued before its payload carried the nonce: decided by the allowance alone, as it was queued", async function () {
      const cmd = await permit(3n, 1_000n, false);
      s.permitNonce = 3n;
      s.allowance = 1_000n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.include({ type: "done" });
      expect(await JOBS.relay_permit.onReverted!(cmd, invalidSigner, deps)).to.deep.equal({ type: "confirmed" });
      s.allowance = 0n;
      expect(await JOBS.relay_permit.prepare(cmd, deps)).to.include({ type: "tx" });
    });
  });
});
