//! The HTTP API (spec/api.md): the router, its transport layers, and one module per endpoint
//! family. Handlers are thin: extractors parse, the error type answers.

mod accounts;
mod actions;
pub mod auth;
pub mod billing;
mod charged_write;
pub mod client_ip;
pub mod detach;
pub mod error;
pub mod extract;
mod fields;
mod groups;
mod health;
pub mod idempotency;
pub mod ids;
mod info;
mod ipfs;
mod lit_action;
pub mod middleware;
pub mod openapi;
mod ownership;
mod pagination;
pub mod rate_limit;
mod replies;
mod self_custody;
pub mod self_managed;
mod usage_keys;
pub mod wallet_message;
mod wallets;
pub mod wire_schema;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::SharedContext;
use error::BodyLimit;
use middleware::{X_CORRELATION_ID, X_REQUEST_ID};

/// The wall clock in unix seconds (0 before 1970), for expiries and time windows.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `/metrics` alone, for its own listener (`http.metrics_listen`).
pub fn metrics_router(ctx: SharedContext) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::from_fn_with_state(
            BodyLimit(ctx.max_body_bytes),
            middleware::json_errors,
        ))
        .with_state(ctx)
}

/// Every route the node serves, with the transport rules of spec/api.md applied; `/metrics` too
/// unless it has a listener of its own (`with_metrics` false).
pub fn router(ctx: SharedContext, with_metrics: bool) -> Router {
    // Reads, and endpoints that change nothing.
    let reads = Router::new()
        .route("/version", get(info::version))
        .route("/get_node_chain_config", get(info::get_node_chain_config))
        .route("/get_chain_config_keys", get(info::get_chain_config_keys))
        .route("/get_api_payers", get(info::get_api_payers))
        .route("/get_admin_api_payer", get(info::get_admin_api_payer))
        .route(
            "/get_lit_action_ipfs_id",
            post(ipfs::get_lit_action_ipfs_id),
        )
        .route(
            "/get_lit_action_client_config",
            get(lit_action::get_lit_action_client_config),
        )
        .route("/account_exists", get(accounts::account_exists))
        .route("/list_wallets", get(wallets::list_wallets))
        .route("/list_groups", get(groups::list_groups))
        .route("/list_wallets_in_group", get(groups::list_wallets_in_group))
        .route("/list_api_keys", get(usage_keys::list_api_keys))
        .route("/list_actions", get(actions::list_actions))
        .route("/billing/stripe_config", get(billing::stripe_config))
        .route("/billing/balance", get(billing::balance))
        .route("/registry_abi", get(self_custody::registry_abi))
        // No API key (so no account-scoped idempotency): a signed message, accepted once.
        .route(
            "/create_wallet_with_signature",
            post(self_custody::create_wallet_with_signature),
        );
    // Writes: finished (and charged) even when the client goes away, and idempotent under an
    // `Idempotency-Key` header. The layers wrap each method's handler, so a request with another
    // method gets its 405 whatever its Idempotency-Key.
    let idempotency = idempotency::Idempotency::new(ctx.clone());
    let write = |route: MethodRouter<SharedContext>| {
        route
            .route_layer(axum::middleware::from_fn_with_state(
                idempotency.clone(),
                idempotency::replay,
            ))
            .route_layer(axum::middleware::from_fn(detach::detach))
    };
    let writes = Router::new()
        .route("/new_account", write(post(accounts::new_account)))
        .route("/create_wallet", write(get(wallets::create_wallet)))
        .route("/add_group", write(post(groups::add_group)))
        .route("/remove_group", write(post(groups::remove_group)))
        .route("/update_group", write(post(groups::update_group)))
        .route("/add_pkp_to_group", write(post(groups::add_pkp_to_group)))
        .route(
            "/remove_pkp_from_group",
            write(post(groups::remove_pkp_from_group)),
        )
        .route(
            "/add_usage_api_key",
            write(post(usage_keys::add_usage_api_key)),
        )
        .route(
            "/update_usage_api_key",
            write(post(usage_keys::update_usage_api_key)),
        )
        .route(
            "/remove_usage_api_key",
            write(post(usage_keys::remove_usage_api_key)),
        )
        .route(
            "/update_usage_api_key_metadata",
            write(post(usage_keys::update_usage_api_key_metadata)),
        )
        .route("/add_action", write(post(actions::add_action)))
        .route("/delete_action", write(post(actions::delete_action)))
        .route(
            "/update_action_metadata",
            write(post(actions::update_action_metadata)),
        )
        .route(
            "/add_action_to_group",
            write(post(actions::add_action_to_group)),
        )
        .route(
            "/remove_action_from_group",
            write(post(actions::remove_action_from_group)),
        )
        .route(
            "/billing/create_payment_intent",
            write(post(billing::create_payment_intent)),
        )
        .route(
            "/billing/confirm_payment",
            write(post(billing::confirm_payment)),
        )
        .route(
            "/convert_to_chain_secured_account",
            write(post(self_custody::convert_to_chain_secured_account)),
        );
    // Action runs: charged for the time they used even when the client goes away (and stopped).
    let runs = Router::new()
        .route("/lit_action", post(lit_action::lit_action))
        .route_layer(axum::middleware::from_fn(detach::detach));
    let core_v1 = reads.merge(writes).merge(runs);

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::HeaderName::from_static("x-api-key"),
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            X_CORRELATION_ID.clone(),
            header::HeaderName::from_static(idempotency::IDEMPOTENCY_KEY),
        ])
        .expose_headers([
            X_REQUEST_ID.clone(),
            X_CORRELATION_ID.clone(),
            header::HeaderName::from_static(idempotency::IDEMPOTENT_REPLAYED),
        ]);

    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &axum::http::Request<_>| {
            // The path only: never headers (keys) or query strings.
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        })
        .on_request(())
        .on_response(
            |response: &axum::http::Response<_>,
             latency: std::time::Duration,
             _: &tracing::Span| {
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_ms = latency.as_secs_f64() * 1000.0,
                    "served"
                );
            },
        );

    let mut routes = Router::new()
        .nest("/core/v1", core_v1)
        .route("/health", get(health::health));
    if with_metrics {
        routes = routes.route("/metrics", get(health::metrics));
    }
    routes
        .merge(openapi::routes(openapi::NodeFacts {
            body_limit: BodyLimit(ctx.max_body_bytes),
            min_payment_cents: ctx.billing.enabled().map_or(
                crate::config::BillingConfig::default().min_payment_cents,
                |b| b.config.min_payment_cents,
            ),
        }))
        .layer(axum::middleware::from_fn_with_state(
            rate_limit::RateLimits::new(&ctx.rate_limits, ctx.permissions.clone()),
            rate_limit::enforce,
        ))
        .layer(DefaultBodyLimit::max(ctx.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(ctx.max_body_bytes))
        .layer(axum::Extension(BodyLimit(ctx.max_body_bytes)))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            ctx.request_timeout,
        ))
        .route_layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(axum::middleware::from_fn_with_state(
            BodyLimit(ctx.max_body_bytes),
            middleware::json_errors,
        ))
        .layer(trace)
        .layer(axum::middleware::from_fn(middleware::request_ids))
        .layer(cors)
        .with_state(ctx)
}
