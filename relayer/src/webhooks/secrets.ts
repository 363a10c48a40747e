/**
 * Endpoint signing secrets, decrypted once per endpoint and process. They are stored encrypted under a key
 * derived with scrypt (domain/keys.ts), about 43 ms of CPU: run synchronously for every delivery it would
 * stall the event loop the deliverer shares with the indexer and the chain writer. Here the derivation runs on
 * libuv's thread pool (`crypto.scrypt`), once per endpoint: concurrent first deliveries share it, and later
 * ones read the cache.
 */
import crypto from "node:crypto";

/** Decrypts a `v1` blob of domain/keys.ts `encryptPrivateKey` without blocking the event loop. */
export async function decryptSecret(blob: string, secretKey: string): Promise<string> {
  const [version, salt, iv, tag, body] = blob.split(".");
  if (version !== "v1" || !body) throw new Error("unrecognised encrypted secret format");
  // The same parameters as keys.ts's `scryptSync(secret, salt, 32)`: Node's defaults (N=16384, r=8, p=1).
  const key = await new Promise<Buffer>((resolve, reject) =>
    crypto.scrypt(secretKey, Buffer.from(salt, "base64"), 32, (err, k) => (err ? reject(err) : resolve(k))),
  );
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
}

export class EndpointSecrets {
  /** By endpoint id, least recently used first (a Map keeps insertion order). */
  private readonly cache = new Map<string, { blob: string; secret: Promise<string> }>();

  constructor(
    private readonly secretKey: string,
    private readonly maxEntries = 10_000,
  ) {}

  /** The endpoint's secret; `blob` is its stored ciphertext (a new blob, a new secret). */
  get(endpointId: string, blob: string): Promise<string> {
    const hit = this.cache.get(endpointId);
    if (hit && hit.blob === blob) {
      this.cache.delete(endpointId);
      this.cache.set(endpointId, hit);
      return hit.secret;
    }
    const entry = { blob, secret: decryptSecret(blob, this.secretKey) };
    // A failure is not remembered: the next delivery tries again.
    entry.secret.catch(() => {
      if (this.cache.get(endpointId) === entry) this.cache.delete(endpointId);
    });
    this.cache.set(endpointId, entry);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return entry.secret;
  }
}
