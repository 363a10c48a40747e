// Child process of the local stack (`npm start`, `npm run demo`): deploys the contracts with the project's own
// deployment (deploy/deploy.ts, local parameters only) to the node at ORDERCHAIN_LOCAL_RPC_URL. Hardhat runs here,
// never in the stack's own process. Progress lines go to stdout; a failure to stderr with exit code 1.
"use strict";
process.env.HARDHAT_NETWORK = "localhost";
const hre = require("hardhat");

async function main() {
  // The `localhost` network's provider is created lazily, on first use, from this very config object.
  hre.network.config.url = process.env.ORDERCHAIN_LOCAL_RPC_URL;
  // TypeScript from the sources, compiled by the ts-node registration the parent started this process with.
  const { deploy } = require("../../deploy/deploy");
  await deploy(hre, {
    deploymentsDir: process.env.ORDERCHAIN_DEPLOYMENTS_DIR,
    journalDir: process.env.ORDERCHAIN_JOURNAL_DIR,
    writeRecord: true,
    env: {},
    log: (line) => process.stdout.write(line + "\n"),
  });
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e && (e.stack || e.message)) || e}\n`);
    process.exit(1);
  },
);
