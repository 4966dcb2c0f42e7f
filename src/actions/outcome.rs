//! How a finished run answers (spec/actions.md, "Request and reply"): `main`'s value, else the
//! last `setResponse`, else `""`; a broken limit, a timeout, lost credit or an abandoned client
//! explain the failure before whatever error the action saw; every text obeys the response limit.

use rquickjs::{Ctx, Function};
use serde_json::Value as Json;

use super::host::Host;

/// The reply of spec/actions.md: `{response, logs, has_error}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActionOutcome {
    pub response: Json,
    pub logs: String,
    pub has_error: bool,
    /// Wall time of the run (set by the worker; what billing charges for).
    pub run_time: std::time::Duration,
}

impl ActionOutcome {
    pub(super) fn failed(message: String, logs: String) -> Self {
        Self {
            response: Json::String(message),
            logs,
            has_error: true,
            run_time: std::time::Duration::ZERO,
        }
    }
}

/// The reply for a finished run.
pub(super) fn outcome_of(
    host: &Host,
    limits: &super::limits::ActionLimits,
    result: Result<Option<(bool, String)>, String>,
) -> ActionOutcome {
    let logs = host.logs.borrow().clone();

    if super::guard::panicked() {
        return ActionOutcome::failed(super::guard::INTERNAL_ERROR.into(), logs);
    }
    // Limits first: they explain whatever error the action saw.
    if host.out_of_credit.get() {
        return ActionOutcome::failed(
            format!(
                "The account ran out of credit: its balance paid for {} s of run time and the \
                 action was stopped there. Add funds with POST /core/v1/billing/create_payment_intent \
                 and billing/confirm_payment, then run it again.",
                host.paid_seconds()
            ),
            logs,
        );
    }
    if host.abandoned.get() {
        return ActionOutcome::failed(
            "The client stopped waiting for the reply (it disconnected or its request timed out); the action was stopped.".into(),
            logs,
        );
    }
    if host.timed_out.get() {
        return ActionOutcome::failed(
            format!(
                "Your function exceeded the maximum runtime of {}ms and was terminated.",
                limits.timeout_ms
            ),
            logs,
        );
    }
    if let Some(breach) = host.breach.borrow().clone() {
        return ActionOutcome::failed(breach, logs);
    }
    match result {
        Err(error) if is_out_of_memory(&error) => ActionOutcome::failed(
            format!(
                "Your function exceeded the maximum memory of {} MB and was terminated.",
                limits.memory_limit_mb
            ),
            logs,
        ),
        // The action's own error text (and whatever it chose to throw) obeys the response limit.
        Err(error) => ActionOutcome::failed(
            truncated(
                error,
                usize::try_from(limits.max_response_length).unwrap_or(usize::MAX),
            ),
            logs,
        ),
        Ok(reply) => {
            let (is_string, text) = reply
                .or_else(|| host.response.borrow().clone())
                .unwrap_or((true, String::new()));
            let max = limits.max_response_length;
            if text.len() as u64 > max {
                return ActionOutcome::failed(
                    format!("Response is too long. Max length is {max} bytes"),
                    logs,
                );
            }
            ActionOutcome {
                response: response_value(is_string, text),
                logs,
                has_error: false,
                run_time: std::time::Duration::ZERO,
            }
        }
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), ending with a marker that says
/// how long it was, when it is longer.
pub(crate) fn truncated(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!(" … [truncated: {} bytes, the limit is {max}]", text.len());
    let keep = max.saturating_sub(marker.len());
    let mut cut = keep.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if keep == 0 {
        // No room for the marker: the limit wins.
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return text[..cut].to_string();
    }
    let mut out = String::with_capacity(cut + marker.len());
    out.push_str(&text[..cut]);
    out.push_str(&marker);
    out
}

pub(super) fn is_out_of_memory(error: &str) -> bool {
    error.contains("out of memory")
}

/// A string that is itself JSON text goes out parsed; other strings stay strings. Non-strings
/// arrive as JSON text.
fn response_value(is_string: bool, text: String) -> Json {
    match serde_json::from_str::<Json>(&text) {
        Ok(value) => value,
        Err(_) if is_string => Json::String(text),
        Err(_) => Json::Null,
    }
}

/// The text of the pending exception.
pub(super) fn exception_text<'js>(
    ctx: &Ctx<'js>,
    driver: Option<&Function<'js>>,
    error: rquickjs::Error,
) -> String {
    match error {
        rquickjs::Error::Exception => {
            let value = ctx.catch();
            if let Some(driver) = driver {
                if let Ok(text) = driver.call::<_, String>(("describe", value.clone())) {
                    return text;
                }
            }
            value
                .as_exception()
                .map(|e| format!("Error: {}", e.message().unwrap_or_default()))
                .or_else(|| value.as_string().and_then(|s| s.to_string().ok()))
                .unwrap_or_else(|| "the action threw an exception".into())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_to_the_limit_with_a_marker() {
        assert_eq!(truncated("short".into(), 100), "short");
        let cut = truncated("é".repeat(1000), 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(
            cut.ends_with("[truncated: 2000 bytes, the limit is 100]"),
            "{cut}"
        );
        assert!(cut.starts_with("éé"));
        // A limit too small for the marker still holds.
        assert_eq!(truncated("abcdef".into(), 3), "abc");
        assert_eq!(truncated("ééé".into(), 3), "é");
    }
}
