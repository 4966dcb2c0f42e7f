//! Billing (spec/chain.md, "Billing"): credit lives on chain; top-ups are Stripe PaymentIntents
//! credited once per payment id ([`payments`]); usage is metered against credit before any work
//! and journaled durably ([`meter`]); a background task settles the journal on chain in batches
//! ([`settle`]). Off by default: then nothing is reserved or charged.

pub mod grant;
pub mod meter;
pub mod payments;
pub mod settle;
pub mod stripe;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::B256;
use zeroize::Zeroizing;

use crate::chain::config_keys::numeric_value;
use crate::config::{BillingConfig, ENV_STRIPE_SECRET_KEY};
use crate::store::{Store, StoreError};
pub use meter::{Hold, Meter, MeterError};
use stripe::StripeClient;

/// Why billing could not start.
#[derive(Debug, thiserror::Error)]
#[error("billing: {0}")]
pub struct BillingSetupError(String);

/// Prices in cents, from the on-chain node configuration (defaults in `NODE_CONFIG_KEYS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub management_write_cents: u64,
    pub action_second_cents: u64,
}

impl Prices {
    pub fn current(store: &Store) -> Result<Self, StoreError> {
        let price = |name: &str| -> Result<u64, StoreError> {
            Ok(numeric_value(name, store.config_value(name)?.as_deref()))
        };
        Ok(Self {
            management_write_cents: price("price_management_write_cents")?,
            action_second_cents: price("price_action_second_cents")?,
        })
    }
}

/// Billing as enabled on this node.
pub struct EnabledBilling {
    pub config: BillingConfig,
    pub meter: Meter,
    pub stripe: StripeClient,
    pub(crate) confirms: payments::ConfirmLocks,
}

/// The node's billing: `None` inside when it is switched off.
pub struct Billing {
    enabled: Option<EnabledBilling>,
    store: Store,
}

/// The credit line of one action run: its first second reserved before it starts, each further
/// second reserved when the run reaches it (refused → the run stops), and the started seconds
/// charged when it ends.
pub struct ActionCredit {
    meter: Meter,
    hold: std::sync::Mutex<Option<Hold>>,
    second_cents: u64,
}

impl crate::actions::RunCredit for ActionCredit {
    fn extend(&self) -> bool {
        let mut hold = self.hold.lock().expect("credit lock");
        match hold.as_mut() {
            Some(hold) => self.meter.grow(hold, self.second_cents).is_ok(),
            None => false,
        }
    }
}

impl ActionCredit {
    /// Charges every started second of `run_time` (at least one): what was reserved, plus what
    /// the account can still pay if the run ended just past its last reserved second.
    pub async fn charge(&self, run_time: Duration) -> Result<(), StoreError> {
        let Some(mut hold) = self.hold.lock().expect("credit lock").take() else {
            return Ok(());
        };
        let seconds = run_time.as_millis().div_ceil(1000).max(1);
        let cents = u64::try_from(seconds)
            .unwrap_or(u64::MAX)
            .saturating_mul(self.second_cents);
        let short = cents.saturating_sub(hold.cents());
        if short > 0 {
            // Best effort: what the account cannot pay for is not charged.
            let _ = self.meter.grow(&mut hold, short);
        }
        hold.commit_async(cents).await
    }
}

impl Billing {
    pub fn disabled(store: Store) -> Self {
        Self {
            enabled: None,
            store,
        }
    }

    /// Billing per `config`; when enabled, the Stripe secret key must be configured.
    pub fn open(config: &BillingConfig, store: Store) -> Result<Self, BillingSetupError> {
        if !config.enabled {
            return Ok(Self::disabled(store));
        }
        if config.stripe_publishable_key.trim().is_empty() {
            return Err(BillingSetupError(
                "billing is enabled but billing.stripe_publishable_key is empty".into(),
            ));
        }
        let secret = stripe_secret(config)?;
        let stripe = StripeClient::new(
            &config.stripe_api_base,
            secret,
            Duration::from_millis(config.stripe_timeout_ms),
        )
        .map_err(BillingSetupError)?;
        let meter = Meter::open(store.clone()).map_err(|e| BillingSetupError(e.to_string()))?;
        Ok(Self {
            enabled: Some(EnabledBilling {
                config: config.clone(),
                meter,
                stripe,
                confirms: Default::default(),
            }),
            store,
        })
    }

    pub fn enabled(&self) -> Option<&EnabledBilling> {
        self.enabled.as_ref()
    }

    /// Reserves the price of one management write; `None` when billing is off or writes are
    /// free. Refused (402) when the account cannot pay for it.
    pub fn reserve_write(&self, account: &B256) -> Result<Option<Hold>, MeterError> {
        let Some(billing) = &self.enabled else {
            return Ok(None);
        };
        let price = Prices::current(&self.store)?.management_write_cents;
        if price == 0 {
            return Ok(None);
        }
        billing.meter.reserve(account, price).map(Some)
    }

    /// Opens the credit line of an action run, reserving its first second (402 when the
    /// account cannot pay for it). `None` when billing is off or runs are free.
    pub fn action_credit(&self, account: &B256) -> Result<Option<Arc<ActionCredit>>, MeterError> {
        let Some(billing) = &self.enabled else {
            return Ok(None);
        };
        let second_cents = Prices::current(&self.store)?.action_second_cents;
        if second_cents == 0 {
            return Ok(None);
        }
        let hold = billing.meter.reserve(account, second_cents)?;
        Ok(Some(Arc::new(ActionCredit {
            meter: billing.meter.clone(),
            hold: std::sync::Mutex::new(Some(hold)),
            second_cents,
        })))
    }
}

/// The Stripe secret key: `LIT_NODE_STRIPE_SECRET_KEY`, else the configured file.
fn stripe_secret(config: &BillingConfig) -> Result<Zeroizing<String>, BillingSetupError> {
    let from_env = std::env::var(ENV_STRIPE_SECRET_KEY)
        .ok()
        .map(Zeroizing::new);
    let secret = match (from_env, &config.stripe_secret_key_file) {
        (Some(secret), _) => secret,
        (None, Some(path)) => Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            BillingSetupError(format!(
                "cannot read the Stripe secret key file {}: {e}",
                path.display()
            ))
        })?),
        (None, None) => {
            return Err(BillingSetupError(format!(
                "billing is enabled but no Stripe secret key is configured: set {ENV_STRIPE_SECRET_KEY} \
                 or billing.stripe_secret_key_file"
            )))
        }
    };
    let secret = Zeroizing::new(secret.trim().to_string());
    if !(secret.starts_with("sk_") || secret.starts_with("rk_")) {
        return Err(BillingSetupError(
            "the Stripe secret key must be a secret (sk_…) or restricted (rk_…) key".into(),
        ));
    }
    Ok(secret)
}

/// How a balance reads: `"$5.00 credit"`, `"No credits"`, or `"$0.42 owed"` (cents of credit,
/// positive = credit).
pub fn display_balance(credit_cents: i128) -> String {
    let dollars = |cents: i128| format!("${}.{:02}", cents / 100, cents % 100);
    match credit_cents {
        0 => "No credits".to_string(),
        c if c > 0 => format!("{} credit", dollars(c)),
        c => format!("{} owed", dollars(-c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_read_like_the_reference() {
        assert_eq!(display_balance(500), "$5.00 credit");
        assert_eq!(display_balance(1), "$0.01 credit");
        assert_eq!(display_balance(123_456), "$1234.56 credit");
        assert_eq!(display_balance(0), "No credits");
        assert_eq!(display_balance(-42), "$0.42 owed");
    }
}
