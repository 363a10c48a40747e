// solidity-coverage settings. Compilation goes through the offline solc override in hardhat.config.ts (the
// coverage task runs the normal compile task), so coverage works without network access.
module.exports = {
  // Test doubles are not product code.
  skipFiles: ["mocks/"],
  // Instrumentation makes the property test slower; PROPERTY_RUNS/PROPERTY_STEPS tune it from the command line.
  mocha: { timeout: 600_000 },
  configureYulOptimizer: true,
};
