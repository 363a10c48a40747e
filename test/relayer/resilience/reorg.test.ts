import { describeReorg } from "./reorg.behavior";

describeReorg({
  title: "relayer resilience: a reorg replaces the blocks the relayer indexed and wrote to",
  node: { implementation: "hardhat" },
  timeoutMs: 180_000,
});
