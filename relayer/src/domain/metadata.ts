/**
 * An order's metadata: the merchant's own string keys and values (Stripe's rules and limits). Set at creation,
 * changed by `PATCH /v1/orders/{id}` where an empty string deletes a key. Each violation has its own code.
 */
import { AppError } from "./errors";
import { METADATA_KEY_MAX, METADATA_VALUE_MAX } from "./searchQuery";

export const METADATA_MAX_KEYS = 50;

export type Metadata = Record<string, string>;

/**
 * Checks a metadata object as sent and returns it as an update: keys to set and keys to delete (an empty
 * string value). Refuses anything but an object of strings within the limits.
 */
export function metadataUpdate(input: unknown): { set: Metadata; unset: string[] } {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new AppError("metadata_value_invalid", "metadata must be an object of string keys and string values", {
      field: "metadata",
    });
  }
  const set: [string, string][] = [];
  const unset: string[] = [];
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (key.length < 1 || key.length > METADATA_KEY_MAX) {
      throw new AppError("metadata_key_invalid", `metadata keys have 1 to ${METADATA_KEY_MAX} characters`, {
        key: key.slice(0, 100),
        maxLength: METADATA_KEY_MAX,
      });
    }
    if (typeof value !== "string") {
      throw new AppError(
        "metadata_value_invalid",
        `metadata["${key}"] must be a string (no numbers, nested objects, arrays or null)`,
        { key },
      );
    }
    if (value.length > METADATA_VALUE_MAX) {
      throw new AppError(
        "metadata_value_too_long",
        `metadata["${key}"] is longer than ${METADATA_VALUE_MAX} characters`,
        { key, maxLength: METADATA_VALUE_MAX },
      );
    }
    if (value === "") unset.push(key);
    else set.push([key, value]);
  }
  // fromEntries defines own properties: a key such as "__proto__" stays a key.
  const update = { set: Object.fromEntries(set) as Metadata, unset };
  assertKeyCount(update.set);
  return update;
}

/** The stored metadata after `update`: keys set, empty-string keys deleted, at most METADATA_MAX_KEYS left. */
export function applyMetadata(current: Metadata, update: { set: Metadata; unset: string[] }): Metadata {
  const next: Metadata = { ...current, ...update.set };
  for (const key of update.unset) delete next[key];
  assertKeyCount(next);
  return next;
}

function assertKeyCount(m: Metadata): void {
  const count = Object.keys(m).length;
  if (count > METADATA_MAX_KEYS) {
    throw new AppError("metadata_too_many_keys", `metadata holds at most ${METADATA_MAX_KEYS} keys`, {
      keys: count,
      max: METADATA_MAX_KEYS,
    });
  }
}
