//! `fetch` from an action: counted against the run's fetch limit, its body reserved in the run's
//! fetch budget, sent by the node's `Fetcher` and answered through the engine's event loop.

use std::time::Instant;

use super::{Host, HostResult, Thrown};
use crate::actions::fetch::FetchRequest;

impl Host {
    pub(super) fn start_fetch(
        &self,
        method: String,
        url: String,
        headers: Vec<Vec<String>>,
        body: Option<Vec<u8>>,
    ) -> HostResult<u32> {
        let max = self.input.limits.max_fetch_count;
        let used = self.fetches.get() + 1;
        if used > max {
            return Err(self.breach(format!(
                "You may not send more than {max} HTTP requests per session"
            )));
        }
        self.fetches.set(used);
        let Some(fetcher) = &self.services.fetcher else {
            return Err(Thrown::Error("fetch is not available on this node".into()));
        };
        let headers = headers
            .into_iter()
            .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([k, v]) => Some((k, v)),
                Err(_) => None,
            })
            .collect();
        let sending = self
            .fetch_budget
            .reserve(body.as_ref().map_or(0, Vec::len))
            .map_err(|reason| Thrown::Type(format!("fetch failed: {reason}")))?;
        let id = used as u32;
        let sender = self.fetch_done.clone();
        let time_left = self.deadline.saturating_duration_since(Instant::now());
        let task = fetcher.spawn(
            FetchRequest {
                method,
                url,
                headers,
                body,
            },
            sending,
            time_left,
            move |outcome| {
                sender.send((id, outcome));
            },
        );
        self.in_flight.borrow_mut().insert(id, task);
        Ok(id)
    }
}
