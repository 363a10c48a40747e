// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009Token} from "./ERC3009Token.sol";

/// @title FeeOnTransferToken
/// @author orderchain
/// @notice Burns 1% of every transfer (plain, permitted or ERC-3009 authorized), so the receiver gets less than
/// was sent. Tests only.
contract FeeOnTransferToken is ERC20, ERC20Permit, ERC3009Token {
    constructor() ERC20("Fee On Transfer", "FOT") ERC20Permit("Fee On Transfer") {}

    /// @notice Mints `amount` to `to`. Unrestricted: tests only.
    /// @param to The receiver.
    /// @param amount Units to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 burned = value / 100;
        super._update(from, address(0), burned);
        super._update(from, to, value - burned);
    }
}
