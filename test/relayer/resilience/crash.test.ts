import { describeCrashes } from "./crash.behavior";

// The full check (500 orders, at least 10 kills) runs by default and in `npm run test:soak`; `npm test` runs
// a smaller one (CRASH_ORDERS, CRASH_KILLS) to stay within its time budget.
describeCrashes({
  title: "relayer resilience: crashes (SIGKILL) while orders flow",
  node: { implementation: "hardhat" },
  orders: Number(process.env.CRASH_ORDERS ?? 500),
  minKills: Number(process.env.CRASH_KILLS ?? 10),
  timeoutMs: 300_000,
});
