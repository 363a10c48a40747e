// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title Forwarder
/// @author orderchain
/// @notice The ERC-2771 forwarder trusted by PaymentEscrow and InventoryToken: the relayer submits requests
/// signed (EIP-712) by buyers and merchants who hold no native currency for gas.
contract Forwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("orderchain Forwarder") {}
}
