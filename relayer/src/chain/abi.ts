/**
 * ABI encoding and log decoding on the relayer's hot paths, with the selectors and topic hashes computed once.
 * ethers' `Interface` recomputes a fragment's selector (a keccak of its signature) on every
 * `encodeFunctionData`, and `parseLog` hashes the signature of every event of the ABI until one matches the
 * log's topic; with hundreds of orders per batch that is most of the relayer's hashing. The encodings are
 * ethers' own (its `AbiCoder`, the fragments' input types): only the lookups are cached.
 */
import { AbiCoder, type EventFragment, type Interface, type Log, type ParamType } from "ethers";

const coder = AbiCoder.defaultAbiCoder();

export interface DecodedLog {
  name: string;
  fragment: EventFragment;
  /** Decoded values in input order (ethers' Result). */
  values: readonly unknown[];
}

export class CachedAbi {
  private readonly functions = new Map<string, { selector: string; inputs: readonly ParamType[]; fast: boolean }>();
  private readonly events = new Map<string, EventFragment>();

  constructor(readonly iface: Interface) {
    const seen = new Set<string>();
    iface.forEachFunction((f) => {
      // An overloaded name is ambiguous: it is left out and `encode` refuses it.
      if (seen.has(f.name)) this.functions.delete(f.name);
      else this.functions.set(f.name, { selector: f.selector, inputs: f.inputs, fast: f.inputs.every(supported) });
      seen.add(f.name);
    });
    iface.forEachEvent((e) => {
      if (!e.anonymous) this.events.set(e.topicHash, e);
    });
  }

  /** Same bytes as `iface.encodeFunctionData(name, values)`. */
  encode(name: string, values: readonly unknown[]): string {
    const f = this.functions.get(name);
    if (!f) throw new Error(`no unique function ${name} in the ABI`);
    if (f.fast) return f.selector + encodeList(f.inputs, values);
    return f.selector + coder.encode(f.inputs, values).slice(2);
  }

  /** The topic hash of the event `name`. */
  topicOf(name: string): string {
    for (const [topic, e] of this.events) if (e.name === name) return topic;
    throw new Error(`no event ${name} in the ABI`);
  }

  /** Decodes a log of this ABI, or returns null when its first topic is not one of the ABI's events. */
  decode(log: Pick<Log, "topics" | "data">): DecodedLog | null {
    const topic0 = log.topics[0]?.toLowerCase();
    const fragment = topic0 === undefined ? undefined : this.events.get(topic0);
    if (!fragment) return null;
    const indexed = fragment.inputs.filter((i) => i.indexed);
    const plain = fragment.inputs.filter((i) => !i.indexed);
    if (log.topics.length !== indexed.length + 1) return null;
    const fromData = coder.decode(plain, log.data);
    const values: unknown[] = [];
    let ti = 1;
    let di = 0;
    for (const input of fragment.inputs) {
      if (!input.indexed) values.push(fromData[di++]);
      else if (input.isTuple() || input.isArray() || input.type === "string" || input.type === "bytes") {
        // Dynamic indexed values are stored as their hash only.
        values.push(log.topics[ti++]);
      } else {
        values.push(coder.decode([input], log.topics[ti++])[0]);
      }
    }
    return { name: fragment.name, fragment, values };
  }
}

/*
 * A direct ABI encoder for the types the escrow's calls use: unsigned integers, addresses, booleans, bytesN,
 * bytes, string, arrays and tuples. It writes hex words without the generic coder's intermediate objects
 * (several times faster for a batch of hundreds of calls) and refuses what the generic coder refuses: a value
 * that is not an integer (or not a safe one) or out of its type's range, a malformed address or bytes, a tuple
 * or fixed array of the wrong length. One difference: a mixed-case address is not checked against its EIP-55
 * checksum (a keccak per address); the relayer's addresses were validated when they entered the API. Functions
 * with other parameter types (signed integers, ...) go through ethers' coder.
 */
const WORD = 64;

function supported(t: ParamType): boolean {
  if (t.isTuple()) return t.components.every(supported);
  if (t.isArray()) return supported(t.arrayChildren);
  return /^(uint\d*|address|bool|bytes\d*|string)$/.test(t.type);
}

function isDynamic(t: ParamType): boolean {
  if (t.type === "bytes" || t.type === "string") return true;
  if (t.isArray()) return t.arrayLength === -1 || isDynamic(t.arrayChildren);
  if (t.isTuple()) return t.components.some(isDynamic);
  return false;
}

function fail(t: ParamType, value: unknown, why: string): never {
  throw new Error(`cannot encode ${String(value)} as ${t.type}: ${why}`);
}

function uintWord(t: ParamType, value: unknown, bits: number): string {
  // What ethers takes as a BigNumberish: a bigint, a safe integer, or a decimal or 0x-hex string.
  let v: bigint;
  if (typeof value === "bigint") v = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
  else if (typeof value === "string" && /^(0x[0-9a-fA-F]+|-?[0-9]+)$/.test(value)) v = BigInt(value);
  else fail(t, value, "not an integer");
  if (v < 0n || v >= 1n << BigInt(bits)) fail(t, value, "out of range");
  return v.toString(16).padStart(WORD, "0");
}

function hexBody(t: ParamType, value: unknown): string {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) fail(t, value, "not 0x-prefixed hex bytes");
  return value.slice(2).toLowerCase();
}

function padRight(hex: string): string {
  const rem = hex.length % WORD;
  return rem === 0 ? hex : hex + "0".repeat(WORD - rem);
}

function encodeOne(t: ParamType, value: unknown): string {
  if (t.isTuple()) {
    const list = Array.isArray(value)
      ? value
      : t.components.map((c) => (value as Record<string, unknown> | null)?.[c.name]);
    if (list.length !== t.components.length) fail(t, value, "wrong number of components");
    return encodeList(t.components, list);
  }
  if (t.isArray()) {
    if (!Array.isArray(value)) fail(t, value, "not an array");
    const items = t.arrayChildren;
    if (t.arrayLength !== -1 && value.length !== t.arrayLength) fail(t, value, "wrong length");
    const body = encodeList(
      value.map(() => items),
      value,
    );
    return t.arrayLength === -1 ? value.length.toString(16).padStart(WORD, "0") + body : body;
  }
  const type = t.type;
  if (type === "address") {
    if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) fail(t, value, "not an address");
    return value.slice(2).toLowerCase().padStart(WORD, "0");
  }
  if (type === "bool") {
    if (typeof value !== "boolean") fail(t, value, "not a boolean");
    return (value ? "1" : "0").padStart(WORD, "0");
  }
  if (type === "string" || type === "bytes") {
    const hex = type === "string" ? Buffer.from(String(value), "utf8").toString("hex") : hexBody(t, value);
    return (hex.length / 2).toString(16).padStart(WORD, "0") + padRight(hex);
  }
  if (type.startsWith("bytes")) {
    const hex = hexBody(t, value);
    if (hex.length !== Number(type.slice(5)) * 2) fail(t, value, "wrong length");
    return padRight(hex);
  }
  return uintWord(t, value, type === "uint" ? 256 : Number(type.slice(4)));
}

/** Head-and-tail encoding of a list of values (the parameters of a call, a tuple's fields, array items). */
function encodeList(types: readonly ParamType[], values: readonly unknown[]): string {
  if (types.length !== values.length) throw new Error(`expected ${types.length} values, got ${values.length}`);
  const heads: string[] = [];
  const tails: string[] = [];
  let headBytes = 0;
  for (const t of types) headBytes += isDynamic(t) ? 32 : staticSize(t);
  let tailBytes = 0;
  types.forEach((t, i) => {
    const enc = encodeOne(t, values[i]);
    if (isDynamic(t)) {
      heads.push((headBytes + tailBytes).toString(16).padStart(WORD, "0"));
      tails.push(enc);
      tailBytes += enc.length / 2;
    } else {
      heads.push(enc);
    }
  });
  return heads.join("") + tails.join("");
}

function staticSize(t: ParamType): number {
  if (t.isTuple()) return t.components.reduce((n, c) => n + staticSize(c), 0);
  if (t.isArray()) return t.arrayLength * staticSize(t.arrayChildren);
  return 32;
}
