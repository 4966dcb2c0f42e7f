//! Authentication: the API key from `X-Api-Key: <key>` or `Authorization: Bearer <key>` (scheme
//! case-insensitive), read only by [`api_key`] and hashed with keccak256 — the only form the node
//! ever stores or compares.
//! [`ApiKey`] only reads the key (for `account_exists`, which answers `false` for unknown keys);
//! [`Caller`] also resolves it through the mirror and answers 401 when it belongs to no account.

use crate::keys::api_key::key_hash;
use alloy::primitives::B256;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use super::error::ApiError;
use crate::app::SharedContext;
use std::sync::Arc;

pub use crate::store::permissions::GroupScope;
use crate::store::permissions::{KeyGrant, KeyState};
use crate::store::records::UsageKeyRecord;

/// The hash of the request's API key.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey(pub B256);

/// A key that belongs to a live account, resolved once per request through the access policy
/// (`store::permissions`): its grant says what it may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_hash: B256,
    pub account: B256,
    pub grant: Arc<KeyGrant>,
}

impl Caller {
    /// `None` for the account key; the scopes of a usage key otherwise.
    pub fn usage(&self) -> Option<&UsageKeyRecord> {
        self.grant.usage.as_ref()
    }

    pub fn is_account_key(&self) -> bool {
        self.grant.is_account_key()
    }

    /// Only the account key may do `what` (403 for usage keys).
    pub fn require_account_key(&self, what: &str) -> Result<(), ApiError> {
        Ok(self.grant.require_account_key(what)?)
    }

    /// A usage key needs the boolean scope `name` (read by `granted`); the account key always may.
    pub fn require_flag(
        &self,
        name: &str,
        granted: impl Fn(&UsageKeyRecord) -> bool,
    ) -> Result<(), ApiError> {
        Ok(self.grant.require_flag(name, granted)?)
    }

    /// A usage key needs `group` (or the 0 wildcard) in the group list of `scope`. Checked
    /// before the group's existence, so a missing scope is a 403 whether or not the group exists.
    pub fn require_group_scope(&self, scope: GroupScope, group: u64) -> Result<(), ApiError> {
        Ok(self.grant.require_group_scope(scope, group)?)
    }
}

/// The API key a request carries — the one reading of the auth headers for the whole node (auth,
/// rate limits, anything else that needs the key): `X-Api-Key: <key>` unless it is blank, else
/// `Authorization: Bearer <key>` (scheme case-insensitive, any spacing). Surrounding whitespace
/// is never part of a key, so every spelling of one key reads the same.
pub fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
    {
        return Some(key);
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// The keccak256 hash of the request's API key ([`api_key`]): the only form the node stores.
pub fn api_key_hash(headers: &HeaderMap) -> Option<B256> {
    api_key(headers).map(key_hash)
}

impl<S: Send + Sync> FromRequestParts<S> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        api_key_hash(&parts.headers).map(ApiKey).ok_or_else(|| {
            ApiError::unauthorized(
                "missing API key: send it as `X-Api-Key: <key>` or `Authorization: Bearer <key>`",
            )
        })
    }
}

impl FromRequestParts<SharedContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &SharedContext) -> Result<Self, ApiError> {
        // Resolved by the rate limiter already, when it could (one resolution per request).
        let resolved = parts.extensions.get::<KeyState>().cloned();
        let state = match resolved {
            Some(state) => state,
            None => {
                let ApiKey(key_hash) = ApiKey::from_request_parts(parts, ctx).await?;
                ctx.permissions.resolve(&key_hash)?
            }
        };
        match state {
            KeyState::Live(grant) => Ok(Caller {
                key_hash: grant.key_hash,
                account: grant.account,
                grant,
            }),
            KeyState::Expired => Err(ApiError::unauthorized(
                "this API key has expired; ask the account owner for a new one",
            )),
            KeyState::Unknown => Err(ApiError::unauthorized(
                "unknown API key: it belongs to no account (or was removed); create an account with POST /core/v1/new_account",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn every_spelling_of_a_key_reads_the_same() {
        for spelling in [
            headers(&[("x-api-key", "k1")]),
            headers(&[("x-api-key", "  k1 ")]),
            headers(&[("authorization", "Bearer k1")]),
            headers(&[("authorization", "bearer k1")]),
            headers(&[("authorization", "BEARER   k1  ")]),
            headers(&[("authorization", "Bearer\tk1")]),
            headers(&[("x-api-key", ""), ("authorization", "Bearer k1")]),
            headers(&[("x-api-key", "   "), ("authorization", "bearer k1")]),
            headers(&[("x-api-key", "k1"), ("authorization", "Bearer other")]),
        ] {
            assert_eq!(api_key(&spelling), Some("k1"), "{spelling:?}");
            assert_eq!(api_key_hash(&spelling), Some(keccak256(b"k1")));
        }
    }

    #[test]
    fn no_key_is_read_from_missing_blank_or_other_schemes() {
        for spelling in [
            headers(&[]),
            headers(&[("x-api-key", "")]),
            headers(&[("authorization", "Bearer")]),
            headers(&[("authorization", "Bearer   ")]),
            headers(&[("authorization", "Basic dXNlcjpwYXNz")]),
            headers(&[("authorization", "Bearerk1")]),
            headers(&[("x-api-key", " "), ("authorization", "Token k1")]),
        ] {
            assert_eq!(api_key(&spelling), None, "{spelling:?}");
        }
    }
}
