// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IInventoryToken
/// @author orderchain
/// @notice ERC-1155 inventory: each token id is one merchant's SKU with its own metadata URI. Only the SKU's
/// merchant, or an operator the merchant approved with `setApprovalForAll`, mints and burns its stock. The escrow
/// moves reserved stock into its custody when an order is created and out of it when the order settles.
/// @dev A SKU id carries its merchant: `skuId = uint256(uint160(merchant)) << 96 | n` where `n` counts that
/// merchant's SKUs from 1. Ownership of a SKU is therefore checked without reading storage.
interface IInventoryToken {
    /// @notice Emitted when a SKU was created for `merchant`.
    /// @param skuId The new SKU's id (it encodes `merchant`).
    /// @param merchant The SKU's owner, who alone (with its operators) mints and burns its stock.
    /// @param uri The SKU's metadata URI.
    event SkuCreated(uint256 indexed skuId, address indexed merchant, string uri);
    /// @notice Emitted when a SKU's metadata URI changed.
    /// @param skuId The SKU.
    /// @param uri Its new metadata URI.
    event SkuUriUpdated(uint256 indexed skuId, string uri);

    error SkuNotFound(uint256 skuId);
    error NotSkuMerchant(uint256 skuId, address merchant);
    error NotMerchantOrOperator(address merchant, address caller);
    error NotEscrow(address caller);
    error EmptyUri();
    error ZeroAddress();
    error LengthMismatch(uint256 ids, uint256 amounts);
    /// @notice A mint would take SKU `skuId`'s supply past 2^256-1.
    error SupplyOverflow(uint256 skuId, uint256 supply, uint256 amount);

    /// @notice Creates a SKU owned by `merchant` and returns its id.
    /// @dev Caller: `merchant` or an operator approved by it.
    /// @param merchant The SKU's owner; not zero.
    /// @param uri The SKU's metadata URI; not empty.
    /// @return skuId The new id: `merchant` in the high 160 bits, the merchant's SKU counter in the low 96.
    function createSku(address merchant, string calldata uri) external returns (uint256 skuId);

    /// @notice Updates a SKU's metadata URI. Caller: the SKU's merchant or its operator.
    /// @param skuId An existing SKU.
    /// @param uri The new metadata URI; not empty.
    function setSkuUri(uint256 skuId, string calldata uri) external;

    /// @notice Mints stock of SKUs `ids` to their merchant. All must belong to one merchant; caller: that
    /// merchant or its operator.
    /// @param ids Existing SKUs of one merchant; not empty.
    /// @param amounts Units to mint per SKU, same length as `ids`. A SKU's supply is bounded by 2^256-1
    /// (SupplyOverflow); no other SKU's supply limits it.
    function mintStock(uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Burns (writes off) stock of SKUs `ids` from their merchant. All must belong to one merchant;
    /// caller: that merchant or its operator.
    /// @dev Only stock the merchant holds can be burnt; stock reserved by open orders is in escrow custody.
    /// @param ids Existing SKUs of one merchant; not empty.
    /// @param amounts Units to burn per SKU, same length as `ids`.
    function burnStock(uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Moves stock of `merchant`'s SKUs into the escrow's custody. Escrow only.
    /// @dev Each SKU must belong to `merchant`. No receiver hook runs: the escrow is the receiver.
    /// @param merchant The order's merchant, whose stock is reserved.
    /// @param ids SKUs of `merchant`.
    /// @param amounts Units to reserve per SKU.
    function reserve(address merchant, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Moves reserved stock out of escrow custody to `to` (the buyer on completion, the merchant when
    /// it comes back). Escrow only. No receiver hook runs, so a receiver can never block or re-enter a settlement.
    /// @param to The buyer or the merchant.
    /// @param ids Reserved SKUs.
    /// @param amounts Units to release per SKU.
    function release(address to, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Runs several calls of this contract in one transaction, each as if sent by the caller (for
    /// example a merchant creating a SKU and minting its first stock with one forwarded request). Atomic: the
    /// first failing call reverts everything with its own error.
    /// @param calls ABI-encoded calls of this contract.
    /// @return results The return data of each call.
    function multicall(bytes[] calldata calls) external returns (bytes[] memory results);

    /// @notice The escrow contract that created this token and alone moves reserved stock.
    /// @return The PaymentEscrow's address.
    function escrow() external view returns (address);

    /// @notice The units of a SKU in existence: minted minus burnt, wherever they are held.
    /// @dev Counted per SKU only; there is no total over all SKUs (no merchant's supply can affect another's).
    /// @param skuId The SKU.
    /// @return The SKU's supply (0 for an id never minted).
    function totalSupply(uint256 skuId) external view returns (uint256);

    /// @notice The merchant of an existing SKU (`address(0)` if it does not exist).
    /// @param skuId The SKU.
    /// @return The SKU's merchant, or `address(0)` for an id that was never created.
    function merchantOf(uint256 skuId) external view returns (address);

    /// @notice How many SKUs `merchant` has created (its last SKU's counter).
    /// @param merchant The merchant.
    /// @return The number of SKUs created for `merchant`.
    function skuCount(address merchant) external view returns (uint256);

    /// @notice The id of `merchant`'s `n`-th SKU (whether or not it exists yet).
    /// @param merchant The merchant.
    /// @param n The SKU's counter, from 1.
    /// @return `uint256(uint160(merchant)) << 96 | n`.
    function skuId(address merchant, uint96 n) external pure returns (uint256);
}
