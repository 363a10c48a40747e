/** Secrets: API keys (shown once, stored as SHA-256) and merchants' custodial keys (AES-256-GCM at rest). */
import crypto from "node:crypto";

export function newApiSecret(prefix: "ock" | "oca"): string {
  return `${prefix}_${crypto.randomBytes(24).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return crypto.createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of two strings (for the admin key from config). */
export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function deriveKey(secret: string, salt: Buffer): Buffer {
  return crypto.scryptSync(secret, salt, 32);
}

export function encryptPrivateKey(privateKey: string, secret: string): string {
  const salt = crypto.randomBytes(16);
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", deriveKey(secret, salt), iv);
  const body = Buffer.concat([cipher.update(privateKey, "utf8"), cipher.final()]);
  return ["v1", salt, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === "string" ? p : p.toString("base64")))
    .join(".");
}

export function decryptPrivateKey(blob: string, secret: string): string {
  const [version, salt, iv, tag, body] = blob.split(".");
  if (version !== "v1" || !body) throw new Error("unrecognised encrypted key format");
  const decipher = crypto.createDecipheriv(
    "aes-256-gcm",
    deriveKey(secret, Buffer.from(salt, "base64")),
    Buffer.from(iv, "base64"),
  );
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
}
