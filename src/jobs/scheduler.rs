//! The scheduler: ticks every minute (or when woken) and runs the import tasks that are
//! due, each claimed with a database lease so that several portal processes never run the
//! same task at once.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;

use crate::domain::fulfillment::export::ExportContext;
use crate::domain::sync::imports::{self, ImportContext, PAGES_PER_RUN};
use crate::domain::sync::{reconcile, sale_lookups};

/// This process's name in leases and run records.
pub fn runner_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "portal".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::thread_rng().gen::<u16>()
    )
}

/// Runs every due task once; returns whether any still has work right away.
pub async fn run_due(ctx: &ImportContext, runner: &str) -> bool {
    let due = match ctx.job.db.read(|c| imports::due(c, 10)).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot read due tasks");
            return false;
        }
    };
    let mut more = false;
    for id in due {
        match imports::run_task(ctx, id, runner, PAGES_PER_RUN).await {
            Ok(r) => {
                if r.claimed {
                    tracing::info!(task = id, pages = r.pages, imported = r.imported, outcome = %r.outcome, "import run");
                }
                more |= r.more;
            }
            Err(e) => tracing::error!(task = id, error = %e, "import run failed"),
        }
    }
    more
}

/// Starts the scheduler on the current runtime: import tasks, the fulfillment export of
/// every house that is due (each house under its own lease), the look-ups of sales not
/// seen yet and the reconciliation of days (nightly, or as asked).
pub fn spawn(ctx: ImportContext, export: ExportContext, tick: Duration, wake: Arc<Notify>) {
    let runner = runner_id();
    actix_web::rt::spawn(async move {
        loop {
            super::export::run_due(&export, &runner).await;
            let lookups_more = match sale_lookups::run_due(&ctx.job).await {
                Ok(round) => round.more,
                Err(e) => {
                    tracing::error!(error = %e, "look-ups of sales not seen yet failed");
                    false
                }
            };
            if let Err(e) = reconcile::run_due(&ctx.job, &runner).await {
                tracing::error!(error = %e, "reconciliation failed");
            }
            if run_due(&ctx, &runner).await || lookups_more {
                continue;
            }
            let _ = tokio::time::timeout(tick, wake.notified()).await;
        }
    });
}
