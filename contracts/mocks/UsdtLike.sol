// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title UsdtLike
/// @author orderchain
/// @notice A 6-decimal stablecoin shaped like Tether's USDT on Ethereum: no permit, no ERC-3009, `transfer`,
/// `transferFrom` and `approve` return nothing (not the `bool` of ERC-20), and an allowance can only be changed
/// from or to zero. Callers that decode a `bool` from these functions revert; SafeERC20 copes. For local chains
/// and tests only: anyone can mint.
contract UsdtLike {
    // The ERC-20 getters' names are lowercase by standard.
    /* solhint-disable const-name-snakecase */
    /// @notice Six decimals, like USDT.
    uint8 public constant decimals = 6;
    /// @notice The token's name.
    string public constant name = "USDT-like";
    /// @notice The token's symbol.
    string public constant symbol = "USDTL";
    /* solhint-enable const-name-snakecase */
    /// @dev Tether leaves an unlimited allowance untouched by `transferFrom`.
    uint256 private constant _UNLIMITED = type(uint256).max;

    /// @notice Units in existence.
    uint256 public totalSupply;
    mapping(address owner => uint256 units) private _balances;
    mapping(address owner => mapping(address spender => uint256 units)) private _allowances;

    /// @notice ERC-20 transfer event.
    /// @param from The sender (`address(0)` when minted).
    /// @param to The receiver.
    /// @param value Units moved.
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// @notice ERC-20 approval event.
    /// @param owner The owner.
    /// @param spender The spender.
    /// @param value The new allowance.
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice The sender holds less than the transfer.
    error InsufficientBalance(address owner, uint256 balance, uint256 needed);
    /// @notice The spender's allowance is less than the transfer.
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    /// @notice Tether's rule: a non-zero allowance must be set to zero before it is set to another non-zero value.
    error ApproveFromNonZero(address owner, address spender, uint256 current);
    /// @notice Transfers to the zero address are refused.
    error TransferToZero();

    /// @notice Mints `amount` to `to`. Unrestricted on purpose: local chains and tests only.
    /// @param to The receiver.
    /// @param amount Units to mint (6 decimals).
    function mint(address to, uint256 amount) external {
        if (to == address(0)) revert TransferToZero();
        totalSupply += amount;
        _balances[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Moves `value` from the caller to `to`. Returns nothing, like USDT.
    /// @param to The receiver.
    /// @param value Units to move.
    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    /// @notice Moves `value` from `from` to `to` with the caller's allowance. Returns nothing, like USDT.
    /// @param from The owner.
    /// @param to The receiver.
    /// @param value Units to move.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed < value) revert InsufficientAllowance(from, msg.sender, allowed, value);
        if (allowed != _UNLIMITED) {
            // Cannot underflow: checked just above.
            unchecked {
                _allowances[from][msg.sender] = allowed - value;
            }
        }
        _move(from, to, value);
    }

    /// @notice Sets the caller's allowance for `spender`. Returns nothing and reverts when changing a non-zero
    /// allowance to another non-zero value, like USDT.
    /// @param spender The spender.
    /// @param value The new allowance.
    function approve(address spender, uint256 value) external {
        uint256 current = _allowances[msg.sender][spender];
        if (value != 0 && current != 0) revert ApproveFromNonZero(msg.sender, spender, current);
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @notice Units `owner` holds.
    /// @param owner The holder.
    /// @return Its balance.
    function balanceOf(address owner) external view returns (uint256) {
        return _balances[owner];
    }

    /// @notice Units `spender` may still move from `owner`.
    /// @param owner The owner.
    /// @param spender The spender.
    /// @return The allowance.
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    function _move(address from, address to, uint256 value) private {
        if (to == address(0)) revert TransferToZero();
        uint256 balance = _balances[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        // Cannot underflow: checked just above; cannot overflow: the total supply bounds every balance.
        unchecked {
            _balances[from] = balance - value;
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
