// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009Token} from "./ERC3009Token.sol";

/// @title MockStablecoin
/// @author orderchain
/// @notice A 6-decimal stablecoin with EIP-2612 permit and ERC-3009 transfers with authorization, like USDC, for
/// local chains and tests only: anyone can mint.
contract MockStablecoin is ERC20, ERC20Permit, ERC3009Token {
    constructor() ERC20("Mock USD", "mUSD") ERC20Permit("Mock USD") {}

    /// @notice Mints `amount` to `to`. Unrestricted on purpose: local chains and tests only.
    /// @param to The receiver.
    /// @param amount Units to mint (6 decimals).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Six decimals, like the major USD stablecoins.
    /// @return 6.
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
