// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "./IERC20.sol";

// Minimal SafeERC20-style helpers as free functions (no library contract, no OpenZeppelin: the
// contracts compile offline). A token call is accepted when it does not revert and either returns
// nothing from an address with code (tokens such as USDT that return no bool) or returns `true`.

/// @notice A token call reverted, returned `false`, or the token has no code.
/// @param token The token that was called.
/// @param selector The ERC-20 function that failed (`transfer`, `transferFrom` or `approve`).
error TokenCallFailed(address token, bytes4 selector);

/// @dev `token.transfer(to, amount)`, reverting with `TokenCallFailed` unless it succeeded.
function safeTransfer(address token, address to, uint256 amount) {
    if (!_tokenCall(token, abi.encodeCall(IERC20.transfer, (to, amount)))) {
        revert TokenCallFailed(token, IERC20.transfer.selector);
    }
}

/// @dev `token.transferFrom(from, to, amount)`, reverting with `TokenCallFailed` unless it succeeded.
function safeTransferFrom(address token, address from, address to, uint256 amount) {
    if (!_tokenCall(token, abi.encodeCall(IERC20.transferFrom, (from, to, amount)))) {
        revert TokenCallFailed(token, IERC20.transferFrom.selector);
    }
}

/// @dev `token.approve(spender, amount)`; returns whether it succeeded instead of reverting.
function tryApprove(address token, address spender, uint256 amount) returns (bool) {
    return _tokenCall(token, abi.encodeCall(IERC20.approve, (spender, amount)));
}

/// @dev Calls `token` and applies the acceptance rule above. Only the first 32 bytes of the return
///      data are read, so a token cannot make the caller pay for copying a huge return value.
function _tokenCall(address token, bytes memory data) returns (bool ok) {
    assembly ("memory-safe") {
        ok := call(gas(), token, 0, add(data, 0x20), mload(data), 0x00, 0x20)
        switch returndatasize()
        case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
        default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
    }
}
