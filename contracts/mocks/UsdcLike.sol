// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {BlocklistToken} from "./BlocklistToken.sol";
import {ERC3009Token} from "./ERC3009Token.sol";

/// @title UsdcLike
/// @author orderchain
/// @notice A 6-decimal stablecoin shaped like USDC: EIP-2612 permit, ERC-3009 transfers with authorization and an
/// issuer blocklist (transfers to or from a blocked address revert). For local chains and tests only: anyone can
/// mint; the deployer manages the blocklist.
contract UsdcLike is BlocklistToken, ERC3009Token {
    constructor() ERC20("USDC-like", "USDCL") ERC20Permit("USDC-like") {}

    /// @notice Six decimals, like USDC.
    /// @return 6.
    function decimals() public pure override(ERC20, BlocklistToken) returns (uint8) {
        return BlocklistToken.decimals();
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, BlocklistToken) {
        BlocklistToken._update(from, to, value);
    }
}
