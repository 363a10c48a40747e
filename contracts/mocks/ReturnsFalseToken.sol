// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReturnsFalseToken
/// @author orderchain
/// @notice A token that moves nothing and returns false from transfer and transferFrom once `failing` is set.
/// Tests only.
contract ReturnsFalseToken is ERC20 {
    /// @notice When true, transfers move nothing and return false.
    bool public failing;

    constructor() ERC20("Returns False", "RFT") {}

    /// @notice Mints `amount` to `to`. Unrestricted: tests only.
    /// @param to The receiver.
    /// @param amount Units to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Switches the failing behaviour on or off.
    /// @param failing_ True to make every transfer return false.
    function setFailing(bool failing_) external {
        failing = failing_;
    }

    /// @notice A normal ERC-20 transfer, or `false` without moving anything while `failing`.
    /// @param to The receiver.
    /// @param value Units to transfer.
    /// @return True if the tokens moved.
    function transfer(address to, uint256 value) public override returns (bool) {
        if (failing) return false;
        return super.transfer(to, value);
    }

    /// @notice A normal ERC-20 transferFrom, or `false` without moving anything while `failing`.
    /// @param from The owner.
    /// @param to The receiver.
    /// @param value Units to transfer.
    /// @return True if the tokens moved.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (failing) return false;
        return super.transferFrom(from, to, value);
    }
}
