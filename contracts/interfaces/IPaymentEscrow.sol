// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPaymentEscrow
/// @author orderchain
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
    /// @param orderId The new order's id.
    /// @param merchant Who is paid and whose stock was reserved.
    /// @param buyer The only address allowed to pay, or `address(0)` for an order open to any payer.
    /// @param token The payment token, `address(0)` for native currency.
    /// @param amount The price due.
    /// @param feeBps The platform fee fixed for this order, in basis points.
    /// @param paymentDeadline Unix time until which the order can be paid.
    /// @param shipWithin Seconds the merchant will have to ship once paid.
    /// @param protectionPeriod Seconds the buyer will have after shipment to confirm or dispute.
    /// @param items The line items whose stock moved into escrow custody (empty for an order without items).
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
    /// @param orderId The paid order.
    /// @param merchant The order's merchant.
    /// @param buyer Who paid; from now on the order's buyer.
    /// @param amount What was paid and is now escrowed.
    /// @param shipBy Unix time after which the buyer may cancel an unshipped order (the record's new `deadline`).
    event OrderPaid(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 amount,
        uint256 shipBy
    );
    /// @notice Emitted when the merchant marked the order shipped; `releaseAfter` ends the protection period.
    /// @param orderId The shipped order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer.
    /// @param trackingHash The merchant's shipment reference (for example a hash of the carrier tracking number).
    /// @param releaseAfter Unix time after which anyone may release the escrow (the record's new `deadline`).
    event OrderShipped(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        bytes32 trackingHash,
        uint256 releaseAfter
    );
    /// @notice Emitted when escrow was released: `merchantAmount` to the merchant, `fee` to the fee recipient.
    /// @param orderId The completed order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who now holds the line items' stock.
    /// @param merchantAmount Paid (or credited) to the merchant: the escrowed amount minus the fee.
    /// @param fee Paid (or credited) to the fee recipient.
    /// @param autoReleased True when released by {autoRelease} after the protection period, false when the buyer
    /// confirmed receipt.
    event OrderCompleted(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 merchantAmount,
        uint256 fee,
        bool autoReleased
    );
    /// @notice Emitted when an unpaid order was cancelled (by `by`) and its stock returned to the merchant.
    /// @param orderId The cancelled order.
    /// @param merchant The order's merchant, who got its stock back.
    /// @param buyer The buyer named at creation, `address(0)` for an order that was open to any payer.
    /// @param by Who cancelled: the merchant, its operator, or anyone after the payment deadline.
    event OrderCancelled(bytes32 indexed orderId, address indexed merchant, address indexed buyer, address by);
    /// @notice Emitted for every refund; `remaining` stays escrowed (0 = full refund, state Refunded).
    /// @param orderId The refunded order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who receives (or is credited) `amount`.
    /// @param amount Returned to the buyer by this refund.
    /// @param remaining Still escrowed after this refund (the record's new `amount` when not zero).
    event OrderRefunded(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 amount,
        uint256 remaining
    );
    /// @notice Emitted when the buyer opened a dispute.
    /// @param orderId The disputed order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who opened the dispute.
    /// @param evidenceHash The buyer's reference to its evidence (for example a hash of an off-chain claim).
    event OrderDisputed(bytes32 indexed orderId, address indexed merchant, address indexed buyer, bytes32 evidenceHash);
    /// @notice Emitted when the arbiter settled a dispute.
    /// @param orderId The resolved order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer.
    /// @param buyerAmount Returned to the buyer.
    /// @param merchantAmount Paid to the merchant: the escrow minus `buyerAmount` minus `fee`.
    /// @param fee Paid to the fee recipient, taken from the merchant's share only.
    event DisputeResolved(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 buyerAmount,
        uint256 merchantAmount,
        uint256 fee
    );
    /// @notice Emitted when a merchant authorised or de-authorised an operator.
    /// @param merchant The merchant that gave or withdrew the authorisation.
    /// @param operator The address allowed (or no longer allowed) to act for `merchant`.
    /// @param approved Whether `operator` may now act for `merchant`.
    event OperatorApprovalSet(address indexed merchant, address indexed operator, bool approved);
    /// @notice Emitted when a token was added to, or removed from, the allowlist.
    /// @param token The ERC-20 token, or `address(0)` for native currency.
    /// @param allowed Whether new orders may now use `token`.
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice Emitted when the platform fee changed (applies to orders created afterwards).
    /// @param feeBps The new fee in basis points.
    event FeeUpdated(uint256 feeBps);
    /// @notice Emitted when the fee recipient changed.
    /// @param feeRecipient The address that now receives platform fees.
    event FeeRecipientUpdated(address indexed feeRecipient);
    /// @notice Emitted when a payout could not be pushed and was credited for {withdraw} instead.
    /// @param account Whose payout was refused (buyer, merchant or fee recipient).
    /// @param token The payout's token, `address(0)` for native currency.
    /// @param amount Added to the account's credit in `token`.
    event PayoutCredited(address indexed account, address indexed token, uint256 amount);
    /// @notice Emitted when an account withdrew its credited payouts.
    /// @param account Whose credit was withdrawn.
    /// @param token The credited token, `address(0)` for native currency.
    /// @param to Where the credit was sent.
    /// @param amount The whole credit, now zero.
    event PayoutWithdrawn(address indexed account, address indexed token, address to, uint256 amount);
    /// @notice Emitted by {batch} for an item that failed while the others went through.
    /// @param index Position of the failed call in the batch.
    /// @param reason The call's revert data (a custom error of this contract, usually).
    event BatchItemFailed(uint256 indexed index, bytes reason);

    error ZeroOrderId();
    error OrderAlreadyExists(bytes32 orderId);
    error OrderNotFound(bytes32 orderId);
    error StaleOrderRecord(bytes32 orderId, bytes32 expectedHash, bytes32 givenHash);
    error InvalidState(bytes32 orderId, OrderState current);
    error NotMerchantOrOperator(address merchant, address caller);
    /// @notice An operator created (or signed the offer of) an order with line items without the merchant's
    /// stock authority: its ERC-1155 approval on the inventory (`setApprovalForAll`).
    error NotStockOperator(address merchant, address operator);
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
    /// @param operator The address that may act for the caller; not zero.
    /// @param approved True to authorise, false to withdraw the authorisation.
    function setOperatorApproval(address operator, bool approved) external;

    /// @notice Whether `operator` may act for `merchant`.
    /// @param merchant The merchant.
    /// @param operator The address to check.
    /// @return True if `merchant` authorised `operator` with {setOperatorApproval}.
    function isOperatorApproved(address merchant, address operator) external view returns (bool);

    // ---------------------------------------------------------------- creation and payment

    /// @notice Creates an unpaid order and reserves its line items' stock from the merchant.
    /// @dev Caller: the merchant or an operator it approved. An order with line items moves the merchant's
    /// stock, so an operator also needs the merchant's approval on the inventory (`setApprovalForAll`), else
    /// NotStockOperator; the same holds for the operator that signs a checkout offer with items. Reverts while
    /// paused.
    /// @param terms The order's terms; `terms.orderId` must never have been used.
    /// @param items Line items whose stock moves from the merchant into escrow custody (at most
    /// {MAX_LINE_ITEMS}; empty for an order without items). Every SKU must belong to `terms.merchant`.
    /// @return order The initial record (also in {OrderCreated}).
    function createOrder(OrderTerms calldata terms, LineItem[] calldata items) external returns (Order memory order);

    /// @notice Pays an order in full. Native orders send exactly `order.amount` as value; ERC-20 orders need a
    /// prior allowance. The caller becomes the buyer of an order open to any payer. Reverts while paused.
    /// @param orderId The order to pay.
    /// @param order Its current record (state Created, payment deadline not passed).
    function pay(bytes32 orderId, Order calldata order) external payable;

    /// @notice Pays an ERC-20 order using an EIP-2612 permit signed by the caller, in the same transaction.
    /// @dev A permit already used (for example by someone who copied it from the mempool) is tolerated if the
    /// allowance suffices; otherwise the token transfer reverts.
    /// @param orderId The order to pay.
    /// @param order Its current record (state Created, an ERC-20 token, payment deadline not passed).
    /// @param permit The caller's permit for the escrow, for exactly `order.amount`.
    function payWithPermit(bytes32 orderId, Order calldata order, Permit calldata permit) external;

    /// @notice Creates and pays an order in one transaction from an offer signed (EIP-712) by the merchant or
    /// one of its approved operators. The caller pays and becomes the buyer; an offer naming a buyer can only be
    /// taken by that buyer. An offer is usable once: its order id is then taken.
    /// @param offer The signed terms; `offer.paymentDeadline` is the offer's expiry.
    /// @param items The line items the offer commits to (their hash is part of the signed data).
    /// @param signature EIP-712 signature of {offerDigest} by the merchant (EOA or ERC-1271 contract) or by an
    /// operator the merchant approved.
    /// @return order The record after payment (state Paid, `deadline` = ship-by time).
    function checkout(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature
    ) external payable returns (Order memory order);

    /// @notice {checkout} with an EIP-2612 permit for the payment in the same call.
    /// @param offer The signed terms; the token must be an ERC-20 with EIP-2612.
    /// @param items The line items the offer commits to.
    /// @param signature EIP-712 signature of {offerDigest} by the merchant or one of its approved operators.
    /// @param permit The caller's permit for the escrow, for exactly `offer.amount`.
    /// @return order The record after payment (state Paid, `deadline` = ship-by time).
    function checkoutWithPermit(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature,
        Permit calldata permit
    ) external returns (Order memory order);

    // ---------------------------------------------------------------- fulfilment and settlement

    /// @notice Marks a paid order shipped and starts the buyer-protection period. Caller: merchant or operator.
    /// @dev Works while paused. Shipping after the ship-by time is allowed as long as the buyer has not cancelled.
    /// @param orderId The order to ship.
    /// @param order Its current record (state Paid).
    /// @param trackingHash The merchant's shipment reference, emitted in {OrderShipped}.
    function ship(bytes32 orderId, Order calldata order, bytes32 trackingHash) external;

    /// @notice The buyer confirms receipt: the escrow is released to the merchant (minus the fee) and the stock
    /// goes to the buyer.
    /// @param orderId The order to complete.
    /// @param order Its current record (state Shipped); the caller must be its buyer.
    /// @param items The order's line items, checked against `order.itemsHash` (empty for an order without items).
    function confirmReceipt(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Anyone may release a shipped order once its protection period has ended.
    /// @param orderId The order to complete.
    /// @param order Its current record (state Shipped, `deadline` passed).
    /// @param items The order's line items, checked against `order.itemsHash`; their stock goes to the buyer.
    function autoRelease(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Cancels an unpaid order and returns its stock. Caller: merchant or operator at any time, anyone
    /// once the payment deadline has passed. Works while paused.
    /// @param orderId The order to cancel.
    /// @param order Its current record (state Created).
    /// @param items The order's line items, checked against `order.itemsHash`; their stock returns to the merchant.
    function cancel(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice The buyer cancels a paid order the merchant did not ship in time and is refunded in full.
    /// @param orderId The order to cancel.
    /// @param order Its current record (state Paid, ship-by time passed); the caller must be its buyer.
    /// @param items The order's line items, checked against `order.itemsHash`; their stock returns to the merchant.
    function cancelUnshipped(bytes32 orderId, Order calldata order, LineItem[] calldata items) external;

    /// @notice Refunds `amount` of the escrow to the buyer. Refunding everything ends the order (Refunded) and
    /// returns the stock (pass the items); less is a partial refund that lowers the merchant's payout (the
    /// items are not needed). Caller: merchant or operator, in states Paid, Shipped or Disputed. Works while paused.
    /// @param orderId The order to refund.
    /// @param order Its current record.
    /// @param amount Returned to the buyer; not zero, at most `order.amount`.
    /// @param items The order's line items for a full refund; ignored by a partial refund.
    function refund(bytes32 orderId, Order calldata order, uint256 amount, LineItem[] calldata items) external;

    /// @notice The buyer opens a dispute on a paid order, or on a shipped one within its protection period.
    /// @dev The escrow then waits for {resolveDispute} or a {refund}; it can no longer be released.
    /// @param orderId The order to dispute.
    /// @param order Its current record (state Paid, or Shipped with `deadline` not passed); the caller must be its
    /// buyer.
    /// @param evidenceHash The buyer's reference to its evidence, emitted in {OrderDisputed}.
    function dispute(bytes32 orderId, Order calldata order, bytes32 evidenceHash) external;

    /// @notice The arbiter settles a dispute: `buyerAmount` goes to the buyer, the rest to the merchant minus the
    /// fee. Stock returns to the merchant when the buyer gets everything back, else it goes to the buyer.
    /// @dev Caller must hold the arbiter role. Works while paused.
    /// @param orderId The order to resolve.
    /// @param order Its current record (state Disputed).
    /// @param buyerAmount The buyer's share, at most `order.amount`; the fee is taken from the merchant's share.
    /// @param items The order's line items, checked against `order.itemsHash`.
    function resolveDispute(
        bytes32 orderId,
        Order calldata order,
        uint256 buyerAmount,
        LineItem[] calldata items
    ) external;

    /// @notice Withdraws the caller's payouts in `token` that were credited because a push transfer failed.
    /// @dev Sends the whole credit with all remaining gas; reverts with {WithdrawFailed} (keeping the credit) if
    /// `to` refuses it. Works while paused.
    /// @param token The credited token, `address(0)` for native currency.
    /// @param to Where to send the credit; not zero (a receiver that accepts, when the caller itself refused).
    function withdraw(address token, address to) external;

    // ---------------------------------------------------------------- batching

    /// @notice Runs several calls of this contract in one transaction, each as if sent by the caller.
    /// @dev Caller must hold the operator role. With `atomic` true any failure reverts the whole batch with
    /// {BatchCallFailed}; with `atomic` false a failing call is undone on its own, reported by {BatchItemFailed}
    /// and in `ok`, and the others stand. Not payable: native payments cannot be batched.
    /// Each call keeps the batch's sender, including the ERC-2771 sender of a batch relayed by the forwarder, so
    /// an operator can only do in a batch what it could do call by call.
    /// @param calls ABI-encoded calls of this contract's functions (for example `createOrder`, `ship`, `refund`).
    /// @param atomic True for all-or-nothing, false to let single calls fail.
    /// @return ok For each call, whether it succeeded.
    function batch(bytes[] calldata calls, bool atomic) external returns (bool[] memory ok);

    // ---------------------------------------------------------------- administration

    /// @notice Allows or disallows `token` for new orders; existing orders always settle. Admin only.
    /// @dev Only a contract can be allowed (or `address(0)`, native currency). The admin vets tokens:
    /// fee-on-transfer tokens are also refused at payment time, rebasing tokens must not be allowed.
    /// @param token The ERC-20 token, or `address(0)` for native currency.
    /// @param allowed Whether new orders may use it.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sets the platform fee for orders created from now on. Admin only; capped at 1,000 (10%).
    /// @param feeBps The fee in basis points, at most {MAX_FEE_BPS}.
    function setFeeBps(uint16 feeBps) external;

    /// @notice Sets who receives platform fees. Admin only.
    /// @dev Applies to every settlement from now on, including orders created before.
    /// @param feeRecipient The new recipient; not zero.
    function setFeeRecipient(address feeRecipient) external;

    /// @notice Stops order creation and payment. Settlement, refunds and disputes keep working. Pauser only.
    /// @dev Funds already escrowed can always leave: shipping, release, cancel, refund, dispute, resolution and
    /// withdrawal ignore the pause.
    function pause() external;

    /// @notice Lifts {pause}. Pauser only.
    function unpause() external;

    // ---------------------------------------------------------------- views

    /// @notice The hash of an order's current record, zero if the id was never used.
    /// @param orderId The order.
    /// @return The stored `keccak256(abi.encode(record))`, or zero.
    function orderHash(bytes32 orderId) external view returns (bytes32);

    /// @notice Whether `order` is the current record of `orderId`.
    /// @param orderId The order.
    /// @param order A candidate record, for example one rebuilt from events.
    /// @return True if the order exists and `order` hashes to its stored hash.
    function isCurrent(bytes32 orderId, Order calldata order) external view returns (bool);

    /// @notice The hash the contract stores for a record.
    /// @param order A record.
    /// @return `keccak256(abi.encode(order))`.
    function hashOrder(Order calldata order) external pure returns (bytes32);

    /// @notice `keccak256(abi.encode(items))`, the line-items commitment.
    /// @param items Line items.
    /// @return The commitment as signed in offers; a record stores zero instead for an order without items.
    function hashItems(LineItem[] calldata items) external pure returns (bytes32);

    /// @notice The current platform fee in basis points, for new orders.
    /// @return The fee that {createOrder} and {checkout} fix in new records.
    function feeBps() external view returns (uint16);

    /// @notice The fee recipient.
    /// @return The address that receives platform fees.
    function feeRecipient() external view returns (address);

    /// @notice Whether `token` is currently allowed for new orders.
    /// @param token The ERC-20 token, or `address(0)` for native currency.
    /// @return True if new orders may use `token`.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice Payouts credited to `account` in `token` after a failed push transfer.
    /// @param account The buyer, merchant or fee recipient.
    /// @param token The token, `address(0)` for native currency.
    /// @return The amount {withdraw} would send.
    function credited(address account, address token) external view returns (uint256);

    /// @notice EIP-712 digest of a checkout offer, as the merchant signs it.
    /// @dev The domain binds the digest to this escrow and this chain: an offer cannot be replayed elsewhere.
    /// @param offer The offer's terms.
    /// @param items The offer's line items, committed as `itemsHash`.
    /// @return The digest to sign.
    function offerDigest(OrderTerms calldata offer, LineItem[] calldata items) external view returns (bytes32);

    /// @notice The InventoryToken whose stock orders reserve (created by this escrow's constructor).
    /// @return The InventoryToken's address.
    function inventory() external view returns (address);
}
