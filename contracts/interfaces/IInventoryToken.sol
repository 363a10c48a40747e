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

    /// @notice Emitted when released stock was not accepted by the receiving contract (it has no ERC-1155
    /// receiver hook, or its hook refused, reverted or ran out of gas): the stock stays in custody, held for
    /// `owner` to claim with {claimStock}.
    /// @param owner The contract the stock was released to.
    /// @param skuIds The SKUs.
    /// @param amounts Units held per SKU.
    event StockHeld(address indexed owner, uint256[] skuIds, uint256[] amounts);
    /// @notice Emitted when `owner` claimed its held stock to `to`.
    /// @param owner Whose held stock was claimed.
    /// @param to Where it was delivered.
    /// @param skuIds The SKUs.
    /// @param amounts Units delivered per SKU.
    event StockClaimed(address indexed owner, address indexed to, uint256[] skuIds, uint256[] amounts);

    error SkuNotFound(uint256 skuId);
    error NotSkuMerchant(uint256 skuId, address merchant);
    error NotMerchantOrOperator(address merchant, address caller);
    error NotEscrow(address caller);
    error EmptyUri();
    error ZeroAddress();
    error LengthMismatch(uint256 ids, uint256 amounts);
    /// @notice A mint would take SKU `skuId`'s supply past 2^256-1.
    error SupplyOverflow(uint256 skuId, uint256 supply, uint256 amount);
    /// @notice A release to a contract was called with too little gas for the delivery attempt.
    error DeliveryGasTooLow(uint256 needed, uint256 left);
    /// @notice `owner` has no held stock of `skuId` to claim (also for an id listed twice in one claim).
    error NothingHeld(address owner, uint256 skuId);
    /// @notice Only this contract itself may call its internal delivery step.
    error NotSelf(address caller);

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
    /// it comes back). Escrow only.
    /// @dev To an account without code, and back to the SKUs' merchant, the stock moves at once (no hook, as
    /// for a mint). To any other contract it is delivered with ERC-1155's
    /// receiver check, under a bounded gas allowance; a contract that does not accept it (no hook, a refusing,
    /// reverting or gas-burning hook) cannot block the settlement: the stock stays in custody, held for it
    /// ({StockHeld}, {heldStock}, {claimStock}). Reverts with DeliveryGasTooLow when called with too little gas
    /// for the attempt, so a caller cannot make a delivery look refused.
    /// @param to The buyer or the merchant.
    /// @param ids Reserved SKUs.
    /// @param amounts Units to release per SKU.
    function release(address to, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Delivers the caller's held stock (stock a contract did not accept when it was released to it).
    /// @dev The caller is the owner of the held stock (ERC-2771 aware). A contract at `to` must accept the stock,
    /// or the claim reverts and nothing moves.
    /// @param ids SKUs with stock held for the caller; not empty (LengthMismatch); each must have some
    /// (NothingHeld). The receiving contract's hook sees this contract as the operator.
    /// @param to Where to deliver all of it; not zero.
    function claimStock(uint256[] calldata ids, address to) external;

    /// @notice Stock held for `owner`: released to it, not accepted, not claimed yet.
    /// @param owner The contract the stock was released to.
    /// @param skuId The SKU.
    /// @return The units held.
    function heldStock(address owner, uint256 skuId) external view returns (uint256);

    /// @notice Stock of a SKU held for contracts that did not accept it, over all of them: the part of the
    /// escrow's balance that no open order reserves.
    /// @param skuId The SKU.
    /// @return The units held.
    function heldTotal(uint256 skuId) external view returns (uint256);

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
