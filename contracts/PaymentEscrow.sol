// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IPaymentEscrow} from "./interfaces/IPaymentEscrow.sol";
import {IInventoryToken} from "./interfaces/IInventoryToken.sol";
import {InventoryToken} from "./InventoryToken.sol";

/// @title PaymentEscrow
/// @author orderchain
/// @notice Escrowed merchant orders with inventory reservation. See {IPaymentEscrow}.
/// @dev One storage slot per order (the hash of its record) keeps creation cheap; every function checks the
/// record it is given against that hash before anything else.
/// Pausable is inherited last on purpose: its `_paused` flag then shares one storage slot with `_feeRecipient`
/// and `_feeBps`, so creating or paying an order reads pause state and fee in a single cold SLOAD.
contract PaymentEscrow is IPaymentEscrow, AccessControl, ReentrancyGuardTransient, EIP712, ERC2771Context, Pausable {
    using SafeERC20 for IERC20;

    /// @notice Role that may call {batch}: the relayer's signing keys. Acting for a merchant still needs that
    /// merchant's {setOperatorApproval}.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Role that settles disputes with {resolveDispute}.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    /// @notice Role that may {pause} and {unpause} order creation and payment.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Hard cap of the platform fee: 10%.
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice Most line items one order may carry, so settling it always fits in a block.
    uint256 public constant MAX_LINE_ITEMS = 64;
    // The EIP-712 type string cannot be shorter than 32 bytes; it is hashed once, at compile time.
    /* solhint-disable gas-small-strings */
    /// @notice EIP-712 type of a checkout offer; `itemsHash` is `keccak256(abi.encode(items))`.
    bytes32 public constant OFFER_TYPEHASH = keccak256(
        "Offer(bytes32 orderId,address merchant,address buyer,address token,uint256 amount,uint64 paymentDeadline,uint32 shipWithin,uint32 protectionPeriod,bytes32 itemsHash)"
    );
    /* solhint-enable gas-small-strings */

    uint256 private constant _BPS = 10_000;
    /// @dev Gas forwarded with a native payout: enough for a smart-contract wallet's receive hook, too little
    /// for a hostile receiver to starve the rest of a settlement (a refused payout is credited instead).
    uint256 private constant _NATIVE_PAYOUT_GAS = 50_000;
    /// @dev keccak256(abi.encode(new LineItem[](0))): the commitment of an empty item list.
    bytes32 private constant _NO_ITEMS = 0x569e75fc77c1a856f6daaf9e69d8a9566ca34aa47f9133711ce065a571af0cfd;

    IInventoryToken private immutable _inventory;

    address private _feeRecipient;
    uint16 private _feeBps;
    mapping(address token => bool) private _allowedTokens;
    mapping(bytes32 orderId => bytes32 recordHash) private _orderHashes;
    mapping(address merchant => mapping(address operator => bool)) private _operatorApproved;
    mapping(address account => mapping(address token => uint256)) private _credited;

    modifier onlyMerchantOrOperator(address merchant) {
        _checkMerchantOrOperator(merchant, _msgSender());
        _;
    }

    /// @dev Creates its InventoryToken, so the token knows its escrow as an immutable.
    constructor(
        address admin,
        address trustedForwarder,
        address feeRecipient_,
        uint16 feeBps_
    ) EIP712("orderchain PaymentEscrow", "1") ERC2771Context(trustedForwarder) {
        if (admin == address(0) || feeRecipient_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _inventory = new InventoryToken(trustedForwarder);
        _feeRecipient = feeRecipient_;
        _feeBps = feeBps_;
        _allowedTokens[address(0)] = true;
        emit TokenAllowed(address(0), true);
        emit FeeRecipientUpdated(feeRecipient_);
        emit FeeUpdated(feeBps_);
    }

    // ================================================================ merchants

    /// @inheritdoc IPaymentEscrow
    function setOperatorApproval(address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        address merchant = _msgSender();
        _operatorApproved[merchant][operator] = approved;
        emit OperatorApprovalSet(merchant, operator, approved);
    }

    // ================================================================ creation and payment

    /// @inheritdoc IPaymentEscrow
    function createOrder(
        OrderTerms calldata terms,
        LineItem[] calldata items
    ) external nonReentrant whenNotPaused onlyMerchantOrOperator(terms.merchant) returns (Order memory order) {
        if (items.length != 0) _checkStockOperator(terms.merchant, _msgSender());
        order = _newOrder(terms, items);
        _orderHashes[terms.orderId] = _hash(order);
    }

    /// @inheritdoc IPaymentEscrow
    function pay(bytes32 orderId, Order calldata order) external payable nonReentrant whenNotPaused {
        _pay(orderId, order);
    }

    /// @inheritdoc IPaymentEscrow
    function payWithPermit(
        bytes32 orderId,
        Order calldata order,
        Permit calldata permit
    ) external nonReentrant whenNotPaused {
        if (order.token == address(0)) revert PermitForNativeOrder(orderId);
        _usePermit(order.token, order.amount, permit);
        _pay(orderId, order);
    }

    /// @inheritdoc IPaymentEscrow
    function checkout(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature
    ) external payable nonReentrant whenNotPaused returns (Order memory order) {
        return _checkout(offer, items, signature);
    }

    /// @inheritdoc IPaymentEscrow
    function checkoutWithPermit(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature,
        Permit calldata permit
    ) external nonReentrant whenNotPaused returns (Order memory order) {
        if (offer.token == address(0)) revert PermitForNativeOrder(offer.orderId);
        _usePermit(offer.token, offer.amount, permit);
        return _checkout(offer, items, signature);
    }

    // ================================================================ fulfilment and settlement

    /// @inheritdoc IPaymentEscrow
    function ship(
        bytes32 orderId,
        Order calldata order,
        bytes32 trackingHash
    ) external nonReentrant onlyMerchantOrOperator(order.merchant) {
        Order memory rec = _load(orderId, order, OrderState.Paid);
        rec.state = OrderState.Shipped;
        rec.deadline = uint64(block.timestamp + rec.protectionPeriod);
        _orderHashes[orderId] = _hash(rec);
        emit OrderShipped(orderId, rec.merchant, rec.buyer, trackingHash, rec.deadline);
    }

    /// @inheritdoc IPaymentEscrow
    function confirmReceipt(bytes32 orderId, Order calldata order, LineItem[] calldata items) external nonReentrant {
        Order memory rec = _load(orderId, order, OrderState.Shipped);
        if (_msgSender() != rec.buyer) revert NotBuyer(orderId, _msgSender());
        _complete(orderId, rec, items, false);
    }

    /// @inheritdoc IPaymentEscrow
    function autoRelease(bytes32 orderId, Order calldata order, LineItem[] calldata items) external nonReentrant {
        Order memory rec = _load(orderId, order, OrderState.Shipped);
        if (block.timestamp <= rec.deadline) revert ProtectionPeriodActive(orderId, rec.deadline, block.timestamp);
        _complete(orderId, rec, items, true);
    }

    /// @inheritdoc IPaymentEscrow
    function cancel(bytes32 orderId, Order calldata order, LineItem[] calldata items) external nonReentrant {
        Order memory rec = _load(orderId, order, OrderState.Created);
        address caller = _msgSender();
        if (block.timestamp <= rec.deadline && !_isMerchantOrOperator(rec.merchant, caller)) {
            revert PaymentDeadlineNotPassed(orderId, rec.deadline, block.timestamp);
        }
        rec.state = OrderState.Cancelled;
        _orderHashes[orderId] = _hash(rec);
        emit OrderCancelled(orderId, rec.merchant, rec.buyer, caller);
        _moveStock(orderId, rec.itemsHash, items, rec.merchant);
    }

    /// @inheritdoc IPaymentEscrow
    function cancelUnshipped(bytes32 orderId, Order calldata order, LineItem[] calldata items) external nonReentrant {
        Order memory rec = _load(orderId, order, OrderState.Paid);
        if (_msgSender() != rec.buyer) revert NotBuyer(orderId, _msgSender());
        if (block.timestamp <= rec.deadline) revert ShipByNotPassed(orderId, rec.deadline, block.timestamp);
        rec.state = OrderState.Refunded;
        _orderHashes[orderId] = _hash(rec);
        emit OrderRefunded(orderId, rec.merchant, rec.buyer, rec.amount, 0);
        _moveStock(orderId, rec.itemsHash, items, rec.merchant);
        _payout(rec.token, rec.buyer, rec.amount);
    }

    /// @inheritdoc IPaymentEscrow
    function refund(
        bytes32 orderId,
        Order calldata order,
        uint256 amount,
        LineItem[] calldata items
    ) external nonReentrant onlyMerchantOrOperator(order.merchant) {
        Order memory rec = _load(orderId, order, OrderState.None);
        OrderState state = rec.state;
        if (state != OrderState.Paid && state != OrderState.Shipped && state != OrderState.Disputed) {
            revert InvalidState(orderId, state);
        }
        if (amount == 0) revert ZeroAmount();
        if (amount > rec.amount) revert RefundExceedsEscrow(orderId, amount, rec.amount);
        // Cannot underflow: amount <= rec.amount was just checked.
        uint256 remaining = rec.amount - amount;
        if (remaining == 0) {
            rec.state = OrderState.Refunded;
        } else {
            rec.amount = remaining;
        }
        _orderHashes[orderId] = _hash(rec);
        emit OrderRefunded(orderId, rec.merchant, rec.buyer, amount, remaining);
        if (remaining == 0) _moveStock(orderId, rec.itemsHash, items, rec.merchant);
        _payout(rec.token, rec.buyer, amount);
    }

    /// @inheritdoc IPaymentEscrow
    function dispute(bytes32 orderId, Order calldata order, bytes32 evidenceHash) external nonReentrant {
        Order memory rec = _load(orderId, order, OrderState.None);
        if (_msgSender() != rec.buyer) revert NotBuyer(orderId, _msgSender());
        if (rec.state == OrderState.Shipped) {
            if (block.timestamp > rec.deadline) revert ProtectionPeriodOver(orderId, rec.deadline, block.timestamp);
        } else if (rec.state != OrderState.Paid) {
            revert InvalidState(orderId, rec.state);
        }
        rec.state = OrderState.Disputed;
        _orderHashes[orderId] = _hash(rec);
        emit OrderDisputed(orderId, rec.merchant, rec.buyer, evidenceHash);
    }

    /// @inheritdoc IPaymentEscrow
    function resolveDispute(
        bytes32 orderId,
        Order calldata order,
        uint256 buyerAmount,
        LineItem[] calldata items
    ) external nonReentrant {
        if (!hasRole(ARBITER_ROLE, _msgSender())) revert NotArbiter(_msgSender());
        Order memory rec = _load(orderId, order, OrderState.Disputed);
        if (buyerAmount > rec.amount) revert SplitExceedsEscrow(orderId, buyerAmount, rec.amount);
        // Cannot underflow: buyerAmount <= rec.amount was just checked, and fee <= merchantShare.
        uint256 merchantShare = rec.amount - buyerAmount;
        uint256 fee = (merchantShare * rec.feeBps) / _BPS;
        rec.state = OrderState.Resolved;
        _orderHashes[orderId] = _hash(rec);
        emit DisputeResolved(orderId, rec.merchant, rec.buyer, buyerAmount, merchantShare - fee, fee);
        // The goods follow the money: back to the merchant only when the buyer got everything back.
        _moveStock(orderId, rec.itemsHash, items, merchantShare == 0 ? rec.merchant : rec.buyer);
        _payout(rec.token, rec.buyer, buyerAmount);
        _payout(rec.token, rec.merchant, merchantShare - fee);
        _payout(rec.token, _feeRecipient, fee);
    }

    /// @inheritdoc IPaymentEscrow
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        address account = _msgSender();
        uint256 amount = _credited[account][token];
        if (amount == 0) revert NothingToWithdraw(account, token);
        _credited[account][token] = 0;
        emit PayoutWithdrawn(account, token, to, amount);
        bool ok;
        if (token == address(0)) {
            // solhint-disable-next-line avoid-low-level-calls
            (ok, ) = to.call{value: amount}("");
        } else {
            ok = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!ok) revert WithdrawFailed(account, token, amount);
    }

    // ================================================================ batching

    /// @inheritdoc IPaymentEscrow
    function batch(bytes[] calldata calls, bool atomic) external onlyRole(OPERATOR_ROLE) returns (bool[] memory ok) {
        // Each call runs by delegatecall on this contract, so it sees the batch's sender. When the batch came
        // through the trusted forwarder, the sender suffix (ERC-2771 context) is appended to every call, or
        // `_msgSender()` inside it would read the call's own last 20 bytes.
        bytes calldata context = msg.data[_msgData().length:];
        ok = new bool[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool success, bytes memory result) = address(this).delegatecall(bytes.concat(calls[i], context));
            if (!success) {
                if (atomic) revert BatchCallFailed(i, result);
                emit BatchItemFailed(i, result);
            }
            ok[i] = success;
        }
    }

    // ================================================================ administration

    /// @inheritdoc IPaymentEscrow
    function setTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (allowed && token != address(0) && token.code.length == 0) revert TokenNotAllowed(token);
        _allowedTokens[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @inheritdoc IPaymentEscrow
    function setFeeBps(uint16 feeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        _feeBps = feeBps_;
        emit FeeUpdated(feeBps_);
    }

    /// @inheritdoc IPaymentEscrow
    function setFeeRecipient(address feeRecipient_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeRecipient_ == address(0)) revert ZeroAddress();
        _feeRecipient = feeRecipient_;
        emit FeeRecipientUpdated(feeRecipient_);
    }

    /// @inheritdoc IPaymentEscrow
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IPaymentEscrow
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ================================================================ views

    /// @inheritdoc IPaymentEscrow
    function isOperatorApproved(address merchant, address operator) external view returns (bool) {
        return _operatorApproved[merchant][operator];
    }

    /// @inheritdoc IPaymentEscrow
    function orderHash(bytes32 orderId) external view returns (bytes32) {
        return _orderHashes[orderId];
    }

    /// @inheritdoc IPaymentEscrow
    function isCurrent(bytes32 orderId, Order calldata order) external view returns (bool) {
        bytes32 stored = _orderHashes[orderId];
        return stored != bytes32(0) && stored == keccak256(abi.encode(order));
    }

    /// @inheritdoc IPaymentEscrow
    function hashOrder(Order calldata order) external pure returns (bytes32) {
        return keccak256(abi.encode(order));
    }

    /// @inheritdoc IPaymentEscrow
    function hashItems(LineItem[] calldata items) external pure returns (bytes32) {
        return _hashItems(items);
    }

    /// @inheritdoc IPaymentEscrow
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IPaymentEscrow
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IPaymentEscrow
    function isTokenAllowed(address token) external view returns (bool) {
        return _allowedTokens[token];
    }

    /// @inheritdoc IPaymentEscrow
    function credited(address account, address token) external view returns (uint256) {
        return _credited[account][token];
    }

    /// @inheritdoc IPaymentEscrow
    function offerDigest(OrderTerms calldata offer, LineItem[] calldata items) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(OFFER_TYPEHASH, offer, _hashItems(items))));
    }

    /// @inheritdoc IPaymentEscrow
    function inventory() external view returns (address) {
        return address(_inventory);
    }

    // ================================================================ internal

    /// @dev Validates new terms, reserves the stock and emits {OrderCreated}. The caller stores the record (once,
    /// after adjusting it, so a checkout writes its slot a single time).
    function _newOrder(OrderTerms calldata terms, LineItem[] calldata items) private returns (Order memory order) {
        bytes32 orderId = terms.orderId;
        if (orderId == bytes32(0)) revert ZeroOrderId();
        if (terms.merchant == address(0)) revert ZeroAddress();
        if (_orderHashes[orderId] != bytes32(0)) revert OrderAlreadyExists(orderId);
        if (terms.amount == 0) revert ZeroAmount();
        if (terms.paymentDeadline <= block.timestamp) revert InvalidDeadline(terms.paymentDeadline, block.timestamp);
        if (!_allowedTokens[terms.token]) revert TokenNotAllowed(terms.token);
        if (items.length > MAX_LINE_ITEMS) revert TooManyLineItems(items.length, MAX_LINE_ITEMS);

        order = Order({
            merchant: terms.merchant,
            buyer: terms.buyer,
            token: terms.token,
            amount: terms.amount,
            feeBps: _feeBps,
            state: OrderState.Created,
            deadline: terms.paymentDeadline,
            shipWithin: terms.shipWithin,
            protectionPeriod: terms.protectionPeriod,
            itemsHash: items.length == 0 ? bytes32(0) : _hashItems(items)
        });
        _emitCreated(orderId, order, items);
        if (items.length != 0) {
            (uint256[] memory ids, uint256[] memory quantities) = _split(items);
            _inventory.reserve(terms.merchant, ids, quantities);
        }
    }

    function _emitCreated(bytes32 orderId, Order memory order, LineItem[] calldata items) private {
        emit OrderCreated(
            orderId,
            order.merchant,
            order.buyer,
            order.token,
            order.amount,
            order.feeBps,
            order.deadline,
            order.shipWithin,
            order.protectionPeriod,
            items
        );
    }

    function _checkout(
        OrderTerms calldata offer,
        LineItem[] calldata items,
        bytes calldata signature
    ) private returns (Order memory order) {
        address payer = _msgSender();
        if (offer.buyer != address(0) && offer.buyer != payer) revert NotBuyer(offer.orderId, payer);
        bytes32 digest = offerDigest(offer, items);
        if (!SignatureChecker.isValidSignatureNow(offer.merchant, digest, signature)) {
            (address signer, , ) = ECDSA.tryRecover(digest, signature);
            if (signer == address(0) || !_operatorApproved[offer.merchant][signer]) {
                revert InvalidOfferSignature(offer.orderId, signer);
            }
            if (items.length != 0) _checkStockOperator(offer.merchant, signer);
        }
        order = _newOrder(offer, items);
        order.buyer = payer;
        order.state = OrderState.Paid;
        order.deadline = uint64(block.timestamp + offer.shipWithin);
        _orderHashes[offer.orderId] = _hash(order);
        emit OrderPaid(offer.orderId, offer.merchant, payer, offer.amount, order.deadline);
        _collect(offer.token, payer, offer.amount);
    }

    function _pay(bytes32 orderId, Order calldata order) private {
        Order memory rec = _load(orderId, order, OrderState.Created);
        if (block.timestamp > rec.deadline) revert PaymentDeadlinePassed(orderId, rec.deadline, block.timestamp);
        address payer = _msgSender();
        if (rec.buyer != address(0) && rec.buyer != payer) revert NotBuyer(orderId, payer);
        rec.buyer = payer;
        rec.state = OrderState.Paid;
        rec.deadline = uint64(block.timestamp + rec.shipWithin);
        _orderHashes[orderId] = _hash(rec);
        emit OrderPaid(orderId, rec.merchant, payer, rec.amount, rec.deadline);
        _collect(rec.token, payer, rec.amount);
    }

    /// @dev Pulls exactly `amount` into escrow and proves it arrived, refusing fee-on-transfer tokens.
    function _collect(address token, address payer, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongNativeAmount(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert UnexpectedNativeValue(msg.value);
        uint256 balanceBefore = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(payer, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert TransferAmountMismatch(token, amount, received);
    }

    /// @dev A permit may already have been submitted by someone who saw it in the mempool; that is harmless
    /// because the allowance it set is all the transfer needs, and any real shortfall makes the transfer revert.
    function _usePermit(address token, uint256 amount, Permit calldata permit) private {
        try
            IERC20Permit(token).permit(
                _msgSender(),
                address(this),
                amount,
                permit.deadline,
                permit.v,
                permit.r,
                permit.s
            )
        {} catch {} // solhint-disable-line no-empty-blocks
    }

    function _complete(bytes32 orderId, Order memory rec, LineItem[] calldata items, bool autoReleased) private {
        // fee <= amount as feeBps <= MAX_FEE_BPS < _BPS, so amount - fee cannot underflow.
        uint256 fee = (rec.amount * rec.feeBps) / _BPS;
        rec.state = OrderState.Completed;
        _orderHashes[orderId] = _hash(rec);
        emit OrderCompleted(orderId, rec.merchant, rec.buyer, rec.amount - fee, fee, autoReleased);
        _moveStock(orderId, rec.itemsHash, items, rec.buyer);
        _payout(rec.token, rec.merchant, rec.amount - fee);
        _payout(rec.token, _feeRecipient, fee);
    }

    /// @dev Checks `items` against the order's commitment and moves the reserved stock out of escrow to `to`.
    function _moveStock(bytes32 orderId, bytes32 itemsHash, LineItem[] calldata items, address to) private {
        if (itemsHash == bytes32(0)) {
            if (items.length != 0) revert LineItemsMismatch(orderId, _NO_ITEMS, _hashItems(items));
            return;
        }
        bytes32 given = _hashItems(items);
        if (given != itemsHash) revert LineItemsMismatch(orderId, itemsHash, given);
        (uint256[] memory ids, uint256[] memory quantities) = _split(items);
        _inventory.release(to, ids, quantities);
    }

    /// @dev Pushes a payout; if the receiver refuses it (a reverting contract, a blocklisted address), the
    /// amount is credited for {withdraw}, so one party can never block the settlement of the others.
    function _payout(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (token == address(0)) {
            // Assembly so that a hostile receiver cannot make this contract copy a huge return buffer.
            assembly ("memory-safe") {
                ok := call(_NATIVE_PAYOUT_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!ok) {
            _credited[to][token] += amount;
            emit PayoutCredited(to, token, amount);
        }
    }

    /// @dev Copies `order` to memory and returns it if it is the current record of `orderId` and, unless
    /// `expected` is None, in state `expected`.
    function _load(bytes32 orderId, Order calldata order, OrderState expected) private view returns (Order memory rec) {
        bytes32 stored = _orderHashes[orderId];
        if (stored == bytes32(0)) revert OrderNotFound(orderId);
        rec = order;
        bytes32 given = _hash(rec);
        if (given != stored) revert StaleOrderRecord(orderId, stored, given);
        if (expected != OrderState.None && rec.state != expected) revert InvalidState(orderId, rec.state);
    }

    /// @dev Equals `keccak256(abi.encode(order))`: every field of `Order` is a static type that memory holds as
    /// one clean 32-byte word, in declaration order, exactly as the ABI encodes it; hashing the struct's ten
    /// words in place saves re-encoding a copy on every transition.
    function _hash(Order memory order) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(order, 320)
        }
    }

    function _hashItems(LineItem[] calldata items) private pure returns (bytes32) {
        return keccak256(abi.encode(items));
    }

    function _split(LineItem[] calldata items) private pure returns (uint256[] memory ids, uint256[] memory qty) {
        ids = new uint256[](items.length);
        qty = new uint256[](items.length);
        for (uint256 i = 0; i < items.length; ++i) {
            if (items[i].quantity == 0) revert ZeroQuantity(items[i].skuId);
            ids[i] = items[i].skuId;
            qty[i] = items[i].quantity;
        }
    }

    function _checkMerchantOrOperator(address merchant, address caller) private view {
        if (!_isMerchantOrOperator(merchant, caller)) revert NotMerchantOrOperator(merchant, caller);
    }

    /// @dev An order with line items moves the merchant's stock (reserved now, delivered to its buyer later), so
    /// an operator needs the merchant's stock authority too: its ERC-1155 approval on the inventory. An escrow
    /// operator alone could otherwise sell all of a merchant's stock to itself for one wei.
    function _checkStockOperator(address merchant, address operator) private view {
        if (operator != merchant && !IERC1155(address(_inventory)).isApprovedForAll(merchant, operator)) {
            revert NotStockOperator(merchant, operator);
        }
    }

    function _isMerchantOrOperator(address merchant, address caller) private view returns (bool) {
        return caller == merchant || _operatorApproved[merchant][caller];
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
