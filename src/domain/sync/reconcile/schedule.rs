//! When each plugin is reconciled: one `reconcile_schedules` row per plugin with the next
//! nightly run and the days an account executive (or a finished day re-import) asked for,
//! claimed with a lease like import tasks so two portal processes never read the same days.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use super::{covered_from, day_text, nightly_window, parse_day, MAX_RANGE_DAYS};
use crate::clickbank::time::pacific_midnight;
use crate::db::schema::{plugins, reconcile_schedules as sched};
use crate::db::DbConn;
use crate::domain::clickbank_budget::clickbank_today;
use crate::domain::lease::{lease_free, lease_mine, lease_release, lease_take, Lease};
use crate::domain::{audit, plugins as plugin_rows, Actor};
use crate::error::AppError;

/// The nightly run starts this long after ClickBank's midnight, when late records of the day
/// before are in its list.
const NIGHTLY_AFTER_MIDNIGHT_MINUTES: i64 = 90;
/// A claim lasts this long (a run renews nothing: a week of days is read well within it).
const LEASE_SECONDS: i64 = 30 * 60;
/// A nightly run ClickBank failed is tried again this much later.
pub const RETRY_MINUTES: i64 = 60;

/// A plugin's schedule.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sched)]
pub struct Schedule {
    pub plugin_id: i64,
    pub next_nightly_at: NaiveDateTime,
    pub requested_start: Option<String>,
    pub requested_end: Option<String>,
    pub requested_by: Option<String>,
    pub last_run_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<String>,
}

impl Schedule {
    /// Days asked for and not read yet.
    pub fn requested(&self) -> Option<(NaiveDate, NaiveDate)> {
        let s = parse_day(self.requested_start.as_deref()?).ok()?;
        let e = parse_day(self.requested_end.as_deref()?).ok()?;
        Some((s, e))
    }

    pub fn running(&self) -> bool {
        self.locked_until.is_some_and(|t| t >= crate::domain::now())
    }
}

/// The next nightly start after `now` (UTC): ClickBank's midnight plus a margin.
pub fn next_nightly(now: NaiveDateTime) -> NaiveDateTime {
    let today = crate::clickbank::time::pacific_date(now.and_utc());
    let margin = Duration::minutes(NIGHTLY_AFTER_MIDNIGHT_MINUTES);
    let tonight = pacific_midnight(today).naive_utc() + margin;
    if tonight > now {
        tonight
    } else {
        pacific_midnight(today + Duration::days(1)).naive_utc() + margin
    }
}

/// Gives every active plugin a schedule (its first nightly run tonight).
pub fn ensure_all(conn: &mut DbConn) -> Result<(), AppError> {
    let missing: Vec<i64> = plugins::table
        .filter(plugins::active.eq(true))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            sched::table.filter(sched::plugin_id.eq(plugins::id)),
        )))
        .select(plugins::id)
        .load(conn)?;
    let next = next_nightly(crate::domain::now());
    for id in missing {
        crate::domain::insert_ignoring_duplicate(conn, |c| {
            diesel::insert_into(sched::table)
                .values((sched::plugin_id.eq(id), sched::next_nightly_at.eq(next)))
                .execute(c)
        })?;
    }
    Ok(())
}

pub fn find(conn: &mut DbConn, plugin_id: i64) -> Result<Option<Schedule>, AppError> {
    Ok(sched::table
        .find(plugin_id)
        .select(Schedule::as_select())
        .first(conn)
        .optional()?)
}

/// Who asks for days to be checked.
#[derive(Debug, Clone, Copy)]
pub enum AskedBy<'a> {
    /// An account executive on the page (audited).
    Staff(&'a Actor),
    /// A job that just changed the CRM's side: "re-import", "initial import".
    Job(&'static str),
}

/// Checks `start..=end` of ClickBank days: validated, merged with days already asked for,
/// run by the job soon after.
pub fn request(
    conn: &mut DbConn,
    asked: AskedBy<'_>,
    plugin_id: i64,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let today = clickbank_today();
    if start > end {
        return Err(AppError::Validation(format!(
            "From ({}) is after To ({}).",
            day_text(start),
            day_text(end)
        )));
    }
    if end > today {
        return Err(AppError::Validation(format!(
            "{} has not begun in ClickBank's time yet: it is {} in Pacific time. Pick that day or earlier.",
            day_text(end),
            day_text(today)
        )));
    }
    if (end - start).num_days() + 1 > MAX_RANGE_DAYS {
        return Err(AppError::Validation(format!(
            "Check at most {MAX_RANGE_DAYS} days at once."
        )));
    }
    conn.transaction(|c| {
        let plugin = plugin_rows::find(c, plugin_id)?;
        let covered = covered_from(c, &plugin)?;
        if start < covered && matches!(asked, AskedBy::Staff(_)) {
            return Err(AppError::Validation(format!(
                "The CRM holds {}'s data from {} on (its initial import, or its activation): earlier days were \
                 never imported, so they would only look lost. To check them, import further back first (plugin \
                 page, Import more days back).",
                plugin.name,
                day_text(covered)
            )));
        }
        if find(c, plugin_id)?.is_none() {
            diesel::insert_into(sched::table)
                .values((
                    sched::plugin_id.eq(plugin_id),
                    sched::next_nightly_at.eq(next_nightly(crate::domain::now())),
                ))
                .execute(c)?;
        }
        let s = find(c, plugin_id)?.ok_or_else(|| AppError::Internal("schedule vanished".into()))?;
        let (start, end) = match s.requested() {
            Some((a, b)) => (a.min(start), b.max(end)),
            None => (start, end),
        };
        let by = match asked {
            AskedBy::Staff(a) => a.label.clone(),
            AskedBy::Job(what) => what.to_string(),
        };
        diesel::update(sched::table.find(plugin_id))
            .set((
                sched::requested_start.eq(Some(day_text(start))),
                sched::requested_end.eq(Some(day_text(end))),
                sched::requested_by.eq(Some(by)),
            ))
            .execute(c)?;
        if let AskedBy::Staff(actor) = asked {
            audit::record(
                c,
                actor,
                "reconcile.request",
                &plugin.name,
                json!({"start": day_text(start), "end": day_text(end)}),
            )?;
        }
        Ok((start, end))
    })
}

/// What a claimed schedule has to read.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub plugin_id: i64,
    /// The days, oldest first.
    pub days: Vec<NaiveDate>,
    /// Who asked ("nightly" for the night's run).
    pub by: String,
    /// The request taken (cleared after the run if nobody changed it meanwhile).
    pub request: Option<(String, String)>,
    pub nightly: bool,
}

/// Claims the schedules that are due now (a request waits, or the night's run is due) and
/// whose lease is free; says what each has to read.
pub fn claim_due(conn: &mut DbConn, runner: &str) -> Result<Vec<Claimed>, AppError> {
    ensure_all(conn)?;
    let now = crate::domain::now();
    let due: Vec<Schedule> = sched::table
        .inner_join(plugins::table)
        .filter(plugins::active.eq(true))
        .filter(
            sched::requested_start
                .is_not_null()
                .or(sched::next_nightly_at.le(now)),
        )
        .filter(lease_free!(sched))
        .select(Schedule::as_select())
        .load(conn)?;
    let lease = Lease {
        runner,
        seconds: LEASE_SECONDS,
    };
    let mut out = Vec::new();
    for s in due {
        let n = diesel::update(sched::table.find(s.plugin_id).filter(lease_free!(sched)))
            .set(lease_take!(sched, lease))
            .execute(conn)?;
        if n == 0 {
            continue;
        }
        out.push(what_to_read(conn, &s)?);
    }
    Ok(out)
}

fn what_to_read(conn: &mut DbConn, s: &Schedule) -> Result<Claimed, AppError> {
    if let Some((start, end)) = s.requested() {
        let days = (0..=(end - start).num_days())
            .map(|i| start + Duration::days(i))
            .collect();
        return Ok(Claimed {
            plugin_id: s.plugin_id,
            days,
            by: s.requested_by.clone().unwrap_or_else(|| "staff".into()),
            request: s.requested_start.clone().zip(s.requested_end.clone()),
            // A nightly run due as well comes next, on its own days.
            nightly: false,
        });
    }
    let plugin = plugin_rows::find(conn, s.plugin_id)?;
    let (first, yesterday) = nightly_window(covered_from(conn, &plugin)?);
    let days = (0..=(yesterday - first).num_days().max(-1))
        .map(|i| first + Duration::days(i))
        .collect();
    Ok(Claimed {
        plugin_id: s.plugin_id,
        days,
        by: "nightly".into(),
        request: None,
        nightly: true,
    })
}

/// Ends a claimed run: clears the request it read (unless another came meanwhile), moves the
/// nightly run on (tomorrow, or in [`RETRY_MINUTES`] when ClickBank failed it) and frees the
/// lease.
pub fn finish(conn: &mut DbConn, runner: &str, c: &Claimed, error: Option<&str>) -> Result<(), AppError> {
    let now = crate::domain::now();
    conn.transaction(|conn| {
        if let Some((s, e)) = &c.request {
            diesel::update(
                sched::table
                    .find(c.plugin_id)
                    .filter(sched::requested_start.eq(s))
                    .filter(sched::requested_end.eq(e)),
            )
            .set((
                sched::requested_start.eq(None::<String>),
                sched::requested_end.eq(None::<String>),
                sched::requested_by.eq(None::<String>),
            ))
            .execute(conn)?;
        }
        if c.nightly {
            let next = match error {
                Some(_) => now + Duration::minutes(RETRY_MINUTES),
                None => next_nightly(now),
            };
            diesel::update(sched::table.find(c.plugin_id))
                .set(sched::next_nightly_at.eq(next))
                .execute(conn)?;
        }
        diesel::update(sched::table.find(c.plugin_id).filter(lease_mine!(sched, runner)))
            .set((
                sched::last_run_at.eq(Some(now)),
                sched::last_error.eq(error),
                lease_release!(sched),
            ))
            .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn the_nightly_run_follows_clickbank_midnight() {
        // Winter: Pacific midnight is 08:00 UTC, the run 09:30 UTC.
        assert_eq!(next_nightly(utc("2026-12-04 03:00")), utc("2026-12-04 09:30"));
        assert_eq!(next_nightly(utc("2026-12-04 09:30")), utc("2026-12-05 09:30"));
        // Summer: 07:00 UTC, the run 08:30 UTC.
        assert_eq!(next_nightly(utc("2026-07-01 12:00")), utc("2026-07-02 08:30"));
    }
}
