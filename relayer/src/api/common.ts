/** What every route module shares: the OpenAPI security requirement and the caller's merchant. */
import type { FastifyRequest } from "fastify";

/** OpenAPI: the route needs a bearer API key. */
export const sec = [{ bearer: [] }];

/** The merchant of the authenticated merchant key (routes whose onRequest hook required one). */
export const merchantOf = (req: FastifyRequest) => req.principal!.merchantId!;
