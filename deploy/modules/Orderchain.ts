/**
 * The Ignition module of a whole orderchain deployment. It is built from a validated plan (the number of role
 * grants depends on the parameters), so every address is a literal in the journal and a changed parameter
 * shows up as a reconciliation difference instead of passing silently.
 *
 * Future ids carry the address they concern, so adding an operator later adds one step and leaves the others.
 */
import { buildModule, type ContractFuture } from "@nomicfoundation/ignition-core";
import { ZeroHash, id as keccakText } from "ethers";
import type { DeployPlan } from "../parameters";

export const MODULE_ID = "Orderchain";

/** Token mocks deployed and accepted next to MockStablecoin on local chains. */
export const LOCAL_TOKEN_MOCKS = ["UsdcLike", "UsdtLike"] as const;

export const ROLES = {
  DEFAULT_ADMIN_ROLE: ZeroHash,
  OPERATOR_ROLE: keccakText("OPERATOR_ROLE"),
  ARBITER_ROLE: keccakText("ARBITER_ROLE"),
  PAUSER_ROLE: keccakText("PAUSER_ROLE"),
} as const;

/** Future id (without the module prefix) → what the step does, for progress output. */
export type StepLabels = Map<string, string>;

export function buildOrderchainModule(plan: DeployPlan) {
  const labels: StepLabels = new Map();
  const step = (id: string, label: string): { id: string } => {
    labels.set(`${MODULE_ID}#${id}`, label);
    return { id };
  };

  const module = buildModule(MODULE_ID, (m) => {
    const forwarder = m.contract("Forwarder", [], step("Forwarder", "deploy Forwarder"));
    // The deployer administers the escrow while it is wired; the admin role then moves to `plan.admin` in two
    // steps (AccessControlDefaultAdminRules): the deployment starts the transfer, `plan.admin` accepts it once
    // `plan.adminDelay` has passed (`hardhat deploy:accept-admin`). The first arbiter is granted by the
    // constructor, so no deployment is ever without one (the parameters refuse an empty list).
    const [firstArbiter, ...moreArbiters] = plan.arbiters;
    if (firstArbiter === undefined) throw new Error("the deployment plan has no arbiter");
    const escrow = m.contract(
      "PaymentEscrow",
      [plan.deployer, plan.adminDelay, firstArbiter, forwarder, plan.feeRecipient, plan.feeBps],
      step("PaymentEscrow", "deploy PaymentEscrow (creates InventoryToken)"),
    );
    const inventoryAddress = m.staticCall(escrow, "inventory", [], 0, { id: "InventoryAddress" });
    const inventory = m.contractAt("InventoryToken", inventoryAddress, { id: "InventoryToken" });

    const wiring = [];
    let stablecoin;
    const localTokens: ContractFuture<string>[] = [];
    if (plan.mockStablecoin) {
      stablecoin = m.contract("MockStablecoin", [], step("MockStablecoin", "deploy MockStablecoin"));
      wiring.push(
        m.call(escrow, "setTokenAllowed", [stablecoin, true], step("AllowMockStablecoin", "accept MockStablecoin")),
      );
      // A USDC-shaped (permit, ERC-3009, blocklist) and a USDT-shaped (no permit, no return values) token, so
      // every payment method can be tried locally.
      for (const name of LOCAL_TOKEN_MOCKS) {
        const coin = m.contract(name, [], step(name, `deploy ${name}`));
        localTokens.push(coin);
        wiring.push(m.call(escrow, "setTokenAllowed", [coin, true], step(`Allow${name}`, `accept ${name}`)));
      }
    }
    for (const token of plan.tokens) {
      wiring.push(
        m.call(escrow, "setTokenAllowed", [token, true], step(`AllowToken_${token}`, `accept token ${token}`)),
      );
    }
    const grants: [string, string, string[]][] = [
      ["OPERATOR_ROLE", "Operator", plan.operators],
      ["ARBITER_ROLE", "Arbiter", moreArbiters],
      ["PAUSER_ROLE", "Pauser", plan.pausers],
    ];
    for (const [role, name, members] of grants) {
      for (const account of members) {
        wiring.push(
          m.call(
            escrow,
            "grantRole",
            [ROLES[role as keyof typeof ROLES], account],
            step(`Grant${name}_${account}`, `grant ${role} to ${account}`),
          ),
        );
      }
    }
    if (plan.admin.toLowerCase() !== plan.deployer.toLowerCase()) {
      m.call(escrow, "beginDefaultAdminTransfer", [plan.admin], {
        ...step(`BeginAdminTransfer_${plan.admin}`, `start moving DEFAULT_ADMIN_ROLE to ${plan.admin}`),
        after: wiring,
      });
    }
    const contracts: Record<string, ContractFuture<string>> = { forwarder, escrow, inventory };
    if (stablecoin) contracts.stablecoin = stablecoin;
    for (const [i, name] of LOCAL_TOKEN_MOCKS.entries()) contracts[name] = localTokens[i];
    return contracts;
  });
  return { module, labels };
}
