// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPaymentEscrow
/// @notice Escrow for merchant orders: the buyer's payment is held until the goods are received (or the
/// buyer-protection period ends), then released to the merchant minus the platform fee. Refunds, cancellations
/// and arbitrated disputes return what is due to the buyer. Stock for an order's line items (ERC-1155 SKUs of the
/// InventoryToken) is reserved into escrow custody at creation and follows the money.
/// @dev Storage holds one slot per order: the hash of its current {Order} record (zero = the id was never used).
/// Callers pass the current record with every call; the contract checks it against the hash, applies the
/// transition and stores the new hash. Every event carries what changed, so the record is rebuilt from the
/// order's events alone ({OrderCreated} carries everything of the initial record). Line items are committed in the record
/// as `keccak256(abi.encode(items))`; calls that move stock take the items back.
interface IPaymentEscrow {
    /// @notice Lifecycle of an order. `None` means the id was never used.
    enum OrderState {
        None,
        Created,
        Paid,
        Shipped,
        Completed,
        Cancelled,
        Refunded,
        Disputed,
        Resolved
    }

    /// @notice One line of an order: `quantity` units of the InventoryToken SKU `skuId`.
    struct LineItem {
        uint256 skuId;
        uint256 quantity;
    }

    /// @notice Terms of a new order, as given by the merchant (or its operator) or signed in a checkout offer.
    /// @param orderId Unique forever; the relayer derives it from the merchant and its order reference.
    /// @param merchant Receives the payout and supplies the stock.
    /// @param buyer The only address allowed to pay, or `address(0)` for an order open to any payer.
    /// @param token An allowlisted ERC-20 token, or `address(0)` for native currency.
    /// @param amount Exact price.
    /// @param paymentDeadline Unix time after which the order can no longer be paid and anyone may cancel it.
    /// @param shipWithin Seconds the merchant has to ship after payment; after that the buyer may cancel.
    /// @param protectionPeriod Seconds the buyer has after shipment to confirm or dispute; after that anyone
    /// may release the payment to the merchant.
    struct OrderTerms {
        bytes32 orderId;
        address merchant;
        address buyer;
        address token;
        uint256 amount;
        uint64 paymentDeadline;
        uint32 shipWithin;
        uint32 protectionPeriod;
    }

    /// @notice The current record of an order, committed on chain by its hash.
    /// @param buyer Set at creation, or by the payment for an order open to any payer.
    /// @param amount Due (state Created) or still escrowed (after payment; partial refunds lower it). Final
    /// states keep the last escrowed amount.
    /// @param feeBps Platform fee fixed when the order was created.
    /// @param deadline Meaning follows the state: Created = payment deadline, Paid = ship-by time,
    /// Shipped = end of the buyer-protection period; unchanged afterwards.
    /// @param itemsHash `keccak256(abi.encode(items))` of the line items, or zero for an order without items.
    struct Order {
        address merchant;
        address buyer;
        address token;
        uint256 amount;
        uint16 feeBps;
        OrderState state;
        uint64 deadline;
        uint32 shipWithin;
        uint32 protectionPeriod;
        bytes32 itemsHash;
    }

    /// @notice EIP-2612 permit parameters for paying in the same call.
    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Emitted when an order is created and its stock reserved. With the indexed fields it gives the full
    /// initial record: state Created, `deadline` = `paymentDeadline`, `itemsHash` = keccak256(abi.encode(items))
    /// or zero without items.
    event OrderCreated(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        address token,
        uint256 amount,
        uint256 feeBps,
        uint256 paymentDeadline,
        uint256 shipWithin,
        uint256 protectionPeriod,
        LineItem[] items
    );
    /// @notice Emitted when `buyer` paid `amount` into escrow; the merchant must ship by `shipBy`.
    event OrderPaid(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 amount,
        uint256 shipBy
    );
    /// @notice Emitted when the merchant marked the order shipped; `releaseAfter` ends the protection period.
    event OrderShipped(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        bytes32 trackingHash,
        uint256 releaseAfter
    );
    /// @notice Emitted when escrow was released: `merchantAmount` to the merchant, `fee` to the fee recipient.
    event OrderCompleted(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 merchantAmount,
        uint256 fee,
        bool autoReleased
    );
    /// @notice Emitted when an unpaid order was cancelled (by `by`) and its stock returned to the merchant.
    event OrderCancelled(bytes32 indexed orderId, address indexed merchant, address indexed buyer, address by);
    /// @notice Emitted for every refund; `remaining` stays escrowed (0 = full refund, state Refunded).
    event OrderRefunded(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 amount,
        uint256 remaining
    );
    /// @notice Emitted when the buyer opened a dispute.
    event OrderDisputed(bytes32 indexed orderId, address indexed merchant, address indexed buyer, bytes32 evidenceHash);
    /// @notice Emitted when the arbiter settled a dispute.
    event DisputeResolved(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 buyerAmount,
        uint256 merchantAmount,
        uint256 fee
    );
    /// @notice Emitted when a merchant authorised or de-authorised an operator.
    event OperatorApprovalSet(address indexed merchant, address indexed operator, bool approved);
    /// @notice Emitted when a token was added to, or removed from, the allowlist.
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice Emitted when the platform fee changed (applies to orders created afterwards).
    event FeeUpdated(uint256 feeBps);
    /// @notice Emitted when the fee recipient changed.
    event FeeRecipientUpdated(address indexed feeRecipient);
    /// @notice Emitted when a payout could not be pushed and was credited for {withdraw} instead.
    event PayoutCredited(address indexed account, address indexed token, uint256 amount);
    /// @notice Emitted when an account withdrew its credited payouts.
    event PayoutWithdrawn(address indexed account, address indexed token, address to, uint256 amount);
    /// @notice Emitted by {batch} for an item that failed while the others went through.
    event BatchItemFailed(uint256 indexed index, bytes reason);

    error ZeroOrderId();
    error OrderAlreadyExists(bytes32 orderId);
    error OrderNotFound(bytes32 orderId);
    error StaleOrderRecord(bytes32 orderId, bytes32 expectedHash, bytes32 givenHash);
    error InvalidState(bytes32 orderId, OrderState current);
    error NotMerchantOrOperator(address merchant, address caller);
    error NotBuyer(bytes32 orderId, address caller);
    error NotArbiter(address caller);
    error ZeroAddress();
    error ZeroAmount();
    error TokenNotAllowed(address token);
    error PaymentDeadlinePassed(bytes32 orderId, uint256 deadline, uint256 nowTs);
    error PaymentDeadlineNotPassed(bytes32 orderId, uint256 deadline, uint256 nowTs);
    error InvalidDeadline(uint256 deadline, uint256 nowTs);
    error ShipByNotPassed(bytes32 orderId, uint256 shipBy, uint256 nowTs);
    error ProtectionPeriodActive(bytes32 orderId, uint256 releaseAfter, uint256 nowTs);
    error ProtectionPeriodOver(bytes32 orderId, uint256 releaseAfter, uint256 nowTs);
    error WrongNativeAmount(uint256 expected, uint256 received);
    error UnexpectedNativeValue(uint256 value);
    error PermitForNativeOrder(bytes32 orderId);
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    error RefundExceedsEscrow(bytes32 orderId, uint256 amount, uint256 escrowed);
    error SplitExceedsEscrow(bytes32 orderId, uint256 buyerAmount, uint256 escrowed);
    error TooManyLineItems(uint256 count, uint256 max);
    error ZeroQuantity(uint256 skuId);
    error LineItemsMismatch(bytes32 orderId, bytes32 expectedHash, bytes32 givenHash);
    error InvalidOfferSignature(bytes32 orderId, address signer);
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error NothingToWithdraw(address account, address token);
    error WithdrawFailed(address account, address token, uint256 amount);
    error BatchCallFailed(uint256 index, bytes reason);

    // ---------------------------------------------------------------- merchants

    /// @notice Authorises (or de-authorises) `operator` to create and settle orders on behalf of the caller.
    function setOperatorApproval(address operator, bool approved) external;

    /// @notice Whether `operator` may act for `merchant`.
    function isOperatorApproved(address merchant, address operator) external view returns (bool);

    // ---------------------------------------------------------------- creation and payment

    /// @notice Creates an unpaid order and reserves its line items' stock from the merchant.
    /// @dev Caller: the merchant or an operator it approved. Reverts while paused.
    /// @return order The initial record (also in {OrderCreated}).
    function createOrder(OrderTerms calldata terms, LineItem[] calldata items) external returns (Order memory order);

    /// @notice Pays an order in full. Native orders send exactly `order.amount` as value; ERC-20 orders need a
    /// prior allowance. The caller becomes the buyer of an order open to any payer. Reverts while paused.
    function pay(bytes32 orderId, Order calldata order) external payable;

    /// @notice Pays an ERC-20 order using an EIP-2612 permit signed by the caller, in the same transaction.
    /// @dev A permit already used (for example by someone who copied it from the mempool) is tolerated if the
    /// allowance suffices; otherwise the token transfer reverts.
    function payWithPermit(bytes32 orderId, Order calldata order, Permit calldata permit) external;

    /// @notice Creates and pays an order in one transaction from an offer signed (EIP-712) by the merchant or
    /// one of its approved operators. The caller pays and becomes the buyer; an offer naming a buyer can only be
    /// taken by that buyer. An offer is usable once: its order id is then taken.
    function checkout(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature
    ) external payable returns (Order memory order);

    /// @notice {checkout} with an EIP-2612 permit for the payment in the same call.
    function checkoutWithPermit(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature,
        Permit calldata permit
    ) external returns (Order memory order);

    // ---------------------------------------------------------------- fulfilment and settlement

    /// @notice Marks a paid order shipped and starts the buyer-protection period. Caller: merchant or operator.
    function ship(bytes32 orderId, Order calldata order, bytes32 trackingHash) external;

    /// @notice The buyer confirms receipt: the escrow is released to the merchant (minus the fee) and the stock
    /// goes to the buyer.
    function confirmReceipt(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Anyone may release a shipped order once its protection period has ended.
    function autoRelease(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Cancels an unpaid order and returns its stock. Caller: merchant or operator at any time, anyone
    /// once the payment deadline has passed. Works while paused.
    function cancel(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice The buyer cancels a paid order the merchant did not ship in time and is refunded in full.
    function cancelUnshipped(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Refunds `amount` of the escrow to the buyer. Refunding everything ends the order (Refunded) and
    /// returns the stock (pass the items); less is a partial refund that lowers the merchant's payout (the
    /// items are not needed). Caller: merchant or operator, in states Paid, Shipped or Disputed. Works while paused.
    function refund(bytes32 orderId, Order calldata order, uint256 amount, LineItem[] calldata items) external;

    /// @notice The buyer opens a dispute on a paid order, or on a shipped one within its protection period.
    function dispute(bytes32 orderId, Order calldata order, bytes32 evidenceHash) external;

    /// @notice The arbiter settles a dispute: `buyerAmount` goes to the buyer, the rest to the merchant minus the
    /// fee. Stock returns to the merchant when the buyer gets everything back, else it goes to the buyer.
    function resolveDispute(
        bytes32 orderId,
        Order calldata order,
        uint256 buyerAmount,
        LineItem[] calldata items
    ) external;

    /// @notice Withdraws the caller's payouts in `token` that were credited because a push transfer failed.
    function withdraw(address token, address to) external;

    // ---------------------------------------------------------------- batching

    /// @notice Runs several calls of this contract in one transaction, each as if sent by the caller.
    /// @dev Caller must hold the operator role. With `atomic` true any failure reverts the whole batch with
    /// {BatchCallFailed}; with `atomic` false a failing call is undone on its own, reported by {BatchItemFailed}
    /// and in `ok`, and the others stand. Not payable: native payments cannot be batched.
    function batch(bytes[] calldata calls, bool atomic) external returns (bool[] memory ok);

    // ---------------------------------------------------------------- administration

    /// @notice Allows or disallows `token` for new orders; existing orders always settle. Admin only.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sets the platform fee for orders created from now on. Admin only; capped at 1,000 (10%).
    function setFeeBps(uint16 feeBps) external;

    /// @notice Sets who receives platform fees. Admin only.
    function setFeeRecipient(address feeRecipient) external;

    /// @notice Stops order creation and payment. Settlement, refunds and disputes keep working. Pauser only.
    function pause() external;

    /// @notice Lifts {pause}. Pauser only.
    function unpause() external;

    // ---------------------------------------------------------------- views

    /// @notice The hash of an order's current record, zero if the id was never used.
    function orderHash(bytes32 orderId) external view returns (bytes32);

    /// @notice Whether `order` is the current record of `orderId`.
    function isCurrent(bytes32 orderId, Order calldata order) external view returns (bool);

    /// @notice The hash the contract stores for a record.
    function hashOrder(Order calldata order) external pure returns (bytes32);

    /// @notice `keccak256(abi.encode(items))`, the line-items commitment.
    function hashItems(LineItem[] calldata items) external pure returns (bytes32);

    /// @notice The current platform fee in basis points, for new orders.
    function feeBps() external view returns (uint16);

    /// @notice The fee recipient.
    function feeRecipient() external view returns (address);

    /// @notice Whether `token` is currently allowed for new orders.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice Payouts credited to `account` in `token` after a failed push transfer.
    function credited(address account, address token) external view returns (uint256);

    /// @notice EIP-712 digest of a checkout offer, as the merchant signs it.
    function offerDigest(OrderTerms calldata offer, LineItem[] calldata items) external view returns (bytes32);

    /// @notice The InventoryToken whose stock orders reserve (created by this escrow's constructor).
    function inventory() external view returns (address);
}
