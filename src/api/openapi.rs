//! The OpenAPI 3 document, generated from the handler and request/response types
//! (`#[utoipa::path]` on each handler), served at `/core/v1/openapi.json`, with Swagger UI at
//! `/core/v1/swagger-ui/` from assets compiled into the binary (no CDN, works offline).
//! Error responses are added to every operation here, in one place, from the rules of
//! spec/api.md: all may answer 400/413/429; authenticated ones 401/403/404; writes 409/503.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, actions, billing, groups, health, info, ipfs, lit_action, self_custody, usage_keys,
    wallets,
};

/// The body of every error response.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    /// What was wrong and what to do.
    pub error: String,
    /// Stable snake_case code, e.g. `invalid_body`, `unauthorized`, `forbidden`, `not_found`.
    pub code: String,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "lit-node Core v1 API", description = "Key management and Lit Actions behind one REST API."),
    paths(
        info::version, info::get_node_chain_config, info::get_chain_config_keys, info::get_api_payers,
        info::get_admin_api_payer, ipfs::get_lit_action_ipfs_id, health::health,
        lit_action::lit_action, lit_action::get_lit_action_client_config,
        accounts::new_account, accounts::account_exists, wallets::create_wallet, wallets::list_wallets,
        groups::add_group, groups::remove_group, groups::update_group, groups::add_pkp_to_group,
        groups::remove_pkp_from_group, groups::list_groups, groups::list_wallets_in_group,
        usage_keys::add_usage_api_key, usage_keys::update_usage_api_key, usage_keys::remove_usage_api_key,
        usage_keys::update_usage_api_key_metadata, usage_keys::list_api_keys,
        actions::add_action, actions::delete_action, actions::update_action_metadata,
        actions::add_action_to_group, actions::remove_action_from_group, actions::list_actions,
        billing::stripe_config, billing::balance, billing::create_payment_intent, billing::confirm_payment,
        self_custody::create_wallet_with_signature, self_custody::convert_to_chain_secured_account,
        self_custody::registry_abi,
    ),
    components(schemas(ErrorResponse)),
    modifiers(&SecuritySchemes, &ErrorResponses)
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

struct ErrorResponses;

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build()
}

fn add_errors(operation: &mut Operation, is_write: bool, is_charged: bool) {
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut errors = vec![
        (
            "400",
            "malformed or invalid input; the message names the field",
        ),
        ("413", "request body over 10 MiB"),
        ("429", "rate-limited; see Retry-After"),
    ];
    if authenticated {
        errors.push(("401", "no API key, or a key that belongs to no account"));
        errors.push((
            "403",
            "the usage key lacks the scope, or (code `self_managed`) the account is self-managed: its admin \
             wallet changes it on chain",
        ));
        errors.push(("404", "the object does not exist in this account"));
    }
    if is_charged {
        errors.push((
            "402",
            "no credit left (billing on): add funds with billing/create_payment_intent",
        ));
    }
    if is_write {
        errors.push(("409", "conflict (already exists, or changed concurrently)"));
        errors.push((
            "503",
            "the chain is unreachable or the node's mirror is behind",
        ));
    }
    for (status, description) in errors {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    }
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut Document) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let creates = path.ends_with("/create_wallet");
            if let Some(operation) = item.get.as_mut() {
                add_errors(operation, creates, creates);
            }
            if let Some(operation) = item.post.as_mut() {
                let is_billing = path.starts_with("/core/v1/billing/");
                let is_write = path.starts_with("/core/v1/")
                    && !path.ends_with("/get_lit_action_ipfs_id")
                    && !path.ends_with("/create_wallet_with_signature")
                    && !path.ends_with("/lit_action");
                let is_charged = (is_write || path.ends_with("/lit_action"))
                    && !is_billing
                    && !path.ends_with("/new_account");
                add_errors(operation, is_write, is_charged);
            }
        }
    }
}

/// `/core/v1/openapi.json` and `/core/v1/swagger-ui/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    utoipa_swagger_ui::SwaggerUi::new("/core/v1/swagger-ui")
        .url("/core/v1/openapi.json", ApiDoc::openapi())
        .into()
}
