//! Top-ups: a Stripe PaymentIntent is created for an account (its account id in the metadata);
//! once the client has paid it, `confirm` checks with Stripe that it succeeded, in the node's
//! currency, for this account, and credits the amount received on chain under the payment id
//! keccak256(intent id). The contract refuses a payment id it has seen, so however many confirms
//! run — concurrently, on several nodes, after a crash — the payment is credited once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, B256, U256};

use super::stripe::{is_payment_intent_id, PaymentIntent, StripeError};
use super::EnabledBilling;
use crate::chain::bindings::LitRegistry;
use crate::chain::registry_writes::RegistryWrites;
use crate::chain::writer::WriteError;
use crate::store::{Store, StoreError};

/// The metadata field naming the account a PaymentIntent tops up.
pub const ACCOUNT_METADATA: &str = "lit_account_key_hash";

/// Most cents one top-up may be (Stripe's own limit for USD is $999,999.99).
pub const MAX_PAYMENT_CENTS: u64 = 99_999_999;

/// One lock per payment id being confirmed on this node, so concurrent confirms of one payment
/// send one transaction.
pub(crate) type ConfirmLocks = Mutex<HashMap<B256, Arc<tokio::sync::Mutex<()>>>>;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotPaid(String),
    #[error(transparent)]
    Stripe(StripeError),
    #[error(transparent)]
    Chain(WriteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The on-chain payment id of a Stripe PaymentIntent.
pub fn payment_id(intent_id: &str) -> B256 {
    keccak256(intent_id.as_bytes())
}

fn account_hex(account: &B256) -> String {
    format!("{account:#x}")
}

/// Asks Stripe for a PaymentIntent of `amount_cents` for `account`.
pub async fn create(
    billing: &EnabledBilling,
    account: &B256,
    amount_cents: u64,
    idempotency_key: &str,
) -> Result<PaymentIntent, PaymentError> {
    let min = billing.config.min_payment_cents;
    if amount_cents < min {
        return Err(PaymentError::Invalid(format!(
            "`amount_cents` must be at least {min} (you sent {amount_cents})"
        )));
    }
    if amount_cents > MAX_PAYMENT_CENTS {
        return Err(PaymentError::Invalid(format!(
            "`amount_cents` must be at most {MAX_PAYMENT_CENTS} (you sent {amount_cents})"
        )));
    }
    let account = account_hex(account);
    billing
        .stripe
        .create_payment_intent(
            amount_cents,
            &billing.config.currency,
            &[(ACCOUNT_METADATA, &account)],
            idempotency_key,
        )
        .await
        .map_err(PaymentError::Stripe)
}

/// Credits the account once for a succeeded PaymentIntent created for it.
pub async fn confirm(
    billing: &EnabledBilling,
    store: &Store,
    writer: &dyn RegistryWrites,
    account: &B256,
    intent_id: &str,
) -> Result<(), PaymentError> {
    if !is_payment_intent_id(intent_id) {
        return Err(PaymentError::Invalid(format!(
            "`payment_intent_id` must be a Stripe PaymentIntent id (pi_ followed by letters and digits), not {:?}",
            truncate(intent_id)
        )));
    }
    let not_found = || {
        PaymentError::NotFound(format!(
            "payment intent {intent_id} does not exist in this account"
        ))
    };
    let intent = match billing.stripe.retrieve_payment_intent(intent_id).await {
        Ok(intent) => intent,
        Err(StripeError::NotFound(_)) => return Err(not_found()),
        Err(other) => return Err(PaymentError::Stripe(other)),
    };
    // Another account's intent is as good as unknown.
    if intent.metadata.get(ACCOUNT_METADATA) != Some(&account_hex(account)) {
        return Err(not_found());
    }
    let id = payment_id(intent_id);
    let lock = billing
        .confirms
        .lock()
        .expect("confirm locks")
        .entry(id)
        .or_default()
        .clone();
    let result = {
        let _confirming = lock.lock().await;
        credit_once(billing, store, writer, account, &intent, id).await
    };
    let mut locks = billing.confirms.lock().expect("confirm locks");
    if Arc::strong_count(&lock) == 2 {
        locks.remove(&id);
    }
    result
}

async fn credit_once(
    billing: &EnabledBilling,
    store: &Store,
    writer: &dyn RegistryWrites,
    account: &B256,
    intent: &PaymentIntent,
    id: B256,
) -> Result<(), PaymentError> {
    if store.payment_credited(&id)? {
        return Ok(());
    }
    if intent.status != "succeeded" {
        return Err(PaymentError::NotPaid(format!(
            "payment intent {} has status `{}`, not `succeeded`: complete the payment with Stripe, then confirm again",
            intent.id, intent.status
        )));
    }
    if !intent
        .currency
        .eq_ignore_ascii_case(&billing.config.currency)
    {
        return Err(PaymentError::NotPaid(format!(
            "payment intent {} is in {}, but this node credits {}",
            intent.id, intent.currency, billing.config.currency
        )));
    }
    if intent.amount_received == 0 || intent.amount_received > intent.amount {
        return Err(PaymentError::NotPaid(format!(
            "payment intent {} received {} of {} cents; nothing to credit",
            intent.id, intent.amount_received, intent.amount
        )));
    }
    let call = LitRegistry::creditAccountCall {
        account: *account,
        amountCents: U256::from(intent.amount_received),
        paymentId: id,
    };
    match writer.write(&call).await {
        Ok(_) => {
            metrics::counter!("lit_node_billing_credited_cents_total")
                .increment(intent.amount_received);
            Ok(())
        }
        Err(WriteError::Rejected(LitRegistry::LitRegistryErrors::PaymentAlreadyCredited(_))) => {
            Ok(())
        }
        // Another node's credit for the same payment was mined first: ours reverted.
        Err(WriteError::Reverted(tx)) => {
            if wait_until_credited(store, &id, Duration::from_secs(10)).await? {
                Ok(())
            } else {
                Err(PaymentError::Chain(WriteError::Reverted(tx)))
            }
        }
        Err(other) => Err(PaymentError::Chain(other)),
    }
}

async fn wait_until_credited(
    store: &Store,
    id: &B256,
    timeout: Duration,
) -> Result<bool, StoreError> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if store.payment_credited(id)? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.payment_credited(id)
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}
