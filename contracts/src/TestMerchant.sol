// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "./IERC20.sol";

/// @title TestMerchant
/// @notice A contract-call target for tests (`destination.calldata`). FOR TESTS ONLY.
contract TestMerchant {
    /// @notice The amount paid for each order id (0: unpaid).
    mapping(uint256 orderId => uint256 amount) public paidOrders;

    event OrderPaid(uint256 indexed orderId, address indexed payer, address indexed token, uint256 amount);

    error TransferFromFailed();

    /// @notice Pulls `amount` of `token` from the caller (who approved it) and records the order.
    function pay(address token, uint256 amount, uint256 orderId) external {
        if (!IERC20(token).transferFrom(msg.sender, address(this), amount)) revert TransferFromFailed();
        paidOrders[orderId] = amount;
        emit OrderPaid(orderId, msg.sender, token, amount);
    }

    /// @notice Same arguments as `pay`, but always reverts with a message (the bounce path).
    function alwaysReverts(address, uint256, uint256) external pure {
        revert("TestMerchant: always reverts");
    }

    /// @notice Burns all the gas it is given (a target that fails by running out of gas).
    function exhaustGas() external pure {
        for (uint256 i = 0; ; ++i) {}
    }
}
