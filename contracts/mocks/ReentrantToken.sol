// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @author orderchain
/// @notice A hostile ERC-20 that, once armed, calls `reentryTarget` with `payload` from inside every transfer and
/// records whether that nested call succeeded and what it returned. Tests only.
contract ReentrantToken is ERC20 {
    /// @notice The contract called back from inside a transfer; zero when disarmed.
    address public reentryTarget;
    /// @notice The calldata of the callback.
    bytes public payload;
    /// @notice Whether the armed callback already ran (it runs once per arming).
    bool public attempted;
    /// @notice Whether the callback succeeded.
    bool public reentrySucceeded;
    /// @notice What the callback returned, or its revert data.
    bytes public reentryResult;

    constructor() ERC20("Reentrant", "REE") {}

    /// @notice Mints `amount` to `to`. Unrestricted: tests only.
    /// @param to The receiver.
    /// @param amount Units to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the callback: the next transfer (not a mint) calls `target_` with `payload_`, once.
    /// @param target_ The contract to call back, zero to disarm.
    /// @param payload_ The calldata to send.
    function arm(address target_, bytes calldata payload_) external {
        reentryTarget = target_;
        payload = payload_;
        attempted = false;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (reentryTarget != address(0) && !attempted && from != address(0)) {
            attempted = true;
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory result) = reentryTarget.call(payload);
            reentrySucceeded = ok;
            reentryResult = result;
        }
    }
}
