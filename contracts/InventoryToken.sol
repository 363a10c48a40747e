// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155URIStorage} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155URIStorage.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IInventoryToken} from "./interfaces/IInventoryToken.sol";

/// @title InventoryToken
/// @author orderchain
/// @notice ERC-1155 stock of merchants' SKUs. See {IInventoryToken}.
/// @dev Created by the PaymentEscrow in its constructor, which makes the escrow an immutable: moving reserved
/// stock needs no role lookup, and no deployment can forget to wire it.
contract InventoryToken is IInventoryToken, ERC1155URIStorage, ERC2771Context {
    /// @dev The low 96 bits of a SKU id count the merchant's SKUs; the high 160 bits are the merchant.
    uint256 private constant _COUNTER_BITS = 96;
    /// @dev Gas a delivery to a contract may use: the batch transfer (about 29k per SKU measured with cold
    /// balances and a new slot for the receiver; 40k leaves room) plus the receiver's hook, bounded so a receiver
    /// that burns gas cannot take the settlement's gas. Figures for Ethereum's gas schedule.
    uint256 private constant _DELIVERY_BASE_GAS = 60_000;
    uint256 private constant _DELIVERY_GAS_PER_SKU = 40_000;
    uint256 private constant _RECEIVER_HOOK_GAS = 100_000;
    /// @dev Gas the held path needs after a refused delivery: two new slots per SKU (the owner's and the
    /// total's, about 44k measured) and the event; plus a margin for the caller's remaining work in {release}.
    uint256 private constant _HOLD_GAS_PER_SKU = 50_000;
    uint256 private constant _HOLD_BASE_GAS = 30_000;

    address private immutable _escrow;

    mapping(address merchant => uint96 count) private _skuCounts;
    /// @dev Supply per SKU only. There is deliberately no total over all SKUs: one merchant's minting, however
    /// large, must never make another merchant's mint overflow.
    mapping(uint256 skuId => uint256 supply) private _supplies;
    /// @dev Stock released to a contract that did not accept it; kept in escrow custody until its owner claims it.
    mapping(address owner => mapping(uint256 skuId => uint256 amount)) private _held;
    /// @dev Per SKU, the sum of `_held` over owners: the part of the escrow's balance no open order reserves.
    mapping(uint256 skuId => uint256 amount) private _heldTotals;

    modifier onlyEscrow() {
        if (msg.sender != _escrow) revert NotEscrow(msg.sender);
        _;
    }

    /// @notice Called by the PaymentEscrow's constructor, which becomes this token's escrow.
    /// @param trustedForwarder The ERC-2771 forwarder through which merchants act without gas.
    constructor(address trustedForwarder) ERC1155("") ERC2771Context(trustedForwarder) {
        _escrow = msg.sender;
    }

    /// @inheritdoc IInventoryToken
    function createSku(address merchant, string calldata skuUri) external returns (uint256 id) {
        if (merchant == address(0)) revert ZeroAddress();
        _checkMerchantOrOperator(merchant);
        if (bytes(skuUri).length == 0) revert EmptyUri();
        uint96 n = ++_skuCounts[merchant];
        id = _skuId(merchant, n);
        _setURI(id, skuUri);
        emit SkuCreated(id, merchant, skuUri);
    }

    /// @inheritdoc IInventoryToken
    function setSkuUri(uint256 id, string calldata skuUri) external {
        _checkMerchantOrOperator(_merchantOfExisting(id));
        if (bytes(skuUri).length == 0) revert EmptyUri();
        _setURI(id, skuUri);
        emit SkuUriUpdated(id, skuUri);
    }

    /// @inheritdoc IInventoryToken
    function mintStock(uint256[] calldata ids, uint256[] calldata amounts) external {
        address merchant = _commonMerchant(ids, amounts);
        _checkMerchantOrOperator(merchant);
        // Stock lands in the merchant's own account: no receiver hook, the merchant created the SKU.
        _update(address(0), merchant, ids, amounts);
    }

    /// @inheritdoc IInventoryToken
    function burnStock(uint256[] calldata ids, uint256[] calldata amounts) external {
        address merchant = _commonMerchant(ids, amounts);
        _checkMerchantOrOperator(merchant);
        _update(merchant, address(0), ids, amounts);
    }

    /// @inheritdoc IInventoryToken
    function reserve(address merchant, uint256[] calldata ids, uint256[] calldata amounts) external onlyEscrow {
        for (uint256 i = 0; i < ids.length; ++i) {
            if (_merchantBits(ids[i]) != merchant) revert NotSkuMerchant(ids[i], merchant);
        }
        _update(merchant, _escrow, ids, amounts);
    }

    /// @inheritdoc IInventoryToken
    function release(address to, uint256[] calldata ids, uint256[] calldata amounts) external onlyEscrow {
        // Stock going back to its merchant (all SKUs of an order are its merchant's, as {reserve} checked) returns
        // to the account it was reserved from, like a mint, with no hook: a merchant contract without ERC-1155
        // receiver support must still get its stock back to sell it again.
        // The merchant is compared first: a return to it then never pays for reading its account's code.
        if (to == _merchantBits(ids[0]) || to.code.length == 0) {
            _update(_escrow, to, ids, amounts);
            return;
        }
        // A contract receives stock only if it accepts it (ERC-1155's receiver check). One that refuses, reverts
        // or burns its gas cannot block the settlement: the stock stays in custody, held for it to claim.
        uint256 deliveryGas = _DELIVERY_BASE_GAS + _DELIVERY_GAS_PER_SKU * ids.length + _RECEIVER_HOOK_GAS;
        // Enough gas must be left for the attempt to get its full allowance (EIP-150 passes at most 63/64), or a
        // caller could make any delivery look refused by sending too little gas; and for the held path after it,
        // so a gas limit estimated while the receiver accepted still settles if it refuses when mined.
        uint256 needed = deliveryGas + deliveryGas / 63 + _HOLD_BASE_GAS + _HOLD_GAS_PER_SKU * ids.length;
        if (gasleft() < needed) revert DeliveryGasTooLow(needed, gasleft());
        try this.deliverChecked{gas: deliveryGas}(to, ids, amounts) {
            return; // delivered and accepted
        } catch {
            for (uint256 i = 0; i < ids.length; ++i) {
                _held[to][ids[i]] += amounts[i];
                _heldTotals[ids[i]] += amounts[i];
            }
            emit StockHeld(to, ids, amounts);
        }
    }

    /// @notice Delivers released stock with the ERC-1155 receiver check. Only this contract calls it, from
    /// {release}, so that a refusal reverts the delivery alone.
    /// @param to The receiving contract.
    /// @param ids SKUs.
    /// @param amounts Units per SKU.
    function deliverChecked(address to, uint256[] calldata ids, uint256[] calldata amounts) external {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        _updateWithAcceptanceCheck(_escrow, to, ids, amounts, "");
    }

    /// @inheritdoc IInventoryToken
    function claimStock(uint256[] calldata ids, address to) external {
        address owner = _msgSender();
        if (to == address(0)) revert ZeroAddress();
        if (ids.length == 0) revert LengthMismatch(0, 0);
        uint256[] memory amounts = new uint256[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 amount = _held[owner][ids[i]];
            if (amount == 0) revert NothingHeld(owner, ids[i]);
            _held[owner][ids[i]] = 0;
            _heldTotals[ids[i]] -= amount;
            amounts[i] = amount;
        }
        emit StockClaimed(owner, to, ids, amounts);
        // The owner chose `to`: a contract there must accept the stock, or the claim reverts and nothing moves.
        _updateWithAcceptanceCheck(_escrow, to, ids, amounts, "");
    }

    /// @inheritdoc IInventoryToken
    function heldStock(address owner, uint256 id) external view returns (uint256) {
        return _held[owner][id];
    }

    /// @inheritdoc IInventoryToken
    function heldTotal(uint256 id) external view returns (uint256) {
        return _heldTotals[id];
    }

    /// @inheritdoc IInventoryToken
    function multicall(bytes[] calldata calls) external returns (bytes[] memory results) {
        // Each call runs by delegatecall, so it sees this call's sender. Through the trusted forwarder, the
        // sender suffix (ERC-2771 context) is appended to every call; otherwise the suffix is empty.
        bytes calldata context = msg.data[_msgData().length:];
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            results[i] = Address.functionDelegateCall(address(this), bytes.concat(calls[i], context));
        }
    }

    /// @inheritdoc IInventoryToken
    function escrow() external view returns (address) {
        return _escrow;
    }

    /// @inheritdoc IInventoryToken
    function totalSupply(uint256 id) external view returns (uint256) {
        return _supplies[id];
    }

    /// @inheritdoc IInventoryToken
    function merchantOf(uint256 id) public view returns (address merchant) {
        merchant = _merchantBits(id);
        uint256 n = id & type(uint96).max;
        if (n == 0 || n > _skuCounts[merchant]) return address(0);
    }

    /// @inheritdoc IInventoryToken
    function skuCount(address merchant) external view returns (uint256) {
        return _skuCounts[merchant];
    }

    /// @inheritdoc IInventoryToken
    function skuId(address merchant, uint96 n) external pure returns (uint256) {
        return _skuId(merchant, n);
    }

    /// @dev Mints and burns keep each SKU's supply. A mint past 2^256-1 of one SKU reverts with SupplyOverflow
    /// before any balance changes; only that SKU's merchant can mint it, so only it can hit the bound.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (from == address(0)) {
            for (uint256 i = 0; i < ids.length; ++i) {
                uint256 supply = _supplies[ids[i]];
                if (values[i] > type(uint256).max - supply) revert SupplyOverflow(ids[i], supply, values[i]);
                _supplies[ids[i]] = supply + values[i];
            }
        }
        super._update(from, to, ids, values);
        if (to == address(0)) {
            for (uint256 i = 0; i < ids.length; ++i) {
                // Cannot underflow: super._update has just burnt values[i] from a balance, and no balance
                // exceeds its SKU's supply.
                unchecked {
                    _supplies[ids[i]] -= values[i];
                }
            }
        }
    }

    function _checkMerchantOrOperator(address merchant) private view {
        address caller = _msgSender();
        if (caller != merchant && !isApprovedForAll(merchant, caller)) revert NotMerchantOrOperator(merchant, caller);
    }

    function _merchantOfExisting(uint256 id) private view returns (address merchant) {
        merchant = merchantOf(id);
        if (merchant == address(0)) revert SkuNotFound(id);
    }

    /// @dev All SKUs of one stock call must belong to one merchant, so one authorisation check covers them.
    function _commonMerchant(
        uint256[] calldata ids,
        uint256[] calldata amounts
    ) private view returns (address merchant) {
        if (ids.length != amounts.length || ids.length == 0) revert LengthMismatch(ids.length, amounts.length);
        merchant = _merchantOfExisting(ids[0]);
        for (uint256 i = 1; i < ids.length; ++i) {
            if (_merchantOfExisting(ids[i]) != merchant) revert NotSkuMerchant(ids[i], merchant);
        }
    }

    function _skuId(address merchant, uint96 n) private pure returns (uint256) {
        return (uint256(uint160(merchant)) << _COUNTER_BITS) | n;
    }

    function _merchantBits(uint256 id) private pure returns (address) {
        return address(uint160(id >> _COUNTER_BITS));
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
