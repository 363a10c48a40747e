/**
 * Import rules of the relayer, the sdk and the web pages, checked by `npm run lint` (dependency-cruiser).
 * Layers only import downwards: api -> services/relay -> indexer/ledger/webhooks/keepers -> jobs -> chain -> store -> domain
 * -> sdk. The composition roots (main, relayer, workers, workerThread) wire them together and nothing imports them.
 * See docs/RELAYER.md, "Layers".
 */
const R = "^relayer/src/";
const layer = (names) => `${R}(${names.join("|")})(/|\\.ts$)`;
/** A rule: modules of `from` may not import modules of `to`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: "error", from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A circle makes two modules one: break it by moving the shared part down a layer.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    forbid(
      "sdk-stands-alone",
      "The sdk is shared by the relayer, the web pages and clients: it imports none of them.",
      "^sdk/",
      "^(relayer|web|scripts)/",
    ),
    forbid(
      "web-uses-the-sdk",
      "The web pages talk to the relayer over HTTP only: shared code lives in sdk/.",
      "^web/src/",
      "^(relayer|scripts)/",
    ),
    forbid(
      "domain-is-pure",
      "domain/ holds rules and types: no database, chain, jobs or HTTP.",
      layer(["domain"]),
      layer(["store", "chain", "jobs", "indexer", "ledger", "webhooks", "keepers", "services", "relay", "api", "config", "metrics", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "store-below-chain",
      "store/ is SQL over domain types; it knows nothing of the chain, jobs or the API.",
      layer(["store"]),
      layer(["chain", "jobs", "indexer", "ledger", "webhooks", "keepers", "services", "relay", "api", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "chain-only-submits",
      "chain/ talks to nodes and records transactions; what an outcome means is decided in jobs/.",
      layer(["chain"]),
      layer(["jobs", "indexer", "ledger", "webhooks", "keepers", "services", "relay", "api", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "jobs-below-services",
      "jobs/ prepare commands and apply their outcomes; they are driven by the submitter, not by the API.",
      layer(["jobs"]),
      layer(["indexer", "ledger", "webhooks", "keepers", "services", "relay", "api", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "followers-below-services",
      "The indexer, ledger, webhooks and keepers follow the chain into the store; the API's services sit above them.",
      layer(["indexer", "ledger", "webhooks", "keepers"]),
      layer(["services", "relay", "api", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "services-below-api",
      "Use cases (services/, relay/) know nothing of HTTP.",
      layer(["services", "relay"]),
      layer(["api", "main", "relayer", "workers", "workerThread"]),
    ),
    forbid(
      "roots-are-not-imported",
      "main, relayer, workers and workerThread wire the layers together; no layer imports them.",
      `${R}(?!main|relayer|workers|workerThread)`,
      `${R}(main|relayer|workers|workerThread)\\.ts$`,
    ),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|typechain-types|dist)/" },
  },
};
