//! Sending registry calls, as the API and billing see it: a small trait, so request handlers can
//! run in process against a real store with a stand-in (see tests/common/in_process.rs), while a
//! node sends through the chain writer.

use std::future::Future;
use std::pin::Pin;

use alloy::primitives::Bytes;
use alloy::sol_types::SolCall;

use super::writer::{WriteError, Written};

/// Sends one registry call and answers once it is mined and mirrored (or why not).
pub trait RegistryWrites: Send + Sync + 'static {
    /// `input` is the ABI-encoded call.
    fn write_input(
        &self,
        input: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<Written, WriteError>> + Send + '_>>;
}

impl dyn RegistryWrites {
    pub async fn write<C: SolCall>(&self, call: &C) -> Result<Written, WriteError> {
        self.write_input(call.abi_encode().into()).await
    }
}
