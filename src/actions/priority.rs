//! Long runs yield the CPU to short ones. A worker thread whose run has taken more than
//! [`LONG_RUN`] lowers its own scheduling priority (nice 10), so that the short runs of other
//! accounts on the other workers — and the node's HTTP threads — get the cores first while busy
//! loops spin; the worker restores normal priority before its next run. Where the process may not
//! raise a thread's priority again (no CAP_SYS_NICE, RLIMIT_NICE 0), the pool retires that thread
//! and starts a fresh one instead (see `pool`).

use std::cell::Cell;
use std::time::Duration;

/// Run time after which a run's thread gives way to others.
pub const LONG_RUN: Duration = Duration::from_millis(250);
const LOWERED_NICE: libc::c_int = 10;

thread_local! {
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

fn set_nice(nice: libc::c_int) -> bool {
    // SAFETY: plain syscalls on this thread's own id.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
    }
}

/// Lowers this thread's priority, once per run.
pub fn lower() {
    LOWERED.with(|lowered| {
        if !lowered.get() && set_nice(LOWERED_NICE) {
            lowered.set(true);
        }
    });
}

/// Restores normal priority; false when the thread may not raise it again.
pub fn restore() -> bool {
    LOWERED.with(|lowered| {
        if !lowered.get() {
            return true;
        }
        if set_nice(0) {
            lowered.set(false);
            true
        } else {
            false
        }
    })
}

/// Whether this thread currently runs at lowered priority.
pub fn is_lowered() -> bool {
    LOWERED.with(Cell::get)
}

/// This thread's nice value (for tests).
pub fn nice() -> i32 {
    // SAFETY: a plain syscall on this thread's own id.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_lowers_and_restores_its_own_priority() {
        std::thread::spawn(|| {
            assert!(!is_lowered());
            let normal = nice();
            lower();
            assert!(is_lowered());
            assert_eq!(nice(), LOWERED_NICE);
            if restore() {
                assert_eq!(nice(), normal);
                assert!(!is_lowered());
            }
        })
        .join()
        .unwrap();
    }
}
