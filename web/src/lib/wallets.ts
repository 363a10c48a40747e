/**
 * Wallets the checkout can sign with: an injected wallet (window.ethereum through ethers' BrowserProvider)
 * or, on a local development chain only, one of Hardhat's well-known test accounts.
 */
import { BrowserProvider, HDNodeWallet, type Eip1193Provider, type Signer } from "ethers";

/** Chains whose well-known test accounts the development wallet may use. */
export const LOCAL_CHAIN_IDS = ["31337"];
/** Hardhat's published development mnemonic: its keys are public, so it is only ever offered on local chains. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export const DEV_ACCOUNTS = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

let devRoot: HDNodeWallet | null = null;
const devWallets = new Map<number, HDNodeWallet>();

export function devWallet(index: number): HDNodeWallet {
  devRoot ??= HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0");
  let w = devWallets.get(index);
  if (!w) devWallets.set(index, (w = devRoot.deriveChild(index)));
  return w;
}

export function injectedProvider(): Eip1193Provider | null {
  return (window as unknown as { ethereum?: Eip1193Provider }).ethereum ?? null;
}

export class WalletChainError extends Error {}

/** Connects the injected wallet and makes sure it is on `chainId` (asks it to switch when it is not). */
export async function connectInjected(chainId: string): Promise<Signer> {
  const eth = injectedProvider();
  if (!eth) throw new WalletChainError("No browser wallet was found.");
  const provider = new BrowserProvider(eth);
  await provider.send("eth_requestAccounts", []);
  let network = await provider.getNetwork();
  if (network.chainId.toString() !== chainId) {
    try {
      await provider.send("wallet_switchEthereumChain", [{ chainId: `0x${BigInt(chainId).toString(16)}` }]);
    } catch {
      throw new WalletChainError(
        `Your wallet is on chain ${network.chainId}; this order is on chain ${chainId}. Switch networks in your wallet and try again.`,
      );
    }
    const again = new BrowserProvider(eth);
    network = await again.getNetwork();
    if (network.chainId.toString() !== chainId)
      throw new WalletChainError(`Your wallet did not switch to chain ${chainId}.`);
    return again.getSigner();
  }
  return provider.getSigner();
}
