// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title HostileReceiver
/// @notice A contract account that can act as buyer or merchant and misbehaves when paid native currency:
/// it either reverts, burns all gas it is given, or tries to re-enter `target` with `payload`. Tests only.
contract HostileReceiver {
    enum Mode {
        Accept,
        Revert,
        BurnGas,
        Reenter
    }

    Mode public mode;
    address public target;
    bytes public payload;
    bool public reentrySucceeded;
    bytes public reentryResult;

    function setMode(Mode mode_, address target_, bytes calldata payload_) external {
        mode = mode_;
        target = target_;
        payload = payload_;
    }

    /// @notice Forwards a call (with value) so the contract can act as buyer or merchant.
    function execute(address to, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory result) = to.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }

    error Refused();

    // solhint-disable-next-line no-complex-fallback
    receive() external payable {
        if (mode == Mode.Revert) revert Refused();
        if (mode == Mode.BurnGas) {
            while (true) {} // solhint-disable-line no-empty-blocks
        }
        if (mode == Mode.Reenter) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory result) = target.call(payload);
            reentrySucceeded = ok;
            reentryResult = result;
        }
    }
}
