/**
 * Whose Idempotency-Keys a request's key is among, through a real fastify app and the relayer's own idempotency
 * SQL (on PGlite): callers without an API key (buyers on the checkout routes) each have their client address's
 * keys, so a stranger who sends a buyer's key first cannot have the buyer's request refused or see its response.
 */
import { expect } from "chai";
import Fastify, { type FastifyInstance } from "fastify";
import { AppError } from "../../relayer/src/domain/errors";
import { mutate } from "../../relayer/src/api/idempotency";
import { openMemoryDb, type MemoryDb } from "./support/memoryDb";

describe("idempotency: the scope of a request without an API key", function () {
  this.timeout(180_000);
  let db: MemoryDb;
  let app: FastifyInstance;
  const executed: unknown[] = [];

  before(async () => {
    db = await openMemoryDb();
    app = Fastify();
    app.decorate("idempotencySealKey", "a-test-seal-key-of-32-characters!!");
    app.decorate("idempotencyTtlSeconds", 3600);
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof AppError) return reply.code(err.status).send(err.toJSON());
      return reply.code(500).send({ error: { code: "internal_error", message: String(err) } });
    });
    app.post("/v1/checkout/act", async (req, reply) =>
      mutate(db, req, reply, 202, async () => {
        executed.push(req.body);
        return { accepted: req.body };
      }),
    );
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await db?.close();
  });

  const send = (ip: string, body: unknown, key = "buyer-key-1") =>
    app.inject({
      method: "POST",
      url: "/v1/checkout/act",
      remoteAddress: ip,
      headers: { "content-type": "application/json", "idempotency-key": key },
      payload: JSON.stringify(body),
    });

  it("a stranger who sends a buyer's Idempotency-Key first neither blocks the buyer's request nor gets its response", async () => {
    const squat = await send("203.0.113.66", { action: "squat" });
    expect(squat.statusCode, squat.body).to.equal(202);
    const buyer = await send("198.51.100.10", { action: "pay", order: "0x01" });
    expect(buyer.statusCode, buyer.body).to.equal(202);
    expect(buyer.headers["idempotent-replayed"]).to.equal(undefined);
    expect(JSON.parse(buyer.body)).to.deep.equal({ accepted: { action: "pay", order: "0x01" } });
    expect(executed).to.deep.equal([{ action: "squat" }, { action: "pay", order: "0x01" }]);
  });

  it("the buyer's own retry from its address is replayed, and the same key with another body from there is 409", async () => {
    const again = await send("198.51.100.10", { action: "pay", order: "0x01" });
    expect(again.statusCode).to.equal(202);
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    const other = await send("198.51.100.10", { action: "pay", order: "0x02" });
    expect(other.statusCode).to.equal(409);
    expect(JSON.parse(other.body).error.code).to.equal("idempotency_key_reused");
    expect(executed).to.have.length(2);
  });

  it("an IPv6 client is its /64: a retry from another address of the same subscriber is still replayed", async () => {
    const first = await send("2001:db8:1:2::10", { action: "pay", order: "0x03" }, "v6-key");
    expect(first.statusCode).to.equal(202);
    const retry = await send("2001:db8:1:2:ffff::1", { action: "pay", order: "0x03" }, "v6-key");
    expect(retry.headers["idempotent-replayed"]).to.equal("true");
    expect(executed).to.have.length(3);
  });
});
