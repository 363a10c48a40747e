// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ContractAccount} from "./ContractAccount.sol";

/// @title StockReceiver
/// @author orderchain
/// @notice A contract buyer (or merchant) that receives ERC-1155 stock as told: accepts it, refuses it, answers
/// with the wrong selector, or burns all gas it is given. Tests only.
contract StockReceiver is ContractAccount, IERC1155Receiver {
    /// @notice What the contract does when stock is delivered to it.
    enum Mode {
        Accept,
        Refuse,
        WrongSelector,
        BurnGas
    }

    /// @notice The current behaviour on delivery.
    Mode public mode;
    /// @notice How many deliveries it accepted.
    uint256 public accepted;

    /// @notice Raised on delivery in mode Refuse.
    error StockRefused();

    /// @notice Sets the behaviour on delivery.
    /// @param mode_ Accept, Refuse, WrongSelector or BurnGas.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @inheritdoc IERC1155Receiver
    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external returns (bytes4) {
        return _receive(IERC1155Receiver.onERC1155Received.selector);
    }

    /// @inheritdoc IERC1155Receiver
    function onERC1155BatchReceived(
        address,
        address,
        uint256[] calldata,
        uint256[] calldata,
        bytes calldata
    ) external returns (bytes4) {
        return _receive(IERC1155Receiver.onERC1155BatchReceived.selector);
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    /// @notice Accepts native currency (refunds and payouts).
    receive() external payable {}

    function _receive(bytes4 selector) private returns (bytes4) {
        if (mode == Mode.Refuse) revert StockRefused();
        if (mode == Mode.BurnGas) {
            while (true) {} // solhint-disable-line no-empty-blocks
        }
        if (mode == Mode.WrongSelector) return bytes4(0xdeadbeef);
        ++accepted;
        return selector;
    }
}
