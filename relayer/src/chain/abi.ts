/**
 * ABI encoding and log decoding on the relayer's hot paths, with the selectors and topic hashes computed once.
 * ethers' `Interface` recomputes a fragment's selector (a keccak of its signature) on every
 * `encodeFunctionData`, and `parseLog` hashes the signature of every event of the ABI until one matches the
 * log's topic; with hundreds of orders per batch that is most of the relayer's hashing. The encodings are
 * ethers' own (its `AbiCoder`, the fragments' input types): only the lookups are cached.
 */
import { AbiCoder, dataSlice, type EventFragment, type Interface, type Log, type ParamType } from "ethers";

const coder = AbiCoder.defaultAbiCoder();

export interface DecodedLog {
  name: string;
  fragment: EventFragment;
  /** Decoded values in input order (ethers' Result). */
  values: readonly unknown[];
}

export class CachedAbi {
  private readonly functions = new Map<string, { selector: string; inputs: readonly ParamType[] }>();
  private readonly events = new Map<string, EventFragment>();

  constructor(readonly iface: Interface) {
    const seen = new Set<string>();
    iface.forEachFunction((f) => {
      // An overloaded name is ambiguous: it is left out and `encode` refuses it.
      if (seen.has(f.name)) this.functions.delete(f.name);
      else this.functions.set(f.name, { selector: f.selector, inputs: f.inputs });
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

/** The 4-byte selector at the start of calldata. */
export function selectorOf(data: string): string {
  return dataSlice(data, 0, 4);
}
