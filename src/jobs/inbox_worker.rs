//! Applies stored Instant Notifications in the background, in batches, so the INS route
//! only has to store the raw body before answering ClickBank. Woken by the route; also
//! looks every second for deliveries left by another process or a crash.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::db::Database;
use crate::domain::sync::inbox;
use crate::secrets::SecretBox;

/// Notifications per batch: large enough to share a commit, small enough that other writers
/// on SQLite wait only briefly.
pub const BATCH: i64 = 50;

/// How long the worker lets waiting stores go first before it takes its turn anyway.
const YIELD_AT_MOST: Duration = Duration::from_millis(250);

/// Starts the worker on the current runtime. `storing` counts INS requests that are storing
/// a body right now: on SQLite (one writer at a time) the worker lets them go first, so a
/// burst from ClickBank is answered at the speed of the raw store and applied right after.
pub fn spawn(db: Database, secrets: SecretBox, wake: Arc<Notify>, storing: Arc<AtomicUsize>) {
    actix_web::rt::spawn(async move {
        loop {
            let waited = Instant::now();
            while storing.load(Ordering::Relaxed) > 0 && waited.elapsed() < YIELD_AT_MOST {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let s = secrets.clone();
            let done = db
                .run(move |c| {
                    let ids = inbox::claim_batch(c, BATCH)?;
                    inbox::process_batch(c, &s, &ids)?;
                    Ok(ids.len())
                })
                .await;
            match done {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "INS worker: cannot process the inbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}
