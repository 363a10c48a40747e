// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ContractAccount
/// @author orderchain
/// @notice A contract that acts as buyer or merchant by forwarding calls: the base of the misbehaving receivers
/// the tests use. Tests only.
abstract contract ContractAccount {
    /// @notice Forwards a call (with value) so the contract can act as buyer or merchant.
    /// @param to The contract to call.
    /// @param value Native currency to send with the call.
    /// @param data The calldata.
    /// @return What the call returned; a failing call reverts with its own revert data.
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
}
