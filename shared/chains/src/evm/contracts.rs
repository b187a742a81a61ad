//! Bindings to Ferry's contracts, generated from the artifacts that
//! `cargo xtask contracts` builds (`contracts/out/`, checked in).

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc, all_derives)]
    FerryFactory,
    "../../contracts/out/FerryFactory.json"
);

sol!(
    #[sol(rpc, all_derives)]
    FerryExecutor,
    "../../contracts/out/FerryExecutor.json"
);

sol!(
    #[sol(rpc, all_derives)]
    IERC20,
    "../../contracts/out/IERC20.json"
);

sol!(
    #[sol(rpc, all_derives)]
    TestStablecoin,
    "../../contracts/out/TestStablecoin.json"
);

sol!(
    #[sol(rpc, all_derives)]
    TestMerchant,
    "../../contracts/out/TestMerchant.json"
);

sol!(
    #[sol(rpc, all_derives)]
    TestMulticall3,
    "../../contracts/out/TestMulticall3.json"
);

/// The receiver's creation code, for checking the init-code hash.
pub const RECEIVER_ARTIFACT: &str = include_str!("../../../../contracts/out/FerryReceiver.json");
