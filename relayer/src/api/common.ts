/** What every route module shares: the OpenAPI security requirements and the caller's merchant. */
import type { FastifyRequest } from "fastify";

/** OpenAPI: the route needs a bearer API key. */
export const sec = [{ bearer: [] }];

/** OpenAPI: the route needs no key (the buyer's routes are authorised by the signatures they carry). */
export const noKey: { bearer: string[] }[] = [];

/** The merchant of the authenticated merchant key (routes whose onRequest hook required one). */
export const merchantOf = (req: FastifyRequest) => req.principal!.merchantId!;
