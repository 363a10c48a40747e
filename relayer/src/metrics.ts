/** Prometheus metrics of one relayer process. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** `processMetrics: false` for the worker thread: the process's CPU and memory are reported once, by the main thread. */
export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "relayer_process_" });
  return {
    registry,
    commands: new Counter({
      name: "relayer_commands_total",
      help: "Chain commands finished, by kind and outcome",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    submitLatency: new Histogram({
      name: "relayer_submit_latency_seconds",
      help: "Time from accepting a command to broadcasting its transaction",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    confirmationLatency: new Histogram({
      name: "relayer_confirmation_seconds",
      help: "Time from broadcasting a transaction to reaching the confirmation depth",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    txs: new Counter({
      name: "relayer_transactions_total",
      help: "Transactions by outcome (sent, confirmed, reverted, replaced, dropped, mined_unattributed: a refused transaction found mined with no record of what it carried)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "relayer_queue_depth",
      help: "Commands not yet final, by status",
      labelNames: ["status"],
      registers: [registry],
    }),
    indexerLag: new Gauge({
      name: "relayer_indexer_lag_blocks",
      help: "Blocks between the chain head and the indexer checkpoint",
      registers: [registry],
    }),
    apiErrors: new Counter({
      name: "relayer_api_errors_total",
      help: "API error responses by code",
      labelNames: ["code"],
      registers: [registry],
    }),
    rpcRequests: new Counter({
      name: "relayer_rpc_requests_total",
      help: "JSON-RPC HTTP exchanges by outcome (ok, rate_limited, server_error, network_error, timeout)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    signerBalance: new Gauge({
      name: "relayer_signer_balance_wei",
      help: "Native balance of each signer this process holds, as last read",
      labelNames: ["signer"],
      registers: [registry],
    }),
    signerCanPay: new Gauge({
      name: "relayer_signer_can_pay",
      help: "1 while the signer can pay for gas, 0 while it is paused out of funds",
      labelNames: ["signer"],
      registers: [registry],
    }),
    feeCapReached: new Counter({
      name: "relayer_fee_cap_reached_total",
      help: "Fee quotes or replacements held at the configured maximum fee per gas",
      registers: [registry],
    }),
    replacementsCapped: new Counter({
      name: "relayer_replacements_capped_total",
      help: "Stuck transactions that reached the maximum number of replacements",
      registers: [registry],
    }),
    foreignNonces: new Counter({
      name: "relayer_foreign_nonce_total",
      help: "Nonces of stored transactions that another transaction used on chain (the signer's key in use elsewhere); their commands were queued again",
      labelNames: ["signer"],
      registers: [registry],
    }),
    staleEstimates: new Counter({
      name: "relayer_stale_estimates_total",
      help: "Estimates that reverted on a state older than the relayer's own (a lagging backend); the command waited instead of failing",
      registers: [registry],
    }),
    signersHeld: new Gauge({
      name: "relayer_signers_held",
      help: "Signer leases held by this process",
      registers: [registry],
    }),
    keeperActions: new Counter({
      name: "relayer_keeper_actions_total",
      help: "Keeper actions (release, expire, dispute_default) by outcome (enqueued, confirmed, moot, failed)",
      labelNames: ["action", "outcome"],
      registers: [registry],
    }),
    keeperDueOrders: new Gauge({
      name: "relayer_keeper_due_orders",
      help: "Orders due for a keeper action and not given their command yet, as of the last keeper pass",
      labelNames: ["action"],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
