//! The one bound on argon2 work in this process. Every hash and verification (UI sign-ins,
//! password changes, API users) takes a permit first; argon2id with the default parameters
//! holds about 19 MiB while it runs, so the permits bound that memory whatever arrives. A
//! caller that cannot get a permit within [`WAIT`] is told to come back (503 + Retry-After).
//!
//! The work runs on threads of its own, one per permit, each filling the same argon2 memory
//! every time: allocated per call, the allocator kept freed 19 MiB blocks resident (a fresh
//! portal grew by 19 MiB per wrong password up to about 250 MiB).

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::AppError;

/// How long a request waits for a permit before it is answered 503.
pub const WAIT: Duration = Duration::from_secs(2);
/// The Retry-After given with that 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// One permit per core: argon2 is CPU-bound, more at once only adds memory.
pub fn permits() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 32)
}

fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(permits()))
}

/// Waits up to `wait` for a permit of `sem`.
async fn acquire(sem: &Semaphore, wait: Duration) -> Result<SemaphorePermit<'_>, AppError> {
    match tokio::time::timeout(wait, sem.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(AppError::Busy {
            message: "The portal is busy checking passwords; try again in a few seconds.".into(),
            retry_after_secs: RETRY_AFTER_SECS,
        }),
    }
}

type Job = Box<dyn FnOnce(&mut Vec<argon2::Block>) + Send>;

/// The argon2 threads, fed through one queue.
fn workers() -> &'static Mutex<mpsc::Sender<Job>> {
    static WORKERS: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..permits() {
            let rx = rx.clone();
            // A thread that cannot start is logged; with none at all the queue's receiver is
            // gone once this closure returns, and every check fails with a clear error.
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    // This thread's argon2 memory, kept for its lifetime.
                    let mut memory = Vec::new();
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start an argon2 thread");
            }
        }
        Mutex::new(tx)
    })
}

/// Runs the argon2 work `f` (given the thread's argon2 memory) on an argon2 thread, under a
/// permit of the process gate.
pub async fn run<T: Send + 'static>(
    f: impl FnOnce(&mut Vec<argon2::Block>) -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = acquire(gate(), WAIT).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |memory| {
        let _ = tx.send(f(memory));
    });
    workers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| AppError::Internal("the argon2 threads are gone".into()))?;
    rx.await
        .map_err(|_| AppError::Internal("an argon2 task failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_full_gate_answers_busy_with_a_retry_time() {
        let sem = Semaphore::new(1);
        let held = acquire(&sem, WAIT).await.unwrap();
        match acquire(&sem, Duration::from_millis(20)).await {
            Err(AppError::Busy { retry_after_secs, .. }) => assert_eq!(retry_after_secs, RETRY_AFTER_SECS),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
        drop(held);
        assert!(acquire(&sem, Duration::from_millis(20)).await.is_ok());
    }

    #[test]
    fn the_gate_is_sized_to_the_machine() {
        let n = permits();
        assert!((1..=32).contains(&n));
        assert_eq!(gate().available_permits(), n);
    }
}
