// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "./IERC20.sol";
import {TokenCallFailed} from "./SafeToken.sol";

/// @title FerryReceiver
/// @notice The deposit address of one Ferry session. `FerryFactory` deploys it with CREATE2 (salt =
///         keccak256 of the 16-byte session id), so its address is known, and can receive tokens,
///         before it exists. It has no constructor arguments: its creation code, and so the
///         init-code hash that enters every receiver address, is a constant of this source and the
///         pinned compiler settings (see contracts/out/receiver-init-code-hash.txt).
/// @dev One is deployed per paid session, and deployment gas grows with code size (200 gas a
///      byte), so the body of `sweep` is hand-written assembly. It follows the same rules as
///      `SafeToken.sol`: a transfer succeeds if it does not revert and returns `true`, or returns
///      nothing from an address with code (USDT). The receiver moves exactly the amount it is told
///      and keeps no state: which deposit an amount belongs to, that it is moved only once and that
///      the receiver holds enough are the factory's business (`FerryFactory.sweep`).
contract FerryReceiver {
    /// @notice The factory that deployed this receiver: the only account allowed to sweep it.
    address public immutable factory;

    /// @notice The caller is not the factory.
    error NotFactory();

    constructor() {
        factory = msg.sender;
    }

    /// @notice Sends exactly `amount` of `token` to `to`. Factory only.
    /// @param token The ERC-20 token to move.
    /// @param to Where it goes.
    /// @param amount How much; the token's own transfer fails (`TokenCallFailed`) if this receiver
    ///        holds less.
    function sweep(address token, address to, uint256 amount) external {
        address owner = factory;
        bytes4 notFactory = NotFactory.selector;
        bytes4 failed = TokenCallFailed.selector;
        bytes4 transfer = IERC20.transfer.selector;
        assembly ("memory-safe") {
            if iszero(eq(caller(), owner)) {
                mstore(0x00, notFactory)
                revert(0x00, 0x04)
            }
            // token.transfer(to, amount), built in free memory (not claimed: used only here).
            let m := mload(0x40)
            mstore(m, transfer)
            mstore(add(m, 0x04), to)
            mstore(add(m, 0x24), amount)
            let ok := call(gas(), token, 0, m, 0x44, 0x00, 0x20)
            switch returndatasize()
            // No return value: the USDT case, but only from an address with code.
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
            if iszero(ok) {
                mstore(m, failed)
                mstore(add(m, 0x04), token)
                mstore(add(m, 0x24), transfer)
                revert(m, 0x44)
            }
        }
    }
}
