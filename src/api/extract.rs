//! Request-body extraction. `ApiJson<T>` reads the body (within the body limit), parses it as
//! JSON whatever the Content-Type says (curl users often omit it), and turns every failure into a
//! 400 naming the offending field, or a 413 when the body is too large.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::{ApiError, BodyLimit};

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or_default();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| body_error(rejection, limit))?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn body_error(rejection: BytesRejection, limit: BodyLimit) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        limit.exceeded()
    } else {
        ApiError::bad_request(
            "invalid_body",
            format!("cannot read the request body: {rejection}"),
        )
    }
}

/// Parses `bytes` as JSON into `T`; errors name the field path (`group_id`, `keys[2].name`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body is empty; send a JSON body",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if path.is_empty() || path == "." {
            format!("invalid JSON body: {inner}")
        } else {
            format!("invalid field `{path}`: {inner}")
        };
        ApiError::bad_request("invalid_body", message)
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request("invalid_body", format!("invalid JSON body: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        name: String,
        count: u32,
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse_json::<Example>(br#"{"name": "a", "count": -1}"#).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("`count`"), "{}", err.message);
        let err = parse_json::<Example>(br#"{"name": "a"}"#).unwrap_err();
        assert!(
            err.message.contains("missing field `count`"),
            "{}",
            err.message
        );
        let err = parse_json::<Example>(br#"{"name": "a", "count": 1, "extra": 2}"#).unwrap_err();
        assert!(
            err.message.contains("unknown field `extra`"),
            "{}",
            err.message
        );
        let err = parse_json::<Example>(b"   ").unwrap_err();
        assert!(err.message.contains("empty"), "{}", err.message);
        let err = parse_json::<Example>(br#"{"name": "a", "count": 1} trailing"#).unwrap_err();
        assert!(err.message.contains("invalid JSON"), "{}", err.message);
    }
}
