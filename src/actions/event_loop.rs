//! A run's event loop (spec/actions.md, "Request and reply"): promise jobs, timers (kept in JS;
//! the loop only asks for the next due time) and fetch results (they arrive over a channel from
//! the node's tokio runtime), until the run settles or must wait. Waiting is not done here: the
//! loop says until when and on what, and the engine either parks the run, giving its thread to
//! other runs, or waits in place (see `engine`).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rquickjs::{Ctx, Function, Object, Value};

use super::fetch::FetchResponse;
use super::host::{FetchDone, Host};
use super::js_bytes::uint8_array;

/// Where the loop stopped.
pub(super) enum Pump {
    /// The run is over: it settled with nothing left pending, or a limit stopped it.
    Settled,
    /// Nothing to do before a fetch result arrives (`in_flight`) or `until` (the next timer,
    /// the run's next stop, or the next look at its client and credit).
    Wait {
        until: Instant,
        timer_at: Option<Instant>,
        in_flight: bool,
    },
}

/// Runs jobs, due timers and arrived fetch results (`arrived` first, then the channel) until the
/// run settles or has to wait.
pub(super) fn pump<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    driver: &Function<'js>,
    fetch_rx: &mpsc::Receiver<FetchDone>,
    arrived: &mut VecDeque<FetchDone>,
) -> rquickjs::Result<Pump> {
    loop {
        #[cfg(test)]
        tests::maybe_panic_in_loop();
        while ctx.execute_pending_job() {
            if stopped(host) {
                return Ok(Pump::Settled);
            }
        }
        if stopped(host) {
            return Ok(Pump::Settled);
        }
        let now_ms = host.now_ms();
        let next_timer: f64 = driver.call(("nextTimer",))?;
        if next_timer >= 0.0 && next_timer <= now_ms {
            driver.call::<_, ()>(("fireTimers", now_ms))?;
            continue;
        }
        while let Some((id, outcome)) = arrived.pop_front() {
            deliver(ctx, host, driver, id, outcome)?;
        }
        while let Ok((id, outcome)) = fetch_rx.try_recv() {
            deliver(ctx, host, driver, id, outcome)?;
        }
        if ctx.execute_pending_job() {
            continue;
        }
        let in_flight = host.fetches_in_flight() > 0;
        if next_timer < 0.0 && !in_flight {
            let settled: bool = driver.call(("settled",))?;
            if !settled {
                driver.call::<_, ()>((
                    "fail",
                    "Error: main did not finish: it awaits a promise that can never resolve (nothing pending could settle it)",
                ))?;
            }
            return Ok(Pump::Settled);
        }
        let now = Instant::now();
        if now >= host.deadline {
            host.timed_out.set(true);
            return Ok(Pump::Settled);
        }
        let timer_at = if next_timer >= 0.0 {
            now.checked_add(until_timer(next_timer, now_ms))
        } else {
            None
        };
        return Ok(Pump::Wait {
            until: wake_time(host, timer_at, now),
            timer_at,
            in_flight,
        });
    }
}

/// When a waiting run must be looked at again without news: its timer, its deadline or the end
/// of its paid time, and at the next [`MAX_IDLE_WAIT`] tick (for a client that left). The ticks
/// are the same for every run, so a worker with many parked runs wakes once per tick for all.
pub(super) fn wake_time(host: &Host, timer_at: Option<Instant>, now: Instant) -> Instant {
    let mut until = host.next_stop().min(next_tick(now));
    if let Some(timer_at) = timer_at {
        until = until.min(timer_at);
    }
    until
}

/// Longest the event loop sleeps without looking at the run's state (time, credit, client).
pub(super) const MAX_IDLE_WAIT: Duration = Duration::from_millis(100);

/// The first [`MAX_IDLE_WAIT`] tick of the process's clock after `now`.
fn next_tick(now: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let tick = MAX_IDLE_WAIT.as_nanos();
    let ticks = now.saturating_duration_since(epoch).as_nanos() / tick + 1;
    epoch + Duration::from_nanos(u64::try_from(ticks * tick).unwrap_or(u64::MAX))
}

/// Time until a timer due at `due_ms` of the run's clock, `now_ms` being now. Any value the JS
/// side hands back (NaN, infinite, huge) gives a valid duration: the wait is bounded by the
/// run's deadline anyway.
fn until_timer(due_ms: f64, now_ms: f64) -> Duration {
    Duration::try_from_secs_f64((due_ms - now_ms) / 1000.0).unwrap_or(if due_ms > now_ms {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// The run must stop: it timed out earlier, or a limit is broken, or the deadline passed now.
fn stopped(host: &Host) -> bool {
    host.timed_out.get() || host.should_interrupt()
}

/// Hands a fetch result to the JS side (`driver.fetchDone`).
fn deliver<'js>(
    ctx: &Ctx<'js>,
    host: &Host,
    driver: &Function<'js>,
    id: u32,
    outcome: Result<FetchResponse, String>,
) -> rquickjs::Result<()> {
    if !host.fetch_finished(id) {
        return Ok(()); // aborted: nobody waits for it
    }
    let value: Value = match outcome {
        Err(message) => rquickjs::String::from_str(ctx.clone(), &message)?.into_value(),
        Ok(response) => {
            let object = Object::new(ctx.clone())?;
            object.set("status", response.status)?;
            object.set("statusText", response.status_text)?;
            object.set("url", response.url)?;
            object.set("redirected", response.redirected)?;
            let headers = rquickjs::Array::new(ctx.clone())?;
            for (i, (name, value)) in response.headers.into_iter().enumerate() {
                headers.set(i, vec![name, value])?;
            }
            object.set("headers", headers)?;
            object.set("body", uint8_array(ctx, &response.body)?)?;
            object.into_value()
        }
    };
    driver.call(("fetchDone", id, value))
}
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Set by the engine's test hook `__testPanic("loop")`: the loop panics (outside any
        /// native) next round.
        static PANIC_IN_LOOP: Cell<bool> = const { Cell::new(false) };
    }

    pub(in crate::actions) fn panic_next_round() {
        PANIC_IN_LOOP.with(|flag| flag.set(true));
    }

    pub(super) fn maybe_panic_in_loop() {
        if PANIC_IN_LOOP.with(|flag| flag.replace(false)) {
            panic!("a test panic in the event loop");
        }
    }

    #[test]
    fn timer_waits_are_valid_for_any_due_time() {
        assert_eq!(until_timer(f64::INFINITY, 0.0), Duration::MAX);
        assert_eq!(until_timer(f64::NAN, 5.0), Duration::ZERO);
        assert_eq!(until_timer(-1e300, 5.0), Duration::ZERO);
        assert_eq!(until_timer(1e300, 5.0), Duration::MAX);
        assert_eq!(until_timer(1005.0, 5.0), Duration::from_secs(1));
    }

    #[test]
    fn idle_checks_fall_on_shared_ticks() {
        let now = Instant::now();
        let (a, b) = (next_tick(now), next_tick(now + Duration::from_millis(1)));
        assert!(a > now && a <= now + MAX_IDLE_WAIT);
        assert!(b == a || b == a + MAX_IDLE_WAIT, "{a:?} {b:?}");
        assert_eq!(next_tick(a), a + MAX_IDLE_WAIT);
    }
}
