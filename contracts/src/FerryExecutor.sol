// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "./IERC20.sol";
import {TokenCallFailed, safeTransfer, tryApprove} from "./SafeToken.sol";

/// @title FerryExecutor
/// @notice Makes the one arbitrary call of a delivery with calldata: approve the target, call it,
///         take the approval back, and send whatever the target did not pull to the refund address.
///         `FerryFactory` deploys exactly one in its constructor and is its only caller.
/// @dev The arbitrary call is made from here, not from the factory, on purpose: this contract has
///      no privileges anywhere (receivers only obey the factory), no allowances from anyone (the
///      relayer approves the factory, never the executor) and holds tokens only for the duration of
///      one delivery. So a malicious target, or calldata that names a token or another session's
///      receiver as its target, can reach nothing but the funds of the delivery it was given.
contract FerryExecutor {
    /// @notice Gas kept back from the target call for the refund, the approval reset and the events
    ///         after it, so that a target that burns all the gas it is given still ends in a refund.
    uint256 public constant CALL_GAS_RESERVE = 100_000;
    /// @notice At most this many bytes of a failed call's revert data are kept (and logged).
    uint256 public constant MAX_REVERT_DATA = 256;

    /// @notice The factory that deployed this executor: its only caller.
    address public immutable factory;

    /// @notice The caller is not the factory.
    error NotFactory();
    /// @notice The transaction was sent with too little gas to give the target `callGas` and still
    ///         refund afterwards. Reverting (rather than failing the call) lets `eth_estimateGas`
    ///         find a gas limit at which the target really gets `callGas`.
    error InsufficientGas(uint256 callGas, uint256 gasLeft);

    constructor() {
        factory = msg.sender;
    }

    /// @notice Approves `amount` of `token` to `target`, calls `target` with `data` and at most
    ///         `callGas` gas, resets the approval to 0, then sends this contract's whole balance of
    ///         `token` (what the target did not pull; everything if the call failed) to `refundTo`.
    /// @dev The factory transfers the tokens here first. A target without code, or a token that
    ///      refuses the approval, counts as a failed call (empty revert data).
    /// @return delivered Whether the call succeeded.
    /// @return refunded The amount sent to `refundTo`.
    /// @return revertData The first `MAX_REVERT_DATA` bytes of the call's revert data, if it failed.
    function execute(
        address token,
        uint256 amount,
        address target,
        bytes calldata data,
        uint256 callGas,
        address refundTo
    ) external returns (bool delivered, uint256 refunded, bytes memory revertData) {
        if (msg.sender != factory) revert NotFactory();
        if (target.code.length != 0 && tryApprove(token, target, amount)) {
            (delivered, revertData) = _call(target, data, callGas);
            if (!tryApprove(token, target, 0)) revert TokenCallFailed(token, IERC20.approve.selector);
        }
        refunded = IERC20(token).balanceOf(address(this));
        if (refunded != 0) safeTransfer(token, refundTo, refunded);
    }

    /// @dev Calls `target` with exactly `callGas` gas; copies at most `MAX_REVERT_DATA` bytes of
    ///      revert data (none on success), so a target cannot make us pay for a huge return value.
    function _call(address target, bytes calldata data, uint256 callGas)
        private
        returns (bool ok, bytes memory revertData)
    {
        // EIP-150 forwards at most 63/64 of what is left: ask for enough that `callGas` is really
        // forwarded and `CALL_GAS_RESERVE` remains afterwards.
        uint256 gasLeft = gasleft();
        if (gasLeft < callGas + callGas / 63 + CALL_GAS_RESERVE) revert InsufficientGas(callGas, gasLeft);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            ok := call(callGas, target, 0, ptr, data.length, 0, 0)
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, MAX_REVERT_DATA) { size := MAX_REVERT_DATA }
                mstore(ptr, size)
                returndatacopy(add(ptr, 0x20), 0, size)
                mstore(0x40, add(add(ptr, 0x20), and(add(size, 0x1f), not(0x1f))))
                revertData := ptr
            }
        }
    }
}
