// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPaymentEscrow
/// @author orderchain
/// @notice Escrow for merchant orders: the buyer's payment is held until the goods are received (or the
/// buyer-protection period ends), then released to the order's payee minus the platform fee. Refunds,
/// cancellations and disputes return what is due to the buyer. Stock for an order's line items (ERC-1155 SKUs of
/// the InventoryToken) is reserved into escrow custody at creation and follows the money.
/// @dev An order is its fixed {OrderTerms}; its id is the EIP-712 struct hash of those terms (a merchant signs
/// its EIP-712 digest in this escrow's domain for a checkout offer), so an id names one merchant's one order and
/// nobody else can take it.
/// What changes (state, fee, deadline, amount refunded) lives in one packed {OrderStatus} slot keyed by the id;
/// the payer of an order open to any payer is written once, by its payment, to a second slot. Every call takes
/// the terms, never a snapshot of the changing part, so no party's transition can make another party's pending
/// call stale.
/// Line items are committed in the terms as the EIP-712 hash of the `LineItem[]` array; calls that move stock
/// take the items back.
interface IPaymentEscrow {
    /// @notice Lifecycle of an order. `None` means the id was never used; `Revoked` marks an offer its merchant
    /// withdrew before anyone took it.
    enum OrderState {
        None,
        Created,
        Paid,
        Shipped,
        Completed,
        Cancelled,
        Refunded,
        Disputed,
        Resolved,
        Revoked
    }

    /// @notice How a dispute ended.
    enum Resolution {
        Arbiter,
        Settlement,
        Default
    }

    /// @notice A side of an order, for settlement proposals.
    enum Party {
        None,
        Buyer,
        Merchant
    }

    /// @notice One line of an order: `quantity` units of the InventoryToken SKU `skuId`.
    struct LineItem {
        uint256 skuId;
        uint256 quantity;
    }

    /// @notice The fixed terms of an order, as the merchant (or its operator) creates them or signs them in a
    /// checkout offer. They never change; the order id is their EIP-712 struct hash ({orderIdOf}).
    /// @param merchant Supplies the stock and controls the order (with the operators it approved).
    /// @param payee Receives the merchant's share at settlement, and funds returns after completion
    /// ({refundCompleted}) if it is the merchant or agreed to fund that merchant's returns ({setReturnFunding}).
    /// An operator may only name the merchant or the merchant's registered payout address ({payoutAddressOf});
    /// the merchant itself may name any payee.
    /// @param buyer The only address allowed to pay, or `address(0)` for an order open to any payer.
    /// @param token An allowlisted ERC-20 token, or `address(0)` for native currency.
    /// @param amount Exact price.
    /// @param maxFeeBps The highest platform fee the merchant accepts; creation reverts if the fee is higher.
    /// @param paymentDeadline Unix time after which the order can no longer be paid (or an offer taken) and
    /// anyone may cancel it.
    /// @param shipWithin Seconds the merchant has to ship after payment; after that the buyer may cancel.
    /// @param protectionPeriod Seconds the buyer has after shipment to confirm or dispute; after that anyone
    /// may release the payment to the payee.
    /// @param refundWindow Seconds after completion during which the merchant (or its operator) may return
    /// money to the buyer with {refundCompleted}, funded by the payee; it sets the Completed status's deadline.
    /// @param itemsHash EIP-712 hash of the `LineItem[]` array (the sdk's `hashItems`); `keccak256("")` without
    /// items.
    /// @param salt Makes the terms unique: the relayer uses the hash of the merchant's address and its order
    /// reference.
    struct OrderTerms {
        address merchant;
        address payee;
        address buyer;
        address token;
        uint256 amount;
        uint16 maxFeeBps;
        uint64 paymentDeadline;
        uint32 shipWithin;
        uint32 protectionPeriod;
        uint32 refundWindow;
        bytes32 itemsHash;
        bytes32 salt;
    }

    /// @notice The changing part of an order, one storage slot.
    /// @param state The lifecycle state.
    /// @param feeBps The platform fee fixed at creation (at most the terms' `maxFeeBps`).
    /// @param deadline Meaning follows the state: Created = payment deadline, Paid = ship-by time,
    /// Shipped = end of the buyer-protection period, Disputed = time after which the default outcome applies,
    /// Completed = end of the refund window; unchanged afterwards.
    /// @param refunded Total returned to the buyer by partial refunds and, after completion, by returns
    /// ({refundCompleted}); the escrow holds `amount - refunded` while the order is paid, shipped or disputed.
    /// A full refund before completion ends the order without adding to it; a return of everything still
    /// unreturned brings it to `amount` (state Refunded).
    struct OrderStatus {
        OrderState state;
        uint16 feeBps;
        uint40 deadline;
        uint184 refunded;
    }

    /// @notice A pending settlement proposal in a dispute: the buyer's share of the whole order is `buyerTotal`
    /// (what partial refunds already returned counts towards it), the rest goes to the payee minus the fee. One
    /// storage slot.
    struct Proposal {
        Party by;
        uint248 buyerTotal;
    }

    /// @notice EIP-2612 permit parameters for paying in the same call.
    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice An ERC-3009 `receiveWithAuthorization` signed by the payer (USDC and EURC implement it). It moves
    /// exactly the order's amount from `from` to this escrow, and its nonce must be the order's EIP-712 digest in
    /// this escrow's domain (the digest a merchant signs for an offer of these terms; `offerDigest` in the sdk):
    /// the payer's signature is consent to exactly these terms on this escrow, so anyone (a relayer) may submit it,
    /// and it works once. Only ECDSA (v, r, s) signatures: a smart-contract wallet payer pays with a permit or an
    /// approval instead.
    struct Authorization {
        address from;
        uint256 validAfter;
        uint256 validBefore;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Emitted when an order is created (by its merchant or operator, or by a checkout) and its stock
    /// reserved. Carries everything the order's later calls need.
    /// @param orderId The new order's id, {orderIdOf}(`terms`).
    /// @param merchant The order's merchant.
    /// @param buyer The buyer named in the terms, `address(0)` for an order open to any payer.
    /// @param terms The order's fixed terms.
    /// @param feeBps The platform fee fixed for this order, in basis points.
    /// @param items The line items whose stock moved into escrow custody (empty for an order without items).
    event OrderCreated(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        OrderTerms terms,
        uint256 feeBps,
        LineItem[] items
    );
    /// @notice Emitted when `buyer` paid `amount` into escrow; the merchant must ship by `shipBy`.
    /// @param orderId The paid order.
    /// @param merchant The order's merchant.
    /// @param buyer Who paid; from now on the order's buyer.
    /// @param amount What was paid and is now escrowed.
    /// @param shipBy Unix time until which the merchant may ship; after it the buyer may cancel.
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
    /// @param releaseAfter Unix time after which anyone may release the escrow.
    event OrderShipped(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        bytes32 trackingHash,
        uint256 releaseAfter
    );
    /// @notice Emitted when escrow was released: `payeeAmount` to the payee, `fee` to the fee recipient.
    /// @param orderId The completed order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who now holds the line items' stock.
    /// @param payeeAmount Paid (or credited) to the terms' payee: the escrowed amount minus the fee.
    /// @param fee Paid (or credited) to the fee recipient.
    /// @dev Whether the buyer confirmed receipt or anyone released it after the protection period is the
    /// transaction's call ({confirmReceipt} or {autoRelease}); the event leaves it out to keep releases cheap.
    event OrderCompleted(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 payeeAmount,
        uint256 fee
    );
    /// @notice Emitted when an unpaid order was cancelled (by `by`) and its stock returned to the merchant.
    /// @param orderId The cancelled order.
    /// @param merchant The order's merchant, who got its stock back.
    /// @param buyer The buyer named in the terms, `address(0)` for an order that was open to any payer.
    /// @param by Who cancelled: the merchant, its operator, or anyone after the payment deadline.
    event OrderCancelled(bytes32 indexed orderId, address indexed merchant, address indexed buyer, address by);
    /// @notice Emitted when a merchant withdrew a signed offer (or terms) before anyone created the order.
    /// @param orderId The id the offer would have created; it can never be used now.
    /// @param merchant The merchant whose offer it was.
    /// @param by The merchant or the operator that revoked it.
    event OfferRevoked(bytes32 indexed orderId, address indexed merchant, address by);
    /// @notice Emitted for every refund; `remaining` stays escrowed (0 = full refund, state Refunded).
    /// @param orderId The refunded order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who receives (or is credited) `amount`.
    /// @param amount Returned to the buyer by this refund.
    /// @param remaining Still escrowed after this refund.
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
    /// @param defaultAfter Unix time after which anyone may apply the default outcome ({settleExpiredDispute}).
    event OrderDisputed(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        bytes32 evidenceHash,
        uint256 defaultAfter
    );
    /// @notice Emitted when one side of a dispute proposed a split; the other side may accept it.
    /// @param orderId The disputed order.
    /// @param by The side that proposed (replacing any earlier proposal).
    /// @param buyerTotal The buyer's share of the whole order proposed, partial refunds included.
    event SettlementProposed(bytes32 indexed orderId, Party by, uint256 buyerTotal);
    /// @notice Emitted when a dispute ended: by the arbiter, by an accepted settlement, or by the default.
    /// @param orderId The resolved order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer.
    /// @param buyerAmount Returned to the buyer by this resolution (its share minus earlier partial refunds).
    /// @param payeeAmount Paid to the payee: what was escrowed minus `buyerAmount` minus `fee`.
    /// @param fee Paid to the fee recipient, taken from the payee's share only.
    /// @param resolution Who ended the dispute.
    event DisputeResolved(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 buyerAmount,
        uint256 payeeAmount,
        uint256 fee,
        Resolution resolution
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
    /// @param account Whose payout was refused (buyer, payee or fee recipient).
    /// @param token The payout's token, `address(0)` for native currency.
    /// @param amount Added to the account's credit in `token`.
    event PayoutCredited(address indexed account, address indexed token, uint256 amount);
    /// @notice Emitted when an account withdrew its credited payouts.
    /// @param account Whose credit was withdrawn.
    /// @param token The credited token, `address(0)` for native currency.
    /// @param to Where the credit was sent.
    /// @param amount The whole credit, now zero.
    event PayoutWithdrawn(address indexed account, address indexed token, address to, uint256 amount);
    /// @notice Emitted when a merchant registered where operator-created orders may pay it.
    /// @param merchant The merchant that registered it (the caller, ERC-2771 sender included).
    /// @param payout The payout address now registered; the merchant itself when it reset the registry.
    event PayoutAddressSet(address indexed merchant, address indexed payout);
    /// @notice Emitted when a payee agreed (or stopped agreeing) to fund a merchant's returns ({setReturnFunding}).
    /// @param payee The wallet whose allowance returns may use (the caller, ERC-2771 sender included).
    /// @param merchant The merchant whose orders' returns it funds.
    /// @param allowed Whether returns of `merchant`'s orders may now pull from `payee`.
    event ReturnFundingSet(address indexed payee, address indexed merchant, bool allowed);
    /// @notice Emitted when money was returned to the buyer of a completed order, funded by its payee
    /// ({refundCompleted}).
    /// @param orderId The completed order.
    /// @param merchant The order's merchant.
    /// @param buyer The order's buyer, who receives (or is credited) `amount`.
    /// @param amount Returned by this call.
    /// @param totalReturned What the buyer got back in all: partial refunds before completion plus returns.
    /// @param by The merchant or the operator that made the return.
    event OrderReturned(
        bytes32 indexed orderId,
        address indexed merchant,
        address indexed buyer,
        uint256 amount,
        uint256 totalReturned,
        address by
    );
    /// @notice Emitted by {batch} for an item that failed while the others went through.
    /// @param index Position of the failed call in the batch.
    /// @param reason The call's revert data (a custom error of this contract, usually).
    event BatchItemFailed(uint256 indexed index, bytes reason);

    error OrderAlreadyExists(bytes32 orderId);
    error OrderNotFound(bytes32 orderId);
    error InvalidState(bytes32 orderId, OrderState current);
    error NotMerchantOrOperator(address merchant, address caller);
    /// @notice An operator created, signed the offer of, partially refunded or settled on the merchant's side an
    /// order with line items without the merchant's stock authority: its ERC-1155 approval on the inventory
    /// (`setApprovalForAll`).
    error NotStockOperator(address merchant, address operator);
    error NotBuyer(bytes32 orderId, address caller);
    error NotArbiter(address caller);
    /// @notice The caller is not the side of the dispute that may accept the pending proposal (or no proposal).
    error NotCounterparty(bytes32 orderId, address caller);
    error ZeroAddress();
    error ZeroAmount();
    /// @notice The amount is so large that fee arithmetic on it could overflow; no real token has such supply.
    error AmountTooLarge(uint256 amount, uint256 max);
    error TokenNotAllowed(address token);
    /// @notice The platform fee is above the `maxFeeBps` the merchant signed in the terms.
    error FeeAboveSignedMax(uint256 feeBps, uint256 maxFeeBps);
    error PaymentDeadlinePassed(bytes32 orderId, uint256 deadline, uint256 nowTs);
    error PaymentDeadlineNotPassed(bytes32 orderId, uint256 deadline, uint256 nowTs);
    error InvalidDeadline(uint256 deadline, uint256 nowTs);
    error ShipByPassed(bytes32 orderId, uint256 shipBy, uint256 nowTs);
    error ShipByNotPassed(bytes32 orderId, uint256 shipBy, uint256 nowTs);
    error ProtectionPeriodActive(bytes32 orderId, uint256 releaseAfter, uint256 nowTs);
    error ProtectionPeriodOver(bytes32 orderId, uint256 releaseAfter, uint256 nowTs);
    error DisputePeriodActive(bytes32 orderId, uint256 defaultAfter, uint256 nowTs);
    error WrongNativeAmount(uint256 expected, uint256 received);
    error UnexpectedNativeValue(uint256 value);
    /// @notice A permit or an ERC-3009 authorization was given for an order paid in the native currency.
    error PermitForNativeOrder(bytes32 orderId);
    /// @notice The order's token refused `receiveWithAuthorization` without a reason: it does not implement ERC-3009
    /// (or the call ran out of gas).
    error AuthorizationNotSupported(address token);
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    error RefundExceedsEscrow(bytes32 orderId, uint256 amount, uint256 escrowed);
    /// @notice A split gives the buyer more than the whole order.
    error SplitExceedsAmount(bytes32 orderId, uint256 buyerTotal, uint256 amount);
    /// @notice The payee is the escrow or its inventory, where the money would be owed to nobody.
    error InvalidPayee(address payee);
    /// @notice An operator created or signed terms whose payee is neither the merchant nor the merchant's
    /// registered payout address ({payoutAddressOf}): only the merchant chooses where its money goes.
    error PayeeNotAuthorized(address merchant, address payee, address operator);
    /// @notice A return names a payee that is not the merchant and did not agree to fund that merchant's returns
    /// ({setReturnFunding}): an allowance or a permit given to this escrow is not consent to fund any order that
    /// names the wallet as payee.
    error ReturnFundingNotAllowed(address payee, address merchant);
    /// @notice A return after completion was attempted after the refund window ended (or before completion).
    error RefundWindowClosed(bytes32 orderId, uint256 windowEnd, uint256 nowTs);
    /// @notice A return exceeds what the buyer paid and has not got back yet (`refundable`).
    error RefundExceedsPaid(bytes32 orderId, uint256 amount, uint256 refundable);
    /// @notice An ERC-20 credit can only be withdrawn to the credited account itself.
    error CreditNotTransferable(address account, address to);
    /// @notice The accepted split is not the one pending: the other side changed or withdrew it.
    error ProposalMismatch(bytes32 orderId, uint256 proposed, uint256 accepted);
    error TooManyLineItems(uint256 count, uint256 max);
    error ZeroQuantity(uint256 skuId);
    error LineItemsMismatch(bytes32 expectedHash, bytes32 givenHash);
    error InvalidOfferSignature(bytes32 orderId, address signer);
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error NothingToWithdraw(address account, address token);
    error WithdrawFailed(address account, address token, uint256 amount);
    error BatchCallFailed(uint256 index, bytes reason);

    // ---------------------------------------------------------------- merchants

    /// @notice Authorises (or de-authorises) `operator` to create and settle orders on behalf of the caller.
    /// @dev Orders with line items also need the operator's stock authority on the inventory.
    /// @param operator The address that may act for the caller; not zero.
    /// @param approved True to authorise, false to withdraw the authorisation.
    function setOperatorApproval(address operator, bool approved) external;

    /// @notice Whether `operator` may act for `merchant`.
    /// @param merchant The merchant.
    /// @param operator The address to check.
    /// @return True if `merchant` authorised `operator` with {setOperatorApproval}.
    function isOperatorApproved(address merchant, address operator) external view returns (bool);

    /// @notice Registers where orders that an operator creates (or signs offers of) for the caller may pay it:
    /// from now on an operator may name `payout` as payee besides the caller itself. Orders created earlier keep
    /// the payee in their terms.
    /// @dev The caller is the merchant (`_msgSender()`: a meta-transaction relayed through the trusted forwarder
    /// and signed by the merchant's key counts as the merchant). Operators cannot change it, so a stolen operator
    /// key still cannot route sales elsewhere. Works while paused.
    /// @param payout The payout address; `address(0)` resets it to the merchant itself. Not the escrow or its
    /// inventory ({InvalidPayee}).
    function setPayoutAddress(address payout) external;

    /// @notice Where operator-created orders of `merchant` may pay it besides the merchant itself.
    /// @param merchant The merchant.
    /// @return The registered payout address, or `merchant` when none is registered.
    function payoutAddressOf(address merchant) external view returns (address);

    /// @notice The caller, as a payee, agrees (or stops agreeing) to fund returns of `merchant`'s completed orders
    /// from its allowance or permit ({refundCompleted}). A payout wallet that is not the merchant calls it once
    /// for its merchant; a payee that never does cannot be pulled from, so another merchant cannot name it in an
    /// order and drain its allowance through returns.
    /// @dev Keyed by the caller (`_msgSender()`: a meta-transaction relayed through the trusted forwarder and
    /// signed by the payee's key counts as the payee, so a payout wallet needs no native currency for it). Works
    /// while paused. The consent trusts the merchant and every operator it approves: while the consent stands, an
    /// operator (or a stolen operator key) may return up to each order's refundable amount within its refund
    /// window, limited by the payee's allowance.
    /// @param merchant The merchant whose returns the caller funds.
    /// @param allowed True to agree, false to withdraw the agreement (returns already made stand).
    function setReturnFunding(address merchant, bool allowed) external;

    /// @notice Whether returns of `merchant`'s orders may pull from `payee` ({refundCompleted}).
    /// @param payee The order's payee.
    /// @param merchant The order's merchant.
    /// @return True if `payee` is `merchant` or agreed with {setReturnFunding}.
    function fundsReturnsOf(address payee, address merchant) external view returns (bool);

    /// @notice Withdraws a signed offer (or any terms) before an order exists for them: its id can never be
    /// used. Caller: the merchant or an operator. Works while paused.
    /// @param terms The offer's terms.
    /// @return orderId The revoked id.
    function revokeOffer(OrderTerms calldata terms) external returns (bytes32 orderId);

    // ---------------------------------------------------------------- creation and payment

    /// @notice Creates an unpaid order and reserves its line items' stock from the merchant.
    /// @dev Caller: the merchant or an operator it approved; with line items an operator also needs the
    /// merchant's approval on the inventory (`setApprovalForAll`), else NotStockOperator. Reverts while paused.
    /// @param terms The order's terms; the same terms can be used once.
    /// @param items Line items whose stock moves from the merchant into escrow custody (at most
    /// {MAX_LINE_ITEMS}; their hash must be `terms.itemsHash`). Every SKU must belong to `terms.merchant`.
    /// @return orderId The new order's id.
    function createOrder(OrderTerms calldata terms, LineItem[] calldata items) external returns (bytes32 orderId);

    /// @notice Pays an order in full. Native orders send exactly `terms.amount` as value; ERC-20 orders need a
    /// prior allowance. The caller becomes the buyer of an order open to any payer. Reverts while paused.
    /// @param terms The order's terms (state Created, payment deadline not passed).
    function pay(OrderTerms calldata terms) external payable;

    /// @notice Pays an ERC-20 order using an EIP-2612 permit signed by the caller, in the same transaction.
    /// @dev A permit already used (for example by someone who copied it from the mempool) is tolerated if the
    /// allowance suffices; otherwise the token transfer reverts.
    /// @param terms The order's terms (state Created, an ERC-20 token, payment deadline not passed).
    /// @param permit The caller's permit for the escrow, for at least `terms.amount`.
    function payWithPermit(OrderTerms calldata terms, Permit calldata permit) external;

    /// @notice Pays an ERC-20 order with the payer's ERC-3009 authorization (nonce: the order's digest). Anyone
    /// may submit it (the payer needs no gas); `auth.from` pays and becomes the buyer of an order open to any
    /// payer, and must be the buyer of an order that names one. Reverts while paused.
    /// @param terms The order's terms (state Created, an ERC-20 token with ERC-3009, payment deadline not passed).
    /// @param auth The payer's `receiveWithAuthorization` to this escrow for `terms.amount`, nonce = the digest.
    function payWithAuthorization(OrderTerms calldata terms, Authorization calldata auth) external;

    /// @notice Creates and pays an order in one transaction from an offer signed (EIP-712 typed data of the terms
    /// with the items as a list) by the merchant or one of its approved operators. The caller pays and becomes the buyer; an offer
    /// naming a buyer can only be taken by that buyer. An offer is usable once.
    /// @param terms The signed terms; `terms.paymentDeadline` is the offer's expiry.
    /// @param items The line items the offer commits to.
    /// @param signature EIP-712 signature of the terms by the merchant (EOA or ERC-1271 contract) or by an
    /// operator the merchant approved.
    /// @return orderId The new order's id.
    function checkout(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature
    ) external payable returns (bytes32 orderId);

    /// @notice {checkout} with an EIP-2612 permit for the payment in the same call.
    /// @param terms The signed terms; the token must be an ERC-20 with EIP-2612.
    /// @param items The line items the offer commits to.
    /// @param signature EIP-712 signature of the terms by the merchant or one of its approved operators.
    /// @param permit The caller's permit for the escrow, for at least `terms.amount`.
    /// @return orderId The new order's id.
    function checkoutWithPermit(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature,
        Permit calldata permit
    ) external returns (bytes32 orderId);

    /// @notice {checkout} paid with the payer's ERC-3009 authorization, whose nonce is the order's EIP-712 digest
    /// (the digest the merchant's offer signature covers). Anyone may submit it: `auth.from` pays and becomes the
    /// buyer (it must be the buyer an offer names). The payer signs once, for exactly these terms on this escrow,
    /// and needs no gas and no allowance.
    /// @param terms The signed terms; the token must be an ERC-20 with ERC-3009.
    /// @param items The line items the offer commits to.
    /// @param signature EIP-712 signature of the terms by the merchant or one of its approved operators.
    /// @param auth The payer's `receiveWithAuthorization` to this escrow for `terms.amount`, nonce = the digest.
    /// @return orderId The new order's id.
    function checkoutWithAuthorization(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature,
        Authorization calldata auth
    ) external returns (bytes32 orderId);

    // ---------------------------------------------------------------- fulfilment and settlement

    /// @notice Marks a paid order shipped and starts the buyer-protection period. Caller: merchant or operator,
    /// until the ship-by time (after it the buyer may cancel, and shipping could take that right away).
    /// @dev Works while paused.
    /// @param terms The order's terms (state Paid).
    /// @param trackingHash The merchant's shipment reference, emitted in {OrderShipped}.
    function ship(OrderTerms calldata terms, bytes32 trackingHash) external;

    /// @notice The buyer confirms receipt: the escrow is released to the payee (minus the fee) and the stock
    /// goes to the buyer.
    /// @param terms The order's terms (state Shipped); the caller must be its buyer.
    /// @param items The order's line items.
    function confirmReceipt(OrderTerms calldata terms, LineItem[] calldata items) external;

    /// @notice Anyone may release a shipped order once its protection period has ended.
    /// @param terms The order's terms (state Shipped, protection period over).
    /// @param items The order's line items; their stock goes to the buyer.
    function autoRelease(OrderTerms calldata terms, LineItem[] calldata items) external;

    /// @notice Cancels an unpaid order and returns its stock. Caller: merchant or operator at any time, anyone
    /// once the payment deadline has passed. Works while paused.
    /// @param terms The order's terms (state Created).
    /// @param items The order's line items; their stock returns to the merchant.
    function cancel(OrderTerms calldata terms, LineItem[] calldata items) external;

    /// @notice The buyer cancels a paid order the merchant did not ship in time and is refunded what is escrowed.
    /// @param terms The order's terms (state Paid, ship-by time passed); the caller must be its buyer.
    /// @param items The order's line items; their stock returns to the merchant.
    function cancelUnshipped(OrderTerms calldata terms, LineItem[] calldata items) external;

    /// @notice Refunds `amount` of the escrow to the buyer. Refunding everything ends the order (Refunded) and
    /// returns the stock (pass the items); less is a partial refund that lowers the payee's share and changes
    /// nothing else (the items are not needed). Caller: merchant or operator, in states Paid, Shipped or
    /// Disputed. Works while paused.
    /// @param terms The order's terms.
    /// @param amount Returned to the buyer; not zero, at most what is escrowed.
    /// @param items The order's line items for a full refund; ignored by a partial refund.
    function refund(OrderTerms calldata terms, uint256 amount, LineItem[] calldata items) external;

    /// @notice Returns `amount` to the buyer of a completed order within its refund window, funded by the
    /// order's payee (a return of goods after release). Caller: the merchant or an operator it approved; no
    /// stock authority is needed because no stock moves: the returned goods' stock is re-minted by the merchant
    /// (the relayer runs the merchant's own mint command). Returning everything not yet returned ends the order
    /// (Refunded); less keeps it Completed. Works while paused.
    /// @dev The payee must be the merchant or have agreed to fund the merchant's returns ({setReturnFunding}, else
    /// {ReturnFundingNotAllowed}, checked first; one rule for every return). ERC-20: `amount` is pulled from
    /// `terms.payee` (it needs this escrow's allowance; fee-on-transfer tokens are refused) and paid to the buyer,
    /// credited for {withdraw} if the token refuses it. Native: the caller sends exactly `amount` as value.
    /// Known bound: a stolen operator key can still make returns, each bounded by the refund window, the order's
    /// refundable amount and the payee's allowance; the money goes to the order's buyer only.
    /// @param terms The order's terms (state Completed, refund window not over).
    /// @param amount Returned to the buyer; not zero, at most `terms.amount` minus what partial refunds and
    /// earlier returns already gave back.
    function refundCompleted(OrderTerms calldata terms, uint256 amount) external payable;

    /// @notice {refundCompleted} with the payee's EIP-2612 permit for this escrow in the same call.
    /// @dev The caller, the order and the payee's consent ({setReturnFunding}) are checked before the permit is
    /// used: a permit binds spender and nonce, not an order, so it never stands in for the consent. A permit
    /// already used (for example by someone who copied it from the mempool) is tolerated if the allowance
    /// suffices; otherwise the token transfer reverts.
    /// @param terms The order's terms (state Completed, an ERC-20 token with EIP-2612, refund window not over).
    /// @param amount Returned to the buyer, as in {refundCompleted}.
    /// @param permit The payee's permit for this escrow as spender, for at least `amount`.
    function refundCompletedWithPermit(OrderTerms calldata terms, uint256 amount, Permit calldata permit) external;

    /// @notice The buyer opens a dispute on a paid order, or on a shipped one within its protection period. The
    /// dispute ends by the arbiter ({resolveDispute}), by a settlement the two sides agree on
    /// ({proposeSettlement}, {acceptSettlement}), by a full refund, or after {DISPUTE_PERIOD} by the default
    /// outcome ({settleExpiredDispute}).
    /// @param terms The order's terms; the caller must be its buyer.
    /// @param evidenceHash The buyer's reference to its evidence, emitted in {OrderDisputed}.
    function dispute(OrderTerms calldata terms, bytes32 evidenceHash) external;

    /// @notice One side of a dispute (the buyer, or the merchant or its operator) proposes a split, replacing
    /// any earlier proposal. The other side can accept it with {acceptSettlement}.
    /// @param terms The order's terms (state Disputed).
    /// @param buyerTotal The buyer's share of the whole order, at most `terms.amount`; what partial refunds
    /// already returned counts towards it, so a refund placed ahead changes no outcome.
    function proposeSettlement(OrderTerms calldata terms, uint256 buyerTotal) external;

    /// @notice The other side accepts the pending proposal: the buyer gets `buyerTotal` minus what partial refunds
    /// already returned, the rest goes to the payee minus the fee. Stock returns to the merchant when the payee
    /// gets nothing, else it goes to the buyer.
    /// @param terms The order's terms (state Disputed).
    /// @param buyerTotal The split being accepted; must equal the pending proposal (a changed proposal is never
    /// accepted by surprise).
    /// @param items The order's line items.
    function acceptSettlement(OrderTerms calldata terms, uint256 buyerTotal, LineItem[] calldata items) external;

    /// @notice The arbiter settles a dispute: the buyer gets `buyerTotal` minus what partial refunds already
    /// returned, the rest goes to the payee minus the fee. Stock returns to the merchant when the payee gets
    /// nothing, else it goes to the buyer.
    /// @dev Caller must hold the arbiter role. Works while paused, also after the dispute period if nobody
    /// applied the default yet.
    /// @param terms The order's terms (state Disputed).
    /// @param buyerTotal The buyer's share of the whole order, at most `terms.amount`, partial refunds included.
    /// @param items The order's line items.
    function resolveDispute(OrderTerms calldata terms, uint256 buyerTotal, LineItem[] calldata items) external;

    /// @notice Anyone applies the default outcome of a dispute nobody ended within {DISPUTE_PERIOD}: the buyer
    /// is refunded everything escrowed and the stock returns to the merchant, as if the merchant refunded.
    /// @dev The escrowed money is the buyer's until the merchant's claim to it is confirmed (by the buyer, by the
    /// protection period ending without a dispute, by a settlement or by the arbiter).
    /// @param terms The order's terms (state Disputed, dispute period over).
    /// @param items The order's line items.
    function settleExpiredDispute(OrderTerms calldata terms, LineItem[] calldata items) external;

    /// @notice Withdraws the caller's payouts in `token` that were credited because a push transfer failed.
    /// @dev Sends the whole credit with all remaining gas; reverts with {WithdrawFailed} (keeping the credit) if
    /// `to` refuses it. Works while paused. An ERC-20 credit goes only to the caller itself (a token refused the
    /// transfer by its own rules, which the escrow must not route around); a native credit may go elsewhere, for
    /// a contract that cannot receive it.
    /// @param token The credited token, `address(0)` for native currency.
    /// @param to Where to send the credit; not zero; the caller itself for an ERC-20 credit.
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

    /// @notice Sets the platform fee for orders created from now on (never above an order's signed
    /// `maxFeeBps`). Admin only; capped at 1,000 (10%).
    /// @param feeBps The fee in basis points, at most {MAX_FEE_BPS}.
    function setFeeBps(uint16 feeBps) external;

    /// @notice Sets who receives platform fees. Admin only.
    /// @dev Applies to every settlement from now on, including orders created before.
    /// @param feeRecipient The new recipient; not zero.
    function setFeeRecipient(address feeRecipient) external;

    /// @notice Stops order creation and payment. Settlement, refunds and disputes keep working. Pauser only.
    function pause() external;

    /// @notice Lifts {pause}. Pauser only.
    function unpause() external;

    // ---------------------------------------------------------------- views

    /// @notice The id of the order with `terms`: the EIP-712 struct hash (`hashStruct`) of the terms.
    /// @param terms The terms.
    /// @return The order id; a checkout offer's signature is over its EIP-712 digest in this escrow's domain.
    function orderIdOf(OrderTerms calldata terms) external pure returns (bytes32);

    /// @notice The changing part of an order (all zero for an id never used).
    /// @param orderId The order.
    /// @return The order's status slot.
    function statusOf(bytes32 orderId) external view returns (OrderStatus memory);

    /// @notice The payer of an order open to any payer (terms' buyer zero), once it is paid.
    /// @param orderId The order.
    /// @return The payer, now the order's buyer; zero for an unpaid order and for an order that names its buyer
    /// in its terms.
    function payerOf(bytes32 orderId) external view returns (address);

    /// @notice The pending settlement proposal of a disputed order (`by` None when there is none).
    /// @param orderId The order.
    /// @return The proposal.
    function proposalOf(bytes32 orderId) external view returns (Proposal memory);

    /// @notice The current platform fee in basis points, for new orders.
    /// @return The fee that {createOrder} and {checkout} fix in new orders.
    function feeBps() external view returns (uint16);

    /// @notice The fee recipient.
    /// @return The address that receives platform fees.
    function feeRecipient() external view returns (address);

    /// @notice Whether `token` is currently allowed for new orders.
    /// @param token The ERC-20 token, or `address(0)` for native currency.
    /// @return True if new orders may use `token`.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice Payouts credited to `account` in `token` after a failed push transfer.
    /// @param account The buyer, payee or fee recipient.
    /// @param token The token, `address(0)` for native currency.
    /// @return The amount {withdraw} would send.
    function credited(address account, address token) external view returns (uint256);

    /// @notice The InventoryToken whose stock orders reserve (created by this escrow's constructor).
    /// @return The InventoryToken's address.
    function inventory() external view returns (address);
}
