import { describeReorg } from "../resilience/reorg.behavior";
import { ANVIL, ON_ANVIL } from "./node";

describeReorg({
  title: `${ON_ANVIL}: anvil_reorg replaces the blocks the relayer indexed and wrote to`,
  node: ANVIL,
  timeoutMs: 180_000,
});
