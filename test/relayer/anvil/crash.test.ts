import { describeCrashes } from "../resilience/crash.behavior";
import { ANVIL, ON_ANVIL } from "./node";

// Full size (500 orders, at least 10 kills) by default and in `npm run test:soak`; `npm test` runs a smaller one
// (ANVIL_CRASH_ORDERS, ANVIL_CRASH_KILLS) to stay within its time budget.
const minKills = Number(process.env.ANVIL_CRASH_KILLS ?? 10);
describeCrashes({
  title: `${ON_ANVIL}: crashes (SIGKILL) while orders flow`,
  node: ANVIL,
  orders: Number(process.env.ANVIL_CRASH_ORDERS ?? 500),
  minKills,
  // Orders take blocks to carry out here, so the killing phase is longer than on the Hardhat node: two kills
  // above the minimum at most, not four, keep the run's length (each restart costs seconds) predictable.
  maxKills: minKills + 2,
  timeoutMs: 600_000,
});
