// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IERC20
/// @notice The subset of ERC-20 that Ferry's contracts use, plus its events (the `Transfer` log is
///         what Ferry's chain watcher reads). Declared with `bool` returns; calls that must also
///         work with tokens that return nothing (USDT) go through `SafeToken.sol` instead.
interface IERC20 {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}
