// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title BlocklistToken
/// @author orderchain
/// @notice A 6-decimal ERC-20 with EIP-2612 permit and an issuer blocklist, as USDC has: transfers to or from a
/// blocked address revert. The base of the local stablecoins that have a blocklist. For local chains and tests
/// only: anyone can mint; the deployer manages the blocklist.
abstract contract BlocklistToken is ERC20Permit {
    address private immutable _blocklister;
    mapping(address account => bool blocked) private _blocked;

    /// @notice Emitted when an address was blocked or unblocked.
    /// @param account The address.
    /// @param blocked Whether transfers to and from it now revert.
    event BlockedSet(address indexed account, bool blocked);

    /// @notice The transfer touches a blocked address.
    error AccountBlocked(address account);
    /// @notice Only the deployer manages the blocklist.
    error NotBlocklister(address caller);

    constructor() {
        _blocklister = msg.sender;
    }

    /// @notice Mints `amount` to `to`. Unrestricted on purpose: local chains and tests only.
    /// @param to The receiver.
    /// @param amount Units to mint (6 decimals).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Blocks or unblocks `account`. Deployer only.
    /// @param account The address.
    /// @param blocked Whether transfers to and from it revert from now on.
    function setBlocked(address account, bool blocked) external {
        if (msg.sender != _blocklister) revert NotBlocklister(msg.sender);
        _blocked[account] = blocked;
        emit BlockedSet(account, blocked);
    }

    /// @notice Whether `account` is blocked.
    /// @param account The address.
    /// @return True if transfers to and from it revert.
    function isBlocked(address account) external view returns (bool) {
        return _blocked[account];
    }

    /// @notice Six decimals, like the major USD stablecoins.
    /// @return 6.
    function decimals() public pure virtual override returns (uint8) {
        return 6;
    }

    function _update(address from, address to, uint256 value) internal virtual override {
        if (_blocked[from]) revert AccountBlocked(from);
        if (_blocked[to]) revert AccountBlocked(to);
        super._update(from, to, value);
    }
}
