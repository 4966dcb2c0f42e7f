//! A small client of Stripe's REST API (form-encoded requests, `Authorization: Bearer sk_…`,
//! JSON objects and error objects back): create and retrieve PaymentIntents. The secret key is
//! held zeroised-on-drop and never formatted: errors carry Stripe's message only for request
//! errors (with anything key-like redacted), never for authentication failures.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

/// The fields of a PaymentIntent this node reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: u64,
    #[serde(default)]
    pub amount_received: u64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe has no such object: {0}")]
    NotFound(String),
    #[error("Stripe refused the request: {0}")]
    Refused(String),
    #[error("Stripe refused this node's API credentials")]
    Unauthorized,
    #[error("Stripe is unreachable or failing: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret: Zeroizing<String>,
}

/// Attempts per call: a connection failure or a 5xx is retried once (safe: retrieval is a read
/// and creation carries an idempotency key).
const ATTEMPTS: usize = 2;

impl StripeClient {
    pub fn new(base: &str, secret: Zeroizing<String>, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the Stripe HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            secret,
        })
    }

    /// `POST /v1/payment_intents` for `amount` cents, tagged with `metadata`.
    pub async fn create_payment_intent(
        &self,
        amount: u64,
        currency: &str,
        metadata: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("amount", &amount.to_string());
            form.append_pair("currency", currency);
            form.append_pair("automatic_payment_methods[enabled]", "true");
            for (name, value) in metadata {
                form.append_pair(&format!("metadata[{name}]"), value);
            }
            form.finish()
        };
        let url = format!("{}/v1/payment_intents", self.base);
        self.send(|| {
            self.http
                .post(&url)
                .header("Idempotency-Key", idempotency_key)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone())
        })
        .await
    }

    /// `GET /v1/payment_intents/{id}`. `id` must already be validated ([`is_payment_intent_id`]).
    pub async fn retrieve_payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        let url = format!("{}/v1/payment_intents/{id}", self.base);
        self.send(|| self.http.get(&url)).await
    }

    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<PaymentIntent, StripeError> {
        let mut last = StripeError::Unavailable("no attempt made".into());
        for _ in 0..ATTEMPTS {
            let response = request().bearer_auth(self.secret.as_str()).send().await;
            match response {
                Err(e) => last = StripeError::Unavailable(e.without_url().to_string()),
                Ok(response) => {
                    let status = response.status();
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| StripeError::Unavailable(e.to_string()))?;
                    if status.is_success() {
                        return serde_json::from_slice(&body).map_err(|e| {
                            StripeError::Unavailable(format!(
                                "Stripe answered with an unexpected object: {e}"
                            ))
                        });
                    }
                    let error = classify(status, &body);
                    if !matches!(error, StripeError::Unavailable(_)) {
                        return Err(error);
                    }
                    last = error;
                }
            }
        }
        Err(last)
    }
}

fn classify(status: reqwest::StatusCode, body: &[u8]) -> StripeError {
    let error = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let message = error
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(redact)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status.as_u16() {
        401 | 403 => StripeError::Unauthorized,
        404 => StripeError::NotFound(message),
        429 | 500..=599 => StripeError::Unavailable(message),
        400..=499 => StripeError::Refused(match error.and_then(|e| e.code) {
            Some(code) => format!("{message} ({code})"),
            None => message,
        }),
        _ => StripeError::Unavailable(message),
    }
}

/// Replaces anything that looks like a Stripe key (`sk_…`, `rk_…`) in a message from Stripe.
fn redact(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            let bare = word.trim_start_matches(['\'', '"', '(']);
            if bare.starts_with("sk_") || bare.starts_with("rk_") {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stripe PaymentIntent ids are `pi_` followed by letters and digits.
pub fn is_payment_intent_id(id: &str) -> bool {
    id.len() <= 255
        && id
            .strip_prefix("pi_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_and_keys_redacted() {
        let body = br#"{"error":{"message":"Invalid API Key provided: sk_test_****1234","type":"invalid_request_error"}}"#;
        assert!(matches!(
            classify(reqwest::StatusCode::UNAUTHORIZED, body),
            StripeError::Unauthorized
        ));
        let body = br#"{"error":{"code":"amount_too_small","message":"Amount must be at least 50 cents, not 'sk_live_abc'","param":"amount","type":"invalid_request_error"}}"#;
        match classify(reqwest::StatusCode::BAD_REQUEST, body) {
            StripeError::Refused(message) => {
                assert!(!message.contains("sk_live"), "{message}");
                assert!(message.contains("amount_too_small"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(reqwest::StatusCode::BAD_GATEWAY, b"<html>"),
            StripeError::Unavailable(_)
        ));
    }

    #[test]
    fn payment_intent_ids_are_checked_before_use_in_a_url() {
        assert!(is_payment_intent_id("pi_3MtwBwLkdIwHu7ix28a3tqPa"));
        for bad in [
            "",
            "pi_",
            "ch_123",
            "pi_../../v1/charges",
            "pi_a?b=c",
            "pi_a/b",
        ] {
            assert!(!is_payment_intent_id(bad), "{bad}");
        }
    }
}
