//! Sessions, tokens and deposits for the deposit module's tests.

use super::Deposit;
use crate::{
    BaseUnits, ChainId, ClientSecret, Destination, DisplayInfo, EvmAddress, MerchantId, NewSession, Session, SessionId,
    Timestamp, Token, TxHash,
};

pub(crate) fn usdc(chain: u64) -> Token {
    let address = if chain == 1 {
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    } else {
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    };
    Token { symbol: "USDC".into(), address: address.parse().expect("address"), decimals: 6 }
}

pub(crate) fn usdt_18() -> Token {
    Token {
        symbol: "USDT".into(),
        address: "0x55d398326f99059fF775485246999027B3197955".parse().expect("address"),
        decimals: 18,
    }
}

pub(crate) fn address(byte: u8) -> EvmAddress {
    EvmAddress::new([byte; 20].into())
}

pub(crate) fn waiting_session(amount: Option<u128>, refund: Option<EvmAddress>) -> Session {
    let new = NewSession {
        destination: Destination {
            address: address(0xd),
            chain_id: ChainId::new(8453),
            chain_name: "Base".into(),
            token: usdc(8453),
            amount: amount.map(BaseUnits::new),
            calldata: None,
            delivery: None,
        },
        display: DisplayInfo::parse("t".into(), "Pay".into(), None, None).expect("display"),
        metadata: None,
        refund_address: refund,
    };
    let session = Session::create(
        new,
        SessionId::from_bytes([1; 16]),
        MerchantId::from_random_bytes([2; 16]),
        ClientSecret::from_bytes([3; 16]),
        Timestamp::from_unix_seconds(1000),
    );
    session.set_evm_payment_method(address(0xe), Timestamp::from_unix_seconds(1001)).expect("legal").expect("changed")
}

pub(crate) fn deposit(chain: u64, token: Token, amount: u128) -> Deposit {
    Deposit {
        chain_id: ChainId::new(chain),
        chain_name: "X".into(),
        token,
        from: address(0xf),
        receiver: address(0xe),
        amount: BaseUnits::new(amount),
        tx_hash: TxHash::new([9; 32].into()),
        log_index: 3,
        block_number: 7,
    }
}

pub(crate) const NOW: Timestamp = Timestamp::from_unix_seconds(1100);
