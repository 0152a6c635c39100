//! Reading both sides of a day and keeping what they show: ClickBank's orders list of the
//! day (every page, counted in the account's budget as reconciliation) and the CRM's money
//! transactions in the day's UTC bounds, read after ClickBank's so what arrived meanwhile is
//! on the CRM's side too.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::compare::{compare, Details, Entry};
use super::schedule::{self, Claimed};
use super::{compared, day_bounds, store, DayOutcome, DayRow};
use crate::clickbank::{ClickBankClient, ClickBankError, OrderPages, OrdersQuery, TransactionType};
use crate::db::models::Plugin;
use crate::db::schema::{failed_records, orders, transactions};
use crate::db::DbConn;
use crate::domain::clickbank_budget::{self, Purpose};
use crate::domain::context::JobContext;
use crate::domain::orders::OrderEvent;
use crate::domain::plugins;
use crate::error::AppError;

/// Runs every schedule that is due (claimed under a lease); returns how many ran.
pub async fn run_due(job: &JobContext, runner: &str) -> Result<usize, AppError> {
    let r = runner.to_string();
    let claimed = job.db.run(move |c| schedule::claim_due(c, &r)).await?;
    let n = claimed.len();
    for c in claimed {
        let error = match run_claimed(job, &c).await {
            Ok(e) => e,
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &error {
            tracing::warn!(plugin = c.plugin_id, error = %e, "reconciliation stopped");
        }
        let r = runner.to_string();
        job.db
            .run(move |conn| schedule::finish(conn, &r, &c, error.as_deref()))
            .await?;
    }
    Ok(n)
}

/// Checks the claimed days in order; stops at the first ClickBank failure (its text returned:
/// the days after it keep their earlier result).
async fn run_claimed(job: &JobContext, c: &Claimed) -> Result<Option<String>, AppError> {
    let pid = c.plugin_id;
    let plugin = job.db.read(move |conn| plugins::find(conn, pid)).await?;
    let api = job.bulk_client(&plugin)?;
    for day in &c.days {
        let row = reconcile_day(job, &plugin, &api, *day, &c.by).await?;
        if row.outcome == DayOutcome::Failed {
            return Ok(row.error);
        }
    }
    Ok(None)
}

/// Reconciles one day of `plugin` now and keeps the result.
pub async fn reconcile_day(
    job: &JobContext,
    plugin: &Plugin,
    api: &ClickBankClient,
    day: NaiveDate,
    by: &str,
) -> Result<DayRow, AppError> {
    let before = api.stats().requests;
    let read = read_clickbank(api, plugin, day).await;
    let used = (api.stats().requests - before) as i64;
    let (pid, by) = (plugin.id, by.to_string());
    job.db
        .run(move |c| clickbank_budget::add(c, pid, Purpose::Reconcile, used))
        .await?;
    let plugin = plugin.clone();
    match read {
        Ok(theirs) => {
            job.db
                .run(move |c| {
                    let mine = read_crm(c, &plugin, day)?;
                    let mut found = compare(theirs, mine);
                    explain_missing(c, plugin.id, &mut found)?;
                    store(c, plugin.id, day, Ok(&found), &by)
                })
                .await
        }
        Err(e) => {
            let text = format!("ClickBank's orders list of {day} could not be read: {e}");
            job.db
                .run(move |c| store(c, plugin.id, day, Err(&text), &by))
                .await
        }
    }
}

/// ClickBank's money records of `day` (every page), as entries.
async fn read_clickbank(
    api: &ClickBankClient,
    plugin: &Plugin,
    day: NaiveDate,
) -> Result<Vec<Entry>, ClickBankError> {
    let mut pages = OrderPages::new(api, OrdersQuery::between(day, day));
    let mut out = Vec::new();
    while let Some(page) = pages.next_page().await? {
        for r in page
            .records
            .iter()
            .filter(|r| compared(&r.transaction_type, plugin))
        {
            // Read as the import reads it, so both sides hold the same amounts; a record the
            // import cannot read either counts with no amount (and is missing in the CRM).
            let (currency, amount) = match OrderEvent::from_record(r) {
                Ok(ev) => (ev.currency, ev.total_minor.abs()),
                Err(_) => (r.currency.clone().unwrap_or_default(), 0),
            };
            out.push(Entry {
                receipt: r.receipt.trim().to_ascii_uppercase(),
                kind: r.transaction_type.as_str().to_string(),
                currency,
                amount_minor: amount,
                time: chrono::SubsecRound::trunc_subsecs(r.transaction_time, 0).naive_utc(),
            });
        }
    }
    Ok(out)
}

/// The CRM's money transactions of `plugin` in ClickBank day `day`, of the types compared
/// (test ones kept from before the plugin left them out are not ClickBank's list's either).
fn read_crm(conn: &mut DbConn, plugin: &Plugin, day: NaiveDate) -> Result<Vec<Entry>, AppError> {
    let (start, end) = day_bounds(day);
    let rows: Vec<(String, TransactionType, String, i64, chrono::NaiveDateTime)> = transactions::table
        .inner_join(orders::table)
        .filter(orders::plugin_id.eq(plugin.id))
        .filter(transactions::transaction_time.ge(start))
        .filter(transactions::transaction_time.lt(end))
        .select((
            orders::receipt,
            transactions::kind,
            transactions::currency,
            transactions::amount_minor,
            transactions::transaction_time,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, kind, ..)| compared(kind, plugin))
        .map(|(receipt, kind, currency, amount, time)| Entry {
            receipt: receipt.trim().to_ascii_uppercase(),
            kind: kind.as_str().to_string(),
            currency,
            amount_minor: amount.abs(),
            time: chrono::SubsecRound::trunc_subsecs(time, 0),
        })
        .collect())
}

/// Says why a missing record is missing when an import kept it as a failed record.
fn explain_missing(conn: &mut DbConn, plugin_id: i64, found: &mut Details) -> Result<(), AppError> {
    if found.missing.is_empty() {
        return Ok(());
    }
    let receipts: Vec<String> = found.missing.iter().map(|d| d.receipt.clone()).collect();
    let failed: Vec<(String, String, Option<i64>, String)> = failed_records::table
        .filter(failed_records::plugin_id.eq(plugin_id))
        .filter(failed_records::receipt.eq_any(&receipts))
        .select((
            failed_records::receipt,
            failed_records::transaction_type,
            failed_records::task_id,
            failed_records::error,
        ))
        .load(conn)?;
    for d in &mut found.missing {
        let hit = failed
            .iter()
            .find(|(r, k, _, _)| r.eq_ignore_ascii_case(&d.receipt) && *k == d.kind);
        if let Some((_, _, task, error)) = hit {
            d.note = Some(format!("kept as a failed import record: {error}"));
            d.failed_in_task = *task;
        }
    }
    Ok(())
}
