//! Messages signed by a wallet (spec/chain.md, "Self-managed accounts"): EIP-191 plaintext with
//! the case-sensitive lines `Address: 0x…`, `Chain ID: <n>` and `Issued At: <unix seconds>`
//! (other lines are ignored, except `Account: 0x…`, which `create_wallet_with_signature` reads).
//! A message is accepted only for this node's chain, within ±300 s of its Issued At, when signed
//! by its Address — an EOA by ecrecover, a contract wallet by ERC-1271 — and only once: the node
//! remembers accepted messages' hashes until their window has passed.

use alloy::primitives::{Address, Signature, B256};
use axum::http::StatusCode;

use super::error::ApiError;
use crate::app::AppContext;
use crate::chain::erc1271::ContractVerdict;
use crate::keys::ecdsa::eip191_digest;

/// How far Issued At may be from the node's clock, either way.
pub const WINDOW_SECS: u64 = 300;
/// Longest accepted message and signature (bytes of text).
pub const MAX_MESSAGE_BYTES: usize = 4096;
pub const MAX_SIGNATURE_BYTES: usize = 8192;

/// A parsed message (its signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletMessage {
    pub address: Address,
    pub chain_id: u64,
    pub issued_at: u64,
    /// The optional `Account: 0x…` line.
    pub account: Option<B256>,
    /// The EIP-191 digest: what an EOA signs and what ERC-1271 wallets are asked about.
    pub hash: B256,
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_message", message)
}

fn unauthorized(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The value of the one line starting with `name: ` (case-sensitive); `None` if absent.
fn line_value<'a>(message: &'a str, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    for line in message.lines() {
        if let Some(value) = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
        {
            if found.is_some() {
                return Err(invalid(format!(
                    "the message has more than one `{name}:` line"
                )));
            }
            found = Some(value.trim());
        }
    }
    Ok(found)
}

fn required<'a>(message: &'a str, name: &str, example: &str) -> Result<&'a str, ApiError> {
    line_value(message, name)?.ok_or_else(|| {
        invalid(format!(
            "the message has no `{name}:` line (expected a line `{name}: {example}`)"
        ))
    })
}

/// An address in hex; mixed case must be a valid EIP-55 checksum.
pub fn parse_address(field: &str, value: &str) -> Result<Address, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_address",
            format!("{field} {value:?} is not an address: {why}"),
        )
    };
    let digits = value
        .strip_prefix("0x")
        .ok_or_else(|| bad("expected 0x followed by 40 hex digits"))?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("expected 0x followed by 40 hex digits"));
    }
    let mixed = digits.bytes().any(|b| b.is_ascii_uppercase())
        && digits.bytes().any(|b| b.is_ascii_lowercase());
    if mixed {
        Address::parse_checksummed(value, None).map_err(|_| bad("its EIP-55 checksum is wrong"))
    } else {
        value.parse().map_err(|_| bad("not hex"))
    }
}

/// Parses and checks the message's lines against this node's chain and clock.
pub fn parse(message: &str, chain_id: u64, now: u64) -> Result<WalletMessage, ApiError> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(invalid(format!(
            "the message is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
            message.len()
        )));
    }
    let address = parse_address(
        "the message's Address",
        required(message, "Address", "0x…")?,
    )?;
    let chain_text = required(message, "Chain ID", &chain_id.to_string())?;
    let signed_chain: u64 = chain_text
        .parse()
        .ok()
        .filter(|_| chain_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| invalid(format!("Chain ID {chain_text:?} is not a decimal chain id")))?;
    if signed_chain != chain_id {
        return Err(ApiError::bad_request(
            "wrong_chain",
            format!(
                "the message is for chain id {signed_chain}; this node serves chain id {chain_id}"
            ),
        ));
    }
    let issued_text = required(message, "Issued At", &now.to_string())?;
    let issued_at: u64 = issued_text
        .parse()
        .ok()
        .filter(|_| issued_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            invalid(format!(
                "Issued At {issued_text:?} is not a time in unix seconds (like {now})"
            ))
        })?;
    if issued_at + WINDOW_SECS < now {
        return Err(ApiError::bad_request(
            "message_expired",
            format!(
                "the message was issued {} s ago; sign a new one (messages are accepted for {WINDOW_SECS} s)",
                now - issued_at
            ),
        ));
    }
    if issued_at > now + WINDOW_SECS {
        return Err(ApiError::bad_request(
            "message_from_the_future",
            format!(
                "the message's Issued At is {} s in the future (the node's clock says {now}); at most {WINDOW_SECS} s is allowed",
                issued_at - now
            ),
        ));
    }
    let account = line_value(message, "Account")?
        .map(|value| {
            value
                .parse::<B256>()
                .ok()
                .filter(|_| value.starts_with("0x"))
                .ok_or_else(|| {
                    invalid(format!(
                        "Account {value:?} is not an account id (0x followed by 64 hex digits)"
                    ))
                })
        })
        .transpose()?;
    Ok(WalletMessage {
        address,
        chain_id: signed_chain,
        issued_at,
        account,
        hash: eip191_digest(message.as_bytes()),
    })
}

/// The signature's bytes, from hex (`0x` optional).
pub fn decode_signature(signature: &str) -> Result<Vec<u8>, ApiError> {
    let bad = |why: String| ApiError::bad_request("invalid_signature_encoding", why);
    let text = signature.trim();
    if text.len() > MAX_SIGNATURE_BYTES {
        return Err(bad(format!(
            "the signature is {} characters; the limit is {MAX_SIGNATURE_BYTES}",
            text.len()
        )));
    }
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| {
        bad(format!(
            "the signature is not hex ({e}); send 0x followed by the signature's bytes in hex"
        ))
    })?;
    if bytes.is_empty() {
        return Err(bad("the signature is empty".into()));
    }
    Ok(bytes)
}

/// The EOA that signed `hash`, when `signature` is a 65-byte `r ‖ s ‖ v` one.
fn recover(hash: &B256, signature: &[u8]) -> Option<Address> {
    if signature.len() != 65 {
        return None;
    }
    Signature::try_from(signature)
        .ok()?
        .recover_address_from_prehash(hash)
        .ok()
}

/// Parses the message and checks that its Address signed it. Does not mark it used: call
/// [`consume`] once the request is otherwise valid.
pub async fn authenticate(
    ctx: &AppContext,
    message: &str,
    signature: &str,
) -> Result<WalletMessage, ApiError> {
    let parsed = parse(message, ctx.chain.chain_id, super::unix_now())?;
    let signature = decode_signature(signature)?;
    let recovered = recover(&parsed.hash, &signature);
    if recovered == Some(parsed.address) {
        return Ok(parsed);
    }
    let verdict = ctx
        .contract_wallets
        .check(parsed.address, parsed.hash, &signature)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chain_unavailable",
                format!("cannot ask the chain whether the wallet accepts the signature: {e}"),
            )
        })?;
    match verdict {
        ContractVerdict::Accepted => Ok(parsed),
        ContractVerdict::Refused => Err(unauthorized(
            "invalid_signature",
            format!(
                "contract wallet {:#x} does not accept this signature for the message (ERC-1271 isValidSignature)",
                parsed.address
            ),
        )),
        ContractVerdict::NotAContract => Err(unauthorized(
            "invalid_signature",
            match recovered {
                Some(signer) => format!(
                    "the message was signed by {signer:#x}, not by its Address {:#x}",
                    parsed.address
                ),
                None => format!(
                    "the signature is not a valid signature of the message by {:#x} (an EOA signs with 65 bytes r‖s‖v)",
                    parsed.address
                ),
            },
        )),
    }
}

/// Marks an authenticated message used; 401 when it was used before.
pub fn consume(ctx: &AppContext, message: &WalletMessage) -> Result<(), ApiError> {
    let expires_at = message.issued_at + WINDOW_SECS + 1;
    if ctx
        .store
        .use_message(&message.hash, expires_at, super::unix_now())?
    {
        Ok(())
    } else {
        Err(unauthorized(
            "message_already_used",
            "this signed message was already used; sign a new one (with a new Issued At)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: u64 = 31337;
    const NOW: u64 = 1_800_000_000;
    const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    fn message(lines: &[&str]) -> String {
        lines.join("\n")
    }

    fn good() -> String {
        message(&[
            "Sign in to lit-node",
            &format!("Address: {ADDRESS}"),
            "Chain ID: 31337",
            &format!("Issued At: {NOW}"),
        ])
    }

    #[test]
    fn the_three_lines_are_read_and_other_lines_ignored() {
        let parsed = parse(&good(), CHAIN, NOW + 10).unwrap();
        assert_eq!(parsed.address, ADDRESS.parse::<Address>().unwrap());
        assert_eq!(parsed.issued_at, NOW);
        assert_eq!(parsed.account, None);
        assert_eq!(parsed.hash, eip191_digest(good().as_bytes()));
        let with_crlf = good().replace('\n', "\r\n");
        assert_eq!(parse(&with_crlf, CHAIN, NOW).unwrap().issued_at, NOW);
    }

    #[test]
    fn each_problem_is_named() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                good().replace("Address: ", "address: "),
                "invalid_message",
                "no `Address:` line",
            ),
            (
                good().replace("Chain ID: 31337", ""),
                "invalid_message",
                "no `Chain ID:` line",
            ),
            (
                good().replace(&format!("Issued At: {NOW}"), ""),
                "invalid_message",
                "no `Issued At:` line",
            ),
            (good().replace("31337", "1"), "wrong_chain", "chain id 1"),
            (
                good().replace("31337", "0x7a69"),
                "invalid_message",
                "not a decimal chain id",
            ),
            (
                good().replace(&NOW.to_string(), &(NOW - 301).to_string()),
                "message_expired",
                "301 s ago",
            ),
            (
                good().replace(&NOW.to_string(), &(NOW + 301).to_string()),
                "message_from_the_future",
                "301 s in the future",
            ),
            (
                good().replace(&NOW.to_string(), "2026-12-07T00:00:00Z"),
                "invalid_message",
                "unix seconds",
            ),
            (
                good().replace(ADDRESS, "0x1234"),
                "invalid_address",
                "40 hex digits",
            ),
            (
                good().replace(ADDRESS, &ADDRESS.replace('F', "f").replacen('a', "A", 1)),
                "invalid_address",
                "checksum",
            ),
            (
                format!("{}\nAddress: {ADDRESS}", good()),
                "invalid_message",
                "more than one `Address:`",
            ),
            (
                format!("{}\nAccount: 0x12", good()),
                "invalid_message",
                "not an account id",
            ),
            (
                "x".repeat(MAX_MESSAGE_BYTES + 1),
                "invalid_message",
                "limit",
            ),
        ];
        for (text, code, needle) in cases {
            let err = parse(&text, CHAIN, NOW).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{text}");
            assert_eq!(err.code, code, "{text}: {}", err.message);
            assert!(err.message.contains(needle), "{text}: {}", err.message);
        }
        // Lowercase addresses need no checksum; the window's edges are inside.
        assert!(parse(
            &good().replace(ADDRESS, &ADDRESS.to_lowercase()),
            CHAIN,
            NOW
        )
        .is_ok());
        assert!(parse(&good(), CHAIN, NOW + WINDOW_SECS).is_ok());
        assert!(parse(&good(), CHAIN, NOW - WINDOW_SECS).is_ok());
    }

    #[test]
    fn signatures_decode_from_hex_or_say_why_not() {
        assert_eq!(decode_signature("0x0102").unwrap(), vec![1, 2]);
        assert_eq!(decode_signature("0102").unwrap(), vec![1, 2]);
        for bad in ["0xzz", "0x123", "", "0x"] {
            let err = decode_signature(bad).unwrap_err();
            assert_eq!(err.code, "invalid_signature_encoding", "{bad}");
        }
    }

    #[test]
    fn an_eoa_signature_recovers_its_signer() {
        let key = crate::keys::ecdsa::secret_key(&[7u8; 32]).unwrap();
        let signer = crate::keys::derive::address_of(&key);
        let text = good();
        let signature = crate::keys::ecdsa::sign_message(&key, text.as_bytes());
        let hash = eip191_digest(text.as_bytes());
        assert_eq!(recover(&hash, &signature), Some(signer));
        assert_ne!(recover(&eip191_digest(b"other"), &signature), Some(signer));
        assert_eq!(recover(&hash, &signature[..64]), None);
    }
}
