/** A merchant's webhook endpoints and their deliveries. */
import { Type, type Static } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceDeps } from "../services/context";
import {
  createEndpoint,
  disableEndpoint,
  listDeliveries,
  listEndpoints,
  MAX_ACTIVE_ENDPOINTS,
  redeliver,
} from "../services/webhooks";
import { DELIVERY_STATUSES } from "../store/webhooks";
import { WEBHOOK_EVENT_TYPES } from "../webhooks/events";
import { mutate } from "./idempotency";
import { PayoutAddress } from "./routes-payouts";
import { requireMerchant } from "./auth";
import { merchantOf, sec } from "./common";
import * as S from "./schemas";

export const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String(), { description: 'The event types sent, or ["*"] for all' }),
  createdAt: Type.String({ format: "date-time" }),
  disabledAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  consecutiveFailures: Type.Integer({ description: "Failed attempts in a row; a delivered one resets it" }),
  pausedUntil: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "While the circuit breaker pauses the endpoint (after failures in a row): no attempt before then",
  }),
});

export const EndpointWithSecret = Type.Composite([
  Endpoint,
  Type.Object({ secret: Type.String({ description: "Signs every delivery (orderchain-signature); shown once" }) }),
]);

const SIGNATURE_NOTE =
  "POSTed to the endpoint with the header `orderchain-signature: t=<unix seconds>,v1=<hex>`, " +
  "v1 = HMAC-SHA256(key, `<t>.<raw body>`) where the key is the UTF-8 bytes of the endpoint's whole secret as returned at " +
  "registration (`whsec_…`). Verify against the raw body before parsing, reject a `t` more than 300 s from now (replays), " +
  "compare in constant time (sdk/webhooks.ts verifyWebhook does all three). Delivery is at least once: deduplicate by `id`.";

const eventId = () =>
  Type.String({ description: "evt_…: the same id on every retry of this event (deduplicate by it)" });

/** The event types about an order: their `data` is the order. */
const ORDER_EVENT_TYPES = WEBHOOK_EVENT_TYPES.filter((t) => t.startsWith("order."));

/** An order event's body: `data` is the order as `GET /v1/orders/{id}` shows it, plus the event's own fields. */
export const OrderWebhookEvent = S.shared(
  "OrderWebhookEvent",
  Type.Object(
    {
      id: eventId(),
      type: Type.Union(
        ORDER_EVENT_TYPES.map((t) => Type.Literal(t)),
        { description: "What happened to the order" },
      ),
      createdAt: Type.String({ format: "date-time" }),
      data: Type.Composite([
        S.OrderFields,
        Type.Object({
          orderId: Type.String({ description: "The order's id (also `id`)" }),
          sequence: Type.Integer({ description: "Per order, from 1: apply an order's events in this order" }),
          lastEventBlock: Type.Union([Type.Integer(), Type.Null()], {
            description: "The block of the order's latest chain event as of this event (for a chain event: its block)",
          }),
          previousStatus: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          by: Type.Optional(
            Type.Literal("keeper", {
              description:
                "order.completed, order.cancelled, order.resolved: the relayer's keeper acted once the deadline passed",
            }),
          ),
          resolution: Type.Optional(Type.String({ description: "order.resolved: arbiter, settlement or default" })),
          buyerAmount: Type.Optional(Type.String({ description: "order.resolved: paid to the buyer" })),
          payeeAmount: Type.Optional(Type.String({ description: "order.resolved: paid to the payee" })),
          fee: Type.Optional(Type.String({ description: "order.resolved: the platform's fee" })),
          proposedBy: Type.Optional(Type.String({ description: "order.settlement_proposed: buyer or merchant" })),
          buyerTotal: Type.Optional(
            Type.String({ description: "order.settlement_proposed: the buyer's proposed share of the whole order" }),
          ),
          eventRef: Type.Optional(
            Type.String({
              description:
                "Every event announcing a chain event (all but order.failed and order.reverted): that event, <txHash>:<logIndex>",
            }),
          ),
          revertedEvents: Type.Optional(
            Type.Array(Type.String(), {
              description: "order.reverted: the eventRef of each announced chain event the reorg took back",
            }),
          ),
          refundAmount: Type.Optional(
            Type.String({ description: "order.partially_refunded: this refund (`refunded` is the total so far)" }),
          ),
          remaining: Type.Optional(Type.String({ description: "order.partially_refunded: still escrowed after it" })),
          returnAmount: Type.Optional(Type.String({ description: "order.returned: this return after completion" })),
          totalReturned: Type.Optional(
            Type.String({ description: "order.returned: partial refunds and returns so far (the escrow's refunded)" }),
          ),
        }),
      ]),
    },
    {
      description: `An order event's webhook body: \`data\` is the order and the event's own fields. ${SIGNATURE_NOTE}`,
    },
  ),
);

/** `merchant.payout_address_pending`: about the merchant, not an order. */
export const PayoutAddressWebhookEvent = S.shared(
  "PayoutAddressWebhookEvent",
  Type.Object(
    {
      id: eventId(),
      type: Type.Literal("merchant.payout_address_pending"),
      createdAt: Type.String({ format: "date-time" }),
      data: Type.Composite([Type.Object({ merchantId: Type.String() }), PayoutAddress], {
        description: "The payout address view (GET /v1/merchant/payout-address) with the merchant's id",
      }),
    },
    {
      description: `The webhook body of a requested payout address change (merchant.payout_address_pending). ${SIGNATURE_NOTE}`,
    },
  ),
);

/**
 * The body of every webhook delivery, documented here (components/schemas/WebhookEvent) for integrators; no
 * route answers with it. Its `type` says which of the two shapes it has.
 */
export const WebhookEvent = S.shared(
  "WebhookEvent",
  Type.Unsafe<Static<typeof OrderWebhookEvent> | Static<typeof PayoutAddressWebhookEvent>>({
    oneOf: [OrderWebhookEvent, PayoutAddressWebhookEvent],
    discriminator: {
      propertyName: "type",
      mapping: {
        ...Object.fromEntries(ORDER_EVENT_TYPES.map((t) => [t, "#/components/schemas/OrderWebhookEvent"])),
        "merchant.payout_address_pending": "#/components/schemas/PayoutAddressWebhookEvent",
      },
    },
    description:
      "A webhook delivery's JSON body: an order event (`type` order.*, OrderWebhookEvent) or a payout address " +
      `change (\`type\` merchant.payout_address_pending, PayoutAddressWebhookEvent). ${SIGNATURE_NOTE}`,
  }),
);

export const Delivery = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  type: Type.String({ description: "The event type, e.g. order.paid" }),
  sequence: Type.Integer({ description: "The event's number within its order" }),
  orderId: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union(
    DELIVERY_STATUSES.map((s) => Type.Literal(s)),
    { description: "cancelled: the endpoint was disabled before the delivery succeeded" },
  ),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "While pending: when the next attempt is due",
  }),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastResponseBody: Type.Union([Type.String(), Type.Null()], {
    description: "The first 4 KiB of the endpoint's last answer (no more is read)",
  }),
  deliveredAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }),
});

export const Redelivery = Type.Object({
  id: Type.String({ description: "The new delivery" }),
  eventId: Type.String(),
  status: Type.String(),
});

export function registerWebhookRoutes(server: FastifyInstance, deps: ServiceDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  const keysScope = requireMerchant(deps, "keys");
  app.post(
    "/v1/webhooks",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Register an endpoint; the signing secret is shown once",
        description: `The URL must be https to a public address: loopback, private, link-local (metadata), unique-local, IPv4-mapped, unspecified, multicast and reserved addresses, and names resolving to them, are refused with 400 webhook_url_forbidden (plain http and private addresses are accepted only when the relayer runs against a local chain). A merchant has at most ${MAX_ACTIVE_ENDPOINTS} active endpoints: 409 webhook_endpoint_limit_reached beyond.`,
        operationId: "createWebhookEndpoint",
        security: sec,
        headers: S.IdempotencyHeaders,
        body: Type.Object(
          {
            url: Type.String({ minLength: 8, maxLength: 2048 }),
            events: Type.Optional(
              Type.Array(Type.String({ maxLength: 64 }), { maxItems: WEBHOOK_EVENT_TYPES.length + 1 }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: EndpointWithSecret, ...S.errors(400, 401, 403, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 201, (q) => createEndpoint(deps, q, req.principal!, merchantOf(req), req.body)),
  );
  app.get(
    "/v1/webhooks",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["webhooks"],
        summary: "List endpoints (in creation order, cursor pagination); disabled ones only if asked",
        operationId: "listWebhookEndpoints",
        security: sec,
        querystring: Type.Object(
          {
            ...S.ListPaging,
            include_disabled: Type.Optional(
              Type.Boolean({ description: "Also list the disabled endpoints (default false: the active ones only)" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(Endpoint), ...S.errors(400, 401, 403, 500) },
      },
    },
    async (req) => {
      const { include_disabled: includeDisabled, ...page } = req.query;
      return listEndpoints(db, merchantOf(req), { ...page, includeDisabled });
    },
  );
  app.post(
    "/v1/webhooks/:id/disable",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Stop sending to an endpoint",
        description: "Its retries stop and its pending deliveries are cancelled (status cancelled in the log).",
        operationId: "disableWebhookEndpoint",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: S.IdParam,
        response: { 200: Endpoint, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 200, (q) => disableEndpoint(q, req.principal!, merchantOf(req), req.params.id)),
  );
  app.get(
    "/v1/webhooks/:id/deliveries",
    {
      onRequest: requireMerchant(deps, "read"),
      schema: {
        tags: ["webhooks"],
        summary: "The endpoint's delivery log (newest first)",
        operationId: "listWebhookDeliveries",
        security: sec,
        params: S.IdParam,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
            cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Page(Delivery), ...S.errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => {
      const { limit = 50, cursor } = req.query;
      return listDeliveries(db, merchantOf(req), req.params.id, limit, cursor);
    },
  );
  app.post(
    "/v1/webhooks/deliveries/:id/redeliver",
    {
      onRequest: keysScope,
      schema: {
        tags: ["webhooks"],
        summary: "Send an event again",
        description: "Refused with 409 webhook_endpoint_disabled when the delivery's endpoint is disabled.",
        operationId: "redeliverWebhook",
        security: sec,
        headers: S.IdempotencyHeaders,
        params: Type.Object({ id: Type.String({ pattern: "^[0-9]{1,19}$" }) }),
        response: { 202: Redelivery, ...S.errors(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (req, reply) =>
      mutate(db, req, reply, 202, (q) => redeliver(q, req.principal!, merchantOf(req), req.params.id)),
  );
}
