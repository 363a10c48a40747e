/**
 * Small read-only routes the web pages need: checking an API key without a failed request (token
 * introspection in the style of RFC 7662: 200 with `active: false`), how to display a token's amounts and how a
 * buyer can pay with it.
 */
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Contract, getAddress, isAddress, ZeroAddress } from "ethers";
import type { ServiceDeps } from "../services/context";
import { AppError } from "../domain/errors";
import { isChainUnavailable } from "../domain/unavailable";
import { authenticate } from "./auth";
import { getMerchant } from "../store/merchants";
import { noKey } from "./common";
import { limitByIp } from "./rateLimit";
import * as S from "./schemas";
import { PaymentMethods } from "./buyerSchemas";
import { tokenMethods, type TokenMethods } from "../relay/tokenMethods";

const ERC20_DISPLAY = ["function symbol() view returns (string)", "function decimals() view returns (uint8)"];

/** How long a token the escrow refused is remembered (it may be allowed later), and how many such answers. */
const REFUSED_TOKEN_MS = 30_000;
const MAX_REFUSED_TOKENS = 10_000;

/** One shape for both answers: an accepted key (`active: true`, who it is) or a refused one (`reason`). */
export const Introspection = Type.Object({
  active: Type.Boolean(),
  kind: Type.Optional(Type.Union([Type.Literal("admin"), Type.Literal("merchant"), Type.Literal("arbiter")])),
  keyId: Type.Optional(Type.String({ description: "A merchant key's id" })),
  scopes: Type.Optional(Type.Array(Type.String(), { description: "A merchant key's scopes; [] for the others" })),
  merchant: Type.Optional(
    Type.Union([Type.Object({ id: Type.String(), name: Type.String(), address: Type.String() }), Type.Null()], {
      description: "A merchant key's merchant; null for the admin and arbiter keys",
    }),
  ),
  reason: Type.Optional(Type.String({ description: "Why the key is not accepted (active: false)" })),
});

export const TokenInfo = Type.Object({
  token: Type.String({ description: '"native" or the checksummed ERC-20 address' }),
  symbol: Type.String({ description: '"tokens" when the token does not say' }),
  decimals: Type.Integer({ description: "0 when the token does not say" }),
  // Optional in the schema so clients written before they existed still type-check; the route always sends them.
  paymentMethods: Type.Optional(PaymentMethods),
  eip712: Type.Optional(
    Type.Union(
      [
        Type.Object({
          name: Type.String(),
          version: Type.String(),
          chainId: Type.String(),
          verifyingContract: Type.String(),
        }),
        Type.Null(),
      ],
      { description: "The token's EIP-712 domain (permits, authorizations are signed in it); null without either" },
    ),
  ),
});

export function registerWebRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    "/v1/introspect",
    {
      // Every try costs a key lookup: a key guesser is limited by its address.
      onRequest: limitByIp,
      schema: {
        tags: ["keys"],
        summary: "Whether an API key is accepted, and for whom (200 with active: false when it is not)",
        operationId: "introspectKey",
        security: noKey,
        body: Type.Object({ apiKey: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
        response: { 200: Introspection, ...S.errors(400, 413, 415, 429, 500) },
      },
    },
    async (req) => {
      const { apiKey } = req.body;
      try {
        const p = await authenticate(deps, `Bearer ${apiKey.trim()}`);
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

  // An accepted token's symbol and decimals never change: kept for the life of the process (the allowlist bounds
  // them). A refusal is kept a while, so asking again for the same token costs no eth_call.
  const accepted = new Map<string, { token: string; symbol: string; decimals: number } & TokenMethods>();
  const refused = new Map<string, number>();
  app.get(
    "/v1/tokens/:token",
    {
      onRequest: limitByIp,
      schema: {
        tags: ["checkout"],
        summary: 'Symbol, decimals and payment methods of a token the escrow accepts ("native" for the chain currency)',
        operationId: "getToken",
        security: noKey,
        params: Type.Object({ token: Type.String({ maxLength: 42 }) }),
        response: { 200: TokenInfo, ...S.errors(400, 404, 429, 500, 503) },
      },
    },
    async (req) => {
      const raw = req.params.token;
      if (raw === "native" || raw === ZeroAddress)
        return { token: "native", symbol: "ETH", decimals: 18, ...(await tokenMethods(deps.chain, ZeroAddress)) };
      if (!isAddress(raw)) throw new AppError("validation_failed", 'token must be "native" or a 0x address');
      const token = getAddress(raw);
      const hit = accepted.get(token);
      if (hit) return hit;
      const notAccepted = () => new AppError("not_found", `token ${token} is not accepted by the escrow`, { token });
      if ((refused.get(token) ?? 0) > Date.now()) throw notAccepted();
      if (!(await deps.chain.escrow.isTokenAllowed(token))) {
        refused.delete(token);
        if (refused.size >= MAX_REFUSED_TOKENS) refused.delete(refused.keys().next().value!);
        refused.set(token, Date.now() + REFUSED_TOKEN_MS);
        throw notAccepted();
      }
      refused.delete(token);
      const c = new Contract(token, ERC20_DISPLAY, deps.chain.provider);
      // A token that does not say is shown with the defaults; a chain that did not answer is asked again later.
      const orDefault =
        <T>(fallback: T) =>
        (err: unknown): T => {
          if (isChainUnavailable(err)) throw err;
          return fallback;
        };
      const [symbol, decimals, methods] = await Promise.all([
        (c.symbol() as Promise<string>).catch(orDefault("tokens")),
        (c.decimals() as Promise<bigint>).catch(orDefault(0n)),
        tokenMethods(deps.chain, token),
      ]);
      const info = { token, symbol, decimals: Number(decimals), ...methods };
      accepted.set(token, info);
      return info;
    },
  );
}
