//! Metering: what an account may still spend, and the charges it owes that are not yet settled
//! on chain. Spendable credit = mirrored on-chain balance − journaled charges − charges sealed
//! into settlement batches the mirror has not applied yet − holds of requests in progress. (The
//! balance and the applied marks are read from one store snapshot, so a settlement is counted
//! exactly once however its transaction and the mirror interleave.) A request first
//! *reserves* its most possible cost (refused with [`MeterError::NoCredit`] before any work),
//! then *commits* what it actually cost: the charge is synced to the journal before the caller
//! answers (group commit: one journal thread writes all charges that arrived during the previous
//! sync in one synced batch). Dropping a reservation without committing releases it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock, Weak};

use alloy::primitives::B256;

use crate::store::journal::{Charge, SettlementBatch};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("the account has {available_cents} cents of credit; this needs {needed_cents}")]
    NoCredit {
        available_cents: i128,
        needed_cents: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, Clone)]
struct Usage {
    /// Journaled charges not yet sealed into a batch.
    pending: u64,
    /// (settlement id, cents) of sealed batches not yet forgotten.
    in_flight: Vec<(B256, u64)>,
    /// Reservations of requests in progress.
    held: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        self.pending == 0 && self.in_flight.is_empty() && self.held == 0
    }
}

struct Inner {
    store: Store,
    usage: Mutex<HashMap<B256, Usage>>,
    /// Charges are appended under the read side; sealing takes the write side, so a batch never
    /// misses a charge or counts one twice.
    journal: RwLock<()>,
    next_seq: AtomicU64,
    /// To the journal thread, which appends charges in groups: one synced write for all the
    /// charges that arrived while the previous write was syncing.
    commits: mpsc::Sender<Commit>,
}

/// One charge on its way to the journal.
struct Commit {
    seq: u64,
    charge: Charge,
    /// The reservation it settles (released whether or not the write succeeds).
    held: u64,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Most charges appended by one synced write.
const MAX_GROUP: usize = 1024;

/// Appends charges until every [`Meter`] is gone.
fn journal_thread(inner: Weak<Inner>, commits: mpsc::Receiver<Commit>) {
    while let Ok(first) = commits.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match commits.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.append(group);
    }
}

impl Inner {
    /// Writes `group` in one synced batch, then moves each charge from held to pending.
    fn append(&self, group: Vec<Commit>) {
        let _appending = self.journal.read().expect("journal lock");
        let charges: Vec<(u64, Charge)> = group.iter().map(|c| (c.seq, c.charge)).collect();
        let written = self
            .store
            .journal_charge_group(&charges)
            .map_err(|e| e.to_string());
        {
            let mut usage = self.usage.lock().expect("meter lock");
            for commit in &group {
                let entry = usage.entry(commit.charge.account).or_default();
                entry.held = entry.held.saturating_sub(commit.held);
                if written.is_ok() {
                    entry.pending += commit.charge.cents;
                }
            }
        }
        if written.is_ok() {
            let cents: u64 = group.iter().map(|c| c.charge.cents).sum();
            metrics::counter!("lit_node_billing_charged_cents_total").increment(cents);
        }
        for commit in group {
            let _ = commit.done.send(written.clone());
        }
    }
}

/// Cheap to clone; one per node.
#[derive(Clone)]
pub struct Meter {
    inner: Arc<Inner>,
}

/// Credit reserved for one request in progress.
pub struct Hold {
    meter: Arc<Inner>,
    account: B256,
    cents: u64,
    committed: bool,
}

impl Meter {
    /// Loads what the journal holds: unsealed charges and unapplied batches.
    pub fn open(store: Store) -> Result<Self, StoreError> {
        let mut usage: HashMap<B256, Usage> = HashMap::new();
        let mut next_seq = 1;
        for (seq, charge) in store.journal_charges()? {
            usage.entry(charge.account).or_default().pending += charge.cents;
            next_seq = next_seq.max(seq + 1);
        }
        for batch in store.settlement_batches()? {
            for (account, cents) in &batch.entries {
                usage
                    .entry(*account)
                    .or_default()
                    .in_flight
                    .push((batch.id, *cents));
            }
        }
        let (commits, receiver) = mpsc::channel();
        let inner = Arc::new(Inner {
            store,
            usage: Mutex::new(usage),
            journal: RwLock::new(()),
            next_seq: AtomicU64::new(next_seq),
            commits,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("billing-journal".into())
            .spawn(move || journal_thread(weak, receiver))
            .map_err(|e| StoreError::Journal(format!("cannot start the journal thread: {e}")))?;
        Ok(Self { inner })
    }

    /// On-chain balance (as mirrored) minus unsettled charges; what `billing/balance` shows.
    pub fn balance(&self, account: &B256) -> Result<i128, StoreError> {
        let usage = self.lock().get(account).cloned().unwrap_or_default();
        self.settled_balance(account, &usage)
    }

    /// Charges of `account` this node has journaled and not yet seen applied on chain.
    #[cfg(test)]
    pub fn unsettled(&self, account: &B256) -> Result<u64, StoreError> {
        let usage = self.lock().get(account).cloned().unwrap_or_default();
        Ok(self.unsettled_of(account, &usage)?.1)
    }

    /// (mirrored balance, unsettled charges) of `account` with `usage`.
    fn unsettled_of(&self, account: &B256, usage: &Usage) -> Result<(i128, u64), StoreError> {
        let ids: Vec<B256> = usage.in_flight.iter().map(|(id, _)| *id).collect();
        let (balance, applied) = self.inner.store.balance_with_settlements(account, &ids)?;
        let in_flight: u64 = usage
            .in_flight
            .iter()
            .zip(applied)
            .filter(|(_, applied)| !applied)
            .map(|((_, cents), _)| cents)
            .sum();
        Ok((balance.unwrap_or(0), usage.pending + in_flight))
    }

    fn settled_balance(&self, account: &B256, usage: &Usage) -> Result<i128, StoreError> {
        let (on_chain, unsettled) = self.unsettled_of(account, usage)?;
        Ok(on_chain - i128::from(unsettled))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<B256, Usage>> {
        self.inner.usage.lock().expect("meter lock")
    }

    /// Reserves `cents` of the account's credit; refused when it has less available.
    pub fn reserve(&self, account: &B256, cents: u64) -> Result<Hold, MeterError> {
        let mut hold = Hold {
            meter: self.inner.clone(),
            account: *account,
            cents: 0,
            committed: false,
        };
        self.grow(&mut hold, cents)?;
        Ok(hold)
    }

    /// Adds `cents` to a reservation if the account can pay for them too.
    pub fn grow(&self, hold: &mut Hold, cents: u64) -> Result<(), MeterError> {
        let mut usage = self.lock();
        let entry = usage.entry(hold.account).or_default();
        let available = self.settled_balance(&hold.account, entry)? - i128::from(entry.held);
        if available < i128::from(cents) {
            return Err(MeterError::NoCredit {
                available_cents: available,
                needed_cents: cents,
            });
        }
        entry.held += cents;
        hold.cents += cents;
        Ok(())
    }

    /// Moves the journaled charges of accounts the mirror knows into settlement batches of at
    /// most `max_accounts` accounts, each under a fresh random settlement id; returns the new
    /// batches. Charges of accounts the mirror does not know (yet — the contract would refuse to
    /// charge them) stay in the journal, still counted against the account, and are sealed by a
    /// later call once the mirror knows the account.
    pub fn seal(&self, max_accounts: usize) -> Result<Vec<SettlementBatch>, StoreError> {
        let _sealing = self.inner.journal.write().expect("journal lock");
        let charges = self.inner.store.journal_charges()?;
        if charges.is_empty() {
            return Ok(Vec::new());
        }
        let mut totals: BTreeMap<B256, u64> = BTreeMap::new();
        for (_, charge) in &charges {
            *totals.entry(charge.account).or_default() += charge.cents;
        }
        let mut billable = Vec::new();
        for (account, cents) in totals {
            if self.inner.store.account(&account)?.is_some() {
                billable.push((account, cents));
            } else {
                tracing::warn!(account = %account, cents, "charges of an account the mirror does not know are kept in the journal until it does");
            }
        }
        if billable.is_empty() {
            return Ok(Vec::new());
        }
        let batches: Vec<SettlementBatch> = billable
            .chunks(max_accounts.max(1))
            .map(|entries| SettlementBatch {
                id: B256::from(rand::random::<[u8; 32]>()),
                entries: entries.to_vec(),
            })
            .collect();
        let sealed: std::collections::HashSet<B256> =
            billable.iter().map(|(account, _)| *account).collect();
        let seqs: Vec<u64> = charges
            .iter()
            .filter(|(_, charge)| sealed.contains(&charge.account))
            .map(|(seq, _)| *seq)
            .collect();
        self.inner.store.seal_settlements(&batches, &seqs)?;

        let mut usage = self.lock();
        for batch in &batches {
            for (account, cents) in &batch.entries {
                let entry = usage.entry(*account).or_default();
                entry.pending = entry.pending.saturating_sub(*cents);
                entry.in_flight.push((batch.id, *cents));
            }
        }
        Ok(batches)
    }

    /// The chain has applied `batch`: forget it (the mirrored balance now includes it).
    pub fn settled(&self, batch: &SettlementBatch) -> Result<(), StoreError> {
        self.inner.store.remove_settlement_batch(&batch.id)?;
        let mut usage = self.lock();
        for (account, _) in &batch.entries {
            if let Some(entry) = usage.get_mut(account) {
                entry.in_flight.retain(|(id, _)| *id != batch.id);
                if entry.is_empty() {
                    usage.remove(account);
                }
            }
        }
        Ok(())
    }
}

impl Hold {
    /// What this reservation covers.
    pub fn cents(&self) -> u64 {
        self.cents
    }

    /// Hands the charge of `cents` (at most what was reserved) to the journal thread; the
    /// receiver answers once it is synced to disk. `None`: nothing to charge.
    fn submit(
        mut self,
        cents: u64,
    ) -> Result<Option<tokio::sync::oneshot::Receiver<Result<(), String>>>, StoreError> {
        let cents = cents.min(self.cents);
        if cents == 0 {
            return Ok(None); // dropping the hold releases it
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let commit = Commit {
            seq: self.meter.next_seq.fetch_add(1, Ordering::Relaxed),
            charge: Charge {
                account: self.account,
                cents,
            },
            held: self.cents,
            done,
        };
        self.meter
            .commits
            .send(commit)
            .map_err(|_| StoreError::Journal("the journal thread has stopped".into()))?;
        self.committed = true; // the journal thread releases the reservation
        Ok(Some(answer))
    }

    /// [`Hold::commit_async`] for tests outside a runtime: blocks until the charge is synced.
    #[cfg(test)]
    pub fn commit(self, cents: u64) -> Result<(), StoreError> {
        match self.submit(cents)? {
            None => Ok(()),
            Some(answer) => answered(answer.blocking_recv()),
        }
    }

    /// Charges `cents` (at most what was reserved): synced to the journal before it returns.
    pub async fn commit_async(self, cents: u64) -> Result<(), StoreError> {
        match self.submit(cents)? {
            None => Ok(()),
            Some(answer) => answered(answer.await),
        }
    }

    fn release(&self) {
        let mut usage = self.meter.usage.lock().expect("meter lock");
        if let Some(entry) = usage.get_mut(&self.account) {
            entry.held = entry.held.saturating_sub(self.cents);
            if entry.is_empty() {
                usage.remove(&self.account);
            }
        }
    }
}

fn answered(
    answer: Result<Result<(), String>, tokio::sync::oneshot::error::RecvError>,
) -> Result<(), StoreError> {
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(StoreError::Journal(message)),
        Err(_) => Err(StoreError::Journal("the journal thread has stopped".into())),
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.committed {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::AccountRecord;

    /// A store whose mirror knows `account` with `balance` cents (written as the indexer would).
    fn store_with(account: B256, balance: i128) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .put_account_for_tests(
                &account,
                AccountRecord {
                    balance_cents: balance,
                    ..AccountRecord::default()
                },
            )
            .unwrap();
        (dir, store)
    }

    #[test]
    fn reservations_bound_spending_and_commits_are_journaled() {
        let account = B256::repeat_byte(7);
        let (_dir, store) = store_with(account, 5);
        let meter = Meter::open(store.clone()).unwrap();

        let first = meter.reserve(&account, 2).unwrap();
        let second = meter.reserve(&account, 2).unwrap();
        // 5 − 4 held = 1 left: not enough for another 2.
        assert!(matches!(
            meter.reserve(&account, 2),
            Err(MeterError::NoCredit {
                available_cents: 1,
                needed_cents: 2
            })
        ));
        drop(second); // released
        first.commit(2).unwrap();
        assert_eq!(meter.balance(&account).unwrap(), 3);
        // What is reserved but not used is not charged.
        let generous = meter.reserve(&account, 3).unwrap();
        generous.commit(1).unwrap();
        assert_eq!(meter.balance(&account).unwrap(), 2);

        // A reopened meter (a restart) sees the same unsettled charges.
        let reopened = Meter::open(store).unwrap();
        assert_eq!(reopened.unsettled(&account).unwrap(), 3);
    }

    #[test]
    fn a_reservation_grows_only_within_credit() {
        let account = B256::repeat_byte(8);
        let (_dir, store) = store_with(account, 3);
        let meter = Meter::open(store).unwrap();
        let mut hold = meter.reserve(&account, 1).unwrap();
        meter.grow(&mut hold, 1).unwrap();
        meter.grow(&mut hold, 1).unwrap();
        assert_eq!(hold.cents(), 3);
        assert!(matches!(
            meter.grow(&mut hold, 1),
            Err(MeterError::NoCredit { .. })
        ));
        assert!(meter.reserve(&account, 1).is_err(), "all 3 cents are held");
        hold.commit(2).unwrap();
        assert_eq!(
            meter.balance(&account).unwrap(),
            1,
            "only what was used is charged"
        );
    }

    #[test]
    fn sealing_moves_charges_into_batches_until_settled() {
        let account = B256::repeat_byte(7);
        let (_dir, store) = store_with(account, 100);
        let meter = Meter::open(store.clone()).unwrap();
        for cents in [1, 2, 3] {
            meter
                .reserve(&account, cents)
                .unwrap()
                .commit(cents)
                .unwrap();
        }
        let batches = meter.seal(200).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].entries, vec![(account, 6)]);
        assert!(store.journal_charges().unwrap().is_empty());
        assert_eq!(
            meter.balance(&account).unwrap(),
            94,
            "sealed is still unsettled"
        );
        assert!(meter.seal(200).unwrap().is_empty(), "nothing sealed twice");

        // After a restart the batch keeps its id, and its amount still counts.
        let reopened = Meter::open(store.clone()).unwrap();
        assert_eq!(reopened.balance(&account).unwrap(), 94);
        assert_eq!(store.settlement_batches().unwrap(), batches);

        // Once the mirror shows the settlement applied (balance and mark in one write, as the
        // indexer does), it counts once: in the balance, no longer as unsettled.
        store
            .put_account_for_tests(
                &account,
                AccountRecord {
                    balance_cents: 94,
                    ..AccountRecord::default()
                },
            )
            .unwrap();
        store.mark_settlement_for_tests(&batches[0].id).unwrap();
        assert_eq!(reopened.unsettled(&account).unwrap(), 0);
        assert_eq!(reopened.balance(&account).unwrap(), 94);
        reopened.settled(&batches[0]).unwrap();
        assert_eq!(reopened.unsettled(&account).unwrap(), 0);
        assert!(store.settlement_batches().unwrap().is_empty());
    }

    /// Journals a charge of `cents` for `account` without a credit check (the account may be
    /// unknown to the mirror, as after a mirror rebuild).
    fn journal(meter: &Meter, account: B256, cents: u64) {
        Hold {
            meter: meter.inner.clone(),
            account,
            cents,
            committed: false,
        }
        .commit(cents)
        .unwrap();
    }

    #[test]
    fn charges_of_accounts_the_mirror_does_not_know_wait_in_the_journal() {
        let (known, unknown) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let (_dir, store) = store_with(known, 100);
        let meter = Meter::open(store.clone()).unwrap();
        journal(&meter, known, 3);
        journal(&meter, unknown, 4);
        journal(&meter, unknown, 1);

        let batches = meter.seal(200).unwrap();
        assert_eq!(
            batches
                .iter()
                .map(|b| b.entries.clone())
                .collect::<Vec<_>>(),
            vec![vec![(known, 3)]],
            "only the known account is sealed"
        );
        // The unknown account's charges stay journaled and keep counting against it, also
        // after a restart.
        let journaled: Vec<Charge> = store
            .journal_charges()
            .unwrap()
            .into_iter()
            .map(|(_, charge)| charge)
            .collect();
        assert_eq!(
            journaled,
            vec![
                Charge {
                    account: unknown,
                    cents: 4
                },
                Charge {
                    account: unknown,
                    cents: 1
                }
            ]
        );
        assert_eq!(meter.unsettled(&unknown).unwrap(), 5);
        assert_eq!(
            Meter::open(store.clone())
                .unwrap()
                .unsettled(&unknown)
                .unwrap(),
            5
        );
        assert!(
            meter.seal(200).unwrap().is_empty(),
            "still unknown: nothing new sealed"
        );

        // Once the mirror knows the account, the next seal settles them.
        store
            .put_account_for_tests(&unknown, AccountRecord::default())
            .unwrap();
        let later = meter.seal(200).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].entries, vec![(unknown, 5)]);
        assert!(store.journal_charges().unwrap().is_empty());
        assert_eq!(
            meter.unsettled(&unknown).unwrap(),
            5,
            "sealed, not yet applied"
        );
    }

    #[test]
    fn batches_hold_at_most_max_accounts() {
        let (_dir, store) = store_with(B256::repeat_byte(1), 100);
        for byte in 2..=5 {
            store
                .put_account_for_tests(&B256::repeat_byte(byte), AccountRecord::default())
                .unwrap();
        }
        let meter = Meter::open(store.clone()).unwrap();
        for byte in 1..=5 {
            let hold = Hold {
                meter: meter.inner.clone(),
                account: B256::repeat_byte(byte),
                cents: 1,
                committed: false,
            };
            hold.commit(1).unwrap();
        }
        let batches = meter.seal(2).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.entries.len()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        let ids: std::collections::HashSet<_> = batches.iter().map(|b| b.id).collect();
        assert_eq!(ids.len(), 3, "every batch has its own settlement id");
    }
}
