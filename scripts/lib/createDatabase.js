// Worker thread: creates an empty PGlite cluster in `workerData.dataDir`. Creating one is seconds of WebAssembly
// CPU work that would otherwise hold the main thread's event loop; here it runs beside it.
const { parentPort, workerData } = require("node:worker_threads");
const { PGlite } = require("@electric-sql/pglite");

(async () => {
  const pg = new PGlite(workerData.dataDir);
  await pg.query("select 1");
  await pg.close();
})().then(
  () => parentPort.postMessage({ ok: true }),
  (e) => parentPort.postMessage({ ok: false, error: String((e && e.stack) || e) }),
);
