//! The gas this node's transactions in flight may ask for at once: about one block. A chain node
//! building a block skips a transaction that no longer fits — and anvil then drops the sender's
//! later nonces as invalid — so sending more than a block's worth at once only buys re-sends.
//! Writes that would go past it wait (and gather into the next batch meanwhile).

use std::sync::Mutex;

use tokio::sync::Notify;

/// Gas limits of the transactions sent and not yet mined.
#[derive(Default)]
pub(super) struct GasBudget {
    in_flight: Mutex<u64>,
    freed: Notify,
}

/// Gas reserved by one transaction until it is mined (or given up on); released on drop.
pub(super) struct Reservation<'a> {
    budget: &'a GasBudget,
    gas: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.budget.in_flight.lock().expect("not poisoned");
        *in_flight = in_flight.saturating_sub(self.gas);
        drop(in_flight);
        self.budget.freed.notify_waiters();
    }
}

impl GasBudget {
    pub(super) fn reserve(&self, gas: u64) -> Reservation<'_> {
        *self.in_flight.lock().expect("not poisoned") += gas;
        Reservation { budget: self, gas }
    }

    #[cfg(test)]
    fn in_flight(&self) -> u64 {
        *self.in_flight.lock().expect("not poisoned")
    }

    /// Waits until at least one call of `per_call` gas fits under `limit` beside what is in
    /// flight (at once when nothing is), then reserves room for as many calls as fit, at most
    /// `most_calls`. Returns the reservation and its number of calls; [`Reservation::resize`]
    /// later sets it to what the transaction turns out to need.
    pub(super) async fn room_for(
        &self,
        per_call: u64,
        most_calls: usize,
        limit: u64,
    ) -> (Reservation<'_>, usize) {
        let per_call = per_call.max(1);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut in_flight = self.in_flight.lock().expect("not poisoned");
                let fit = (limit.saturating_sub(*in_flight) / per_call) as usize;
                if fit >= 1 || *in_flight == 0 {
                    let calls = fit.clamp(1, most_calls.max(1));
                    let gas = calls as u64 * per_call;
                    *in_flight += gas;
                    return (Reservation { budget: self, gas }, calls);
                }
            }
            freed.await;
        }
    }
}

impl Reservation<'_> {
    /// Reserves `gas` instead of what was reserved so far.
    pub(super) fn resize(&mut self, gas: u64) {
        let mut in_flight = self.budget.in_flight.lock().expect("not poisoned");
        *in_flight = in_flight.saturating_sub(self.gas) + gas;
        drop(in_flight);
        if gas < self.gas {
            self.budget.freed.notify_waiters();
        }
        self.gas = gas;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writes_take_the_room_left_in_the_block_and_wait_when_there_is_none() {
        let budget = GasBudget::default();
        // 10 calls of 3 gas asked, 3 fit under 10.
        let (mut first, calls) = budget.room_for(3, 10, 10).await;
        assert_eq!((calls, budget.in_flight()), (3, 9));
        first.resize(8);
        assert_eq!(budget.in_flight(), 8);
        // 8 + 3 > 10: waits…
        let waiter = budget.room_for(3, 10, 10);
        tokio::pin!(waiter);
        assert!(futures_util::poll!(waiter.as_mut()).is_pending());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(futures_util::poll!(waiter.as_mut()).is_pending());
        // …until the first is mined.
        drop(first);
        let (second, calls) = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("freed gas wakes the waiter");
        assert_eq!((calls, budget.in_flight()), (3, 9));
        drop(second);
        assert_eq!(budget.in_flight(), 0);
        // Alone, a call larger than the whole budget still goes.
        let (_alone, calls) = budget.room_for(50, 4, 10).await;
        assert_eq!((calls, budget.in_flight()), (1, 50));
        // A fixed reservation counts too.
        let _fixed = budget.reserve(5);
        assert_eq!(budget.in_flight(), 55);
    }
}
