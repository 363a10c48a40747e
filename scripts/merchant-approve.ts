/**
 * `npm run merchant:approve`: a merchant that brought its own signing address (POST /v1/admin/merchants with
 * `address`) approves the relayer's signers as its operators from its own key, without gas: the script asks the
 * relayer what to sign (GET /v1/merchant/operator-approvals: the forwarder's EIP-712 typed data, one request per
 * approval missing on chain), signs each request with the merchant's key, posts the signatures and waits until the
 * merchant is active. The key never leaves this process; only signatures are sent.
 *
 *   RELAYER_URL=http://127.0.0.1:8080 MERCHANT_API_KEY=ock_... MERCHANT_PRIVATE_KEY=0x... npm run merchant:approve
 *
 * MERCHANT_API_KEY is one of the merchant's owner keys (issued by the admin); MERCHANT_PRIVATE_KEY the key of the
 * merchant's address (an externally owned account: the forwarder verifies ECDSA signatures only). A wallet that
 * cannot export its key signs the same typed data with eth_signTypedData_v4 instead.
 */
import "dotenv/config";
import { Wallet } from "ethers";
import { ApiError, createApiClient, ok } from "../sdk/api/client";
import { approvalOf } from "./lib/operatorApprovals";
import { Progress, StepFailed } from "./lib/progress";
import { waitFor } from "./lib/waitFor";

function env(name: string, fallback?: string): string {
  const v = process.env[name]?.trim() || fallback;
  if (!v) {
    process.stderr.write(`merchant:approve: ${name} is not set (see .env.example, "Merchant's own signing key")\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const baseUrl = env("RELAYER_URL", "http://127.0.0.1:8080");
  const api = createApiClient({ baseUrl, key: env("MERCHANT_API_KEY") });
  let wallet: Wallet;
  try {
    wallet = new Wallet(env("MERCHANT_PRIVATE_KEY"));
  } catch {
    process.stderr.write("merchant:approve: MERCHANT_PRIVATE_KEY is not a 32-byte hex private key\n");
    process.exit(2);
  }
  const progress = new Progress();

  const { value: typed } = await progress.step(`Ask ${baseUrl} what to sign`, async () => {
    const t = await ok(api.GET("/v1/merchant/operator-approvals"));
    if (t.address.toLowerCase() !== wallet.address.toLowerCase()) {
      throw new Error(
        `the merchant's address is ${t.address}, but MERCHANT_PRIVATE_KEY is the key of ${wallet.address}`,
      );
    }
    return {
      value: t,
      line: `${t.requests.length} approval(s) missing for ${t.address} (merchant ${t.merchantId}, ${t.status})`,
      details: t.requests.map((r) => `${r.contract}: operator ${r.operator} (forwarder nonce ${r.message.nonce})`),
    };
  });

  const { value: requests } = await progress.step("Sign them with the merchant's key", async () => {
    const signed = [];
    const calls: string[] = [];
    for (const r of typed.requests) {
      calls.push(approvalOf(typed.types, r.message, wallet.address));
      const signature = await wallet.signTypedData(typed.domain, typed.types, r.message);
      signed.push({ ...r.message, signature });
    }
    return {
      value: signed,
      line: `${signed.length} EIP-712 signature(s) by ${wallet.address} on chain ${typed.domain.chainId}`,
      details: calls,
    };
  });

  const { value: accepted } = await progress.step("Send the signatures to the relayer", async () => {
    const a = await ok(api.POST("/v1/merchant/operator-approvals", { body: { requests } }));
    return { value: a, line: `accepted: command ${a.command.id} (${a.command.kind}) relays them` };
  });

  await progress.step("Wait until the chain shows every approval", async () => {
    const active = await waitFor(
      "the merchant to turn active",
      async () => {
        const t = await ok(api.GET("/v1/merchant/operator-approvals"));
        return t.status === "active" && t.requests.length === 0 ? t : null;
      },
      120_000,
      1000,
    );
    return {
      value: active,
      line: `merchant ${accepted.merchant.id} is active: the relayer may act for ${active.address}`,
    };
  });
}

main().catch((err: unknown) => {
  // A failed step printed its reason already.
  if (err instanceof StepFailed) process.exit(1);
  if (err instanceof ApiError) process.stderr.write(`merchant:approve: ${err.status} ${err.code}: ${err.message}\n`);
  else process.stderr.write(`merchant:approve: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
