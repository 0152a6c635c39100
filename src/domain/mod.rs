//! Business rules with no HTTP in them. Functions take a connection and run on a
//! blocking thread (the web layer calls them through `Database::run`).

pub mod accounts;
pub mod audit;
pub mod campaigns;
pub mod catalog;
pub mod clickbank_budget;
pub mod context;
pub mod customer_service;
pub mod fulfillment;
pub mod lease;
pub mod orders;
pub mod phone;
pub mod plugins;

pub mod sync;

use chrono::NaiveDateTime;
use diesel::{Connection, QueryResult};

use crate::db::DbConn;
use crate::error::AppError;

/// Who performed an action, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn cli() -> Self {
        Actor {
            user_id: None,
            label: "cli".into(),
            ip: None,
        }
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive search on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Orders of any plugin, said before a condition on the receipt alone: the unique
/// (plugin_id, receipt) index then serves that condition. There is no index on the bare
/// column: every imported order would pay for it.
pub(crate) fn orders_of_any_plugin() -> diesel::dsl::EqAny<
    crate::db::schema::orders::plugin_id,
    diesel::dsl::Select<crate::db::schema::plugins::table, crate::db::schema::plugins::id>,
> {
    use crate::db::schema::{orders, plugins};
    use diesel::prelude::*;
    orders::plugin_id.eq_any(plugins::table.select(plugins::id))
}

/// Customers of any plugin, said before a condition on the email alone, for the same reason
/// as [`orders_of_any_plugin`] (the unique (plugin_id, email) index; on SQLite there is no
/// index on the bare column).
pub(crate) fn customers_of_any_plugin() -> diesel::dsl::EqAny<
    crate::db::schema::customers::plugin_id,
    diesel::dsl::Select<crate::db::schema::plugins::table, crate::db::schema::plugins::id>,
> {
    use crate::db::schema::{customers, plugins};
    use diesel::prelude::*;
    customers::plugin_id.eq_any(plugins::table.select(plugins::id))
}

/// When day `day` of time zone `tz` starts, as the UTC time the database stores (a day typed
/// in the portal's time zone, for a date filter).
pub fn day_start_utc(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> NaiveDateTime {
    use chrono::TimeZone;
    let local = day.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(local)
}

/// Now, in UTC, as stored in the database (whole microseconds, so both backends agree).
pub fn now() -> NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

/// True when `e` is a unique-constraint violation (another writer inserted the row first).
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Inserts inside a savepoint and ignores a unique violation (another writer won), so the
/// caller can select the row either way on both backends.
pub(crate) fn insert_ignoring_duplicate<F>(conn: &mut DbConn, f: F) -> Result<(), AppError>
where
    F: FnOnce(&mut DbConn) -> QueryResult<usize>,
{
    match conn.transaction(f) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
