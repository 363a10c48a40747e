/**
 * The indexer follows the escrow's and the inventory's events from the deployment block, keeps a checkpoint
 * with the hashes of recent blocks, detects reorgs by parent hash and rolls back to the common ancestor, and
 * derives every order's view (`OrderView`, stored in `orders.record`) and API status from the events alone.
 *
 * Only the relayer's own orders are followed: an escrow event that names an order id (OrderCreated and every
 * later event) is stored only when that id is in the orders table. The escrow is open to anyone, and orders
 * created on it directly by others never appear in the API, the ledger or the webhooks.
 */
import type { ParamType } from "ethers";
import { getLogsRaw, type RawLog } from "../chain/rpc";
import type { Logger } from "pino";
import type { ChainContext } from "../chain/context";
import type { Db, Queryable } from "../store/db";
import { applyOrderEvent, ORDER_EVENTS, type OrderView } from "../../../sdk/orderRecord";
import { statusFromChainState } from "../domain/model";
import type { Metrics } from "../metrics";

/** How many recent block hashes are kept to find a common ancestor after a reorg. */
const KEEP_BLOCKS = 256;
/** Longest wait between failed passes: short, so the API catches up soon after the RPC endpoint returns. */
const MAX_BACKOFF_MS = 5_000;

export interface IndexerOptions {
  pollIntervalMs: number;
  batchBlocks: number;
}

/** Work derived from indexed events, done in the indexer's own transaction (ledger, webhook events). */
export interface IndexerHooks {
  onIndexed(q: Queryable, fromBlock: number, toBlock: number, touchedOrders: Set<string>): Promise<void>;
  onRolledBack(q: Queryable, ancestorBlock: number, affectedOrders: string[]): Promise<void>;
}

/** Converts decoded event values to JSON by their ABI types: integers as decimal strings, structs as objects. */
function toJson(value: unknown, type: ParamType): unknown {
  if (type.isArray()) return (value as unknown[]).map((v) => toJson(v, type.arrayChildren));
  if (type.isTuple()) {
    const out: Record<string, unknown> = {};
    type.components.forEach((c, i) => (out[c.name] = toJson((value as unknown[])[i], c)));
    return out;
  }
  return typeof value === "bigint" ? value.toString() : value;
}

export class Indexer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private backoffMs = 0;
  private stopped = false;
  lastHead = 0n;
  lastError: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly chain: ChainContext,
    private readonly opts: IndexerOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly hooks?: IndexerHooks,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        await this.tick();
        this.backoffMs = 0;
        this.lastError = null;
      } catch (err) {
        this.lastError = String(err);
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs === 0 ? 500 : this.backoffMs * 2);
        this.log.warn({ err: String(err), retryInMs: this.backoffMs }, "indexer pass failed; backing off");
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.pollIntervalMs + this.backoffMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  async checkpoint(q: Queryable = this.db): Promise<{ lastBlock: bigint; lastHash: string | null }> {
    const r = await q.query<{ last_block: string; last_hash: string | null }>(
      "select last_block, last_hash from indexer_state where id = 1",
    );
    if (r.rows.length === 0) return { lastBlock: BigInt(this.chain.addresses.startBlock) - 1n, lastHash: null };
    return { lastBlock: BigInt(r.rows[0].last_block), lastHash: r.rows[0].last_hash };
  }

  /** Indexes up to the head (at most `batchBlocks` per step); returns when caught up. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (;;) {
          const progressed = await this.step();
          if (!progressed || this.stopped) break;
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async step(): Promise<boolean> {
    const started = performance.now();
    const provider = this.chain.provider;
    const head = BigInt(await provider.getBlockNumber());
    this.lastHead = head;
    const { lastBlock, lastHash } = await this.checkpoint();
    this.metrics.indexerLag.set(Number(head > lastBlock ? head - lastBlock : 0n));
    if (lastBlock >= 0n && lastHash) {
      const current = await provider.getBlock(Number(lastBlock));
      if (!current || current.hash !== lastHash) {
        await this.rollback(lastBlock);
        return true;
      }
    }
    if (head <= lastBlock) return false;
    const from = lastBlock + 1n;
    const to = head < from + BigInt(this.opts.batchBlocks) - 1n ? head : from + BigInt(this.opts.batchBlocks) - 1n;
    const logs = await getLogsRaw(
      provider,
      [this.chain.addresses.escrow, this.chain.addresses.inventory],
      Number(from),
      Number(to),
    );
    // Block headers of the range end and of every block with logs: their hashes are the reorg evidence.
    const numbers = new Set<number>([Number(to), ...logs.map((l) => l.blockNumber)]);
    if (from === lastBlock + 1n && lastHash) numbers.add(Number(from));
    const blocks = new Map<number, { hash: string; parentHash: string; timestamp: number }>();
    await Promise.all(
      [...numbers].map(async (n) => {
        const b = await provider.getBlock(n);
        if (!b || !b.hash) throw new Error(`block ${n} not available`);
        blocks.set(n, { hash: b.hash, parentHash: b.parentHash, timestamp: b.timestamp });
      }),
    );
    const first = blocks.get(Number(from));
    if (first && lastHash && first.parentHash !== lastHash) {
      await this.rollback(lastBlock);
      return true;
    }
    for (const l of logs) {
      if (blocks.get(l.blockNumber)?.hash !== l.blockHash)
        throw new Error(`log of block ${l.blockNumber} does not match its header; chain moving`);
    }
    const fetchedMs = performance.now() - started;
    await this.db.tx(async (q) => {
      // Everything this transaction writes is derived from the chain, checkpoint included: if a crash loses
      // its commit, the checkpoint goes with it and the step is done again. It need not wait for the disk.
      await q.query("set local synchronous_commit = off");
      const touchedOrders = new Set<string>();
      // One statement for all of the step's events: the indexer shares the database with the API.
      const rows: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
      const createdSkus: string[] = [];
      for (const log of logs) {
        const ev = this.parse(log);
        if (!ev) continue;
        const orderId = (ev.args.orderId as string | undefined) ?? null;
        const values = [
          log.blockNumber,
          log.blockHash,
          log.transactionHash,
          log.index,
          ev.contract,
          ev.name,
          orderId,
          (ev.args.merchant as string | undefined) ?? null,
          JSON.stringify(ev.args),
          blocks.get(log.blockNumber)?.timestamp ?? null,
        ];
        values.forEach((v, i) => rows[i].push(v));
        if (orderId && (ORDER_EVENTS as readonly string[]).includes(ev.name)) touchedOrders.add(orderId);
        if (ev.name === "SkuCreated") createdSkus.push(String(ev.args.skuId));
      }
      if (rows[0].length > 0) {
        // Events of order ids this relayer did not accept are left out (orders created on the escrow by others).
        const foreign = await q.query<{ order_id: string }>(
          `select u.o as order_id from unnest($1::text[]) as u(o)
           where u.o is not null and not exists (select 1 from orders where chain_order_id = u.o)`,
          [rows[6]],
        );
        if (foreign.rows.length > 0) {
          const skip = new Set(foreign.rows.map((r) => r.order_id));
          const keep = (rows[6] as (string | null)[]).map((o) => o === null || !skip.has(o));
          for (let i = 0; i < rows.length; i++) rows[i] = rows[i].filter((_, k) => keep[k]);
          for (const o of skip) touchedOrders.delete(o);
        }
      }
      if (rows[0].length > 0) {
        await q.query(
          `insert into chain_events (block_number, block_hash, tx_hash, log_index, contract, name, order_id, merchant, args, block_time)
           select b, h, t, l, c, n, o, m, a::jsonb, bt
           from unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
             as u(b, h, t, l, c, n, o, m, a, bt)
           on conflict (block_number, log_index) do nothing`,
          rows,
        );
      }
      if (createdSkus.length > 0) {
        await q.query(`update skus set status = 'created' where chain_sku_id = any($1::numeric[])`, [createdSkus]);
      }
      await this.rebuildOrders(q, [...touchedOrders]);
      if (this.hooks) await this.hooks.onIndexed(q, Number(from), Number(to), touchedOrders);
      for (const [n, b] of blocks) {
        await q.query(
          `insert into indexed_blocks (number, hash, parent_hash) values ($1, $2, $3)
           on conflict (number) do update set hash = excluded.hash, parent_hash = excluded.parent_hash`,
          [n, b.hash, b.parentHash],
        );
      }
      await q.query(`delete from indexed_blocks where number < $1`, [Number(to) - KEEP_BLOCKS]);
      await q.query(
        `insert into indexer_state (id, last_block, last_hash, updated_at) values (1, $1, $2, now())
         on conflict (id) do update set last_block = excluded.last_block, last_hash = excluded.last_hash, updated_at = now()`,
        [Number(to), blocks.get(Number(to))!.hash],
      );
    });
    this.metrics.indexerLag.set(Number(head - to));
    this.log.debug(
      {
        from: String(from),
        to: String(to),
        logs: logs.length,
        rpcMs: Math.round(fetchedMs),
        dbMs: Math.round(performance.now() - started - fetchedMs),
      },
      "indexed",
    );
    return to < head;
  }

  /** Walks back from `fromBlock` to the newest block whose stored hash the chain still has, and undoes the rest. */
  private async rollback(fromBlock: bigint): Promise<void> {
    const stored = await this.db.query<{ number: string; hash: string }>(
      `select number, hash from indexed_blocks where number <= $1 order by number desc`,
      [Number(fromBlock)],
    );
    let ancestor = BigInt(this.chain.addresses.startBlock) - 1n;
    let ancestorHash: string | null = null;
    for (const row of stored.rows) {
      const b = await this.chain.provider.getBlock(Number(row.number));
      if (b && b.hash === row.hash) {
        ancestor = BigInt(row.number);
        ancestorHash = row.hash;
        break;
      }
    }
    this.log.warn(
      { from: String(fromBlock), ancestor: String(ancestor) },
      "reorg detected; rolling back to the common ancestor",
    );
    await this.db.tx(async (q) => {
      const affected = await q.query<{ order_id: string }>(
        `select distinct order_id from chain_events where block_number > $1 and order_id is not null`,
        [Number(ancestor)],
      );
      const skus = await q.query<{ sku: string }>(
        `select args->>'skuId' as sku from chain_events where block_number > $1 and name = 'SkuCreated'`,
        [Number(ancestor)],
      );
      await q.query(`delete from chain_events where block_number > $1`, [Number(ancestor)]);
      await q.query(`delete from indexed_blocks where number > $1`, [Number(ancestor)]);
      for (const s of skus.rows) await q.query(`update skus set status = 'pending' where chain_sku_id = $1`, [s.sku]);
      await this.rebuildOrders(
        q,
        affected.rows.map((r) => r.order_id),
      );
      if (this.hooks)
        await this.hooks.onRolledBack(
          q,
          Number(ancestor),
          affected.rows.map((r) => r.order_id),
        );
      await q.query(
        `insert into indexer_state (id, last_block, last_hash, updated_at) values (1, $1, $2, now())
         on conflict (id) do update set last_block = excluded.last_block, last_hash = excluded.last_hash, updated_at = now()`,
        [Number(ancestor), ancestorHash],
      );
      // Commands whose effect was reorged away are not lost: their orders show the chain's truth, and a
      // confirmed create that no longer exists is queued again (its id is deterministic, so it cannot double).
      await q.query(
        `update commands set status = 'pending', not_before = now(), attempts = attempts + 1, updated_at = now()
         where kind = 'create_order' and status = 'confirmed'
           and order_id in (select id from orders where record is null and status = 'pending')`,
      );
    });
  }

  /** Folds the stored events of `chainOrderIds` into their views and API statuses (one read, one write). */
  private async rebuildOrders(q: Queryable, chainOrderIds: string[]): Promise<void> {
    if (chainOrderIds.length === 0) return;
    const events = await q.query<{
      order_id: string;
      name: string;
      args: Record<string, unknown>;
      tx_hash: string;
      block_number: string;
      log_index: number;
    }>(
      `select order_id, name, args, tx_hash, block_number, log_index from chain_events
       where order_id = any($1::text[]) and name = any($2::text[]) order by order_id, block_number, log_index`,
      [chainOrderIds, ORDER_EVENTS],
    );
    const byOrder = new Map<string, typeof events.rows>();
    for (const e of events.rows) {
      const list = byOrder.get(e.order_id) ?? [];
      list.push(e);
      byOrder.set(e.order_id, list);
    }
    const cols: unknown[][] = [[], [], [], [], [], [], [], []];
    const gone: string[] = [];
    for (const chainOrderId of chainOrderIds) {
      let record: OrderView | undefined;
      let created: { tx: string; block: string; log: number } | null = null;
      let lastBlock: string | null = null;
      for (const e of byOrder.get(chainOrderId) ?? []) {
        // The stored args are the decoded values as JSON; applyOrderEvent reads them by name.
        record = applyOrderEvent(record, { name: e.name, args: { ...e.args } } as never);
        if (e.name === "OrderCreated") created = { tx: e.tx_hash, block: e.block_number, log: e.log_index };
        lastBlock = e.block_number;
      }
      if (!record) {
        gone.push(chainOrderId);
        continue;
      }
      const json = JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      [
        chainOrderId,
        json,
        statusFromChainState(record.state),
        record.buyer,
        created?.tx ?? null,
        created?.block ?? null,
        created?.log ?? null,
        lastBlock,
      ].forEach((v, k) => cols[k].push(v));
    }
    if (gone.length > 0) {
      // Every event of these orders was rolled back: they wait to be created again.
      await q.query(
        `update orders set record = null, status = case when status = 'failed' then 'failed' else 'pending' end,
           created_tx_hash = null, created_block = null, created_log_index = null, last_event_block = null, updated_at = now()
         where chain_order_id = any($1::text[])`,
        [gone],
      );
    }
    if (cols[0].length > 0) {
      await q.query(
        `update orders o set record = u.rec::jsonb, status = u.st,
           buyer = coalesce(nullif(u.buyer, '0x0000000000000000000000000000000000000000'), o.buyer),
           created_tx_hash = u.tx, created_block = u.blk, created_log_index = u.li, last_event_block = u.lb, updated_at = now()
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::bigint[])
           as u(id, rec, st, buyer, tx, blk, li, lb)
         where o.chain_order_id = u.id`,
        cols,
      );
    }
  }

  private parse(log: RawLog): { contract: string; name: string; args: Record<string, unknown> } | null {
    const isEscrow = log.address.toLowerCase() === this.chain.addresses.escrow.toLowerCase();
    const abi = isEscrow ? this.chain.escrowAbi : this.chain.inventoryAbi;
    try {
      const ev = abi.decode(log);
      if (!ev) return null;
      const args: Record<string, unknown> = {};
      ev.fragment.inputs.forEach((input, i) => (args[input.name] = toJson(ev.values[i], input)));
      return { contract: isEscrow ? "PaymentEscrow" : "InventoryToken", name: ev.name, args };
    } catch {
      return null;
    }
  }
}
