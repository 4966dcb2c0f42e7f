//! The exact JSON Schemas of the values requests carry (ids, CIDs, keys, names), for the OpenAPI
//! document. Each pattern accepts exactly what the matching parser in `ids.rs` or `fields.rs`
//! accepts, so a client generated from the document (or a fuzzer) is neither refused
//! for a value the document allows nor surprised by a value it forbids; the unit tests below hold
//! each pattern against its parser.

use std::sync::LazyLock;

use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, Array, ArrayBuilder, Object, ObjectBuilder,
    OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;

use super::fields::MAX_TEXT_CHARS;

/// The characters Rust's `str::trim` removes (Unicode `White_Space`), as a regex class body.
const TRIMMED: &str = r"\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

fn padded(core: &str) -> String {
    format!("^[{TRIMMED}]*(?:{core})[{TRIMMED}]*$")
}

/// A regex matching the strings of `low.len()` characters from `alphabet` (in its order) that lie
/// between `low` and `high` inclusive, compared digit by digit. Both have the same length.
fn between(alphabet: &[u8], low: &[u8], high: &[u8]) -> String {
    fn position(alphabet: &[u8], c: u8) -> usize {
        alphabet
            .iter()
            .position(|&a| a == c)
            .expect("digit of the alphabet")
    }
    fn class(alphabet: &[u8], from: usize, to: usize) -> String {
        // Consecutive runs in ASCII order become ranges; the alphabet's gaps (base58) stay gaps.
        let digits = &alphabet[from..=to];
        let mut out = String::from("[");
        let mut i = 0;
        while i < digits.len() {
            let mut j = i;
            while j + 1 < digits.len() && digits[j + 1] == digits[j] + 1 {
                j += 1;
            }
            out.push(digits[i] as char);
            if j > i {
                out.push('-');
                out.push(digits[j] as char);
            }
            i = j + 1;
        }
        out.push(']');
        out
    }
    fn any(alphabet: &[u8], count: usize) -> String {
        match count {
            0 => String::new(),
            1 => class(alphabet, 0, alphabet.len() - 1),
            n => format!("{}{{{n}}}", class(alphabet, 0, alphabet.len() - 1)),
        }
    }
    // Strings of low.len() digits ≥ low.
    fn at_least(alphabet: &[u8], low: &[u8]) -> String {
        let Some((&first, rest)) = low.split_first() else {
            return String::new();
        };
        if low.iter().all(|&c| c == alphabet[0]) {
            return any(alphabet, low.len());
        }
        let f = position(alphabet, first);
        let mut options = vec![format!("{}{}", first as char, at_least(alphabet, rest))];
        if f + 1 < alphabet.len() {
            options.push(format!(
                "{}{}",
                class(alphabet, f + 1, alphabet.len() - 1),
                any(alphabet, rest.len())
            ));
        }
        format!("(?:{})", options.join("|"))
    }
    // Strings of high.len() digits ≤ high.
    fn at_most(alphabet: &[u8], high: &[u8]) -> String {
        let Some((&first, rest)) = high.split_first() else {
            return String::new();
        };
        if high.iter().all(|&c| c == alphabet[alphabet.len() - 1]) {
            return any(alphabet, high.len());
        }
        let f = position(alphabet, first);
        let mut options = vec![format!("{}{}", first as char, at_most(alphabet, rest))];
        if f > 0 {
            options.push(format!(
                "{}{}",
                class(alphabet, 0, f - 1),
                any(alphabet, rest.len())
            ));
        }
        format!("(?:{})", options.join("|"))
    }
    assert_eq!(low.len(), high.len());
    let (Some((&l, low_rest)), Some((&h, high_rest))) = (low.split_first(), high.split_first())
    else {
        return String::new();
    };
    if l == h {
        return format!("{}{}", l as char, between(alphabet, low_rest, high_rest));
    }
    let (lp, hp) = (position(alphabet, l), position(alphabet, h));
    let mut options = vec![format!("{}{}", l as char, at_least(alphabet, low_rest))];
    if lp + 1 < hp {
        options.push(format!(
            "{}{}",
            class(alphabet, lp + 1, hp - 1),
            any(alphabet, low_rest.len())
        ));
    }
    options.push(format!("{}{}", h as char, at_most(alphabet, high_rest)));
    format!("(?:{})", options.join("|"))
}

const DECIMAL: &[u8] = b"0123456789";
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// `str::parse::<u64>` / `u64::from_str_radix(_, 16)` inputs: an optional `+`, any leading zeros,
/// and a value ≤ u64::MAX.
fn u64_text() -> String {
    let max = u64::MAX.to_string();
    let shorter = format!("[1-9][0-9]{{0,{}}}", max.len() - 2);
    let longest = between(
        DECIMAL,
        format!("1{}", "0".repeat(max.len() - 1)).as_bytes(),
        max.as_bytes(),
    );
    format!(r"\+?(?:0+|0*(?:{shorter}|{longest}))|0[xX]\+?0*[0-9a-fA-F]{{1,16}}")
}

/// A group id given as text (a JSON string or a query parameter): decimal or `0x` hex, optionally
/// padded with whitespace.
pub static GROUP_ID_TEXT: LazyLock<String> = LazyLock::new(|| padded(&u64_text()));

/// A wallet (PKP) id: 40 hex digits in any case, `0x` optional, optionally padded.
pub static WALLET_ID: LazyLock<String> = LazyLock::new(|| padded("(?:0[xX])?[0-9a-fA-F]{40}"));

/// A hashed CID: `0x` + 64 hex digits in any case, optionally padded.
pub static HASHED_CID: LazyLock<String> = LazyLock::new(|| padded("0x[0-9a-fA-F]{64}"));

/// Text with at least one character `trim` keeps (unanchored: "contains").
pub static NOT_BLANK: LazyLock<String> = LazyLock::new(|| format!("[^{TRIMMED}]"));

/// A CIDv0: base58btc of the sha2-256 multihash `0x12 0x20` + 32 bytes, i.e. exactly the 46-digit
/// base58 numbers from the one for 32 zero bytes to the one for 32 `0xff` bytes.
pub static CID_V0: LazyLock<String> = LazyLock::new(|| {
    let encode = |fill: u8| {
        let digest = multihash::Multihash::<64>::wrap(0x12, &[fill; 32]).expect("sha2-256 size");
        cid::Cid::new_v0(digest).expect("CIDv0").to_string()
    };
    format!(
        "^{}$",
        between(BASE58, encode(0).as_bytes(), encode(0xff).as_bytes())
    )
});

fn string(pattern: &str, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

/// A group id: a JSON integer 0..=u64::MAX, or its decimal / `0x` hex text.
pub fn group_id() -> RefOr<Schema> {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(u64::MAX))
        .build();
    let text = string(&GROUP_ID_TEXT, "decimal or 0x hex");
    let one_of = OneOfBuilder::new()
        .item(number)
        .item(text)
        .description(Some(
            "a group id: a JSON integer, or its decimal or 0x hex text",
        ))
        .examples([serde_json::json!("1")])
        .build();
    Schema::OneOf(one_of).into()
}

/// A wallet (PKP) id.
pub fn wallet_id() -> RefOr<Schema> {
    let mut schema = string(
        &WALLET_ID,
        "a wallet (PKP) id: its address, any letter case",
    );
    schema.examples = vec![serde_json::json!(
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    )];
    schema.into()
}

/// A hashed CID.
pub fn hashed_cid() -> RefOr<Schema> {
    string(
        &HASHED_CID,
        "keccak256 of an action's CID string, 0x + 64 hex",
    )
    .into()
}

/// An API key: the plaintext, or its keccak256 hash (0x + 64 hex).
pub fn key_ref() -> RefOr<Schema> {
    string(
        &NOT_BLANK,
        "an API key: its plaintext or its keccak256 hash (0x + 64 hex)",
    )
    .into()
}

/// A CIDv0 (`Qm…`).
pub fn cid_v0() -> Object {
    string(&CID_V0, "a CIDv0 (Qm…, 46 characters)")
}

/// `[name, version]` pairs (`version`'s `submodule_versions`).
pub fn name_version_pairs() -> Array {
    let pair = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(2))
        .max_items(Some(2));
    ArrayBuilder::new().items(pair).build()
}

/// Any JSON value.
pub fn any_value() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .build()
}

/// `lit_action`'s body: `code` (non-empty) or `ipfs_id` (not blank), `js_params` any JSON value,
/// nothing else.
pub fn lit_action_request() -> RefOr<Schema> {
    let nullable_string =
        || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
    let fields = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "code",
            nullable_string().description(Some(
                "The action's JavaScript source. Takes precedence over `ipfs_id` when not empty.",
            )),
        )
        .property(
            "ipfs_id",
            nullable_string().description(Some(
                "CIDv0 of code registered with `add_action` or run on this node before.",
            )),
        )
        .property(
            "js_params",
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(Some("Passed to `main(js_params)`; absent → `null`.")),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let with_code = ObjectBuilder::new().required("code").property(
        "code",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1)),
    );
    let with_cid = ObjectBuilder::new().required("ipfs_id").property(
        "ipfs_id",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(NOT_BLANK.as_str())),
    );
    let all_of = AllOfBuilder::new()
        .item(fields)
        .item(AnyOfBuilder::new().item(with_code).item(with_cid))
        .description(Some(
            "The action's code inline (`code`) or by CID (`ipfs_id`).",
        ))
        .build();
    Schema::AllOf(all_of).into()
}

/// A name or description.
pub fn text() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_TEXT_CHARS))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ids::{GroupId, HashedCid, KeyRef, PkpId};

    /// Whether `text` matches `pattern` (each pattern compiled once).
    fn matches(pattern: &str, text: &str) -> bool {
        thread_local! {
            static COMPILED: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
                Default::default();
        }
        COMPILED.with(|compiled| {
            let mut compiled = compiled.borrow_mut();
            let regex = compiled
                .entry(pattern.to_string())
                .or_insert_with(|| regex::Regex::new(pattern).unwrap());
            regex.is_match(text)
        })
    }

    fn json(text: &str) -> String {
        serde_json::to_string(text).unwrap()
    }

    #[test]
    fn group_id_text_matches_exactly_what_the_parser_takes() {
        let cases = [
            "0",
            "7",
            "007",
            "+7",
            " 7 ",
            "\u{3000}7\t",
            "0x0a",
            "0X0A",
            "0x+a",
            "0x",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "10000000000000000000",
            "0xffffffffffffffff",
            "0x0000ffffffffffffffff",
            "0x1ffffffffffffffff",
            "-1",
            "1.5",
            "",
            "abc",
            "+",
            "0x-1",
            "1e3",
            "\u{1c}1",
        ];
        for case in cases {
            assert_eq!(
                matches(&GROUP_ID_TEXT, case),
                GroupId::parse(case).is_ok(),
                "{case:?}"
            );
        }
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            1 << 40,
            u64::MAX - 1,
            u64::MAX,
            12345678901234567890,
        ] {
            assert!(matches(&GROUP_ID_TEXT, &n.to_string()), "{n}");
            assert!(matches(&GROUP_ID_TEXT, &format!("{n:#x}")), "{n:#x}");
        }
        for over in [
            "18446744073709551616",
            "18446744073709551620",
            "18446744073709551700",
            "18446744073709552615",
            "19446744073709551615",
            "28446744073709551615",
            "100000000000000000000",
        ] {
            assert!(!matches(&GROUP_ID_TEXT, over), "{over}");
        }
    }

    #[test]
    fn wallet_and_hashed_cid_patterns_match_their_parsers() {
        let wallet = "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        for case in [
            format!("0x{wallet}"),
            format!("0X{}", wallet.to_uppercase()),
            wallet.to_string(),
            format!(" 0x{wallet}\n"),
            format!("0x{}", &wallet[1..]),
            format!("0x{wallet}0"),
            format!("0x{}g", &wallet[1..]),
            String::new(),
        ] {
            assert_eq!(
                matches(&WALLET_ID, &case),
                serde_json::from_str::<PkpId>(&json(&case)).is_ok(),
                "{case:?}"
            );
        }
        let hash = "ab".repeat(32);
        for case in [
            format!("0x{hash}"),
            format!("0x{}", hash.to_uppercase()),
            format!("0X{hash}"),
            hash.clone(),
            format!(" 0x{hash} "),
            format!("0x{}", &hash[1..]),
            String::new(),
        ] {
            assert_eq!(
                matches(&HASHED_CID, &case),
                serde_json::from_str::<HashedCid>(&json(&case)).is_ok(),
                "{case:?}"
            );
        }
        for case in ["k", " k ", "", " ", "\u{3000}", "\u{1c}", "\t\n"] {
            assert_eq!(
                matches(&NOT_BLANK, case),
                serde_json::from_str::<KeyRef>(&json(case)).is_ok(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn the_cid_pattern_is_exactly_the_cidv0_range() {
        let is_v0 =
            |text: &str| cid::Cid::try_from(text).is_ok_and(|c| c.version() == cid::Version::V0);
        let real = crate::cid::cid_v0(b"async function main() {}");
        let mut cases = vec![real.clone(), format!(" {real}"), real[..45].to_string()];
        // Every Qm… string at the edges of the range, and random ones across it.
        let encode = |fill: u8| {
            let digest = multihash::Multihash::<64>::wrap(0x12, &[fill; 32]).unwrap();
            cid::Cid::new_v0(digest).unwrap().to_string()
        };
        for edge in [encode(0), encode(0xff)] {
            for i in 2..46 {
                for c in BASE58.iter().step_by(7) {
                    let mut s = edge.clone().into_bytes();
                    s[i] = *c;
                    cases.push(String::from_utf8(s).unwrap());
                }
            }
        }
        for seed in 0..2000u32 {
            let mut s = b"Qm".to_vec();
            let mut x = seed.wrapping_mul(2654435761);
            for _ in 0..44 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                s.push(BASE58[(x % 58) as usize]);
            }
            cases.push(String::from_utf8(s).unwrap());
        }
        let (mut valid, mut invalid) = (0, 0);
        for case in &cases {
            let v0 = is_v0(case);
            assert_eq!(matches(&CID_V0, case), v0, "{case}");
            if v0 {
                valid += 1
            } else {
                invalid += 1
            }
        }
        assert!(
            valid > 100 && invalid > 100,
            "{valid} valid, {invalid} invalid"
        );
    }
}
