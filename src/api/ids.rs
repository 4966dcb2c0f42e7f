//! Identifiers in every accepted wire form (spec/api.md "Identifiers on the wire"):
//! group id as a JSON number, decimal string or `0x` hex string; API keys as plaintext or their
//! keccak256 hash; wallet (PKP) ids in any letter case; hashed CIDs as `0x` + 64 hex.

use crate::keys::api_key::key_hash;
use std::str::FromStr;

use alloy::primitives::{Address, B256};
use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::error::ApiError;

/// A group id (0 = the "every group" wildcard in scope lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupId(pub u64);

impl GroupId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse::<u64>(),
        };
        parsed.map(GroupId).map_err(|_| {
            format!("invalid group id {text:?}: use a non-negative integer, decimal or 0x hex")
        })
    }
}

impl<'de> Deserialize<'de> for GroupId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(serde_json::Number),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Number(n) => whole_number(&n).map(GroupId).ok_or_else(|| {
                de::Error::custom(format!("invalid group id {n}: use a non-negative integer"))
            }),
            Wire::Text(text) => GroupId::parse(&text).map_err(de::Error::custom),
        }
    }
}

/// A JSON number that is a whole number in u64's range: `7`, and also `7.0` or `7e0`, which JSON
/// Schema (and so the API document) counts as integers too.
fn whole_number(n: &serde_json::Number) -> Option<u64> {
    if let Some(n) = n.as_u64() {
        return Some(n);
    }
    // Every f64 from 2^53 up is whole, and 2^64 is the first one past u64::MAX.
    let f = n.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

/// `#[serde(deserialize_with = "count")]` for a non-negative integer field: any JSON number that
/// is a whole number in u64's range (see [`whole_number`]).
pub fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(deserializer)?;
    whole_number(&n)
        .ok_or_else(|| de::Error::custom(format!("{n} is not a non-negative whole number")))
}

/// Schemas for the OpenAPI document, from `wire_schema` (exactly what the parsers take).
macro_rules! wire_schema {
    ($type:ty, $name:literal, $schema:path) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema()
            }
        }
        impl utoipa::ToSchema for $type {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}
wire_schema!(GroupId, "GroupId", super::wire_schema::group_id);
wire_schema!(KeyRef, "ApiKeyRef", super::wire_schema::key_ref);
wire_schema!(PkpId, "WalletId", super::wire_schema::wallet_id);
wire_schema!(HashedCid, "HashedCid", super::wire_schema::hashed_cid);

/// An API key given as its plaintext or as its hash (`0x` + 64 hex); always compared by hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef(pub B256);

impl KeyRef {
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match (
            text.len(),
            text.strip_prefix("0x").and_then(|h| B256::from_str(h).ok()),
        ) {
            (66, Some(hash)) => KeyRef(hash),
            _ => KeyRef(key_hash(text)),
        }
    }
}

impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("the API key must not be empty"));
        }
        Ok(KeyRef::parse(&text))
    }
}

/// A wallet (PKP) id: its address, in any letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PkpId(pub Address);

impl<'de> Deserialize<'de> for PkpId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let hex = text
            .trim()
            .strip_prefix("0x")
            .or_else(|| text.trim().strip_prefix("0X"))
            .unwrap_or(text.trim());
        if hex.len() != 40 {
            return Err(de::Error::custom(format!(
                "invalid wallet id {text:?}: expected 0x + 40 hex characters"
            )));
        }
        Address::from_str(&hex.to_ascii_lowercase())
            .map(PkpId)
            .map_err(|_| {
                de::Error::custom(format!(
                    "invalid wallet id {text:?}: expected 0x + 40 hex characters"
                ))
            })
    }
}

/// A hashed CID: `0x` + 64 hex (keccak256 of the CID string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedCid(pub B256);

impl<'de> Deserialize<'de> for HashedCid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let trimmed = text.trim();
        match trimmed
            .strip_prefix("0x")
            .filter(|h| h.len() == 64)
            .and_then(|h| B256::from_str(h).ok())
        {
            Some(hash) => Ok(HashedCid(hash)),
            None => Err(de::Error::custom(format!(
                "invalid hashed CID {text:?}: expected 0x + 64 hex characters"
            ))),
        }
    }
}

/// A group id from a query parameter.
pub fn group_id_query(value: Option<&str>) -> Result<GroupId, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::bad_request("invalid_query", "missing query parameter `group_id`")
    })?;
    GroupId::parse(value)
        .map_err(|e| ApiError::bad_request("invalid_query", format!("`group_id`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    #[test]
    fn group_ids_in_every_form() {
        for (wire, expected) in [
            ("3", 3),
            ("\"3\"", 3),
            ("\"0x0a\"", 10),
            ("\" 7 \"", 7),
            ("0", 0),
            ("7.0", 7),
            ("7e0", 7),
            ("1e19", 10_000_000_000_000_000_000),
        ] {
            assert_eq!(
                serde_json::from_str::<GroupId>(wire).unwrap(),
                GroupId(expected),
                "{wire}"
            );
        }
        for bad in [
            "-1",
            "1.5",
            "\"abc\"",
            "\"0xzz\"",
            "\"-2\"",
            "18446744073709551616",
            "18446744073709551616.0",
            "1.5e0",
            "-0.5",
            "null",
            "true",
        ] {
            assert!(
                serde_json::from_str::<GroupId>(bad).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn counts_are_whole_numbers_however_written() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(deserialize_with = "count")]
            n: u64,
        }
        let n =
            |json: &str| serde_json::from_str::<Body>(&format!("{{\"n\":{json}}}")).map(|b| b.n);
        assert_eq!(n("500").unwrap(), 500);
        assert_eq!(n("500.0").unwrap(), 500);
        assert_eq!(n("5e2").unwrap(), 500);
        assert_eq!(n("1872132667678053.0").unwrap(), 1_872_132_667_678_053);
        for bad in ["500.5", "-1", "\"500\"", "1e20", "null"] {
            assert!(n(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn keys_as_plaintext_or_hash() {
        let plain = KeyRef::parse("my-key");
        assert_eq!(plain.0, keccak256("my-key"));
        let as_hash = KeyRef::parse(&format!("{:#x}", keccak256("my-key")));
        assert_eq!(as_hash, plain);
    }

    #[test]
    fn pkp_ids_in_any_case() {
        let lower: PkpId =
            serde_json::from_str("\"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\"").unwrap();
        let checksummed: PkpId =
            serde_json::from_str("\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"").unwrap();
        let upper: PkpId =
            serde_json::from_str("\"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED\"").unwrap();
        assert_eq!(lower, checksummed);
        assert_eq!(lower, upper);
        assert!(serde_json::from_str::<PkpId>("\"0x1234\"").is_err());
        assert!(
            serde_json::from_str::<PkpId>("\"0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed\"")
                .is_err()
        );
    }

    #[test]
    fn hashed_cids_need_the_full_hash() {
        let ok: HashedCid = serde_json::from_str(&format!("\"{:#x}\"", keccak256("QmX"))).unwrap();
        assert_eq!(ok.0, keccak256("QmX"));
        assert!(serde_json::from_str::<HashedCid>("\"QmX\"").is_err());
        assert!(serde_json::from_str::<HashedCid>("\"0x1234\"").is_err());
    }
}
