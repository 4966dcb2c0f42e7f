//! The OpenAPI 3 document, generated from the handler and request/response types
//! (`#[utoipa::path]` on each handler), served at `/core/v1/openapi.json`, with Swagger UI at
//! `/core/v1/swagger-ui/` from assets compiled into the binary (no CDN, works offline).
//! Error responses are added to every operation here, in one place, from the rules of
//! spec/api.md: all may answer 400/413/429; authenticated ones 401/403/404; writes 409/503.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::error::{BodyLimit, ErrorResponse};
use super::{
    accounts, actions, billing, groups, health, info, ipfs, lit_action, self_custody, usage_keys,
    wallets, wire_schema,
};

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
    modifiers(&SecuritySchemes, &Links)
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

/// What the document says that depends on this node's configuration.
#[derive(Debug, Clone, Copy)]
pub struct NodeFacts {
    pub body_limit: BodyLimit,
    /// `billing.min_payment_cents`.
    pub min_payment_cents: u64,
}

/// Error responses, the Idempotency-Key header of writes and group-id query patterns, added to
/// every operation from the rules of spec/api.md, and this node's configured limits.
struct ErrorResponses(NodeFacts);

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

/// What an operation is, for the statuses it may answer.
struct Kind {
    authenticated: bool,
    /// Runs behind the idempotency layer (and sends a transaction).
    write: bool,
    /// Charged to the account when billing is on.
    charged: bool,
}

fn kind_of(path: &str, operation: &Operation, method: &str) -> Kind {
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let name = path.trim_start_matches("/core/v1/");
    let write = match method {
        "get" => name == "create_wallet",
        _ => {
            path.starts_with("/core/v1/")
                && !matches!(
                    name,
                    "get_lit_action_ipfs_id" | "create_wallet_with_signature" | "lit_action"
                )
        }
    };
    let charged =
        (write || name == "lit_action") && !name.starts_with("billing/") && name != "new_account";
    Kind {
        authenticated,
        write,
        charged,
    }
}

fn add_errors(operation: &mut Operation, kind: &Kind, limit: BodyLimit) {
    let too_large = format!("request body over {limit}");
    let mut errors = vec![
        (
            "400",
            "malformed or invalid input; the message names the field",
        ),
        (
            "408",
            "the request took longer than the node's request timeout",
        ),
        ("413", too_large.as_str()),
        ("429", "rate-limited; see Retry-After"),
    ];
    if kind.authenticated {
        errors.push(("401", "no API key, or a key that belongs to no account"));
        errors.push((
            "403",
            "the usage key lacks the scope, or (code `self_managed`) the account is self-managed: its admin \
             wallet changes it on chain",
        ));
        errors.push(("404", "the object does not exist in this account"));
    }
    if kind.charged {
        errors.push((
            "402",
            "no credit left (billing on): add funds with billing/create_payment_intent",
        ));
    }
    if kind.write {
        errors.push((
            "409",
            "conflict: already exists, changed concurrently, or (code `idempotency_key_interrupted`) \
             the first attempt with this Idempotency-Key was cut short and may have written",
        ));
        errors.push((
            "422",
            "this Idempotency-Key was already used for a different request",
        ));
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

/// The optional `Idempotency-Key` header every write takes.
fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1 to 255 visible ASCII characters (a UUID is a good choice): a retry with the same \
             key and the same request gets the first reply instead of writing twice",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(IDEMPOTENCY_KEY_PATTERN)),
        ))
        .build()
}

const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut Document) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [("get", item.get.as_mut()), ("post", item.post.as_mut())] {
                let Some(operation) = operation else { continue };
                let kind = kind_of(path, operation, method);
                add_errors(operation, &kind, self.0.body_limit);
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                if kind.write {
                    parameters.push(RefOr::T(idempotency_key()));
                }
                // A group id in a query is its text form.
                for parameter in parameters.iter_mut() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    if parameter.name != "group_id" {
                        continue;
                    }
                    parameter.schema = Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(wire_schema::GROUP_ID_TEXT.as_str()))
                            .into(),
                    );
                }
                if parameters.is_empty() {
                    operation.parameters = None;
                }
            }
        }
        let amount = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("CreatePaymentIntentRequest"))
            .and_then(|s| match s {
                RefOr::T(Schema::Object(object)) => object.properties.get_mut("amount_cents"),
                _ => None,
            });
        if let Some(RefOr::T(Schema::Object(amount))) = amount {
            amount.minimum = Some(self.0.min_payment_cents.into());
        }
    }
}

struct Links;

/// Which operation can use what another returns: (from, to, the link's parameters, its body).
/// Runtime expressions per OpenAPI 3.1 §4.8.20.4; a generated client or a stateful fuzzer chains
/// operations with them.
/// `(name, runtime expression)` pairs.
type Expressions = &'static [(&'static str, &'static str)];

const LINKS: &[(&str, &str, Expressions, Expressions)] = &[
    (
        "add_group",
        "add_pkp_to_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "remove_pkp_from_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "update_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "remove_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "add_action_to_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "remove_action_from_group",
        &[],
        &[("group_id", "$response.body#/group_id")],
    ),
    (
        "add_group",
        "list_wallets_in_group",
        &[("group_id", "$response.body#/group_id")],
        &[],
    ),
    (
        "add_group",
        "list_actions",
        &[("group_id", "$response.body#/group_id")],
        &[],
    ),
    (
        "create_wallet",
        "add_pkp_to_group",
        &[],
        &[("pkp_id", "$response.body#/wallet_address")],
    ),
    (
        "create_wallet",
        "remove_pkp_from_group",
        &[],
        &[("pkp_id", "$response.body#/wallet_address")],
    ),
    (
        "add_action",
        "add_action_to_group",
        &[],
        &[("action_ipfs_cid", "$request.body#/action_ipfs_cid")],
    ),
    (
        "add_action",
        "lit_action",
        &[],
        &[("ipfs_id", "$request.body#/action_ipfs_cid")],
    ),
    (
        "add_usage_api_key",
        "update_usage_api_key",
        &[],
        &[("usage_api_key", "$response.body#/usage_api_key")],
    ),
    (
        "add_usage_api_key",
        "update_usage_api_key_metadata",
        &[],
        &[("usage_api_key", "$response.body#/usage_api_key")],
    ),
    (
        "add_usage_api_key",
        "remove_usage_api_key",
        &[],
        &[("usage_api_key", "$response.body#/usage_api_key")],
    ),
    (
        "create_payment_intent",
        "confirm_payment",
        &[],
        &[("payment_intent_id", "$response.body#/payment_intent_id")],
    ),
    // The lists give the ids of what they list (the first item's here).
    (
        "list_groups",
        "update_group",
        &[],
        &[("group_id", "$response.body#/0/id")],
    ),
    (
        "list_groups",
        "remove_group",
        &[],
        &[("group_id", "$response.body#/0/id")],
    ),
    (
        "list_groups",
        "list_wallets_in_group",
        &[("group_id", "$response.body#/0/id")],
        &[],
    ),
    (
        "list_wallets",
        "add_pkp_to_group",
        &[],
        &[("pkp_id", "$response.body#/0/wallet_address")],
    ),
    (
        "list_actions",
        "delete_action",
        &[],
        &[("hashed_cid", "$response.body#/0/id")],
    ),
    (
        "list_actions",
        "update_action_metadata",
        &[],
        &[("hashed_cid", "$response.body#/0/id")],
    ),
    (
        "list_actions",
        "remove_action_from_group",
        &[],
        &[("hashed_cid", "$response.body#/0/id")],
    ),
    (
        "list_api_keys",
        "update_usage_api_key",
        &[],
        &[("usage_api_key", "$response.body#/0/api_key_hash")],
    ),
    (
        "list_api_keys",
        "update_usage_api_key_metadata",
        &[],
        &[("usage_api_key", "$response.body#/0/api_key_hash")],
    ),
    (
        "list_api_keys",
        "remove_usage_api_key",
        &[],
        &[("usage_api_key", "$response.body#/0/api_key_hash")],
    ),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut Document) {
        for (_, item) in openapi.paths.paths.iter_mut() {
            for operation in [item.get.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
            {
                let Some(id) = operation.operation_id.clone() else {
                    continue;
                };
                let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else {
                    continue;
                };
                for (_, to, parameters, body) in LINKS.iter().filter(|(from, ..)| *from == id) {
                    let mut link = LinkBuilder::new().operation_id(*to);
                    for (name, value) in *parameters {
                        link = link.parameter(*name, *value);
                    }
                    if !body.is_empty() {
                        let fields: serde_json::Map<_, _> = body
                            .iter()
                            .map(|(name, value)| (name.to_string(), (*value).into()))
                            .collect();
                        link = link.request_body(Some(serde_json::Value::Object(fields)));
                    }
                    ok.links.insert(to.to_string(), link.build().into());
                }
            }
        }
    }
}

/// `/core/v1/openapi.json` and `/core/v1/swagger-ui/`.
pub fn routes<S: Clone + Send + Sync + 'static>(facts: NodeFacts) -> axum::Router<S> {
    utoipa_swagger_ui::SwaggerUi::new("/core/v1/swagger-ui")
        .url("/core/v1/openapi.json", document(facts))
        .into()
}

/// The document as this node serves it.
pub fn document(facts: NodeFacts) -> Document {
    let mut document = ApiDoc::openapi();
    ErrorResponses(facts).modify(&mut document);
    document
}
