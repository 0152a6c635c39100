//! Admin → Reconciliation: per plugin, a calendar of ClickBank days (green when the CRM
//! matches ClickBank's orders list to the cent, red when not), a form to check days now, and
//! each day's drill-down with every missing or extra receipt and "Re-import this day".

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::db::models::Plugin;
use crate::domain::clickbank_budget::clickbank_today;
use crate::domain::plugins;
use crate::domain::sync::imports;
use crate::domain::sync::reconcile::compare::{Details, Diff};
use crate::domain::sync::reconcile::schedule::{self, Schedule};
use crate::domain::sync::reconcile::{
    self as rec, covered_from, day_text, parse_day, DayOutcome, DayRow, MAX_RANGE_DAYS, NIGHTLY_DAYS,
};
use crate::error::AppError;
use crate::web::extract::{Admin, AdminForm};
use crate::web::page::PageCtx;
use crate::web::{redirect, render};
use crate::AppState;

/// One cell of the calendar.
pub struct CalDay {
    pub day: NaiveDate,
    pub in_month: bool,
    /// CSS class: `match`, `differs`, `failed`, `unchecked`, `uncovered`, `future`.
    pub class: &'static str,
    pub title: String,
    pub row: Option<DayRow>,
}

impl CalDay {
    pub fn number(&self) -> u32 {
        self.day.day()
    }

    pub fn text(&self) -> String {
        day_text(self.day)
    }
}

#[derive(Template)]
#[template(path = "admin/reconciliation.html")]
struct CalendarPage {
    ctx: PageCtx,
    plugins: Vec<Plugin>,
    plugin: Option<Plugin>,
    month: String,
    month_title: String,
    prev_month: String,
    next_month: Option<String>,
    weeks: Vec<Vec<CalDay>>,
    red: Vec<DayRow>,
    schedule: Option<Schedule>,
    covered: String,
    default_start: String,
    default_end: String,
    today: String,
    nightly_days: i64,
    max_days: i64,
}

#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    #[serde(default)]
    plugin: String,
    #[serde(default)]
    month: String,
    /// The range last asked for, shown again in the form.
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

fn first_of_month(s: &str, today: NaiveDate) -> NaiveDate {
    NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
        .unwrap_or_else(|_| today.with_day(1).unwrap_or(today))
}

fn month_after(first: NaiveDate) -> NaiveDate {
    (first + Duration::days(32)).with_day(1).unwrap_or(first)
}

fn classify(
    day: NaiveDate,
    today: NaiveDate,
    covered: NaiveDate,
    row: Option<&DayRow>,
) -> (&'static str, String) {
    match row {
        Some(r) => {
            let class = match r.outcome {
                DayOutcome::Match => "match",
                DayOutcome::Differs => "differs",
                DayOutcome::Failed => "failed",
            };
            let title = match r.outcome {
                DayOutcome::Differs => format!("{} missing, {} extra", r.missing, r.extra),
                _ => r.outcome.label().to_string(),
            };
            (class, title)
        }
        None if day > today => ("future", "not yet".into()),
        None if day < covered => ("uncovered", "before the CRM's data begins".into()),
        None => ("unchecked", "not checked yet".into()),
    }
}

pub async fn calendar(
    state: web::Data<AppState>,
    a: Admin,
    q: web::Query<CalendarQuery>,
) -> Result<HttpResponse, AppError> {
    let today = clickbank_today();
    let first = first_of_month(&q.month, today);
    let wanted: Option<i64> = q.plugin.trim().parse().ok();
    let (plugins, plugin, rows, red, sched, covered) = state
        .db
        .read(move |c| {
            let all = plugins::list(c)?;
            let plugin = match wanted {
                Some(id) => Some(plugins::find(c, id)?),
                None => all.iter().find(|p| p.active).or(all.first()).cloned(),
            };
            let Some(p) = plugin.clone() else {
                return Ok((all, None, Vec::new(), Vec::new(), None, today));
            };
            let grid_start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
            let rows = rec::days_between(c, p.id, grid_start, grid_start + Duration::days(41))?;
            let red = rec::red_days(c, today - Duration::days(60))?
                .into_iter()
                .filter(|(r, _)| r.plugin_id == p.id)
                .map(|(r, _)| r)
                .collect();
            let sched = schedule::find(c, p.id)?;
            let covered = covered_from(c, &p)?;
            Ok((all, plugin, rows, red, sched, covered))
        })
        .await?;
    let grid_start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
    let next = month_after(first);
    let weeks = (0..6)
        .map(|w| {
            (0..7)
                .map(|d| {
                    let day = grid_start + Duration::days(w * 7 + d);
                    let row = rows.iter().find(|r| r.day == day_text(day)).cloned();
                    let (class, title) = classify(day, today, covered, row.as_ref());
                    CalDay {
                        day,
                        in_month: day.month() == first.month(),
                        class,
                        title,
                        row,
                    }
                })
                .collect::<Vec<_>>()
        })
        .filter(|week| week.iter().any(|d| d.in_month))
        .collect();
    let yesterday = today - Duration::days(1);
    render(&CalendarPage {
        ctx: a.0.ctx,
        plugins,
        plugin,
        month: first.format("%Y-%m").to_string(),
        month_title: first.format("%B %Y").to_string(),
        prev_month: (first - Duration::days(1)).format("%Y-%m").to_string(),
        next_month: (next <= today).then(|| next.format("%Y-%m").to_string()),
        weeks,
        red,
        schedule: sched,
        covered: day_text(covered),
        default_start: parse_day(&q.start)
            .map(day_text)
            .unwrap_or_else(|_| day_text(yesterday - Duration::days(NIGHTLY_DAYS - 1))),
        default_end: parse_day(&q.end)
            .map(day_text)
            .unwrap_or_else(|_| day_text(yesterday)),
        today: day_text(today),
        nightly_days: NIGHTLY_DAYS,
        max_days: MAX_RANGE_DAYS,
    })
}

#[derive(Deserialize)]
pub struct CheckForm {
    plugin: i64,
    start: String,
    end: String,
    /// Where to go back to: `day` shows that day's page.
    #[serde(default)]
    back: String,
}

/// Asks the job to check days now.
pub async fn check(
    state: web::Data<AppState>,
    AdminForm(a, form): AdminForm<CheckForm>,
) -> Result<HttpResponse, AppError> {
    let pid = form.plugin;
    let actor = a.actor();
    let (s, e) = (form.start.clone(), form.end.clone());
    let result = state
        .db
        .run(move |c| {
            let (start, end) = (parse_day(&s)?, parse_day(&e)?);
            schedule::request(c, schedule::AskedBy::Staff(&actor), pid, start, end)
        })
        .await;
    if result.is_ok() {
        state.wake_jobs.notify_one();
    }
    let (start, end) = (form.start.trim(), form.end.trim());
    let back = if form.back == "day" {
        format!("/admin/reconciliation/{pid}/{start}")
    } else {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("plugin", &pid.to_string())
            .append_pair("month", start.get(..7).unwrap_or(""))
            .append_pair("start", start)
            .append_pair("end", end)
            .finish();
        format!("/admin/reconciliation?{q}")
    };
    a.flash_result(result, |(s, e)| {
        let days = if s == e {
            day_text(s)
        } else {
            format!("{} to {}", day_text(s), day_text(e))
        };
        format!(
            "Checking {days} against ClickBank in the background; the page shows the result when it is done."
        )
    })?;
    Ok(redirect(&back))
}

#[derive(Template)]
#[template(path = "admin/reconciliation_day.html")]
struct DayPage {
    ctx: PageCtx,
    plugin: Plugin,
    day: String,
    row: Option<DayRow>,
    details: Details,
    schedule: Option<Schedule>,
    is_today: bool,
    /// The day has not begun in ClickBank's time.
    is_future: bool,
    prev_day: String,
    /// None for today: tomorrow has not begun.
    next_day: Option<String>,
    nightly_days: i64,
}

/// A check asked for or running: the page reloads by itself.
fn busy(s: &Option<Schedule>) -> bool {
    s.as_ref().is_some_and(|s| s.requested().is_some() || s.running())
}

impl CalendarPage {
    fn busy(&self) -> bool {
        busy(&self.schedule)
    }

    /// The calendar's colours in words.
    fn legend(&self) -> Vec<(&'static str, String)> {
        vec![
            ("match", "matches".into()),
            ("differs", "differs".into()),
            ("failed", "ClickBank not read".into()),
            ("unchecked", "not checked".into()),
            (
                "uncovered",
                format!("before the CRM's data begins ({})", self.covered),
            ),
            ("future", "not begun yet".into()),
        ]
    }

    fn is_plugin(&self, id: &i64) -> bool {
        self.plugin.as_ref().is_some_and(|p| p.id == *id)
    }
}

impl DayPage {
    fn busy(&self) -> bool {
        busy(&self.schedule)
    }

    fn month(&self) -> &str {
        self.day.get(..7).unwrap_or("")
    }

    /// A type in words ("Rebill").
    fn kind_words(&self, kind: &str) -> String {
        crate::clickbank::TransactionType::from(kind).words().to_string()
    }

    /// Whether any missing record has a reason to show.
    fn any_note(&self) -> bool {
        self.details.missing.iter().any(|d| d.note.is_some())
    }

    fn money(&self, minor: &i64, currency: &str) -> String {
        crate::clickbank::money::display(minor, currency)
    }

    fn money_opt(&self, minor: &Option<i64>, currency: &str) -> String {
        minor.map_or_else(|| "–".into(), |m| self.money(&m, currency))
    }

    /// A diff's UTC time in the portal's zone.
    fn when(&self, d: &Diff) -> String {
        NaiveDateTime::parse_from_str(&d.time, "%Y-%m-%d %H:%M:%S")
            .map(|t| self.ctx.time(&t))
            .unwrap_or_else(|_| d.time.clone())
    }
}

pub async fn day(
    state: web::Data<AppState>,
    a: Admin,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (pid, d) = path.into_inner();
    let day = parse_day(&d).map_err(|_| AppError::NotFound)?;
    let (plugin, row, sched) = state
        .db
        .read(move |c| {
            Ok((
                plugins::find(c, pid)?,
                rec::find_day(c, pid, day)?,
                schedule::find(c, pid)?,
            ))
        })
        .await?;
    let details = row.as_ref().map(DayRow::details).unwrap_or_default();
    render(&DayPage {
        ctx: a.0.ctx,
        plugin,
        day: day_text(day),
        row,
        details,
        schedule: sched,
        is_today: day == clickbank_today(),
        is_future: day > clickbank_today(),
        prev_day: day_text(day - Duration::days(1)),
        next_day: (day < clickbank_today()).then(|| day_text(day + Duration::days(1))),
        nightly_days: NIGHTLY_DAYS,
    })
}

/// "Re-import this day": a one-day import task; its page shows the progress.
pub async fn reimport(
    state: web::Data<AppState>,
    AdminForm(a, _form): AdminForm<std::collections::HashMap<String, String>>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (pid, d) = path.into_inner();
    let day = parse_day(&d).map_err(|_| AppError::NotFound)?;
    let actor = a.actor();
    let result = state
        .db
        .run(move |c| imports::start_day(c, &actor, pid, day))
        .await;
    match result {
        Ok(t) => {
            state.wake_jobs.notify_one();
            a.flash(
                "ok",
                format!(
                    "Re-importing {} from ClickBank; the day is checked again when it is done.",
                    day_text(day)
                ),
            );
            Ok(redirect(&format!("/admin/import-tasks/{}", t.id)))
        }
        Err(e) => {
            a.flash_error(e)?;
            Ok(redirect(&format!(
                "/admin/reconciliation/{pid}/{}",
                day_text(day)
            )))
        }
    }
}
