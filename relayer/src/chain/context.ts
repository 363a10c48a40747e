/** The chain connection and typed contract handles the relayer works with. */
import type { JsonRpcProvider } from "ethers";
import type { Forwarder, InventoryToken, PaymentEscrow } from "../../../typechain-types";
// The factories are imported one by one: the typechain index loads every contract's factory, which makes the
// process start several seconds slower.
import { Forwarder__factory } from "../../../typechain-types/factories/contracts/Forwarder__factory";
import { InventoryToken__factory } from "../../../typechain-types/factories/contracts/InventoryToken__factory";
import { PaymentEscrow__factory } from "../../../typechain-types/factories/contracts/PaymentEscrow__factory";
import { CachedAbi } from "./abi";

export interface ContractAddresses {
  escrow: string;
  inventory: string;
  forwarder: string;
  stablecoin?: string;
  startBlock: number;
}

export interface ChainContext {
  provider: JsonRpcProvider;
  chainId: bigint;
  addresses: ContractAddresses;
  escrow: PaymentEscrow;
  inventory: InventoryToken;
  forwarder: Forwarder;
  /** The escrow's and the inventory's ABIs with selectors and topics computed once (hot paths). */
  escrowAbi: CachedAbi;
  inventoryAbi: CachedAbi;
}

export { RelayerRpcProvider, makeProvider, type TransportOptions } from "./transport";

export function makeChainContext(
  provider: JsonRpcProvider,
  chainId: bigint,
  addresses: ContractAddresses,
): ChainContext {
  const escrow = PaymentEscrow__factory.connect(addresses.escrow, provider);
  const inventory = InventoryToken__factory.connect(addresses.inventory, provider);
  return {
    provider,
    chainId,
    addresses,
    escrow,
    inventory,
    forwarder: Forwarder__factory.connect(addresses.forwarder, provider),
    escrowAbi: new CachedAbi(escrow.interface),
    inventoryAbi: new CachedAbi(inventory.interface),
  };
}
