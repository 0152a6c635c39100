//! One ClickBank budget per account. ClickBank allows about 25,000 requests a day per
//! account, shared by every integration; each day's (Pacific) requests are counted by what
//! made them, so the plugin page shows the split, and the look-ups of sales not seen yet keep
//! to a daily budget the account executive sets (their share of the allowance).

use diesel::prelude::*;

use crate::db::schema::clickbank_requests as counts;
use crate::db::DbConn;
use crate::error::AppError;

/// What ClickBank allows an account a day, by its own account.
pub const DAILY_ALLOWANCE: i64 = 25_000;
/// The default daily budget of look-ups.
pub const DEFAULT_LOOKUP_BUDGET: i32 = 5_000;

crate::db::text::text_enum! {
    /// What made a ClickBank request.
    pub enum Purpose {
        /// Order and product imports.
        Import = "import",
        /// Look-ups of sales not seen yet.
        Lookup = "lookup",
        /// Customer Service actions (refunds, cancellations, changes, ticket checks).
        Action = "action",
        /// Ship notices of tracked items.
        Notice = "notice",
        /// Reading ClickBank's orders list to reconcile days.
        Reconcile = "reconcile",
    }
}

impl Purpose {
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Import => "imports",
            Purpose::Lookup => "look-ups of sales not seen yet",
            Purpose::Action => "Customer Service actions",
            Purpose::Notice => "ship notices",
            Purpose::Reconcile => "reconciliation",
        }
    }
}

/// ClickBank's days are Pacific days (one rule: [`crate::clickbank::time::pacific_date`]).
pub fn clickbank_today() -> chrono::NaiveDate {
    crate::clickbank::time::pacific_date(chrono::Utc::now())
}

fn today() -> String {
    clickbank_today().format("%Y-%m-%d").to_string()
}

/// Counts `n` requests of plugin `plugin_id` made for `purpose` today.
pub fn add(conn: &mut DbConn, plugin_id: i64, purpose: Purpose, n: i64) -> Result<(), AppError> {
    if n <= 0 {
        return Ok(());
    }
    let day = today();
    let bump = |c: &mut DbConn| -> QueryResult<usize> {
        diesel::update(
            counts::table
                .filter(counts::plugin_id.eq(plugin_id))
                .filter(counts::day.eq(&day))
                .filter(counts::purpose.eq(purpose.as_str())),
        )
        .set(counts::requests.eq(counts::requests + n))
        .execute(c)
    };
    if bump(conn)? == 0 {
        let inserted = conn.transaction(|c| {
            diesel::insert_into(counts::table)
                .values((
                    counts::plugin_id.eq(plugin_id),
                    counts::day.eq(&day),
                    counts::purpose.eq(purpose.as_str()),
                    counts::requests.eq(n),
                ))
                .execute(c)
        });
        if inserted.is_err() {
            // Another process created the row meanwhile.
            bump(conn)?;
        }
    }
    Ok(())
}

/// Today's requests of a plugin, by purpose (every purpose listed, zero or not).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    pub by_purpose: Vec<(Purpose, i64)>,
    pub total: i64,
}

impl Usage {
    pub fn of(&self, purpose: Purpose) -> i64 {
        self.by_purpose
            .iter()
            .find(|(p, _)| *p == purpose)
            .map_or(0, |(_, n)| *n)
    }

    /// Percent of ClickBank's daily allowance used.
    pub fn percent_of_allowance(&self) -> i64 {
        self.total * 100 / DAILY_ALLOWANCE
    }
}

pub fn today_usage(conn: &mut DbConn, plugin_id: i64) -> Result<Usage, AppError> {
    let rows: Vec<(String, i64)> = counts::table
        .filter(counts::plugin_id.eq(plugin_id))
        .filter(counts::day.eq(today()))
        .select((counts::purpose, counts::requests))
        .load(conn)?;
    let by_purpose: Vec<(Purpose, i64)> = Purpose::ALL
        .iter()
        .map(|p| {
            let n = rows
                .iter()
                .filter(|(name, _)| name == p.as_str())
                .map(|(_, n)| *n)
                .sum();
            (*p, n)
        })
        .collect();
    let total = rows.iter().map(|(_, n)| n).sum();
    Ok(Usage { by_purpose, total })
}

/// Look-ups plugin `plugin_id` may still make today within its budget.
pub fn lookups_left(conn: &mut DbConn, plugin_id: i64, budget: i32) -> Result<i64, AppError> {
    let used = today_usage(conn, plugin_id)?.of(Purpose::Lookup);
    Ok((i64::from(budget) - used).max(0))
}

/// Counts under `purpose` the requests `api` (a handle made for one job) has sent. A count
/// that cannot be written is logged: what ClickBank did stands.
pub async fn count_sent(
    db: &crate::db::Database,
    plugin_id: i64,
    purpose: Purpose,
    api: &dyn crate::clickbank::ClickBankApi,
) {
    let n = api.requests_sent() as i64;
    if let Err(e) = db.run(move |c| add(c, plugin_id, purpose, n)).await {
        tracing::warn!(plugin = plugin_id, error = %e, "ClickBank requests could not be counted");
    }
}
