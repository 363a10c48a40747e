// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {BlocklistToken} from "./BlocklistToken.sol";

/// @title BlocklistStablecoin
/// @author orderchain
/// @notice A 6-decimal stablecoin with EIP-2612 permit and an issuer blocklist, like USDC: transfers to or from a
/// blocked address revert. For local chains and tests only: anyone can mint, the deployer manages the blocklist.
contract BlocklistStablecoin is BlocklistToken {
    constructor() ERC20("Blocklist USD", "bUSD") ERC20Permit("Blocklist USD") {}
}
