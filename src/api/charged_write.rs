//! A management write sent for the caller's account and charged its price (when billing is on).

use alloy::sol_types::SolCall;

use super::auth::Caller;
use super::error::ApiError;
use crate::app::AppContext;
use crate::chain::writer::Written;

/// Sends a management write for `caller`'s account, charging its price: refused with 402 before
/// anything is sent when the account cannot pay, journaled before the response once a
/// transaction was sent (it succeeded, or it was sent and reverted or is still pending: the chain
/// did the work either way). Write endpoints run detached from the client (see `detach`), so a
/// client that disconnects or times out is charged too.
pub async fn charged_write<C: SolCall>(
    ctx: &AppContext,
    caller: &Caller,
    call: &C,
) -> Result<Written, ApiError> {
    let hold = ctx.billing.reserve_write(&caller.account)?;
    let written = ctx.writer.write(call).await.map_err(ApiError::from);
    let sent = match &written {
        Ok(_) => true,
        Err(error) => error.transaction_sent,
    };
    if let (Some(hold), true) = (hold, sent) {
        let cents = hold.cents();
        hold.commit_async(cents).await?;
    }
    written
}
