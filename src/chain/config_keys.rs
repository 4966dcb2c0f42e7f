//! The node-configuration keys this node reads from the NodeConfig contract, with the default in
//! force when a key is unset on chain and the range a value is clamped to. `get_chain_config_keys`
//! publishes the names.

/// One numeric node-configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    pub name: &'static str,
    /// In force when the key is unset on chain, or set to something that is not a number.
    pub default: u64,
    /// The sane range: a value outside it is clamped to it (with a warning), so no on-chain value
    /// can overflow the node's arithmetic or switch a limit off.
    pub min: u64,
    pub max: u64,
}

const fn key(name: &'static str, default: u64, min: u64, max: u64) -> ConfigKey {
    ConfigKey {
        name,
        default,
        min,
        max,
    }
}

const MIB: u64 = 1024 * 1024;
const HOUR_MS: u64 = 3_600_000;

/// Limits are those of spec/actions.md; prices are in cents.
pub const NODE_CONFIG_KEYS: &[ConfigKey] = &[
    key("timeout_ms", 30_000, 1, HOUR_MS),
    key("async_timeout_ms", 30_000, 1, HOUR_MS),
    key("memory_limit_mb", 64, 1, 4096),
    key("max_code_length", 16 * MIB, 1, 64 * MIB),
    key("max_response_length", 102_400, 1, 64 * MIB),
    key("max_console_log_length", 102_400, 0, 64 * MIB),
    key("max_fetch_count", 50, 0, 10_000),
    key("max_get_keys_count", 10, 0, 100_000),
    key("max_retries", 3, 0, 100),
    key("client_timeout_ms_buffer", 5_000, 0, HOUR_MS),
    key("price_management_write_cents", 1, 0, 1_000_000),
    key("price_action_second_cents", 1, 0, 1_000_000),
];

/// The numeric value of `name` in force: `configured` (the value set on chain, if any), else the
/// default of [`NODE_CONFIG_KEYS`], clamped to the key's range. A configured value that is not a
/// non-negative integer is ignored with a warning: a bad on-chain value must not stop the node.
pub fn numeric_value(name: &str, configured: Option<&str>) -> u64 {
    let key = NODE_CONFIG_KEYS
        .iter()
        .find(|key| key.name == name)
        .expect("every numeric key is listed in NODE_CONFIG_KEYS");
    let Some(text) = configured else {
        return key.default;
    };
    let text = text.trim();
    let value = match text.parse::<u64>() {
        Ok(value) => value,
        // All digits but too large for u64: as large as it gets.
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => u64::MAX,
        Err(_) => {
            tracing::warn!(key = name, value = %text, "node configuration value is not a non-negative integer; using the default");
            return key.default;
        }
    };
    let clamped = value.clamp(key.min, key.max);
    if clamped != value {
        tracing::warn!(
            key = name,
            value = %text,
            used = clamped,
            "node configuration value is outside its sane range; clamped"
        );
    }
    clamped
}

/// The key names, in publication order.
pub fn key_names() -> impl Iterator<Item = &'static str> {
    NODE_CONFIG_KEYS.iter().map(|key| key.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_clamped_to_their_range() {
        assert_eq!(numeric_value("timeout_ms", None), 30_000);
        assert_eq!(numeric_value("timeout_ms", Some(" 500 ")), 500);
        assert_eq!(
            numeric_value("timeout_ms", Some(&u64::MAX.to_string())),
            HOUR_MS
        );
        assert_eq!(
            numeric_value("timeout_ms", Some("99999999999999999999999999")),
            HOUR_MS
        );
        assert_eq!(numeric_value("timeout_ms", Some("0")), 1);
        assert_eq!(numeric_value("memory_limit_mb", Some("0")), 1);
        assert_eq!(numeric_value("memory_limit_mb", Some("1000000")), 4096);
        assert_eq!(numeric_value("max_fetch_count", Some("-1")), 50);
        assert_eq!(numeric_value("max_fetch_count", Some("ten")), 50);
        for key in NODE_CONFIG_KEYS {
            assert!(key.min <= key.default && key.default <= key.max, "{key:?}");
        }
    }
}
