// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ContractAccount} from "./ContractAccount.sol";

/// @title HostileReceiver
/// @author orderchain
/// @notice A contract account that can act as buyer or merchant and misbehaves when paid native currency:
/// it either reverts, burns all gas it is given, or tries to re-enter `reentryTarget` with `payload`. Tests only.
contract HostileReceiver is ContractAccount {
    /// @notice What the contract does when it receives native currency.
    enum Mode {
        Accept,
        Revert,
        BurnGas,
        Reenter
    }

    /// @notice The current behaviour on receipt.
    Mode public mode;
    /// @notice The contract re-entered in mode Reenter.
    address public reentryTarget;
    /// @notice The calldata of the re-entry.
    bytes public payload;
    /// @notice Whether the last re-entry succeeded.
    bool public reentrySucceeded;
    /// @notice What the last re-entry returned, or its revert data.
    bytes public reentryResult;

    /// @notice Sets the behaviour on receipt.
    /// @param mode_ Accept, Revert, BurnGas or Reenter.
    /// @param target_ The contract to re-enter (mode Reenter).
    /// @param payload_ The calldata of the re-entry (mode Reenter).
    function setMode(Mode mode_, address target_, bytes calldata payload_) external {
        mode = mode_;
        reentryTarget = target_;
        payload = payload_;
    }

    /// @notice Raised on receipt in mode Revert.
    error Refused();

    /* solhint-disable no-complex-fallback */
    /// @notice Accepts, refuses, burns all gas or re-enters `reentryTarget`, depending on `mode`.
    receive() external payable {
        if (mode == Mode.Revert) revert Refused();
        if (mode == Mode.BurnGas) {
            while (true) {} // solhint-disable-line no-empty-blocks
        }
        if (mode == Mode.Reenter) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory result) = reentryTarget.call(payload);
            reentrySucceeded = ok;
            reentryResult = result;
        }
    }
    /* solhint-enable no-complex-fallback */
}
