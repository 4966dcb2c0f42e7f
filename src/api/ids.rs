//! Identifiers in every accepted wire form (spec/api.md "Identifiers on the wire"):
//! group id as a JSON number, decimal string or `0x` hex string; API keys as plaintext or their
//! keccak256 hash; wallet (PKP) ids in any letter case; hashed CIDs as `0x` + 64 hex.

use std::str::FromStr;

use alloy::primitives::{keccak256, Address, B256};
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
            Wire::Number(n) => n.as_u64().map(GroupId).ok_or_else(|| {
                de::Error::custom(format!("invalid group id {n}: use a non-negative integer"))
            }),
            Wire::Text(text) => GroupId::parse(&text).map_err(de::Error::custom),
        }
    }
}

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
            _ => KeyRef(keccak256(text.as_bytes())),
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

    #[test]
    fn group_ids_in_every_form() {
        for (wire, expected) in [
            ("3", 3),
            ("\"3\"", 3),
            ("\"0x0a\"", 10),
            ("\" 7 \"", 7),
            ("0", 0),
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
