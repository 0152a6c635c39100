//! The export job, one run per real house (never the dummy ClickBank house):
//!
//! 1. claim the house's lease (`locked_until`, `locked_by`: one conditional UPDATE, so two
//!    portal processes never export the same house at once);
//! 2. retry: shipments that failed once go again under the same shipment id, their items
//!    RECYCLED; a second failure leaves them FAILED for a human;
//! 3. take the HOLD items whose product delay has passed, bundle them (same customer, same
//!    normalized address, order times within the first order's campaign bundle window) and
//!    mark each item with its one shipment id before anything is sent: an item is never in
//!    two live shipments. An item that was at a house before (moved back to HOLD on purpose)
//!    is a reship and goes out alone under a suffixed id (`<first id>-R1`, `-R2`, ...);
//! 4. send (one signed JSON POST per batch to an HTTP house, or one CSV file in a drop
//!    folder); items become PENDING on success, FAILED with the house's reason otherwise;
//!    The lease is renewed after every batch; a run that lost it sends nothing more.
//! 5. record the run (items, shipments, failures) and release the lease.
//!
//! A run that stops between 4 and 5 (a crash) leaves shipments "sending": the next run marks
//! their items FAILED for a human (the house may have them), never sends them again itself.
//!
//! Here: the context, the lease and the run (1 and 5's release). `prepare`: 2 and 3 (what a
//! run sends, bundled and claimed). `send`: 4 (HTTP or CSV). `record`: 5 (each shipment's
//! outcome). `wire`: what goes to a house and what it answers. `runs`: the runs page's reads.

mod prepare;
mod record;
mod runs;
mod send;
mod wire;

pub use runs::{find_run, recent_runs, run_shipments, RunRow, ShipmentRow};
pub use send::DROP_HEADER;
pub use wire::{
    AcceptedShipment, ExportBatch, HouseAnswer, OutCustomer, OutItem, OutShipment, RejectedShipment, Sent,
};

use std::time::Duration;

use diesel::prelude::*;

use super::houses::{self, HouseKind};
use super::Status;
use crate::db::schema::{fulfillment_export_runs as runs_table, fulfillment_houses};
use crate::db::DbConn;
use crate::domain::context::JobContext;
use crate::domain::lease::{lease_free, lease_held, lease_mine, lease_release, lease_take, Lease};
use crate::error::AppError;

/// How long a run may hold a house before another process may take it over.
pub const LEASE_SECONDS: i64 = 600;
/// Shipments per POST to an HTTP house.
pub const HTTP_BATCH: usize = 200;
/// Why items of an interrupted run wait for a human.
pub const INTERRUPTED: &str = "the export stopped while this shipment was being sent: check with the house \
     whether it arrived, then mark the items or move them back to HOLD to send again";
/// The status of items claimed by a run while they are being sent: not HOLD, so a refund, a
/// batch update or a CSV import cannot cancel or move them mid-send.
pub const IN_FLIGHT: &str = Status::PendingShipment.as_str();
/// Statuses an item of a shipment being sent may have (RECYCLED: an export retry; HOLD: items
/// claimed before claims moved them to [`IN_FLIGHT`]).
const SENDING_STATUSES: [&str; 3] = [IN_FLIGHT, Status::Recycled.as_str(), Status::Hold.as_str()];
/// What an item accepted by the house while its order was fully refunded says.
pub const REFUNDED_IN_FLIGHT: &str = "the order was refunded while this item was being sent: \
     ask the house to stop the shipment, then cancel the item";

/// What the export job needs.
#[derive(Clone)]
pub struct ExportContext {
    pub job: JobContext,
    pub http: reqwest::Client,
    /// Minutes between two runs of a house.
    pub interval_minutes: i64,
    /// When set, a CSV drop folder outside it is never written (see
    /// [`houses::check_folder`]).
    pub export_root: Option<std::path::PathBuf>,
}

impl ExportContext {
    pub fn new(job: JobContext, interval_minutes: i64) -> Result<Self, AppError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| AppError::Internal(format!("HTTP client: {e}")))?;
        Ok(ExportContext {
            job,
            http,
            interval_minutes,
            export_root: None,
        })
    }

    /// CSV drop folders must lie under `root`.
    pub fn with_export_root(mut self, root: std::path::PathBuf) -> Self {
        self.export_root = Some(root);
        self
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub run_id: i64,
    pub house_id: i64,
    pub items: i32,
    pub shipments: i32,
    pub failures: i32,
    pub outcome: String,
}

/// Real, active houses whose next run is due and whose lease is free.
pub fn due_houses(conn: &mut DbConn) -> Result<Vec<i64>, AppError> {
    let now = crate::domain::now();
    Ok(fulfillment_houses::table
        .filter(fulfillment_houses::kind.ne(HouseKind::ClickBank))
        .filter(fulfillment_houses::active.eq(true))
        .filter(
            fulfillment_houses::next_export_at
                .is_null()
                .or(fulfillment_houses::next_export_at.le(now)),
        )
        .filter(lease_free!(fulfillment_houses))
        .select(fulfillment_houses::id)
        .order(fulfillment_houses::id.asc())
        .load(conn)?)
}

/// Claims house `id` for `runner`: one conditional UPDATE, atomic on both backends.
pub fn claim(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let n = diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(fulfillment_houses::kind.ne(HouseKind::ClickBank))
            .filter(lease_free!(fulfillment_houses)),
    )
    .set(lease_take!(fulfillment_houses, lease(runner)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Renews `runner`'s lease on house `id` for another [`LEASE_SECONDS`]; false when the lease
/// is no longer ours (it expired and another process took the house over).
pub fn renew(conn: &mut DbConn, id: i64, runner: &str) -> Result<bool, AppError> {
    let n = diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(lease_held!(fulfillment_houses, runner)),
    )
    .set(lease_take!(fulfillment_houses, lease(runner)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Why shipments were not sent after the run lost its lease.
pub const LEASE_LOST: &str =
    "not sent: this export run lost the house's lease (it ran too long); the next run sends it";

/// The lease a runner holds on a house.
pub fn lease(runner: &str) -> Lease<'_> {
    Lease {
        runner,
        seconds: LEASE_SECONDS,
    }
}

/// Releases our own lease and sets the next run.
fn release(conn: &mut DbConn, id: i64, runner: &str, interval_minutes: i64) -> Result<(), AppError> {
    let next = crate::domain::now() + chrono::Duration::minutes(interval_minutes);
    diesel::update(
        fulfillment_houses::table
            .find(id)
            .filter(lease_mine!(fulfillment_houses, runner)),
    )
    .set((
        lease_release!(fulfillment_houses),
        fulfillment_houses::next_export_at.eq(Some(next)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Asks for a run of `id` (or of every house) at the next scheduler tick.
pub fn request_now(conn: &mut DbConn, id: Option<i64>) -> Result<usize, AppError> {
    let now = crate::domain::now();
    let mut q =
        diesel::update(fulfillment_houses::table.filter(fulfillment_houses::kind.ne(HouseKind::ClickBank)))
            .into_boxed();
    if let Some(id) = id {
        q = q.filter(fulfillment_houses::id.eq(id));
    }
    Ok(q.set(fulfillment_houses::next_export_at.eq(Some(now)))
        .execute(conn)?)
}

/// Runs every due house once.
pub async fn run_due(ctx: &ExportContext, runner: &str) -> Vec<Result<RunSummary, AppError>> {
    let due = match ctx.job.db.read(due_houses).await {
        Ok(d) => d,
        Err(e) => return vec![Err(e)],
    };
    let mut out = Vec::new();
    for id in due {
        match run_house(ctx, id, runner).await {
            Ok(Some(s)) => out.push(Ok(s)),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// Claims and runs house `id`; `None` when another process holds it.
pub async fn run_house(ctx: &ExportContext, id: i64, runner: &str) -> Result<Option<RunSummary>, AppError> {
    let r = runner.to_string();
    if !ctx.job.db.run(move |c| claim(c, id, &r)).await? {
        return Ok(None);
    }
    let result = run_claimed(ctx, id, runner).await;
    let r = runner.to_string();
    let interval = ctx.interval_minutes;
    ctx.job.db.run(move |c| release(c, id, &r, interval)).await?;
    result.map(Some)
}

async fn run_claimed(ctx: &ExportContext, id: i64, runner: &str) -> Result<RunSummary, AppError> {
    let house = ctx.job.db.read(move |c| houses::find(c, id)).await?;
    let keys = houses::keys(&house, &ctx.job.secrets)?;
    let r = runner.to_string();
    let (run_id, out) = ctx
        .job
        .db
        .run(move |c| {
            c.transaction(|c| {
                let run_id: i64 = diesel::insert_into(runs_table::table)
                    .values((
                        runs_table::house_id.eq(id),
                        runs_table::runner.eq(&r),
                        runs_table::started_at.eq(crate::domain::now()),
                    ))
                    .returning(runs_table::id)
                    .get_result(c)?;
                let out = prepare::prepare(c, id, run_id, crate::domain::now())?;
                Ok((run_id, out))
            })
        })
        .await?;
    let results = send::send(ctx, &house, &keys, run_id, &out, runner).await;
    ctx.job
        .db
        .run(move |c| c.transaction(|c| record::record(c, id, run_id, &out, &results)))
        .await
}
