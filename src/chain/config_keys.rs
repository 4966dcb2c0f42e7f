//! The node-configuration keys this node reads from the NodeConfig contract, with the default in
//! force when a key is unset on chain. `get_chain_config_keys` publishes the names.

/// (key, default value) pairs. Limits are those of spec/actions.md; prices are in cents.
pub const NODE_CONFIG_KEYS: &[(&str, &str)] = &[
    ("timeout_ms", "30000"),
    ("async_timeout_ms", "30000"),
    ("memory_limit_mb", "64"),
    ("max_code_length", "16777216"),
    ("max_response_length", "102400"),
    ("max_console_log_length", "102400"),
    ("max_fetch_count", "50"),
    ("max_get_keys_count", "10"),
    ("max_retries", "3"),
    ("client_timeout_ms_buffer", "5000"),
    ("price_management_write_cents", "1"),
    ("price_action_second_cents", "1"),
];

/// The numeric value of `name` in force: `configured` (the value set on chain, if any), else the
/// default of [`NODE_CONFIG_KEYS`]. A configured value that is not a non-negative integer is
/// ignored with a warning: a bad on-chain value must not stop the node.
pub fn numeric_value(name: &str, configured: Option<&str>) -> u64 {
    let default = NODE_CONFIG_KEYS
        .iter()
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
        .expect("every numeric key has a numeric default in NODE_CONFIG_KEYS");
    match configured {
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(key = name, value = %text, "node configuration value is not a non-negative integer; using the default");
            default
        }),
        None => default,
    }
}

/// The key names, in publication order.
pub fn key_names() -> impl Iterator<Item = &'static str> {
    NODE_CONFIG_KEYS.iter().map(|(name, _)| *name)
}
