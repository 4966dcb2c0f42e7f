//! A local stand-in for Stripe's REST API, speaking its wire format for what the node uses:
//! `POST /v1/payment_intents` (form-encoded body, `metadata[k]` fields, `Idempotency-Key`
//! replays) and `GET /v1/payment_intents/{id}`, with `Authorization: Bearer sk_…` checked and
//! Stripe's JSON error objects (`{"error": {type, code, message, param}}`) on failure. Tests play
//! the customer's side directly on its state (`set_status` = the customer paid or cancelled).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub form: Vec<(String, String)>,
}

#[derive(Default)]
struct Inner {
    secret: String,
    intents: BTreeMap<String, Value>,
    /// idempotency key → (request body, intent id)
    replays: HashMap<String, (String, String)>,
    requests: Vec<Recorded>,
    next: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeStripe {
    pub base_url: String,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Records the request and checks its key; `Err` is Stripe's 401.
fn admit(
    inner: &mut Inner,
    method: &str,
    path: String,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), Box<Response>> {
    let recorded = Recorded {
        method: method.into(),
        path,
        content_type: header(headers, "content-type"),
        authorization: header(headers, "authorization"),
        idempotency_key: header(headers, "idempotency-key"),
        form: url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect(),
    };
    let authorized = recorded.authorization.as_deref() == Some(&format!("Bearer {}", inner.secret));
    let presented = recorded
        .authorization
        .clone()
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_string();
    inner.requests.push(recorded);
    if authorized {
        return Ok(());
    }
    let tail: String = presented
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(Box::new(stripe_error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        None,
        &format!("Invalid API Key provided: sk_test_********{tail}"),
    )))
}

fn random_suffix(inner: &mut Inner) -> String {
    inner.next += 1;
    format!("{}{:08}", uuid::Uuid::new_v4().simple(), inner.next)
}

async fn create_intent(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut inner = shared.lock().unwrap();
    if let Err(refusal) = admit(
        &mut inner,
        "POST",
        "/v1/payment_intents".into(),
        &headers,
        &body,
    ) {
        return *refusal;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let idempotency_key = header(&headers, "idempotency-key");
    if let Some(key) = &idempotency_key {
        if let Some((earlier, id)) = inner.replays.get(key).cloned() {
            if earlier != body {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                );
            }
            let intent = inner.intents[&id].clone();
            return ([("idempotent-replayed", "true")], Json(intent)).into_response();
        }
    }
    let Some(amount) = field("amount") else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("parameter_missing"),
            "Missing required param: amount.",
        );
    };
    let Ok(amount) = amount.parse::<u64>() else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            "Invalid integer: amount",
        );
    };
    if amount < 50 {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("amount_too_small"),
            "Amount must be at least $0.50 usd",
        );
    }
    let Some(currency) = field("currency") else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("parameter_missing"),
            "Missing required param: currency.",
        );
    };
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|name| (name.to_string(), json!(v)))
        })
        .collect();
    let suffix = random_suffix(&mut inner);
    let id = format!("pi_{suffix}");
    let intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "status": "requires_payment_method",
        "client_secret": format!("{id}_secret_{}", uuid::Uuid::new_v4().simple()),
        "metadata": metadata,
        "livemode": false,
        "created": 1_764_000_000u64,
    });
    inner.intents.insert(id.clone(), intent.clone());
    if let Some(key) = idempotency_key {
        inner.replays.insert(key, (body, id));
    }
    Json(intent).into_response()
}

async fn retrieve_intent(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = shared.lock().unwrap();
    if let Err(refusal) = admit(
        &mut inner,
        "GET",
        format!("/v1/payment_intents/{id}"),
        &headers,
        "",
    ) {
        return *refusal;
    }
    match inner.intents.get(&id) {
        Some(intent) => Json(intent.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such payment_intent: '{id}'"),
        ),
    }
}

impl FakeStripe {
    /// Serves on a free loopback port; requests must carry `secret` as their bearer key.
    pub async fn start(secret: &str) -> Self {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            secret: secret.to_string(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(retrieve_intent))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url,
            inner,
            task,
        }
    }

    /// What the customer did: `succeeded` also marks the full amount as received.
    pub fn set_status(&self, id: &str, status: &str) {
        let mut inner = self.inner.lock().unwrap();
        let intent = inner.intents.get_mut(id).expect("known intent");
        intent["status"] = json!(status);
        if status == "succeeded" {
            intent["amount_received"] = intent["amount"].clone();
        }
    }

    /// Adds an intent as if created elsewhere (another integration, another currency).
    pub fn insert_intent(&self, intent: Value) -> String {
        let id = intent["id"].as_str().unwrap().to_string();
        self.inner
            .lock()
            .unwrap()
            .intents
            .insert(id.clone(), intent);
        id
    }

    pub fn intent(&self, id: &str) -> Value {
        self.inner.lock().unwrap().intents[id].clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }
}
