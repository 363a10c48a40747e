// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
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
import {IERC3009} from "./interfaces/IERC3009.sol";
import {InventoryToken} from "./InventoryToken.sol";

/// @title PaymentEscrow
/// @author orderchain
/// @notice Escrowed merchant orders with inventory reservation. See {IPaymentEscrow}.
/// @dev An order id is the EIP-712 struct hash of its fixed terms; the changing part is one packed slot per id.
/// Pausable is inherited last on purpose: its `_paused` flag then shares one storage slot with `_feeRecipient`
/// and `_feeBps`, so creating or paying an order reads pause state and fee in a single cold SLOAD.
contract PaymentEscrow is
    IPaymentEscrow,
    AccessControlDefaultAdminRules,
    ReentrancyGuardTransient,
    EIP712,
    ERC2771Context,
    Pausable
{
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
    /// @notice Time the arbiter, or the two sides by a settlement, have to end a dispute; after it anyone may
    /// apply the default outcome ({settleExpiredDispute}).
    uint256 public constant DISPUTE_PERIOD = 14 days;
    // The EIP-712 type strings cannot be shorter than 32 bytes; they are hashed once, at compile time.
    /* solhint-disable gas-small-strings */
    /// @notice EIP-712 type of an order's terms (and of a checkout offer); the items are signed as an array.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address merchant,address payee,address buyer,address token,uint256 amount,uint16 maxFeeBps,uint64 paymentDeadline,uint32 shipWithin,uint32 protectionPeriod,uint32 refundWindow,LineItem[] items,bytes32 salt)LineItem(uint256 skuId,uint256 quantity)"
    );
    /// @notice EIP-712 type of one line item.
    bytes32 public constant LINE_ITEM_TYPEHASH = keccak256("LineItem(uint256 skuId,uint256 quantity)");
    /* solhint-enable gas-small-strings */

    uint256 private constant _BPS = 10_000;
    /// @dev Largest order amount: `amount * feeBps` can then never overflow at settlement.
    /// It is also what the status slot's `refunded` field holds.
    uint256 private constant _MAX_AMOUNT = type(uint184).max;
    /// @dev Gas forwarded with a native payout: enough for a smart-contract wallet's receive hook, too little
    /// for a hostile receiver to starve the rest of a settlement (a refused payout is credited instead).
    uint256 private constant _NATIVE_PAYOUT_GAS = 50_000;
    /// @dev Operator approvals live at slot keccak256(merchant, operator, seed): one hash per lookup, where a
    /// nested mapping takes two, on every call an operator makes. The seed keeps them apart from other storage.
    // solhint-disable-next-line gas-small-strings
    bytes32 private constant _OPERATOR_APPROVAL_SEED = keccak256("orderchain.PaymentEscrow.operatorApproval");
    /// @dev The states {refund} accepts (Paid, Shipped, Disputed), as a bit set indexed by state.
    uint256 private constant _REFUNDABLE =
        (1 << uint8(OrderState.Paid)) | (1 << uint8(OrderState.Shipped)) | (1 << uint8(OrderState.Disputed));
    /// @dev The EIP-712 hash of an empty `LineItem[]`: keccak256 of no bytes.
    bytes32 private constant _NO_ITEMS = keccak256("");

    IInventoryToken private immutable _inventory;

    address private _feeRecipient;
    uint16 private _feeBps;
    mapping(address token => bool) private _allowedTokens;
    mapping(bytes32 orderId => OrderStatus) private _statuses;
    /// @dev The payer of an order open to any payer, written once by its payment. An order that names its buyer
    /// in the terms never writes it.
    mapping(bytes32 orderId => address payer) private _payers;
    mapping(bytes32 orderId => Proposal) private _proposals;
    mapping(address account => mapping(address token => uint256)) private _credited;
    /// @dev Where operator-created orders may pay a merchant besides the merchant itself; zero when none.
    mapping(address merchant => address payout) private _payoutAddresses;
    /// @dev Which merchants' returns a payee agreed to fund ({setReturnFunding}).
    mapping(address payee => mapping(address merchant => bool)) private _returnFunding;

    /// @notice Deploys the escrow and its InventoryToken.
    /// @dev Creates its InventoryToken, so the token knows its escrow as an immutable.
    /// @param admin The default admin; it moves only in two steps, the second after `adminDelay` seconds.
    /// @param adminDelay Seconds between starting and accepting a transfer of the admin role.
    /// @param arbiter The first holder of {ARBITER_ROLE}: a deployment always has someone who settles disputes.
    /// @param trustedForwarder The ERC-2771 forwarder for gasless calls.
    /// @param feeRecipient_ Receives the platform fee.
    /// @param feeBps_ The platform fee for new orders, at most {MAX_FEE_BPS}.
    constructor(
        address admin,
        uint48 adminDelay,
        address arbiter,
        address trustedForwarder,
        address feeRecipient_,
        uint16 feeBps_
    )
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("orderchain PaymentEscrow", "2")
        ERC2771Context(trustedForwarder)
    {
        if (arbiter == address(0) || feeRecipient_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        _grantRole(ARBITER_ROLE, arbiter);
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
        bytes32 slot = _operatorSlot(merchant, operator);
        assembly ("memory-safe") {
            sstore(slot, approved)
        }
        emit OperatorApprovalSet(merchant, operator, approved);
    }

    /// @inheritdoc IPaymentEscrow
    function setPayoutAddress(address payout) external {
        // Money paid to the escrow or the inventory would be owed to nobody and stay locked.
        if (payout == address(this) || payout == address(_inventory)) revert InvalidPayee(payout);
        address merchant = _msgSender();
        _payoutAddresses[merchant] = payout;
        emit PayoutAddressSet(merchant, payout == address(0) ? merchant : payout);
    }

    /// @inheritdoc IPaymentEscrow
    function setReturnFunding(address merchant, bool allowed) external {
        address payee = _msgSender();
        _returnFunding[payee][merchant] = allowed;
        emit ReturnFundingSet(payee, merchant, allowed);
    }

    /// @inheritdoc IPaymentEscrow
    function revokeOffer(OrderTerms calldata terms) external nonReentrant returns (bytes32 orderId) {
        address caller = _msgSender();
        _checkMerchantOrOperator(terms.merchant, caller);
        // Hashed through the ABI encoder, which rejects terms with dirty bits: a revocation must hit exactly the
        // id that creation would compute, never a look-alike that leaves the real offer takeable.
        orderId = keccak256(abi.encode(ORDER_TYPEHASH, terms));
        if (_statuses[orderId].state != OrderState.None) revert OrderAlreadyExists(orderId);
        _statuses[orderId].state = OrderState.Revoked;
        emit OfferRevoked(orderId, terms.merchant, caller);
    }

    // ================================================================ creation and payment

    /// @inheritdoc IPaymentEscrow
    function createOrder(
        OrderTerms calldata terms,
        LineItem[] calldata items
    ) external nonReentrant whenNotPaused returns (bytes32 orderId) {
        address caller = _msgSender();
        _checkMerchantOrOperator(terms.merchant, caller);
        if (caller != terms.merchant) _checkOperatorTerms(terms, caller);
        uint16 fee;
        (orderId, fee) = _newOrder(terms, items);
        _statuses[orderId] = OrderStatus({
            state: OrderState.Created,
            feeBps: fee,
            deadline: uint40(terms.paymentDeadline),
            refunded: 0
        });
    }

    /// @inheritdoc IPaymentEscrow
    function pay(OrderTerms calldata terms) external payable nonReentrant whenNotPaused {
        address payer = _msgSender();
        _pay(terms, payer);
        _collect(terms.token, payer, terms.amount);
    }

    /// @inheritdoc IPaymentEscrow
    function payWithPermit(OrderTerms calldata terms, Permit calldata permit) external nonReentrant whenNotPaused {
        if (terms.token == address(0)) revert PermitForNativeOrder(_orderId(terms));
        address payer = _msgSender();
        _usePermit(terms.token, payer, terms.amount, permit);
        _pay(terms, payer);
        _collect(terms.token, payer, terms.amount);
    }

    /// @inheritdoc IPaymentEscrow
    function payWithAuthorization(
        OrderTerms calldata terms,
        Authorization calldata auth
    ) external nonReentrant whenNotPaused {
        _receive(terms, _pay(terms, auth.from), auth);
    }

    /// @inheritdoc IPaymentEscrow
    function checkout(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature
    ) external payable nonReentrant whenNotPaused returns (bytes32 orderId) {
        address payer = _msgSender();
        orderId = _checkout(terms, items, signature, payer);
        _collect(terms.token, payer, terms.amount);
    }

    /// @inheritdoc IPaymentEscrow
    function checkoutWithPermit(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature,
        Permit calldata permit
    ) external nonReentrant whenNotPaused returns (bytes32 orderId) {
        if (terms.token == address(0)) revert PermitForNativeOrder(_orderId(terms));
        address payer = _msgSender();
        _usePermit(terms.token, payer, terms.amount, permit);
        orderId = _checkout(terms, items, signature, payer);
        _collect(terms.token, payer, terms.amount);
    }

    /// @inheritdoc IPaymentEscrow
    function checkoutWithAuthorization(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature,
        Authorization calldata auth
    ) external nonReentrant whenNotPaused returns (bytes32 orderId) {
        orderId = _checkout(terms, items, signature, auth.from);
        _receive(terms, orderId, auth);
    }

    // ================================================================ fulfilment and settlement

    /// @inheritdoc IPaymentEscrow
    function ship(OrderTerms calldata terms, bytes32 trackingHash) external nonReentrant {
        _checkMerchantOrOperator(terms.merchant, _msgSender());
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Paid);
        if (block.timestamp > s.deadline) revert ShipByPassed(orderId, s.deadline, block.timestamp);
        s.state = OrderState.Shipped;
        s.deadline = _deadlineAfter(terms.protectionPeriod);
        _statuses[orderId] = s;
        emit OrderShipped(orderId, terms.merchant, buyer, trackingHash, s.deadline);
    }

    /// @inheritdoc IPaymentEscrow
    function confirmReceipt(OrderTerms calldata terms, LineItem[] calldata items) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Shipped);
        address caller = _msgSender();
        if (caller != buyer) revert NotBuyer(orderId, caller);
        _complete(orderId, s, buyer, terms, items);
    }

    /// @inheritdoc IPaymentEscrow
    function autoRelease(OrderTerms calldata terms, LineItem[] calldata items) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Shipped);
        if (block.timestamp <= s.deadline) revert ProtectionPeriodActive(orderId, s.deadline, block.timestamp);
        _complete(orderId, s, buyer, terms, items);
    }

    /// @inheritdoc IPaymentEscrow
    function cancel(OrderTerms calldata terms, LineItem[] calldata items) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, ) = _load(terms, OrderState.Created);
        address caller = _msgSender();
        if (block.timestamp <= s.deadline && !_isMerchantOrOperator(terms.merchant, caller)) {
            revert PaymentDeadlineNotPassed(orderId, s.deadline, block.timestamp);
        }
        _statuses[orderId].state = OrderState.Cancelled;
        emit OrderCancelled(orderId, terms.merchant, terms.buyer, caller);
        _moveStock(terms, items, terms.merchant);
    }

    /// @inheritdoc IPaymentEscrow
    function cancelUnshipped(OrderTerms calldata terms, LineItem[] calldata items) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Paid);
        address caller = _msgSender();
        if (caller != buyer) revert NotBuyer(orderId, caller);
        if (block.timestamp <= s.deadline) revert ShipByNotPassed(orderId, s.deadline, block.timestamp);
        uint256 escrowed = _escrowed(terms.amount, s.refunded);
        _statuses[orderId].state = OrderState.Refunded;
        emit OrderRefunded(orderId, terms.merchant, buyer, escrowed, 0);
        _moveStock(terms, items, terms.merchant);
        _payout(terms.token, buyer, escrowed);
    }

    /// @inheritdoc IPaymentEscrow
    function refund(OrderTerms calldata terms, uint256 amount, LineItem[] calldata items) external nonReentrant {
        address caller = _msgSender();
        _checkMerchantOrOperator(terms.merchant, caller);
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.None);
        if ((1 << uint8(s.state)) & _REFUNDABLE == 0) {
            revert InvalidState(orderId, s.state);
        }
        uint256 escrowed = _escrowed(terms.amount, s.refunded);
        uint256 remaining;
        unchecked {
            // One comparison for both bounds: 0 < amount <= escrowed (amount - 1 wraps to the maximum for 0).
            if (amount - 1 >= escrowed) {
                if (amount == 0) revert ZeroAmount();
                revert RefundExceedsEscrow(orderId, amount, escrowed);
            }
            remaining = escrowed - amount;
        }
        if (remaining == 0) {
            // A full refund ends a dispute too: a pending settlement proposal goes with it.
            if (s.state == OrderState.Disputed && _proposals[orderId].by != Party.None) delete _proposals[orderId];
            s.state = OrderState.Refunded;
        } else {
            // The buyer keeps the goods for less than the price: stock authority, like creating the order.
            _checkItemAuthority(terms, caller);
            // Only the refunded total changes: the state, the deadline and every pending call stay valid.
            // Fits: refunded < amount <= type(uint184).max; cannot underflow: remaining < escrowed <= amount.
            unchecked {
                s.refunded = uint184(terms.amount - remaining);
            }
        }
        _statuses[orderId] = s;
        emit OrderRefunded(orderId, terms.merchant, buyer, amount, remaining);
        if (remaining == 0) _moveStock(terms, items, terms.merchant);
        _payout(terms.token, buyer, amount);
    }

    /// @inheritdoc IPaymentEscrow
    function refundCompleted(OrderTerms calldata terms, uint256 amount) external payable nonReentrant {
        _return(terms, amount, false);
    }

    // The permit is not named: `_return` reads it from calldata once the return is checked and booked.

    /// @inheritdoc IPaymentEscrow
    function refundCompletedWithPermit(
        OrderTerms calldata terms,
        uint256 amount,
        Permit calldata
    ) external nonReentrant {
        _return(terms, amount, true);
    }

    /// @inheritdoc IPaymentEscrow
    function dispute(OrderTerms calldata terms, bytes32 evidenceHash) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.None);
        address caller = _msgSender();
        if (caller != buyer) revert NotBuyer(orderId, caller);
        if (s.state == OrderState.Shipped) {
            if (block.timestamp > s.deadline) revert ProtectionPeriodOver(orderId, s.deadline, block.timestamp);
        } else if (s.state != OrderState.Paid) {
            revert InvalidState(orderId, s.state);
        }
        s.state = OrderState.Disputed;
        s.deadline = _deadlineAfter(DISPUTE_PERIOD);
        _statuses[orderId] = s;
        emit OrderDisputed(orderId, terms.merchant, buyer, evidenceHash, s.deadline);
    }

    /// @inheritdoc IPaymentEscrow
    function proposeSettlement(OrderTerms calldata terms, uint256 buyerTotal) external nonReentrant {
        (bytes32 orderId, , address buyer) = _load(terms, OrderState.Disputed);
        address caller = _msgSender();
        Party by;
        if (caller == buyer) {
            by = Party.Buyer;
        } else if (_isMerchantOrOperator(terms.merchant, caller)) {
            _checkItemAuthority(terms, caller);
            by = Party.Merchant;
        } else {
            revert NotCounterparty(orderId, caller);
        }
        if (buyerTotal > terms.amount) revert SplitExceedsAmount(orderId, buyerTotal, terms.amount);
        // Fits: buyerTotal <= amount <= type(uint184).max.
        _proposals[orderId] = Proposal({by: by, buyerTotal: uint248(buyerTotal)});
        emit SettlementProposed(orderId, by, buyerTotal);
    }

    /// @inheritdoc IPaymentEscrow
    function acceptSettlement(
        OrderTerms calldata terms,
        uint256 buyerTotal,
        LineItem[] calldata items
    ) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Disputed);
        Proposal memory p = _proposals[orderId];
        address caller = _msgSender();
        bool isCounterparty =
            p.by == Party.Buyer
                ? _isMerchantOrOperator(terms.merchant, caller)
                : (p.by == Party.Merchant && caller == buyer);
        if (!isCounterparty) revert NotCounterparty(orderId, caller);
        if (p.by == Party.Buyer) _checkItemAuthority(terms, caller);
        if (p.buyerTotal != buyerTotal) revert ProposalMismatch(orderId, p.buyerTotal, buyerTotal);
        delete _proposals[orderId];
        _split(orderId, s, buyer, terms, buyerTotal, items, Resolution.Settlement);
    }

    /// @inheritdoc IPaymentEscrow
    function resolveDispute(
        OrderTerms calldata terms,
        uint256 buyerTotal,
        LineItem[] calldata items
    ) external nonReentrant {
        address caller = _msgSender();
        if (!hasRole(ARBITER_ROLE, caller)) revert NotArbiter(caller);
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Disputed);
        if (_proposals[orderId].by != Party.None) delete _proposals[orderId];
        _split(orderId, s, buyer, terms, buyerTotal, items, Resolution.Arbiter);
    }

    /// @inheritdoc IPaymentEscrow
    function settleExpiredDispute(OrderTerms calldata terms, LineItem[] calldata items) external nonReentrant {
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Disputed);
        if (block.timestamp <= s.deadline) revert DisputePeriodActive(orderId, s.deadline, block.timestamp);
        if (_proposals[orderId].by != Party.None) delete _proposals[orderId];
        _split(orderId, s, buyer, terms, terms.amount, items, Resolution.Default);
    }

    /// @inheritdoc IPaymentEscrow
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        address account = _msgSender();
        // A token refuses a transfer by its own rules (an issuer's blocklist, a pause): its credit can only go to
        // the account itself, so the escrow never becomes a way around them.
        if (token != address(0) && to != account) revert CreditNotTransferable(account, to);
        uint256 amount = _credited[account][token];
        if (amount == 0) revert NothingToWithdraw(account, token);
        _credited[account][token] = 0;
        emit PayoutWithdrawn(account, token, to, amount);
        bool ok;
        if (token == address(0)) {
            // Assembly: the receiver's return data is not read, so it is not copied either.
            assembly ("memory-safe") {
                ok := call(gas(), to, amount, 0, 0, 0, 0)
            }
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
        return _isOperator(merchant, operator);
    }

    /// @inheritdoc IPaymentEscrow
    function payoutAddressOf(address merchant) external view returns (address) {
        address payout = _payoutAddresses[merchant];
        return payout == address(0) ? merchant : payout;
    }

    /// @inheritdoc IPaymentEscrow
    function fundsReturnsOf(address payee, address merchant) external view returns (bool) {
        return _fundsReturns(payee, merchant);
    }

    /// @inheritdoc IPaymentEscrow
    function orderIdOf(OrderTerms calldata terms) external pure returns (bytes32) {
        return _orderId(terms);
    }

    /// @inheritdoc IPaymentEscrow
    function statusOf(bytes32 orderId) external view returns (OrderStatus memory) {
        return _statuses[orderId];
    }

    /// @inheritdoc IPaymentEscrow
    function payerOf(bytes32 orderId) external view returns (address) {
        return _payers[orderId];
    }

    /// @inheritdoc IPaymentEscrow
    function proposalOf(bytes32 orderId) external view returns (Proposal memory) {
        return _proposals[orderId];
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
    function inventory() external view returns (address) {
        return address(_inventory);
    }

    // ================================================================ internal

    /// @dev Validates new terms against the items and the current fee, reserves the stock and emits
    /// {OrderCreated}. The caller writes the status slot (once, so a checkout writes it a single time).
    function _newOrder(
        OrderTerms calldata terms,
        LineItem[] calldata items
    ) private returns (bytes32 orderId, uint16 fee) {
        if (terms.merchant == address(0) || terms.payee == address(0)) revert ZeroAddress();
        // Money paid to the escrow or the inventory would be owed to nobody and stay locked.
        if (terms.payee == address(this) || terms.payee == address(_inventory)) revert InvalidPayee(terms.payee);
        if (terms.amount == 0) revert ZeroAmount();
        if (terms.amount > _MAX_AMOUNT) revert AmountTooLarge(terms.amount, _MAX_AMOUNT);
        // Payable up to and including the deadline second, like {pay}: an offer can be taken at that second too.
        if (terms.paymentDeadline < block.timestamp || terms.paymentDeadline > type(uint40).max) {
            revert InvalidDeadline(terms.paymentDeadline, block.timestamp);
        }
        if (!_allowedTokens[terms.token]) revert TokenNotAllowed(terms.token);
        fee = _feeBps;
        if (fee > terms.maxFeeBps) revert FeeAboveSignedMax(fee, terms.maxFeeBps);
        if (items.length > MAX_LINE_ITEMS) revert TooManyLineItems(items.length, MAX_LINE_ITEMS);
        bytes32 given = _hashItems(items);
        if (given != terms.itemsHash) revert LineItemsMismatch(terms.itemsHash, given);
        orderId = _orderId(terms);
        if (_statuses[orderId].state != OrderState.None) revert OrderAlreadyExists(orderId);
        emit OrderCreated(orderId, terms.merchant, terms.buyer, terms, fee, items);
        if (items.length != 0) {
            (uint256[] memory ids, uint256[] memory quantities) = _splitItems(items);
            _inventory.reserve(terms.merchant, ids, quantities);
        }
    }

    /// @dev Creates the order from a signed offer and marks it paid by `payer`; the caller then collects the money.
    function _checkout(
        OrderTerms calldata terms,
        LineItem[] calldata items,
        bytes calldata signature,
        address payer
    ) private returns (bytes32 orderId) {
        uint16 fee;
        (orderId, fee) = _newOrder(terms, items);
        if (terms.buyer != address(0) && terms.buyer != payer) revert NotBuyer(orderId, payer);
        // The merchant signs the EIP-712 digest of exactly these terms (the order id is their struct hash). An
        // EOA merchant's (or operator's) signature is recovered first; only another signer asks the merchant's
        // contract (ERC-1271), so an EOA merchant's checkout never pays for reading its code.
        bytes32 digest = _hashTypedDataV4(orderId);
        (address signer, ECDSA.RecoverError err) = _tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != terms.merchant) {
            if (err == ECDSA.RecoverError.NoError && _isOperator(terms.merchant, signer)) {
                _checkOperatorTerms(terms, signer);
            } else if (!SignatureChecker.isValidERC1271SignatureNow(terms.merchant, digest, signature)) {
                revert InvalidOfferSignature(orderId, signer);
            }
        }
        uint40 shipBy = _deadlineAfter(terms.shipWithin);
        _statuses[orderId] = OrderStatus({state: OrderState.Paid, feeBps: fee, deadline: shipBy, refunded: 0});
        if (terms.buyer == address(0)) _payers[orderId] = payer;
        emit OrderPaid(orderId, terms.merchant, payer, terms.amount, shipBy);
    }

    /// @dev Marks the created order with `terms` paid by `payer`; the caller then collects the money.
    function _pay(OrderTerms calldata terms, address payer) private returns (bytes32 orderId) {
        OrderStatus memory s;
        (orderId, s, ) = _load(terms, OrderState.Created);
        if (block.timestamp > s.deadline) revert PaymentDeadlinePassed(orderId, s.deadline, block.timestamp);
        if (terms.buyer == address(0)) {
            _payers[orderId] = payer;
        } else if (terms.buyer != payer) {
            revert NotBuyer(orderId, payer);
        }
        s.state = OrderState.Paid;
        s.deadline = _deadlineAfter(terms.shipWithin);
        _statuses[orderId] = s;
        emit OrderPaid(orderId, terms.merchant, payer, terms.amount, s.deadline);
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

    /// @dev Pulls the order's amount with the payer's ERC-3009 authorization, whose nonce must be the order's
    /// EIP-712 digest in this escrow's domain (the token checks the signature, the nonce and `to == address(this)`),
    /// and proves it arrived. The digest, not the bare id, so the same terms on another escrow or chain never
    /// share a payer's nonce.
    function _receive(OrderTerms calldata terms, bytes32 orderId, Authorization calldata auth) private {
        address token = terms.token;
        if (token == address(0)) revert PermitForNativeOrder(orderId);
        bytes32 nonce = _hashTypedDataV4(orderId);
        uint256 balanceBefore = IERC20(token).balanceOf(address(this));
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory reason) = token.call(
            abi.encodeCall(
                IERC3009.receiveWithAuthorization,
                (
                    auth.from,
                    address(this),
                    terms.amount,
                    auth.validAfter,
                    auth.validBefore,
                    nonce,
                    auth.v,
                    auth.r,
                    auth.s
                )
            )
        );
        if (!ok) {
            // A token without ERC-3009 has no such function and reverts with nothing (so does a call that ran out
            // of gas); the token's own error (an expired or used authorization, a wrong signature) is passed on
            // as it is: tokens are allowlisted by the admin.
            if (reason.length == 0) revert AuthorizationNotSupported(token);
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        uint256 received = IERC20(token).balanceOf(address(this)) - balanceBefore;
        if (received != terms.amount) revert TransferAmountMismatch(token, terms.amount, received);
    }

    /// @dev A permit may already have been submitted by someone who saw it in the mempool; that is harmless
    /// because the allowance it set is all the transfer needs, and any real shortfall makes the transfer revert.
    /// A low-level call, not `try`: a `try` on an address without code reverts with empty data before the terms
    /// are validated, where the checks that follow name the problem (TokenNotAllowed, OrderNotFound).
    function _usePermit(address token, address owner, uint256 amount, Permit calldata permit) private {
        bytes4 selector = IERC20Permit.permit.selector;
        // permit(owner, this, amount, deadline, v, r, s): the Permit struct is those last four words as they are
        // in calldata. Not decoded here: a malformed field makes the token's decoder refuse, which is as harmless
        // as any other failed permit. Nothing is copied back: the outcome is not read.
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 0x04), owner)
            mstore(add(p, 0x24), address())
            mstore(add(p, 0x44), amount)
            calldatacopy(add(p, 0x64), permit, 0x80)
            pop(call(gas(), token, 0, p, 0xe4, 0, 0))
        }
    }

    /// @dev A return of `amount` on a completed order, shared by {refundCompleted} and {refundCompletedWithPermit}:
    /// checks the payee's consent, the caller, the state, the refund window and the bounds, books it, then (only
    /// then) uses the payee's permit, collects the money from the payee and pays (or credits) the buyer.
    /// The payee must be the merchant or have agreed to fund the merchant's returns ({setReturnFunding}): an
    /// allowance or a permit to this escrow alone would let any merchant name the wallet as payee of its own order
    /// and pull the sale back, fee included. One rule for every return, native ones too.
    function _return(OrderTerms calldata terms, uint256 amount, bool withPermit) private {
        if (!_fundsReturns(terms.payee, terms.merchant)) {
            revert ReturnFundingNotAllowed(terms.payee, terms.merchant);
        }
        address caller = _msgSender();
        _checkMerchantOrOperator(terms.merchant, caller);
        (bytes32 orderId, OrderStatus memory s, address buyer) = _load(terms, OrderState.Completed);
        if (block.timestamp > s.deadline) revert RefundWindowClosed(orderId, s.deadline, block.timestamp);
        // What the buyer paid and has not got back: partial refunds before completion and earlier returns count.
        uint256 refundable = _escrowed(terms.amount, s.refunded);
        unchecked {
            // One comparison for both bounds: 0 < amount <= refundable (amount - 1 wraps to the maximum for 0).
            if (amount - 1 >= refundable) {
                if (amount == 0) revert ZeroAmount();
                revert RefundExceedsPaid(orderId, amount, refundable);
            }
            // Fits: refunded + amount <= terms.amount <= type(uint184).max.
            s.refunded += uint184(amount);
        }
        // Everything returned: the order ended by a full return. The deadline stays the end of the refund window.
        if (s.refunded == terms.amount) s.state = OrderState.Refunded;
        _statuses[orderId] = s;
        emit OrderReturned(orderId, terms.merchant, buyer, amount, s.refunded, caller);
        if (withPermit) {
            if (terms.token == address(0)) revert PermitForNativeOrder(orderId);
            // {refundCompletedWithPermit}'s third argument: after the selector (4 bytes), the terms (12 static
            // words) and the amount; its ABI decoder already checked the calldata is long enough.
            Permit calldata permit;
            assembly ("memory-safe") {
                permit := 0x1a4
            }
            _usePermit(terms.token, terms.payee, amount, permit);
        }
        // The payee funds it (the caller's value, for native currency); `_collect` proves the whole amount arrived.
        _collect(terms.token, terms.payee, amount);
        _payout(terms.token, buyer, amount);
    }

    function _complete(
        bytes32 orderId,
        OrderStatus memory s,
        address buyer,
        OrderTerms calldata terms,
        LineItem[] calldata items
    ) private {
        uint256 escrowed = _escrowed(terms.amount, s.refunded);
        uint256 fee;
        uint256 payeeAmount;
        // No overflow: escrowed <= type(uint184).max and feeBps < 2^16. fee <= escrowed as feeBps <= MAX_FEE_BPS
        // < _BPS, so escrowed - fee cannot underflow.
        unchecked {
            fee = (escrowed * s.feeBps) / _BPS;
            payeeAmount = escrowed - fee;
        }
        s.state = OrderState.Completed;
        s.deadline = _deadlineAfter(terms.refundWindow);
        _statuses[orderId] = s;
        emit OrderCompleted(orderId, terms.merchant, buyer, payeeAmount, fee);
        _moveStock(terms, items, buyer);
        _payout(terms.token, terms.payee, payeeAmount);
        _payout(terms.token, _feeRecipient, fee);
    }

    /// @dev Ends a dispute: the buyer's share of the whole order is `buyerTotal`, the rest of what is escrowed
    /// goes to the payee minus the fee. The goods follow the money: back to the merchant only when the payee gets
    /// nothing.
    function _split(
        bytes32 orderId,
        OrderStatus memory s,
        address buyer,
        OrderTerms calldata terms,
        uint256 buyerTotal,
        LineItem[] calldata items,
        Resolution resolution
    ) private {
        // `buyerTotal` is the buyer's share of the whole order: what partial refunds already returned counts
        // towards it, so a refund placed ahead of a ruling or an acceptance changes nobody's outcome.
        if (buyerTotal > terms.amount) revert SplitExceedsAmount(orderId, buyerTotal, terms.amount);
        uint256 buyerAmount;
        uint256 payeeShare;
        uint256 fee;
        // Cannot underflow: refunded <= buyerTotal when subtracted, buyerAmount <= amount - refunded, and
        // fee <= payeeShare. No overflow: payeeShare <= type(uint184).max and feeBps < 2^16.
        unchecked {
            buyerAmount = buyerTotal > s.refunded ? buyerTotal - s.refunded : 0;
            payeeShare = terms.amount - s.refunded - buyerAmount;
            fee = (payeeShare * s.feeBps) / _BPS;
        }
        _statuses[orderId].state = OrderState.Resolved;
        emit DisputeResolved(orderId, terms.merchant, buyer, buyerAmount, payeeShare - fee, fee, resolution);
        _moveStock(terms, items, payeeShare == 0 ? terms.merchant : buyer);
        _payout(terms.token, buyer, buyerAmount);
        _payout(terms.token, terms.payee, payeeShare - fee);
        _payout(terms.token, _feeRecipient, fee);
    }

    /// @dev Checks `items` against the terms' commitment and moves the reserved stock out of escrow to `to`.
    function _moveStock(OrderTerms calldata terms, LineItem[] calldata items, address to) private {
        bytes32 given = _hashItems(items);
        if (given != terms.itemsHash) revert LineItemsMismatch(terms.itemsHash, given);
        if (items.length == 0) return;
        (uint256[] memory ids, uint256[] memory quantities) = _splitItems(items);
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

    /// @dev The id, status and buyer of the order with `terms`, which must exist and, unless `expected` is None,
    /// be in state `expected`. The buyer is the terms' buyer, or the payer of an order open to any payer (zero
    /// until it is paid).
    function _load(
        OrderTerms calldata terms,
        OrderState expected
    ) private view returns (bytes32 orderId, OrderStatus memory s, address buyer) {
        orderId = _orderId(terms);
        s = _statuses[orderId];
        if (s.state == OrderState.None) revert OrderNotFound(orderId);
        if (expected != OrderState.None && s.state != expected) revert InvalidState(orderId, s.state);
        buyer = terms.buyer != address(0) ? terms.buyer : _payers[orderId];
    }

    /// @dev The EIP-712 struct hash of the terms, hashed straight from calldata. Safe without the ABI decoder's
    /// checks: an order only exists for terms that creation read field by field (dirty bits revert there), so
    /// terms with dirty bits hash to an id that was never created.
    function _orderId(OrderTerms calldata terms) private pure returns (bytes32) {
        bytes32 structHash;
        bytes32 typeHash = ORDER_TYPEHASH;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, typeHash)
            calldatacopy(add(p, 0x20), terms, 0x180)
            structHash := keccak256(p, 0x1a0)
        }
        return structHash;
    }

    /// @dev EIP-712 `encodeData` of a `LineItem[]`: keccak256 of the concatenated item struct hashes.
    function _hashItems(LineItem[] calldata items) private pure returns (bytes32 h) {
        uint256 n = items.length;
        if (n == 0) return _NO_ITEMS;
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            hashes[i] = keccak256(abi.encode(LINE_ITEM_TYPEHASH, items[i].skuId, items[i].quantity));
        }
        assembly ("memory-safe") {
            h := keccak256(add(hashes, 0x20), mul(n, 0x20))
        }
    }

    /// @dev ECDSA recovery of a 65-byte signature read straight from calldata, without copying it to memory.
    function _tryRecover(
        bytes32 digest,
        bytes calldata signature
    ) private pure returns (address signer, ECDSA.RecoverError err) {
        if (signature.length != 65) return (address(0), ECDSA.RecoverError.InvalidSignatureLength);
        (signer, err, ) = ECDSA.tryRecover(
            digest,
            uint8(signature[64]),
            bytes32(signature[0:32]),
            bytes32(signature[32:64])
        );
    }

    function _splitItems(LineItem[] calldata items) private pure returns (uint256[] memory ids, uint256[] memory qty) {
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

    /// @dev What an operator (not the merchant itself) may put in terms it creates or signs. The payee must be the
    /// merchant or the payout address the merchant registered ({setPayoutAddress}) as it is now: only the merchant
    /// decides where its money goes, so a stolen operator key cannot route sales to itself. An order with line
    /// items moves the merchant's stock (reserved now, delivered to its buyer later), so the operator also needs
    /// the merchant's stock authority: its ERC-1155 approval on the inventory; an escrow operator alone could
    /// otherwise sell all of a merchant's stock to itself for one wei.
    function _checkOperatorTerms(OrderTerms calldata terms, address operator) private view {
        // The registry is read only for another payee, so the common case (payee = merchant) costs no SLOAD. An
        // empty entry (zero) means none is registered: a zero payee is refused here too.
        if (
            terms.payee != terms.merchant &&
            (terms.payee == address(0) || terms.payee != _payoutAddresses[terms.merchant])
        ) {
            revert PayeeNotAuthorized(terms.merchant, terms.payee, operator);
        }
        _checkItemAuthority(terms, operator);
    }

    /// @dev An operator that lets a buyer keep an order's goods for less than its price (a partial refund, a
    /// settlement on the merchant's side) needs the merchant's stock authority, as for creating the order: with
    /// money authority alone it could otherwise hand the merchant's stock to a buyer it colludes with.
    function _checkItemAuthority(OrderTerms calldata terms, address caller) private view {
        if (
            caller != terms.merchant &&
            terms.itemsHash != _NO_ITEMS &&
            !IERC1155(address(_inventory)).isApprovedForAll(terms.merchant, caller)
        ) revert NotStockOperator(terms.merchant, caller);
    }

    /// @dev What the order still holds in escrow (after completion: what the buyer may still get back). Cannot
    /// underflow: `refunded` only grows, and stays below the amount while it is read (a refund or a return of
    /// everything left ends the order instead).
    function _escrowed(uint256 amount, uint184 refunded) private pure returns (uint256 escrowed) {
        unchecked {
            escrowed = amount - refunded;
        }
    }

    /// @dev `block.timestamp + period` as a uint40, capped at its largest value rather than wrapping.
    function _deadlineAfter(uint256 period) private view returns (uint40) {
        uint256 t;
        // Periods are at most uint32 seconds or DISPUTE_PERIOD: no overflow.
        unchecked {
            t = block.timestamp + period;
        }
        return t > type(uint40).max ? type(uint40).max : uint40(t);
    }

    /// @dev Whether `merchant` approved `operator` ({setOperatorApproval}).
    function _isOperator(address merchant, address operator) private view returns (bool approved) {
        bytes32 slot = _operatorSlot(merchant, operator);
        assembly ("memory-safe") {
            approved := sload(slot)
        }
    }

    /// @dev Callers pass addresses Solidity produced (ABI-decoded calldata, `_msgSender()`, `ecrecover`), whose
    /// upper 96 bits are clean.
    function _operatorSlot(address merchant, address operator) private pure returns (bytes32 slot) {
        bytes32 seed = _OPERATOR_APPROVAL_SEED;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, merchant)
            mstore(add(p, 0x20), operator)
            mstore(add(p, 0x40), seed)
            slot := keccak256(p, 0x60)
        }
    }

    /// @dev Whether returns of `merchant`'s orders may pull from `payee`.
    function _fundsReturns(address payee, address merchant) private view returns (bool) {
        return payee == merchant || _returnFunding[payee][merchant];
    }

    function _isMerchantOrOperator(address merchant, address caller) private view returns (bool) {
        return caller == merchant || _isOperator(merchant, caller);
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
