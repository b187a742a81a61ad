// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {FerryExecutor} from "./FerryExecutor.sol";
import {FerryReceiver} from "./FerryReceiver.sol";
import {safeTransferFrom} from "./SafeToken.sol";

/// @title FerryFactory
/// @notice Ferry's on-chain entry point, deployed at the same address on every EVM chain (same
///         deployer, same nonce), so that a session's receiver address is the same everywhere:
///         `CREATE2(this, keccak256(sessionId), RECEIVER_INIT_CODE_HASH)`.
///
///         Session deposits: `sweep` deploys the session's receiver if needed and forwards its whole
///         balance of a token; `sweepAndCall` does the same through a contract call (approve + call,
///         refund on revert), atomically, in one transaction.
///
///         Payouts from the relayer's inventory: `pay` and `payAndCall` pull the amount from the
///         caller (who has approved this factory) and deliver it the same way. Every payout id can
///         be used once (`payoutDone`) and every payout leaves an event keyed by it, so a payout can
///         be proven to have happened, exactly once, after a crash.
///
///         Only the relayer or the owner can call any of these; only the owner can change roles.
/// @dev Calls to arbitrary targets are made by `executor`, a contract without privileges or
///      allowances, never by the factory itself (see `FerryExecutor`). Zero-balance sweeps revert
///      (`NothingToSweep`), so every `Swept`/`Call*` event moves a non-zero amount and a repeated
///      sweep fails at gas estimation instead of logging an empty delivery.
contract FerryFactory {
    /// @notice keccak256 of `FerryReceiver`'s creation code: the init-code hash of every receiver.
    bytes32 public constant RECEIVER_INIT_CODE_HASH = keccak256(type(FerryReceiver).creationCode);

    /// @notice Makes the calls of `sweepAndCall` and `payAndCall` (deployed by the constructor).
    FerryExecutor public immutable executor;
    /// @notice Can change the relayer and the owner, and do whatever the relayer can.
    address public owner;
    /// @notice The account Ferry's relayer sends its transactions from (zero: none).
    address public relayer;
    /// @notice Payout ids already used by `pay` or `payAndCall`.
    mapping(bytes32 payoutId => bool done) public payoutDone;

    /// @dev Reentrancy lock: 1 = unlocked, 2 = locked (non-zero values keep the SSTOREs cheap).
    uint256 private _lock = 1;

    /// @notice A session's receiver was deployed (by the first sweep of that session on this chain).
    event ReceiverDeployed(bytes16 indexed sessionId, address indexed receiver);
    /// @notice A receiver's whole balance of `token`, `amount`, was sent to `to`.
    event Swept(bytes16 indexed sessionId, address indexed token, address indexed to, uint256 amount);
    /// @notice A receiver's balance, `amount`, was approved to `target` and its call succeeded;
    ///         `refunded` (what the target did not pull) was sent to `refundTo`.
    event CallDelivered(
        bytes16 indexed sessionId,
        address indexed token,
        address indexed target,
        uint256 amount,
        address refundTo,
        uint256 refunded
    );
    /// @notice The call to `target` failed (reverted, no code, or the approval was refused), so the
    ///         receiver's balance, `amount`, was sent to `refundTo`. `revertData` is truncated to
    ///         `FerryExecutor.MAX_REVERT_DATA` bytes.
    event CallFailedRefunded(
        bytes16 indexed sessionId,
        address indexed token,
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
    /// @notice The session's receiver holds none of `token`.
    error NothingToSweep(bytes16 sessionId, address token);
    /// @notice A payout of zero was requested.
    error ZeroAmount();
    /// @notice This payout id was already used.
    error PayoutAlreadyDone(bytes32 payoutId);

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

    /// @notice Deploys the session's receiver if needed and sends its whole balance of `token` to `to`.
    /// @return amount The amount sent (never zero: an empty receiver reverts with `NothingToSweep`).
    function sweep(bytes16 sessionId, address token, address to)
        external
        onlyRelayerOrOwner
        nonReentrant
        returns (uint256 amount)
    {
        if (to == address(0)) revert ZeroAddress();
        amount = _receiver(sessionId).sweep(token, to);
        if (amount == 0) revert NothingToSweep(sessionId, token);
        emit Swept(sessionId, token, to, amount);
    }

    /// @notice Deploys the session's receiver if needed, moves its whole balance of `token` to the
    ///         executor, approves it to `target` and calls `target` with `data` and `callGas` gas.
    ///         If the call succeeds, whatever `target` did not pull goes to `refundTo`
    ///         (`CallDelivered`); if it fails, everything goes to `refundTo` (`CallFailedRefunded`).
    ///         The approval is always reset to zero. All in this one transaction.
    /// @param callGas The gas the call gets. The transaction needs somewhat more than this plus
    ///        `FerryExecutor.CALL_GAS_RESERVE`, else it reverts with `InsufficientGas` (so that gas
    ///        estimation never picks a limit at which the call would fail for lack of gas).
    /// @return delivered Whether the call succeeded.
    /// @return amount The receiver's balance that was delivered or refunded (never zero).
    function sweepAndCall(
        bytes16 sessionId,
        address token,
        address target,
        bytes calldata data,
        uint256 callGas,
        address refundTo
    ) external onlyRelayerOrOwner nonReentrant returns (bool delivered, uint256 amount) {
        if (refundTo == address(0)) revert ZeroAddress();
        amount = _receiver(sessionId).sweep(token, address(executor));
        if (amount == 0) revert NothingToSweep(sessionId, token);
        (bool ok, uint256 refunded, bytes memory revertData) =
            executor.execute(token, amount, target, data, callGas, refundTo);
        if (ok) emit CallDelivered(sessionId, token, target, amount, refundTo, refunded);
        else emit CallFailedRefunded(sessionId, token, target, refundTo, amount, revertData);
        delivered = ok;
    }

    /// @notice Payout `payoutId`: pulls `amount` of `token` from the caller (who approved this
    ///         factory) and sends it to `to`.
    function pay(bytes32 payoutId, address token, uint256 amount, address to)
        external
        onlyRelayerOrOwner
        nonReentrant
    {
        if (to == address(0)) revert ZeroAddress();
        _startPayout(payoutId, amount);
        safeTransferFrom(token, msg.sender, to, amount);
        emit Paid(payoutId, token, to, amount);
    }

    /// @notice Payout `payoutId` with a contract call: pulls `amount` of `token` from the caller
    ///         (who approved this factory), then the same approve / call / refund as `sweepAndCall`
    ///         (`PayoutCallDelivered` or `PayoutCallFailedRefunded`).
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
        _startPayout(payoutId, amount);
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

    /// @dev Marks `payoutId` used (reverting if it was) and rejects a zero amount.
    function _startPayout(bytes32 payoutId, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        if (payoutDone[payoutId]) revert PayoutAlreadyDone(payoutId);
        payoutDone[payoutId] = true;
    }

    /// @dev The CREATE2 salt of a session's receiver: keccak256 of the id's 16 raw bytes.
    function _salt(bytes16 sessionId) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(sessionId));
    }
}
