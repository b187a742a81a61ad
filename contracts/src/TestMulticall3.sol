// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title TestMulticall3
/// @notice FOR TESTS ONLY: the `aggregate3` entry point of Multicall3 (mds1/multicall3, deployed at
///         0xcA11bde05977b3631167028862bE2a173976CA11 on every production chain Ferry serves) with
///         its ABI and semantics, for local chains, where Multicall3 is not predeployed. Tests put
///         its runtime code at an address of their choosing (`anvil_setCode`).
contract TestMulticall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Makes each call in order; reverts if one that does not allow failure fails.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        uint256 length = calls.length;
        returnData = new Result[](length);
        for (uint256 i = 0; i < length; ++i) {
            Call3 calldata item = calls[i];
            (bool success, bytes memory data) = item.target.call(item.callData);
            require(success || item.allowFailure, "Multicall3: call failed");
            returnData[i] = Result(success, data);
        }
    }
}
