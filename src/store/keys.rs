//! Key encodings of the `state` column family. Every key starts with a one-byte table tag;
//! numbers are big-endian so RocksDB's byte order is creation order. One table per line:
//!
//! | tag | key                                   | value          |
//! |-----|---------------------------------------|----------------|
//! | `a` | account(32)                           | AccountRecord  |
//! | `A` | admin(20) ‖ account(32)               | —              | self-managed accounts by admin
//! | `k` | key_hash(32)                          | KeyRecord      |
//! | `K` | account(32) ‖ seq(8)                  | key_hash(32)   | usage keys in creation order
//! | `w` | wallet(20)                            | WalletRecord   |
//! | `W` | account(32) ‖ ordinal(8)              | wallet(20)     | wallets in creation order
//! | `g` | account(32) ‖ group(8)                | GroupRecord    | groups in id (= creation) order
//! | `G` | account(32) ‖ group(8) ‖ `c` ‖ cid(32)| —              | group action set
//! | `G` | account(32) ‖ group(8) ‖ `w` ‖ wallet(20) | —          | group wallet set
//! | `x` | account(32) ‖ cid_hash(32)            | ActionRecord   |
//! | `X` | account(32) ‖ seq(8)                  | cid_hash(32)   | actions in creation order
//! | `c` | config key (utf8)                     | value (utf8)   |
//! | `p` | payer(20)                             | —              |
//! | `s` | signer(20)                            | —              | NodeConfig's node signers
//! | `o` | `admin_payer` / `owner`               | address(20)    |
//! | `y` | payment_id(32)                        | —              | credited payments
//! | `z` | settlement_id(32)                     | —              | applied settlements

use alloy::primitives::{Address, B256};

pub const ACCOUNT: u8 = b'a';
pub const ADMIN_ACCOUNT: u8 = b'A';
pub const KEY: u8 = b'k';
pub const ACCOUNT_KEYS: u8 = b'K';
pub const WALLET: u8 = b'w';
pub const ACCOUNT_WALLETS: u8 = b'W';
pub const GROUP: u8 = b'g';
pub const GROUP_MEMBER: u8 = b'G';
pub const ACTION: u8 = b'x';
pub const ACCOUNT_ACTIONS: u8 = b'X';
pub const CONFIG: u8 = b'c';
pub const PAYER: u8 = b'p';
pub const SIGNER: u8 = b's';
pub const OPERATOR: u8 = b'o';
pub const PAYMENT: u8 = b'y';
pub const SETTLEMENT: u8 = b'z';

const MEMBER_ACTION: u8 = b'c';
const MEMBER_WALLET: u8 = b'w';

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

pub fn account(account: &B256) -> Vec<u8> {
    key(&[&[ACCOUNT], account.as_slice()])
}
pub fn admin_accounts_prefix(admin: &Address) -> Vec<u8> {
    key(&[&[ADMIN_ACCOUNT], admin.as_slice()])
}
pub fn admin_account(admin: &Address, account: &B256) -> Vec<u8> {
    key(&[&[ADMIN_ACCOUNT], admin.as_slice(), account.as_slice()])
}
pub fn key_record(key_hash: &B256) -> Vec<u8> {
    key(&[&[KEY], key_hash.as_slice()])
}
pub fn account_keys_prefix(account: &B256) -> Vec<u8> {
    key(&[&[ACCOUNT_KEYS], account.as_slice()])
}
pub fn account_key(account: &B256, seq: u64) -> Vec<u8> {
    key(&[&[ACCOUNT_KEYS], account.as_slice(), &seq.to_be_bytes()])
}
pub fn wallet(wallet: &Address) -> Vec<u8> {
    key(&[&[WALLET], wallet.as_slice()])
}
pub fn account_wallets_prefix(account: &B256) -> Vec<u8> {
    key(&[&[ACCOUNT_WALLETS], account.as_slice()])
}
pub fn account_wallet(account: &B256, ordinal: u64) -> Vec<u8> {
    key(&[
        &[ACCOUNT_WALLETS],
        account.as_slice(),
        &ordinal.to_be_bytes(),
    ])
}
pub fn groups_prefix(account: &B256) -> Vec<u8> {
    key(&[&[GROUP], account.as_slice()])
}
pub fn group(account: &B256, group: u64) -> Vec<u8> {
    key(&[&[GROUP], account.as_slice(), &group.to_be_bytes()])
}
pub fn group_members_prefix(account: &B256, group: u64) -> Vec<u8> {
    key(&[&[GROUP_MEMBER], account.as_slice(), &group.to_be_bytes()])
}
pub fn group_actions_prefix(account: &B256, group: u64) -> Vec<u8> {
    key(&[
        &[GROUP_MEMBER],
        account.as_slice(),
        &group.to_be_bytes(),
        &[MEMBER_ACTION],
    ])
}
pub fn group_action(account: &B256, group: u64, cid_hash: &B256) -> Vec<u8> {
    key(&[&group_actions_prefix(account, group), cid_hash.as_slice()])
}
pub fn group_wallets_prefix(account: &B256, group: u64) -> Vec<u8> {
    key(&[
        &[GROUP_MEMBER],
        account.as_slice(),
        &group.to_be_bytes(),
        &[MEMBER_WALLET],
    ])
}
pub fn group_wallet(account: &B256, group: u64, wallet: &Address) -> Vec<u8> {
    key(&[&group_wallets_prefix(account, group), wallet.as_slice()])
}
pub fn action(account: &B256, cid_hash: &B256) -> Vec<u8> {
    key(&[&[ACTION], account.as_slice(), cid_hash.as_slice()])
}
pub fn account_actions_prefix(account: &B256) -> Vec<u8> {
    key(&[&[ACCOUNT_ACTIONS], account.as_slice()])
}
pub fn account_action(account: &B256, seq: u64) -> Vec<u8> {
    key(&[&[ACCOUNT_ACTIONS], account.as_slice(), &seq.to_be_bytes()])
}
pub fn config(name: &str) -> Vec<u8> {
    key(&[&[CONFIG], name.as_bytes()])
}
pub fn config_prefix() -> Vec<u8> {
    vec![CONFIG]
}
pub fn payer(payer: &Address) -> Vec<u8> {
    key(&[&[PAYER], payer.as_slice()])
}
pub fn signer(signer: &Address) -> Vec<u8> {
    key(&[&[SIGNER], signer.as_slice()])
}
pub fn payers_prefix() -> Vec<u8> {
    vec![PAYER]
}
pub fn operator(role: &str) -> Vec<u8> {
    key(&[&[OPERATOR], role.as_bytes()])
}
pub fn payment(payment_id: &B256) -> Vec<u8> {
    key(&[&[PAYMENT], payment_id.as_slice()])
}
pub fn settlement(settlement_id: &B256) -> Vec<u8> {
    key(&[&[SETTLEMENT], settlement_id.as_slice()])
}

/// The last 8 bytes of a key as a big-endian number (group id, ordinal, sequence).
pub fn trailing_u64(key: &[u8]) -> u64 {
    let tail: [u8; 8] = key[key.len() - 8..]
        .try_into()
        .expect("key ends with 8 bytes");
    u64::from_be_bytes(tail)
}

/// Group id on chain is a uint256 counting from 1; ids beyond u64 can never exist, so they
/// map to `u64::MAX`, which matches no group.
pub fn group_id_u64(id: alloy::primitives::U256) -> u64 {
    u64::try_from(id).unwrap_or(u64::MAX)
}
