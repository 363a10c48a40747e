// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title ERC3009Token
/// @author orderchain
/// @notice ERC-3009 transfers with authorization (as USDC and EURC implement them) on top of an EIP-2612 token, for
/// the local chain's and the tests' stablecoins.
abstract contract ERC3009Token is ERC20Permit {
    // The EIP-712 type strings cannot be shorter than 32 bytes; they are hashed once, at compile time.
    /* solhint-disable gas-small-strings */
    /// @notice EIP-712 type of {transferWithAuthorization} (ERC-3009).
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    /// @notice EIP-712 type of {receiveWithAuthorization} (ERC-3009).
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    /// @notice EIP-712 type of {cancelAuthorization} (ERC-3009).
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH = keccak256(
        "CancelAuthorization(address authorizer,bytes32 nonce)"
    );

    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    /// @notice An authorization nonce was used or cancelled.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);
    /// @notice An authorization nonce was cancelled before use.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The authorization is not valid yet, or no longer.
    error AuthorizationNotInTime(uint256 validAfter, uint256 validBefore, uint256 nowTs);
    /// @notice The nonce was already used or cancelled.
    error AuthorizationUsedOrCanceled(address authorizer, bytes32 nonce);
    /// @notice The signature is not the authorizer's.
    error InvalidAuthorizationSignature();
    /// @notice {receiveWithAuthorization} called by someone other than the receiver.
    error CallerMustBePayee(address caller, address to);

    /// @notice ERC-3009: moves `value` from `from` to `to` with `from`'s signature; anyone may submit it.
    /// @param from The payer, who signed.
    /// @param to The receiver.
    /// @param value Amount.
    /// @param validAfter Usable only after this time.
    /// @param validBefore Usable only before this time.
    /// @param nonce Unique per `from`.
    /// @param v Signature `v`.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        _useAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce,
            v,
            r,
            s
        );
        _transfer(from, to, value);
    }

    /// @notice ERC-3009: like {transferWithAuthorization}, but only `to` may submit it (no front-running).
    /// @param from The payer, who signed.
    /// @param to The receiver, who must be the caller.
    /// @param value Amount.
    /// @param validAfter Usable only after this time.
    /// @param validBefore Usable only before this time.
    /// @param nonce Unique per `from`.
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
    ) external {
        if (to != msg.sender) revert CallerMustBePayee(msg.sender, to);
        _useAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce,
            v,
            r,
            s
        );
        _transfer(from, to, value);
    }

    /// @notice ERC-3009: cancels an unused authorization with the authorizer's signature.
    /// @param authorizer The signer.
    /// @param nonce The nonce to cancel.
    /// @param v Signature `v`.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        if (_authorizationStates[authorizer][nonce]) revert AuthorizationUsedOrCanceled(authorizer, nonce);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        if (ECDSA.recover(digest, v, r, s) != authorizer) revert InvalidAuthorizationSignature();
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    /// @notice Whether `nonce` of `authorizer` was used or cancelled.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    /// @return True once used or cancelled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    function _useAuthorization(
        bytes32 typeHash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) private {
        if (block.timestamp <= validAfter || block.timestamp >= validBefore) {
            revert AuthorizationNotInTime(validAfter, validBefore, block.timestamp);
        }
        if (_authorizationStates[from][nonce]) revert AuthorizationUsedOrCanceled(from, nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(typeHash, from, to, value, validAfter, validBefore, nonce))
        );
        if (ECDSA.recover(digest, v, r, s) != from) revert InvalidAuthorizationSignature();
        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
    }
}
