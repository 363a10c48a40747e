import path from "node:path";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import "dotenv/config";
// Only modules that load without compiled output: nothing imported while Hardhat reads this config may import
// typechain-types/ or read artifacts/ (a fresh clone has neither). The tasks compile, then load the deployment code.
import { explorerConfig, localhostNetworkConfig, remoteNetworksConfig } from "./deploy/networks";
import "./deploy/tasks";

/**
 * The compiler comes from the pinned `solc` npm package so compilation works
 * offline; Hardhat never downloads a compiler. The version below must equal the
 * installed package's version, or compilation stops with an explanation.
 */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  const longVersion = solc.version().replace(/\.Emscripten\.clang$/, "");
  if (args.solcVersion !== SOLC_VERSION || !longVersion.startsWith(`${SOLC_VERSION}+`)) {
    throw new Error(
      `solc mismatch: hardhat.config.ts asks for ${args.solcVersion}, the pinned solc npm package is ${longVersion}. ` +
        `Install solc@${args.solcVersion} exactly.`,
    );
  }
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

const config: HardhatUserConfig = {
  solidity: {
    compilers: [
      {
        version: SOLC_VERSION,
        // Settings stated here so deployed bytecode can be reproduced and verified.
        settings: { optimizer: { enabled: true, runs: 10_000 }, viaIR: false, evmVersion: "cancun" },
      },
    ],
    // The escrow's runtime code must stay under the 24,576-byte limit (EIP-170). It is compiled through the IR
    // pipeline, which makes it both smaller and cheaper to call; at 500 runs it leaves about 1.3 KB of headroom
    // (more runs inline it past the limit for a few gas). The escrow's constructor deploys the InventoryToken, so
    // the inventory on chain is the one compiled in the escrow's job: its own artifact gets the same settings, or
    // its bytecode would not match what is deployed (and explorer verification would fail).
    overrides: Object.fromEntries(
      ["contracts/PaymentEscrow.sol", "contracts/InventoryToken.sol"].map((file) => [
        file,
        {
          version: SOLC_VERSION,
          settings: { optimizer: { enabled: true, runs: 500 }, viaIR: true, evmVersion: "cancun" },
        },
      ]),
    ),
  },
  // `localhost` is Hardhat's built-in entry (a `hardhat node` on 127.0.0.1:8545; LOCALHOST_RPC_URL points it at
  // another node). The testnets come from env values; the config loads without any .env, and the deploy commands
  // name whatever is missing.
  networks: {
    // `hardhat coverage` instruments the contracts: the escrow (24,564 of EIP-170's 24,576 bytes) then exceeds the
    // size limit, and its deployment (which creates the inventory) the per-transaction gas cap of EIP-7825. Only
    // coverage runs lift both (a hardfork before the cap); every other run keeps the rules mainnet has.
    hardhat: process.argv.includes("coverage") ? { allowUnlimitedContractSize: true, hardfork: "prague" } : {},
    ...localhostNetworkConfig(),
    ...remoteNetworksConfig(),
  },
  etherscan: explorerConfig(),
  sourcify: { enabled: false },
  paths: {
    // Ignition reads modules and keeps its journals (deploy/deployments/chain-<id>/) here.
    ignition: "deploy",
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
  mocha: {
    // Hooks that start nodes and relayers can take minutes when the four suites share two cores.
    timeout: 300_000,
    // TEST_TIMES=<file>: also write each test file's wall time there (test/support/fileTimesReporter.js).
    ...(process.env.TEST_TIMES ? { reporter: path.join(__dirname, "test/support/fileTimesReporter.js") } : {}),
  },
};

export default config;
