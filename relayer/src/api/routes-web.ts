/**
 * Small read-only routes the web pages need: checking an API key without a failed request (token
 * introspection in the style of RFC 7662: 200 with `active: false`), and how to display a token's amounts.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Contract, getAddress, isAddress, ZeroAddress } from "ethers";
import type { ServiceDeps } from "../services/context";
import { AppError } from "../domain/errors";
import { authenticate } from "./auth";
import { getMerchant } from "../store/merchants";

const ERC20_DISPLAY = ["function symbol() view returns (string)", "function decimals() view returns (uint8)"];

export function registerWebRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  app.post(
    "/v1/introspect",
    {
      schema: {
        tags: ["keys"],
        summary: "Whether an API key is accepted, and for whom (200 with active: false when it is not)",
        body: Type.Object({ apiKey: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const { apiKey } = req.body as { apiKey: string };
      try {
        const p = await authenticate(deps, {
          headers: { authorization: `Bearer ${apiKey.trim()}` },
        } as unknown as FastifyRequest);
        if (p.kind !== "merchant" || !p.merchantId) return { active: true, kind: p.kind, merchant: null, scopes: [] };
        const m = (await getMerchant(deps.db, p.merchantId))!;
        return {
          active: true,
          kind: p.kind,
          keyId: p.keyId,
          scopes: p.scopes,
          merchant: { id: m.id, name: m.name, address: m.address },
        };
      } catch (err) {
        if (err instanceof AppError && err.code === "unauthenticated") return { active: false, reason: err.message };
        throw err;
      }
    },
  );

  const cache = new Map<string, { token: string; symbol: string; decimals: number }>();
  app.get(
    "/v1/tokens/:token",
    {
      schema: {
        tags: ["checkout"],
        summary: 'Symbol and decimals of a token the escrow accepts ("native" for the chain currency)',
        params: Type.Object({ token: Type.String({ maxLength: 42 }) }),
      },
    },
    async (req) => {
      const raw = (req.params as { token: string }).token;
      if (raw === "native" || raw === ZeroAddress) return { token: "native", symbol: "ETH", decimals: 18 };
      if (!isAddress(raw)) throw new AppError("validation_failed", 'token must be "native" or a 0x address');
      const token = getAddress(raw);
      const hit = cache.get(token);
      if (hit) return hit;
      if (!(await deps.chain.escrow.isTokenAllowed(token))) {
        throw new AppError("not_found", `token ${token} is not accepted by the escrow`, { token });
      }
      const c = new Contract(token, ERC20_DISPLAY, deps.chain.provider);
      const [symbol, decimals] = await Promise.all([
        c.symbol().catch(() => "tokens") as Promise<string>,
        c.decimals().catch(() => 0n) as Promise<bigint>,
      ]);
      const info = { token, symbol, decimals: Number(decimals) };
      cache.set(token, info);
      return info;
    },
  );
}
