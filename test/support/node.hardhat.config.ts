/**
 * The configuration of the `hardhat node` processes the tests start (test/relayer/harness.ts startNode). The
 * node's chain is the project's: the default Hardhat network, which hardhat.config.ts does not change (coverage
 * runs aside), with the project's artifacts for the node's revert messages. It leaves out the toolbox, TypeChain
 * and the deployment tasks, which a node never uses: a node then starts on about half the CPU, and the test
 * suites start dozens of them side by side.
 */
import path from "node:path";
import type { HardhatUserConfig } from "hardhat/config";

const config: HardhatUserConfig = {
  solidity: "0.8.28",
  paths: { root: path.resolve(__dirname, "..", "..") },
};

export default config;
