//! Reconciliation: the CRM proves it matches ClickBank. For a plugin and a ClickBank day
//! (a Pacific day, whatever the portal's zone), ClickBank's orders list is read and set beside
//! the CRM's money transactions of that day: count and sum per type and currency, and every
//! receipt only one side has (`compare`). Each day's result is kept (`reconciliation_days`),
//! so the page shows a calendar of green and red days and the dashboard a red one.
//!
//! Days are checked by the job (`job`): every night the last [`NIGHTLY_DAYS`] complete days
//! of each active plugin, or the days an account executive asked for (`schedule`). A day
//! that differs is mended by "Re-import this day": a small import task of that one day through
//! the same code as every import, after which the day is checked again.

pub mod compare;
mod job;
pub mod schedule;

pub use job::{reconcile_day, run_due};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::clickbank::time::{pacific_date, pacific_midnight};
use crate::clickbank::TransactionType;
use crate::db::models::{Plugin, TaskKind, TaskState};
use crate::db::schema::{import_tasks, plugins, reconciliation_days as days};
use crate::db::DbConn;
use crate::error::AppError;
use compare::Details;

/// Complete days the nightly run checks (yesterday and the six before it).
pub const NIGHTLY_DAYS: i64 = 7;
/// Most days one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 31;

crate::db::text::text_enum! {
    /// What a day's reconciliation found.
    pub enum DayOutcome {
        /// Both sides agree to the cent.
        Match = "match",
        /// Counts, sums or receipts differ.
        Differs = "differs",
        /// ClickBank's list could not be read.
        Failed = "failed",
    }
}

impl DayOutcome {
    pub fn label(self) -> &'static str {
        match self {
            DayOutcome::Match => "matches ClickBank",
            DayOutcome::Differs => "differs from ClickBank",
            DayOutcome::Failed => "ClickBank could not be read",
        }
    }
}

/// One checked day.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = days)]
pub struct DayRow {
    pub plugin_id: i64,
    pub day: String,
    pub outcome: DayOutcome,
    pub clickbank_count: i64,
    pub crm_count: i64,
    pub missing: i64,
    pub extra: i64,
    /// Records on both sides with different amounts.
    pub amounts: i64,
    pub details: String,
    pub error: Option<String>,
    pub checked_at: NaiveDateTime,
    pub checked_by: String,
}

impl DayRow {
    /// The stored comparison (empty for a day ClickBank could not be read).
    pub fn details(&self) -> Details {
        serde_json::from_str(&self.details).unwrap_or_default()
    }

    pub fn is_red(&self) -> bool {
        self.outcome != DayOutcome::Match
    }

    /// What differs, in short ("2 missing, 1 amount differs"); empty when nothing does.
    pub fn differences(&self) -> String {
        let mut parts = Vec::new();
        if self.missing > 0 {
            parts.push(format!("{} missing", self.missing));
        }
        if self.extra > 0 {
            parts.push(format!("{} extra", self.extra));
        }
        if self.amounts > 0 {
            let s = if self.amounts == 1 {
                "amount differs"
            } else {
                "amounts differ"
            };
            parts.push(format!("{} {s}", self.amounts));
        }
        if parts.is_empty() && self.outcome == DayOutcome::Differs {
            parts.push("sums differ".into());
        }
        parts.join(", ")
    }
}

/// The money types the CRM keeps as transactions, so the ones compared; test types only for
/// a plugin that includes test transactions. FEE records are ClickBank's own charges and no
/// order's money: they are not compared.
pub fn compared(kind: &TransactionType, plugin: &Plugin) -> bool {
    let money = matches!(
        kind.live(),
        TransactionType::Sale
            | TransactionType::Bill
            | TransactionType::Rfnd
            | TransactionType::Cgbk
            | TransactionType::Insf
    );
    money && (!kind.is_test() || plugin.include_test)
}

/// The days the nightly run checks (the last [`NIGHTLY_DAYS`] complete ClickBank days), from
/// `covered` on at the earliest; empty when `first > last`.
pub fn nightly_window(covered: NaiveDate) -> (NaiveDate, NaiveDate) {
    let yesterday = crate::domain::clickbank_budget::clickbank_today() - Duration::days(1);
    (
        (yesterday - Duration::days(NIGHTLY_DAYS - 1)).max(covered),
        yesterday,
    )
}

/// The UTC instants `[start, end)` of ClickBank day `day`.
pub fn day_bounds(day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    (
        pacific_midnight(day).naive_utc(),
        pacific_midnight(day + Duration::days(1)).naive_utc(),
    )
}

pub fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn parse_day(s: &str) -> Result<NaiveDate, AppError> {
    if s.trim().is_empty() {
        return Err(AppError::Validation("Pick a From and a To day.".into()));
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::Validation(format!("{s:?} is not a day (YYYY-MM-DD).")))
}

/// The first day the CRM holds the plugin's data for: its initial import's first day, else
/// the day it was activated (INS only from then on). Earlier days are not checked by night.
pub fn covered_from(conn: &mut DbConn, plugin: &Plugin) -> Result<NaiveDate, AppError> {
    let activated = pacific_date(plugin.created_at.and_utc());
    let imported: Option<String> = import_tasks::table
        .filter(import_tasks::plugin_id.eq(plugin.id))
        .filter(import_tasks::kind.eq(TaskKind::InitialOrders))
        .filter(import_tasks::state.ne(TaskState::Cancelled))
        .select(diesel::dsl::min(import_tasks::range_start))
        .first(conn)?;
    let imported = imported.as_deref().map(parse_day).transpose()?;
    Ok(imported.map_or(activated, |d| d.min(activated)))
}

/// Stores what a day's check found (replacing the day's earlier result).
pub fn store(
    conn: &mut DbConn,
    plugin_id: i64,
    day: NaiveDate,
    found: Result<&Details, &str>,
    by: &str,
) -> Result<DayRow, AppError> {
    let d = day_text(day);
    let (outcome, details, error) = match found {
        Ok(det) if det.matches() => (DayOutcome::Match, det.clone(), None),
        Ok(det) => (DayOutcome::Differs, det.clone(), None),
        Err(e) => (DayOutcome::Failed, Details::default(), Some(e.to_string())),
    };
    let json = serde_json::to_string(&details).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = crate::domain::now();
    let row = (
        days::outcome.eq(outcome),
        days::clickbank_count.eq(details.clickbank_count()),
        days::crm_count.eq(details.crm_count()),
        days::missing.eq(details.missing_total),
        days::extra.eq(details.extra_total),
        days::amounts.eq(details.amounts_total),
        days::details.eq(&json),
        days::error.eq(&error),
        days::checked_at.eq(now),
        days::checked_by.eq(by),
    );
    conn.transaction(|c| {
        let n = diesel::update(days::table.find((plugin_id, &d)))
            .set(row.clone())
            .execute(c)?;
        if n == 0 {
            diesel::insert_into(days::table)
                .values((days::plugin_id.eq(plugin_id), days::day.eq(&d), row))
                .execute(c)?;
        }
        Ok::<_, AppError>(())
    })?;
    find_day(conn, plugin_id, day)?.ok_or_else(|| AppError::Internal("reconciled day vanished".into()))
}

pub fn find_day(conn: &mut DbConn, plugin_id: i64, day: NaiveDate) -> Result<Option<DayRow>, AppError> {
    Ok(days::table
        .find((plugin_id, day_text(day)))
        .select(DayRow::as_select())
        .first(conn)
        .optional()?)
}

/// The checked days of `plugin_id` in `start..=end`.
pub fn days_between(
    conn: &mut DbConn,
    plugin_id: i64,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<DayRow>, AppError> {
    Ok(days::table
        .filter(days::plugin_id.eq(plugin_id))
        .filter(days::day.ge(day_text(start)))
        .filter(days::day.le(day_text(end)))
        .order(days::day.asc())
        .select(DayRow::as_select())
        .load(conn)?)
}

/// Red days of active plugins since `since` (newest first), with the plugin's name: what the
/// dashboard shows.
pub fn red_days(conn: &mut DbConn, since: NaiveDate) -> Result<Vec<(DayRow, String)>, AppError> {
    Ok(days::table
        .inner_join(plugins::table)
        .filter(plugins::active.eq(true))
        .filter(days::day.ge(day_text(since)))
        .filter(days::outcome.ne(DayOutcome::Match))
        .order((days::day.desc(), plugins::name.asc()))
        .select((DayRow::as_select(), plugins::name))
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: DayOutcome, missing: i64, extra: i64, amounts: i64) -> DayRow {
        DayRow {
            plugin_id: 1,
            day: "2026-12-01".into(),
            outcome,
            clickbank_count: 10,
            crm_count: 10,
            missing,
            extra,
            amounts,
            details: "{}".into(),
            error: None,
            checked_at: crate::domain::now(),
            checked_by: "nightly".into(),
        }
    }

    #[test]
    fn a_red_day_says_what_differs_even_when_only_amounts_do() {
        assert_eq!(
            row(DayOutcome::Differs, 0, 0, 1).differences(),
            "1 amount differs"
        );
        assert_eq!(
            row(DayOutcome::Differs, 2, 1, 0).differences(),
            "2 missing, 1 extra"
        );
        assert_eq!(row(DayOutcome::Differs, 0, 0, 0).differences(), "sums differ");
        assert_eq!(row(DayOutcome::Match, 0, 0, 0).differences(), "");
    }
}
