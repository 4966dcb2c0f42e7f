//! Checks on request fields that their types do not express: the length of names and
//! descriptions, and CIDv0 syntax. `wire_schema` documents the same rules.

use super::error::ApiError;

/// The longest accepted name or description, in characters (Unicode scalar values, as JSON
/// Schema's `maxLength` counts them).
pub const MAX_TEXT_CHARS: usize = 1024;

/// Rejects a name or description that is too long, naming the field.
pub fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("`{field}` is {chars} characters long; the limit is {MAX_TEXT_CHARS}"),
        ));
    }
    Ok(())
}

/// Rejects anything but a CIDv0 (`Qm…`, base58btc sha2-256 multihash), naming the field.
pub fn check_cid(field: &str, cid: &str) -> Result<(), ApiError> {
    match cid::Cid::try_from(cid) {
        Ok(parsed) if parsed.version() == cid::Version::V0 => Ok(()),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            format!("`{field}` is not a CIDv0 (Qm…): {cid:?}"),
        )),
    }
}
