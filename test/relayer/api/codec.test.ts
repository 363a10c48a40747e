import { expect } from "chai";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  AbiCoder,
  Indexed,
  Interface,
  Result,
  getAddress,
  hexlify,
  id,
  keccak256,
  type EventFragment,
  type ParamType,
} from "ethers";
import { InventoryToken__factory, PaymentEscrow__factory } from "../../../typechain-types";
import { CachedAbi } from "../../../relayer/src/chain/abi";
import { orderSalt } from "../../../relayer/src/domain/model";
import { batchGasBound } from "../../../relayer/src/chain/submitter/gas";
import { CREATE_ORDER_GAS_BOUND, CREATE_ORDER_ITEM_GAS_BOUND } from "../../../relayer/src/jobs/createOrder";
import { terms, type LineItem } from "../../helpers/fixtures";
import { deployCreationFixture, type CreationFixture } from "../../helpers/creation";
import { termsTuple } from "../../helpers/creation";

/**
 * The relayer's hand-rolled hot-path codecs agree with ethers' generic ones: `CachedAbi.encode` gives the bytes
 * of `Interface.encodeFunctionData`, `CachedAbi.decode` the values of `Interface.parseLog` (and null for logs
 * that are not the ABI's), `orderSalt` the hash of `abi.encode("orderchain/order", merchant, reference)`;
 * and the gas bounds that replace `eth_estimateGas` for first-attempt create batches really bound the gas a
 * batch uses on chain, with room to spare, and keep a full batch of item-less creates under the transaction cap.
 */

const RUNS = 200;
const coder = AbiCoder.defaultAbiCoder();
// As plain `Interface`s: the oracle is ethers' generic, string-keyed path, as the relayer used it.
const escrowIface: Interface = PaymentEscrow__factory.createInterface();
const inventoryIface: Interface = InventoryToken__factory.createInterface();
/** The writer's per-transaction cap (EIP-7825 leaves 2^24; `TX_GAS_CAP` in relayer/src/chain/submitter/gas.ts). */
const TX_GAS_CAP = 16_000_000n;

// ------------------------------------------------------------------ arbitraries

const bytesArb = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => hexlify(b));
const bytes32Arb = bytesArb(32, 32);
const addressArb = fc
  .tuple(bytesArb(20, 20), fc.boolean())
  .map(([raw, lower]) => (lower ? raw.toLowerCase() : getAddress(raw)));
const uintArb = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const intArb = (bits: number) => fc.bigInt({ min: -(1n << BigInt(bits - 1)), max: (1n << BigInt(bits - 1)) - 1n });

/** Random values of any ABI type (what `encodeEventLog` takes). */
function arbOf(p: ParamType): fc.Arbitrary<unknown> {
  if (p.isArray()) {
    const n = p.arrayLength;
    return fc.array(arbOf(p.arrayChildren), n >= 0 ? { minLength: n, maxLength: n } : { maxLength: 4 });
  }
  if (p.isTuple()) return fc.tuple(...p.components.map(arbOf));
  if (p.type === "address") return addressArb;
  if (p.type === "bool") return fc.boolean();
  if (p.type === "string") return fc.string({ unit: "grapheme", maxLength: 40 });
  if (p.type === "bytes") return bytesArb(0, 100);
  const m = /^(u?int|bytes)(\d+)$/.exec(p.type);
  if (m?.[1] === "bytes") return bytesArb(Number(m[2]), Number(m[2]));
  if (m?.[1] === "uint") return uintArb(Number(m[2]));
  if (m?.[1] === "int") return intArb(Number(m[2]));
  throw new Error(`no arbitrary for ABI type ${p.type}`);
}

const itemsArb = fc.array(fc.record({ skuId: uintArb(256), quantity: uintArb(256) }), { maxLength: 5 });
const termsArb = fc.record({
  merchant: addressArb,
  payee: addressArb,
  buyer: addressArb,
  token: addressArb,
  amount: uintArb(256),
  maxFeeBps: uintArb(16),
  paymentDeadline: uintArb(64),
  shipWithin: uintArb(32),
  protectionPeriod: uintArb(32),
  refundWindow: uintArb(32),
  itemsHash: bytes32Arb,
  salt: bytes32Arb,
});

/** Decoded values as plain nested arrays; an indexed dynamic value as its topic (the hash ethers keeps). */
function plain(v: unknown): unknown {
  if (Indexed.isIndexed(v)) return v.hash;
  if (v instanceof Result) return v.toArray().map(plain);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/**
 * `plain(v)` as exact text, bigints marked. Compared with `equal`, not `deep.equal`: hardhat-chai-matchers'
 * `deep.equal` compares hex strings as numbers, so a zero-padded topic would equal an address, "0xAB" "0xab".
 */
function canon(v: unknown): string {
  return JSON.stringify(plain(v), (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
}

/**
 * A log of `fragment` built by hand, for what `encodeEventLog` does not implement: an indexed tuple or array is
 * given as its 32-byte topic (the hash a node would hold).
 */
function handBuiltLog(fragment: EventFragment, values: readonly unknown[]): { topics: string[]; data: string } {
  const topics = [fragment.topicHash];
  const types: ParamType[] = [];
  const data: unknown[] = [];
  fragment.inputs.forEach((input, i) => {
    const v = values[i];
    if (!input.indexed) {
      types.push(input);
      data.push(v);
    } else if (input.isTuple() || input.isArray()) topics.push(v as string);
    else if (input.type === "string") topics.push(id(v as string));
    else if (input.type === "bytes") topics.push(keccak256(v as string));
    else topics.push(coder.encode([input], [v]));
  });
  return { topics, data: coder.encode(types, data) };
}

/** Asserts that `decode` of a log of random values gives what `parseLog` gives. */
function assertDecodesLikeEthers(iface: Interface, fragment: EventFragment, runs: number, byHand = false) {
  const cached = new CachedAbi(iface);
  const inputArbs = fragment.inputs.map((p) =>
    byHand && p.indexed && (p.isTuple() || p.isArray()) ? bytes32Arb : arbOf(p),
  );
  fc.assert(
    fc.property(fc.tuple(...inputArbs), (values) => {
      const log = byHand ? handBuiltLog(fragment, values) : iface.encodeEventLog(fragment, values);
      const parsed = iface.parseLog(log);
      const decoded = cached.decode(log);
      expect(parsed, "ethers parses the log").to.not.equal(null);
      expect(decoded, "decoded").to.not.equal(null);
      expect(decoded!.name).to.equal(parsed!.name);
      expect(decoded!.fragment.format("sighash")).to.equal(parsed!.fragment.format("sighash"));
      expect(decoded!.values).to.have.length(fragment.inputs.length);
      expect(canon(decoded!.values)).to.equal(canon(parsed!.args));
    }),
    { numRuns: runs },
  );
}

describe("relayer hot-path codecs", function () {
  describe("CachedAbi.encode", function () {
    const cached = new CachedAbi(escrowIface);

    it("encodes createOrder exactly as Interface.encodeFunctionData (random terms, 0..5 items)", function () {
      fc.assert(
        fc.property(termsArb, itemsArb, fc.boolean(), (t, items, positional) => {
          // the create_order job passes the tuple as an object; positional arrays must encode the same.
          const args = positional ? [termsTuple(t), items.map((i) => [i.skuId, i.quantity])] : [t, items];
          expect(cached.encode("createOrder", args)).to.equal(escrowIface.encodeFunctionData("createOrder", args));
        }),
        { numRuns: RUNS },
      );
    });

    it("encodes batch exactly as Interface.encodeFunctionData (random bytes[] and atomic flag)", function () {
      fc.assert(
        fc.property(fc.array(bytesArb(0, 200), { maxLength: 6 }), fc.boolean(), (calls, atomic) => {
          expect(cached.encode("batch", [calls, atomic])).to.equal(
            escrowIface.encodeFunctionData("batch", [calls, atomic]),
          );
        }),
        { numRuns: RUNS },
      );
    });

    it("encodes a batch of real createOrder calls as ethers does", function () {
      fc.assert(
        fc.property(fc.array(fc.tuple(termsArb, itemsArb), { maxLength: 5 }), (orders) => {
          const calls = orders.map(([t, items]) => cached.encode("createOrder", [t, items]));
          expect(calls.join(",")).to.equal(
            orders.map(([t, items]) => escrowIface.encodeFunctionData("createOrder", [t, items])).join(","),
          );
          expect(cached.encode("batch", [calls, false])).to.equal(
            escrowIface.encodeFunctionData("batch", [calls, false]),
          );
        }),
        { numRuns: 50 },
      );
    });

    it("throws for an unknown function name and for the wrong number of arguments", function () {
      expect(() => cached.encode("noSuchFunction", [])).to.throw(/noSuchFunction/);
      expect(() => cached.encode("batch", [[]])).to.throw();
    });

    it("refuses what ethers refuses for integers, addresses, booleans and bytes, and takes what it takes", function () {
      const abi = new CachedAbi(new Interface(["function h(uint64 a, address b, bool c, bytes32 d, bytes e)"]));
      const iface = new Interface(["function h(uint64 a, address b, bool c, bytes32 d, bytes e)"]);
      const ok: unknown[] = [5n, "0x" + "ab".repeat(20), true, "0x" + "11".repeat(32), "0x1234"];
      expect(abi.encode("h", ok)).to.equal(iface.encodeFunctionData("h", ok));
      for (const a of [5, "5", "0x05"]) {
        const v = [a, ...ok.slice(1)];
        expect(abi.encode("h", v), String(a)).to.equal(iface.encodeFunctionData("h", v));
      }
      const bad: [number, unknown][] = [
        [0, ""],
        [0, true],
        [0, 1e20],
        [0, 1.5],
        [0, -1n],
        [0, 2n ** 64n],
        [0, "12abc"],
        [1, "0x1234"],
        [1, 42],
        [3, "0x11"],
        [4, "0x123"],
        [4, "1234"],
      ];
      for (const [at, value] of bad) {
        const v: unknown[] = [...ok];
        v[at] = value;
        expect(() => abi.encode("h", v), `${at}: ${String(value)}`).to.throw(/cannot encode/);
        expect(() => iface.encodeFunctionData("h", v), `ethers ${at}: ${String(value)}`).to.throw();
      }
      // Stricter than ethers, which takes any truthy value as true.
      expect(() => abi.encode("h", [ok[0], ok[1], 1, ok[3], ok[4]])).to.throw(/not a boolean/);
    });

    it("refuses an overloaded name rather than picking one of its fragments", function () {
      const overloaded = new CachedAbi(
        new Interface(["function f(uint256)", "function f(address)", "function f(bytes32)", "function g(uint8)"]),
      );
      expect(() => overloaded.encode("f", [1n])).to.throw(/no unique function f/);
      expect(overloaded.encode("g", [7n])).to.equal(new Interface(["function g(uint8)"]).encodeFunctionData("g", [7n]));
    });
  });

  describe("CachedAbi.topicOf", function () {
    it("gives the topic hash of an event and throws for an unknown one", function () {
      const cached = new CachedAbi(escrowIface);
      expect(cached.topicOf("BatchItemFailed")).to.equal(escrowIface.getEvent("BatchItemFailed")!.topicHash);
      expect(cached.topicOf("BatchItemFailed")).to.equal(id("BatchItemFailed(uint256,bytes)"));
      expect(cached.topicOf("OrderCreated")).to.equal(escrowIface.getEvent("OrderCreated")!.topicHash);
      expect(new CachedAbi(inventoryIface).topicOf("TransferSingle")).to.equal(
        inventoryIface.getEvent("TransferSingle")!.topicHash,
      );
      expect(() => cached.topicOf("NoSuchEvent")).to.throw(/NoSuchEvent/);
      // An event of another ABI is unknown here.
      expect(() => cached.topicOf("SkuCreated")).to.throw(/SkuCreated/);
    });
  });

  describe("CachedAbi.decode", function () {
    const named: [string, Interface, string][] = [
      ["escrow", escrowIface, "OrderCreated"],
      ["escrow", escrowIface, "OrderCancelled"],
      ["escrow", escrowIface, "OrderRefunded"],
      ["escrow", escrowIface, "BatchItemFailed"],
      ["inventory", inventoryIface, "SkuCreated"],
      ["inventory", inventoryIface, "TransferSingle"],
    ];
    for (const [abi, iface, name] of named) {
      it(`decodes ${abi} ${name} logs to the values of Interface.parseLog`, function () {
        assertDecodesLikeEthers(iface, iface.getEvent(name)!, RUNS);
      });
    }

    it("decodes every other event of both ABIs as Interface.parseLog does", function () {
      let events = 0;
      for (const iface of [escrowIface, inventoryIface]) {
        iface.forEachEvent((e) => {
          if (named.some(([, i, n]) => i === iface && n === e.name)) return;
          assertDecodesLikeEthers(iface, e, 25);
          events += 1;
        });
      }
      expect(events).to.be.greaterThan(10);
    });

    it("decodes indexed dynamic and signed values as ethers does (topic hash, sign-extended topic)", function () {
      const iface = new Interface([
        "event Tagged(string indexed tag, uint256[] indexed ids, bytes indexed blob, string note)",
        "event Packed((uint256,address) indexed pair, int8 indexed small, bool indexed flag, bytes data)",
        "event Fixed(uint256[2] indexed pairOfInts, bytes4 indexed sel, int256 delta)",
      ]);
      iface.forEachEvent((e) => assertDecodesLikeEthers(iface, e, 100, true));
    });

    it("accepts an upper-case first topic", function () {
      const cached = new CachedAbi(escrowIface);
      const log = escrowIface.encodeEventLog("BatchItemFailed", [3n, "0xdeadbeef"]);
      const upper = { ...log, topics: ["0x" + log.topics[0].slice(2).toUpperCase(), ...log.topics.slice(1)] };
      const decoded = cached.decode(upper);
      expect(decoded?.name).to.equal("BatchItemFailed");
      expect(canon(decoded!.values)).to.equal(canon([3n, "0xdeadbeef"]));
    });

    it("returns null for an unknown first topic, no topics, or a topic count that does not fit the event", function () {
      const cached = new CachedAbi(escrowIface);
      const a = getAddress(hexlify(new Uint8Array(20).fill(0xab)));
      const cancelled = escrowIface.encodeEventLog("OrderCancelled", [id("o"), a, a, a]);
      expect(cached.decode(cancelled)?.name, "the untouched log decodes").to.equal("OrderCancelled");

      expect(cached.decode({ topics: [id("NoSuchEvent(uint256)")], data: "0x" })).to.equal(null);
      // An event of another ABI is unknown here.
      const sku = inventoryIface.encodeEventLog("SkuCreated", [1n, a, "ipfs://x"]);
      expect(cached.decode(sku)).to.equal(null);
      expect(cached.decode({ topics: [], data: cancelled.data })).to.equal(null);
      expect(cached.decode({ topics: cancelled.topics.slice(0, -1), data: cancelled.data })).to.equal(null);
      expect(cached.decode({ topics: [...cancelled.topics, id("extra")], data: cancelled.data })).to.equal(null);

      const failed = escrowIface.encodeEventLog("BatchItemFailed", [0n, "0x"]);
      expect(cached.decode({ topics: failed.topics.slice(0, 1), data: failed.data })).to.equal(null);
    });
  });

  describe("orderSalt (the terms' salt of a merchant's order reference)", function () {
    const reference = (address: string, ref: string) =>
      keccak256(coder.encode(["string", "address", "string"], ["orderchain/order", address, ref]));

    it("equals keccak256(abi.encode('orderchain/order', merchant, reference)) for random addresses and unicode", function () {
      fc.assert(
        fc.property(bytesArb(20, 20), fc.string({ unit: "grapheme", maxLength: 300 }), (raw, ref) => {
          const expected = reference(getAddress(raw), ref);
          expect(orderSalt(getAddress(raw), ref)).to.equal(expected);
          expect(orderSalt(raw.toLowerCase(), ref)).to.equal(expected);
        }),
        { numRuns: RUNS },
      );
    });

    it("matches at every padding boundary of the reference (0..100 bytes, multi-byte characters)", function () {
      const merchant = getAddress(hexlify(new Uint8Array(20).fill(0x5a)));
      for (let n = 0; n <= 100; n++) {
        for (const ref of ["a".repeat(n), "é".repeat(n), "😀".repeat(n % 20)]) {
          expect(orderSalt(merchant, ref), `${JSON.stringify(ref)}`).to.equal(reference(merchant, ref));
        }
      }
      // The address is its own word: all-upper-case hex is the same address.
      const upper = "0x" + merchant.slice(2).toUpperCase();
      expect(orderSalt(upper, "r-1")).to.equal(reference(merchant, "r-1"));
    });

    it("throws for a string that is not an address", function () {
      for (const bad of ["0x1234", "not an address", "", "0x" + "g".repeat(40), "0x" + "ab".repeat(21)]) {
        expect(() => orderSalt(bad, "r-1"), JSON.stringify(bad)).to.throw(/not an address/);
      }
    });

    it("throws for a reference with a lone surrogate instead of hashing it as U+FFFD", function () {
      const merchant = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
      for (const bad of ["x\uD800", "x\uDC00", "\uD800y"]) {
        expect(() => orderSalt(merchant, bad), JSON.stringify(bad)).to.throw(/well-formed/);
      }
      expect(orderSalt(merchant, "x\uFFFD")).to.match(/^0x[0-9a-f]{64}$/);
    });
  });

  describe("batch gas bounds", function () {
    const create = (items = 0, attempts = 0) => ({
      cmd: { attempts },
      gasBound: CREATE_ORDER_GAS_BOUND + CREATE_ORDER_ITEM_GAS_BOUND * BigInt(items),
    });

    it("bounds a create at 70,000 plus 45,000 per line item", function () {
      expect(CREATE_ORDER_GAS_BOUND).to.equal(70_000n);
      expect(CREATE_ORDER_ITEM_GAS_BOUND).to.equal(45_000n);
    });

    it("sums the calls' bounds over a 60,000 base", function () {
      expect(batchGasBound([create(0)])).to.equal(130_000n);
      expect(batchGasBound([create(0), create(3), { cmd: { attempts: 0 }, gasBound: 12_345n }])).to.equal(
        60_000n + 70_000n + 205_000n + 12_345n,
      );
    });

    it("is null when one call has no bound, wherever it is", function () {
      const unbound = { cmd: { attempts: 0 } };
      expect(batchGasBound([unbound])).to.be.null;
      expect(batchGasBound([unbound, create(), create()])).to.be.null;
      expect(batchGasBound([create(), unbound, create()])).to.be.null;
      expect(batchGasBound([create(), create(), unbound])).to.be.null;
    });

    it("is null when one call is a retry", function () {
      expect(batchGasBound([create(0, 1)])).to.be.null;
      expect(batchGasBound([create(), create(2, 1), create()])).to.be.null;
      expect(batchGasBound([create(), create(), create(0, 5)])).to.be.null;
    });

    it("keeps a batch of 200 item-less creates under the transaction cap, and not one of 230", function () {
      const bound200 = batchGasBound(Array.from({ length: 200 }, () => create()));
      expect(bound200).to.equal(60_000n + 200n * 70_000n);
      expect(bound200! <= TX_GAS_CAP, `${bound200} <= ${TX_GAS_CAP}`).to.equal(true);
      const bound230 = batchGasBound(Array.from({ length: 230 }, () => create()));
      expect(bound230! > TX_GAS_CAP, `${bound230} > ${TX_GAS_CAP}`).to.equal(true);
    });

    describe("on chain: a batch sent with its bound as gas limit creates every order, using well under it", function () {
      interface BoundFixture extends CreationFixture {
        skus: bigint[];
      }
      /** The escrow fixture with a third SKU, so an order can hold three distinct line items. */
      async function deployBoundFixture(): Promise<BoundFixture> {
        const f = await deployCreationFixture();
        await f.inventory.connect(f.merchant).createSku(f.merchant.address, "ipfs://sku-c");
        const skuC = await f.inventory.skuId(f.merchant.address, 3);
        await f.inventory.connect(f.merchant).mintStock([skuC], [100n]);
        return { ...f, skus: [f.skuA, f.skuB, skuC] };
      }

      const cached = new CachedAbi(escrowIface);
      const failedTopic = cached.topicOf("BatchItemFailed");
      const createdTopic = cached.topicOf("OrderCreated");

      for (const orders of [1, 20]) {
        for (const itemCount of [0, 3]) {
          it(`${orders} order(s) of ${itemCount} line items each`, async function () {
            const f = await loadFixture(deployBoundFixture);
            const items: LineItem[] = f.skus.slice(0, itemCount).map((skuId) => ({ skuId, quantity: 1n }));
            const calls = [];
            for (let i = 0; i < orders; i++) {
              calls.push({
                cmd: { attempts: 0 },
                data: cached.encode("createOrder", [await terms(f, {}, items), items]),
                gasBound: CREATE_ORDER_GAS_BOUND + CREATE_ORDER_ITEM_GAS_BOUND * BigInt(itemCount),
              });
            }
            const bound = batchGasBound(calls)!;
            expect(bound).to.be.a("bigint");

            const tx = await f.escrow.connect(f.operator).batch(
              calls.map((c) => c.data),
              false,
              { gasLimit: bound },
            );
            const receipt = (await tx.wait())!;
            expect(receipt.status).to.equal(1);
            // Not atomic: a call that ran out of gas would be reported, not revert the batch.
            const topics = receipt.logs.map((l) => l.topics[0]);
            expect(
              topics.filter((t) => t === failedTopic),
              "BatchItemFailed logs",
            ).to.have.length(0);
            expect(
              topics.filter((t) => t === createdTopic),
              "OrderCreated logs",
            ).to.have.length(orders);

            const used = receipt.gasUsed;
            expect(used <= bound, `gas used ${used} <= bound ${bound}`).to.equal(true);
            expect(used * 13n <= bound * 10n, `bound ${bound} >= 1.3 x gas used ${used}`).to.equal(true);
          });
        }
      }
    });
  });
});
