//! The limits an action runs under (spec/actions.md, "Limits"): defaults, overridden by the
//! node configuration mirrored from chain. `get_lit_action_client_config` publishes them.

use serde::Serialize;

use crate::chain::config_keys::numeric_value;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActionLimits {
    pub timeout_ms: u64,
    pub async_timeout_ms: u64,
    pub memory_limit_mb: u64,
    pub max_code_length: u64,
    pub max_response_length: u64,
    pub max_console_log_length: u64,
    pub max_fetch_count: u64,
    pub max_get_keys_count: u64,
    pub max_retries: u64,
    pub client_timeout_ms_buffer: u64,
}

impl Default for ActionLimits {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl ActionLimits {
    /// Builds the limits from `lookup(key)` (a configured value), falling back to the defaults of
    /// `NODE_CONFIG_KEYS` and clamped to each key's sane range there. A value that is not a
    /// non-negative integer is ignored with a warning: a bad on-chain value must not stop actions
    /// from running, nor overflow anything (a `timeout_ms` of u64::MAX is one hour).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let value = |name: &str| numeric_value(name, lookup(name).as_deref());
        Self {
            timeout_ms: value("timeout_ms"),
            async_timeout_ms: value("async_timeout_ms"),
            memory_limit_mb: value("memory_limit_mb"),
            max_code_length: value("max_code_length"),
            max_response_length: value("max_response_length"),
            max_console_log_length: value("max_console_log_length"),
            max_fetch_count: value("max_fetch_count"),
            max_get_keys_count: value("max_get_keys_count"),
            max_retries: value("max_retries"),
            client_timeout_ms_buffer: value("client_timeout_ms_buffer"),
        }
    }

    /// The limits in force now: defaults overridden by the mirrored node configuration.
    pub fn current(store: &Store) -> Result<Self, StoreError> {
        let values = store.config_values()?;
        Ok(Self::from_lookup(|name| values.get(name).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_spec_and_overrides_apply() {
        let limits = ActionLimits::default();
        assert_eq!(limits.timeout_ms, 30_000);
        assert_eq!(limits.memory_limit_mb, 64);
        assert_eq!(limits.max_code_length, 16 * 1024 * 1024);
        assert_eq!(limits.max_response_length, 102_400);
        assert_eq!(limits.max_console_log_length, 102_400);
        assert_eq!(limits.max_fetch_count, 50);
        assert_eq!(limits.max_get_keys_count, 10);
        assert_eq!(
            (
                limits.max_retries,
                limits.async_timeout_ms,
                limits.client_timeout_ms_buffer
            ),
            (3, 30_000, 5_000)
        );
        let limits = ActionLimits::from_lookup(|name| match name {
            "timeout_ms" => Some("500".into()),
            "max_fetch_count" => Some("not a number".into()),
            _ => None,
        });
        assert_eq!(limits.timeout_ms, 500);
        assert_eq!(limits.max_fetch_count, 50);
        let max = u64::MAX.to_string();
        let limits = ActionLimits::from_lookup(|_| Some(max.clone()));
        assert_eq!(limits.timeout_ms, 3_600_000);
        assert_eq!(limits.memory_limit_mb, 4096);
        assert_eq!(limits.max_code_length, 64 * 1024 * 1024);
    }
}
