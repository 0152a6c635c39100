//! The runs page's reads: recent runs, one run, a run's shipments.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{fulfillment_export_runs as runs, fulfillment_houses, shipments};
use crate::db::DbConn;
use crate::domain::fulfillment::ShipmentStatus;
use crate::error::AppError;

/// A run as the runs page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct RunRow {
    pub id: i64,
    pub house_id: i64,
    pub runner: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub items: i32,
    pub shipments: i32,
    pub failures: i32,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub house: String,
}

macro_rules! run_columns {
    () => {
        (
            runs::id,
            runs::house_id,
            runs::runner,
            runs::started_at,
            runs::finished_at,
            runs::items,
            runs::shipments,
            runs::failures,
            runs::outcome,
            runs::error,
            fulfillment_houses::name,
        )
    };
}

/// The latest runs, newest first.
pub fn recent_runs(conn: &mut DbConn, limit: i64) -> Result<Vec<RunRow>, AppError> {
    Ok(runs::table
        .inner_join(fulfillment_houses::table)
        .select(run_columns!())
        .order(runs::id.desc())
        .limit(limit)
        .load(conn)?)
}

pub fn find_run(conn: &mut DbConn, id: i64) -> Result<RunRow, AppError> {
    Ok(runs::table
        .inner_join(fulfillment_houses::table)
        .filter(runs::id.eq(id))
        .select(run_columns!())
        .first(conn)?)
}

/// A shipment of a run.
#[derive(Debug, Clone, Queryable)]
pub struct ShipmentRow {
    pub shipment_id: String,
    pub customer_id: i64,
    pub items: i32,
    pub status: ShipmentStatus,
    pub attempts: i32,
    pub house_ref: Option<String>,
    pub error: Option<String>,
}

pub fn run_shipments(conn: &mut DbConn, run_id: i64) -> Result<Vec<ShipmentRow>, AppError> {
    Ok(shipments::table
        .filter(shipments::run_id.eq(run_id))
        .select((
            shipments::shipment_id,
            shipments::customer_id,
            shipments::items,
            shipments::status,
            shipments::attempts,
            shipments::house_ref,
            shipments::error,
        ))
        .order((shipments::status.asc(), shipments::id.asc()))
        .limit(2000)
        .load(conn)?)
}
