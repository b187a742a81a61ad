// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {FerryExecutor} from "./FerryExecutor.sol";
import {FerryReceiver} from "./FerryReceiver.sol";
import {IERC20} from "./IERC20.sol";
import {safeTransferFrom} from "./SafeToken.sol";

/// @title FerryFactory
/// @notice Ferry's on-chain entry point, deployed at the same address on every EVM chain (same
///         deployer, same nonce), so that a session's receiver address is the same everywhere:
///         `CREATE2(this, keccak256(sessionId), RECEIVER_INIT_CODE_HASH)`.
///
///         Session deposits: `sweep` deploys the session's receiver if needed and moves an exact
///         amount of a token out of it; `sweepAndCall` does the same through a contract call
///         (approve + call, refund on revert), atomically, in one transaction. A receiver may hold
///         several deposits (a second payment, an underpayment and its top-up): each is moved by
///         its own sweep, for its own amount, never by another deposit's.
///
///         Payouts from the relayer's inventory: `pay` and `payAndCall` pull the amount from the
///         caller (who has approved this factory) and deliver it the same way.
///
///         Every one of these four is keyed by a caller-chosen id that can be executed once
///         (`done`), and leaves one event with that id as its first topic, so a movement can be
///         proven to have happened, exactly once, after a crash; re-sending it reverts with
///         `AlreadyDone` (at gas estimation) instead of moving anything again.
///
///         Only the relayer or the owner can call any of these; only the owner can change roles.
/// @dev Calls to arbitrary targets are made by `executor`, a contract without privileges or
///      allowances, never by the factory itself (see `FerryExecutor`). Zero amounts revert
///      (`ZeroAmount`), so every event moves a non-zero amount.
contract FerryFactory {
    /// @notice keccak256 of `FerryReceiver`'s creation code: the init-code hash of every receiver.
    bytes32 public constant RECEIVER_INIT_CODE_HASH = keccak256(type(FerryReceiver).creationCode);

    /// @notice Makes the calls of `sweepAndCall` and `payAndCall` (deployed by the constructor).
    FerryExecutor public immutable executor;
    /// @notice Can change the relayer and the owner, and do whatever the relayer can.
    address public owner;
    /// @notice The account Ferry's relayer sends its transactions from (zero: none).
    address public relayer;
    /// @notice Ids already executed by `sweep`, `sweepAndCall`, `pay` or `payAndCall`: each id runs
    ///         at most once. One mapping serves all four: ids are namespaced by the caller (Ferry
    ///         derives sweep ids and payout ids from different domain strings), so a sweep id never
    ///         equals a payout id.
    mapping(bytes32 id => bool) public done;

    /// @dev What `executor.execute` returned (one stack slot instead of three: `sweepAndCall` has
    ///      too many parameters to keep them all on the stack).
    struct Outcome {
        bool delivered;
        uint256 refunded;
        bytes revertData;
    }

    /// @dev Reentrancy lock: 1 = unlocked, 2 = locked (non-zero values keep the SSTOREs cheap).
    uint256 private _lock = 1;

    /// @notice A session's receiver was deployed (by the first sweep of that session on this chain).
    event ReceiverDeployed(bytes16 indexed sessionId, address indexed receiver);
    /// @notice Sweep `id`: `amount` of `token` was moved from the session's receiver to `to`.
    event Swept(bytes32 indexed id, bytes16 indexed sessionId, address indexed token, address to, uint256 amount);
    /// @notice Sweep `id`: `amount` of `token` was moved from the session's receiver, approved to
    ///         `target` and its call succeeded; `refunded` (what the target did not pull) was sent to
    ///         `refundTo`.
    event CallDelivered(
        bytes32 indexed id,
        bytes16 indexed sessionId,
        address token,
        address indexed target,
        uint256 amount,
        address refundTo,
        uint256 refunded
    );
    /// @notice Sweep `id`: `amount` of `token` was moved from the session's receiver, but the call
    ///         to `target` failed (reverted, no code, or the approval was refused), so all of it was
    ///         sent to `refundTo`. `revertData` is truncated to `FerryExecutor.MAX_REVERT_DATA` bytes.
    event CallFailedRefunded(
        bytes32 indexed id,
        bytes16 indexed sessionId,
        address token,
        address indexed target,
        address refundTo,
        uint256 amount,
        bytes revertData
    );
    /// @notice Payout `payoutId`: `amount` of `token` was pulled from the caller and sent to `to`.
    event Paid(bytes32 indexed payoutId, address indexed token, address indexed to, uint256 amount);
    /// @notice Payout `payoutId`: `amount` was pulled from the caller, approved to `target` and its
    ///         call succeeded; `refunded` (what the target did not pull) was sent to `refundTo`.
    event PayoutCallDelivered(
        bytes32 indexed payoutId,
        address indexed token,
        address indexed target,
        uint256 amount,
        address refundTo,
        uint256 refunded
    );
    /// @notice Payout `payoutId`: the call to `target` failed, so `amount` went to `refundTo`.
    event PayoutCallFailedRefunded(
        bytes32 indexed payoutId,
        address indexed token,
        address indexed target,
        address refundTo,
        uint256 amount,
        bytes revertData
    );
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event RelayerUpdated(address indexed previousRelayer, address indexed newRelayer);

    /// @notice The caller is neither the relayer nor the owner (or, for role changes, not the owner).
    error Unauthorized(address caller);
    /// @notice An address that must not be zero was zero.
    error ZeroAddress();
    /// @notice A guarded function was entered again during a call it made.
    error Reentrancy();
    /// @notice The session's receiver holds `balance` of `token`, less than the `amount` to sweep.
    error InsufficientBalance(bytes16 sessionId, address token, uint256 balance, uint256 amount);
    /// @notice A sweep or payout of zero was requested.
    error ZeroAmount();
    /// @notice This id was already executed (by a sweep or a payout).
    error AlreadyDone(bytes32 id);

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized(msg.sender);
        _;
    }

    modifier onlyRelayerOrOwner() {
        if (msg.sender != relayer && msg.sender != owner) revert Unauthorized(msg.sender);
        _;
    }

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    /// @param owner_ The owner (must not be zero).
    /// @param relayer_ The relayer (zero: none yet; set it later with `setRelayer`).
    /// @dev Constructor arguments do not enter the factory's (CREATE) address, nor the receivers'.
    constructor(address owner_, address relayer_) {
        if (owner_ == address(0)) revert ZeroAddress();
        owner = owner_;
        relayer = relayer_;
        executor = new FerryExecutor();
        emit OwnershipTransferred(address(0), owner_);
        emit RelayerUpdated(address(0), relayer_);
    }

    /// @notice The receiver (deposit) address of a session; it may not be deployed yet.
    /// @param sessionId The session id's 16 raw bytes.
    function receiverAddress(bytes16 sessionId) public view returns (address) {
        bytes32 hash = keccak256(
            abi.encodePacked(bytes1(0xff), address(this), _salt(sessionId), RECEIVER_INIT_CODE_HASH)
        );
        return address(uint160(uint256(hash)));
    }

    /// @notice Sweep `id`: deploys the session's receiver if needed and moves exactly `amount` of
    ///         `token` from it to `to` (`Swept`).
    /// @param id The sweep's id: executed at most once (`done`), else `AlreadyDone`.
    /// @param amount What to move (not zero): the receiver must hold at least this much, else
    ///        `InsufficientBalance`. Whatever else it holds stays there.
    /// @return swept `amount`.
    function sweep(bytes32 id, bytes16 sessionId, address token, uint256 amount, address to)
        external
        onlyRelayerOrOwner
        nonReentrant
        returns (uint256 swept)
    {
        if (to == address(0)) revert ZeroAddress();
        _start(id, amount);
        _sweep(sessionId, token, amount, to);
        emit Swept(id, sessionId, token, to, amount);
        swept = amount;
    }

    /// @notice Sweep `id` with a contract call: deploys the session's receiver if needed, moves
    ///         exactly `amount` of `token` from it to the executor, approves it to `target` and calls
    ///         `target` with `data` and `callGas` gas. If the call succeeds, whatever `target` did
    ///         not pull goes to `refundTo` (`CallDelivered`); if it fails, all of `amount` goes to
    ///         `refundTo` (`CallFailedRefunded`). The approval is always reset to zero. All in this
    ///         one transaction.
    /// @param id The sweep's id: executed at most once (`done`), else `AlreadyDone`.
    /// @param amount What to move (not zero): the receiver must hold at least this much, else
    ///        `InsufficientBalance`. Whatever else it holds stays there.
    /// @param callGas The gas the call gets. The transaction needs somewhat more than this plus
    ///        `FerryExecutor.CALL_GAS_RESERVE`, else it reverts with `InsufficientGas` (so that gas
    ///        estimation never picks a limit at which the call would fail for lack of gas).
    /// @return delivered Whether the call succeeded.
    /// @return swept `amount` (delivered or refunded).
    function sweepAndCall(
        bytes32 id,
        bytes16 sessionId,
        address token,
        uint256 amount,
        address target,
        bytes calldata data,
        uint256 callGas,
        address refundTo
    ) external onlyRelayerOrOwner nonReentrant returns (bool delivered, uint256 swept) {
        if (refundTo == address(0)) revert ZeroAddress();
        _start(id, amount);
        _sweep(sessionId, token, amount, address(executor));
        Outcome memory call;
        (call.delivered, call.refunded, call.revertData) =
            executor.execute(token, amount, target, data, callGas, refundTo);
        if (call.delivered) emit CallDelivered(id, sessionId, token, target, amount, refundTo, call.refunded);
        else emit CallFailedRefunded(id, sessionId, token, target, refundTo, amount, call.revertData);
        delivered = call.delivered;
        swept = amount;
    }

    /// @notice Payout `payoutId`: pulls `amount` of `token` from the caller (who approved this
    ///         factory) and sends it to `to`.
    /// @param payoutId The payout's id: executed at most once (`done`, shared with the sweep ids),
    ///        else `AlreadyDone`.
    function pay(bytes32 payoutId, address token, uint256 amount, address to)
        external
        onlyRelayerOrOwner
        nonReentrant
    {
        if (to == address(0)) revert ZeroAddress();
        _start(payoutId, amount);
        safeTransferFrom(token, msg.sender, to, amount);
        emit Paid(payoutId, token, to, amount);
    }

    /// @notice Payout `payoutId` with a contract call: pulls `amount` of `token` from the caller
    ///         (who approved this factory), then the same approve / call / refund as `sweepAndCall`
    ///         (`PayoutCallDelivered` or `PayoutCallFailedRefunded`).
    /// @param payoutId The payout's id: executed at most once (`done`, shared with the sweep ids),
    ///        else `AlreadyDone`.
    /// @return delivered Whether the call succeeded.
    function payAndCall(
        bytes32 payoutId,
        address token,
        uint256 amount,
        address target,
        bytes calldata data,
        uint256 callGas,
        address refundTo
    ) external onlyRelayerOrOwner nonReentrant returns (bool delivered) {
        if (refundTo == address(0)) revert ZeroAddress();
        _start(payoutId, amount);
        safeTransferFrom(token, msg.sender, address(executor), amount);
        (bool ok, uint256 refunded, bytes memory revertData) =
            executor.execute(token, amount, target, data, callGas, refundTo);
        if (ok) emit PayoutCallDelivered(payoutId, token, target, amount, refundTo, refunded);
        else emit PayoutCallFailedRefunded(payoutId, token, target, refundTo, amount, revertData);
        delivered = ok;
    }

    /// @notice Sets the relayer (zero revokes it). Owner only.
    function setRelayer(address newRelayer) external onlyOwner {
        emit RelayerUpdated(relayer, newRelayer);
        relayer = newRelayer;
    }

    /// @notice Hands the owner role to `newOwner` (not zero). Owner only.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @dev The session's receiver, deployed first if it has no code yet.
    function _receiver(bytes16 sessionId) private returns (FerryReceiver receiver) {
        receiver = FerryReceiver(receiverAddress(sessionId));
        if (address(receiver).code.length == 0) {
            receiver = new FerryReceiver{salt: _salt(sessionId)}();
            emit ReceiverDeployed(sessionId, address(receiver));
        }
    }

    /// @dev Marks `id` done (reverting if it was) and rejects a zero amount.
    function _start(bytes32 id, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        if (done[id]) revert AlreadyDone(id);
        done[id] = true;
    }

    /// @dev Moves exactly `amount` of `token` from the session's receiver (deployed first if
    ///      needed) to `to`, after checking that it holds that much.
    function _sweep(bytes16 sessionId, address token, uint256 amount, address to) private {
        FerryReceiver receiver = _receiver(sessionId);
        uint256 balance = IERC20(token).balanceOf(address(receiver));
        if (balance < amount) revert InsufficientBalance(sessionId, token, balance, amount);
        receiver.sweep(token, to, amount);
    }

    /// @dev The CREATE2 salt of a session's receiver: keccak256 of the id's 16 raw bytes.
    function _salt(bytes16 sessionId) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(sessionId));
    }
}
