// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IERC3009
/// @author orderchain
/// @notice The part of ERC-3009 (transfer with authorization, implemented by USDC and EURC) the escrow uses.
interface IERC3009 {
    /// @notice Moves `value` from `from` to `to` (who must be the caller) with `from`'s EIP-712 signature of
    /// `ReceiveWithAuthorization(from,to,value,validAfter,validBefore,nonce)`; each nonce works once per `from`.
    /// @param from The payer, who signed.
    /// @param to The receiver; must be `msg.sender`, so nobody who sees the signature can use it elsewhere.
    /// @param value Amount to move.
    /// @param validAfter Usable only after this time (unix seconds).
    /// @param validBefore Usable only before this time (unix seconds).
    /// @param nonce The payer's unique nonce (the escrow requires the order id).
    /// @param v Signature `v`.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;
}
