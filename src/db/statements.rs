//! How the statements an import runs for every record are handed to each backend, so that
//! they stay prepared and do no avoidable work per run. See `on_backend!` beside these.
//!
//! - [`Kept`] (made by `kept!` and `kept_update!`): a statement whose SQL never changes at its
//!   call site, kept prepared between runs. Diesel prepares every UPDATE again on every run
//!   (for an import's rebills and refunds that was a tenth of the work) and writes the SQL of
//!   an `INSERT … ON CONFLICT` again on every run to find it among the prepared ones.
//! - [`Stamp`]: a time bound into many rows, its SQLite text written once. Diesel formats a
//!   time with chrono on every bind; for the few times of an import record that was a tenth
//!   of the work.
//! - `insert_id!`: a single-row INSERT that gives the new row's id. SQLite runs a `RETURNING`
//!   clause like a trigger, under a statement journal that copies every page the insert
//!   touches (a fifth of an order insert); there the id is read with `last_insert_rowid()`.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use diesel::query_source::Table;
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

diesel::define_sql_function! {
    /// SQLite's `last_insert_rowid()`: the id of the row this connection inserted last.
    fn last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// A statement whose SQL never changes at its call site, prepared once and kept. `Site` is a
/// type of its own for each call site (made by `kept!`), which is what the statement cache
/// knows the statement by. Diesel gives some statements no such identity even though their
/// SQL is fixed (an `INSERT … ON CONFLICT DO NOTHING` writes its SQL again on every run to
/// look the statement up). Only for statements whose SQL is the same on every run: no `IN`
/// list, no changeset with optional fields, no SQL text made at run time.
pub struct Kept<Q, Site>(Q, PhantomData<Site>);

impl<Q, Site> Kept<Q, Site> {
    pub fn new(q: Q, _site: Site) -> Self {
        Kept(q, PhantomData)
    }
}

impl<Q, Site: 'static> QueryId for Kept<Q, Site> {
    type QueryId = Site;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Q: QueryFragment<DB>, DB: Backend, Site> QueryFragment<DB> for Kept<Q, Site> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }
}

impl<Q, Site, Conn> RunQueryDsl<Conn> for Kept<Q, Site> {}

/// `kept!(statement)`: the statement as a [`Kept`] of its own call site.
macro_rules! kept {
    ($q:expr) => {{
        struct Site;
        $crate::db::statements::Kept::new($q, Site)
    }};
}
pub(crate) use kept;

/// `UPDATE table SET changes WHERE filter`, written from the same parts as diesel's own
/// UPDATE. Diesel's marks itself unsafe to cache whatever its changeset (one with optional
/// fields writes different SQL depending on which are set), so not even [`Kept`] could keep
/// it; this one can, through `kept_update!`.
pub struct UpdateSql<F, V, W> {
    from: F,
    changes: V,
    filter: W,
}

impl<F, V, W> UpdateSql<F, V, W> {
    pub fn new<T, C>(table: T, filter: W, changes: C) -> Self
    where
        T: Table<FromClause = F>,
        C: AsChangeset<Target = T, Changeset = V>,
    {
        UpdateSql {
            from: table.from_clause(),
            changes: changes.as_changeset(),
            filter,
        }
    }
}

impl<F, V, W, DB> QueryFragment<DB> for UpdateSql<F, V, W>
where
    DB: Backend,
    F: QueryFragment<DB>,
    V: QueryFragment<DB>,
    W: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// `kept_update!(table, filter, changes)`: that UPDATE, prepared once and kept ([`Kept`]); for
/// changesets and filters whose SQL is the same on every run.
macro_rules! kept_update {
    ($table:expr, $filter:expr, $changes:expr) => {
        $crate::db::statements::kept!($crate::db::statements::UpdateSql::new($table, $filter, $changes))
    };
}
pub(crate) use kept_update;

/// `insert_id!(conn, insert, id_column)`: runs the single-row INSERT `insert` (built for
/// each backend's own connection; kept prepared on SQLite) and gives `QueryResult<Option<i64>>`:
/// the new row's id, or `None` when an `ON CONFLICT DO NOTHING` skipped the row. PostgreSQL
/// returns the id with `RETURNING`; SQLite reads `last_insert_rowid()` (see the module doc).
macro_rules! insert_id {
    ($conn:expr, $insert:expr, $id:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(c) => match $crate::db::statements::kept!($insert).execute(c) {
                Ok(0) => Ok(None),
                Ok(_) => diesel::select($crate::db::statements::last_insert_rowid())
                    .get_result::<i64>(c)
                    .map(Some),
                Err(e) => Err(e),
            },
            $crate::db::DbConn::Postgres(c) => $insert.returning($id).get_result::<i64>(c).optional(),
        }
    };
}
pub(crate) use insert_id;

/// A time as the database stores it, with the text SQLite keeps written once, however many
/// rows it goes into. Bind it only on a backend's own connection (`on_backend!`).
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct Stamp {
    time: NaiveDateTime,
    /// Shared by the clones (one per row it goes into).
    text: Arc<str>,
}

/// How diesel writes a `Timestamp` for SQLite: a `Stamp` must read back, sort and compare
/// exactly like the times diesel writes elsewhere.
const SQLITE_TIMESTAMP_FORMAT: &str = "%F %T%.f";

impl Stamp {
    pub fn new(time: NaiveDateTime) -> Self {
        Stamp {
            time,
            text: sqlite_text(time).into(),
        }
    }

    pub fn time(&self) -> NaiveDateTime {
        self.time
    }
}

/// `time` as [`SQLITE_TIMESTAMP_FORMAT`] writes it, by hand: chrono reads the format string
/// again on every call and costs several times more. Years outside 0..=9999 and leap seconds
/// go through chrono.
fn sqlite_text(time: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return time.format(SQLITE_TIMESTAMP_FORMAT).to_string();
    }
    let mut out = String::with_capacity(29);
    push_digits(&mut out, year as u32, 4);
    let fields = [
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
    ];
    for (sep, n) in ['-', '-', ' ', ':', ':'].into_iter().zip(fields) {
        out.push(sep);
        push_digits(&mut out, n, 2);
    }
    // `%.f`: nothing for whole seconds, else 3, 6 or 9 digits, as few as hold the value.
    if nanos != 0 {
        out.push('.');
        if nanos % 1_000_000 == 0 {
            push_digits(&mut out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            push_digits(&mut out, nanos / 1_000, 6);
        } else {
            push_digits(&mut out, nanos, 9);
        }
    }
    out
}

/// `n` in `width` decimal digits, zero-padded (`n` has no more digits than that).
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 9];
    let mut n = n;
    for b in buf[..width].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(buf[..width].iter().map(|&b| b as char));
}

impl ToSql<Timestamp, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> diesel::serialize::Result {
        out.set_value(&*self.text);
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
        ToSql::<Timestamp, Pg>::to_sql(&self.time, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::{Connection, SimpleConnection};
    use diesel::sql_types::Text;
    use diesel::SqliteConnection;

    #[derive(diesel::QueryableByName)]
    struct Pair {
        #[diesel(sql_type = Text)]
        ours: String,
        #[diesel(sql_type = Text)]
        diesels: String,
    }

    /// Runs `update` three times on a fresh connection; how many statements were prepared
    /// for the cache.
    fn cached_after_three_runs(update: impl Fn(&mut SqliteConnection)) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, at TEXT NOT NULL); INSERT INTO t VALUES (1, 0, '')")
            .unwrap();
        let cached = Arc::new(AtomicUsize::new(0));
        let seen = cached.clone();
        c.set_instrumentation(move |e: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::CacheQuery { .. } = e {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        for _ in 0..3 {
            update(&mut c);
        }
        cached.load(Ordering::SeqCst)
    }

    diesel::table! {
        t (id) {
            id -> BigInt,
            n -> BigInt,
            at -> Timestamp,
        }
    }

    #[test]
    fn a_kept_update_is_prepared_once_where_diesel_prepares_it_every_time_and_does_the_same() {
        use diesel::prelude::*;
        let at = Stamp::new(NaiveDateTime::parse_from_str("2026-11-26 03:04:05", "%F %T").unwrap());
        let plain = cached_after_three_runs(|c| {
            diesel::update(t::table.find(1))
                .set((t::n.eq(t::n + 1), t::at.eq(&at)))
                .execute(c)
                .unwrap();
        });
        let kept = cached_after_three_runs(|c| {
            let n = kept_update!(t::table, t::id.eq(1), (t::n.eq(t::n + 1), t::at.eq(&at)))
                .execute(c)
                .unwrap();
            assert_eq!(n, 1);
        });
        assert_eq!((plain, kept), (0, 1));
        // It changes the row its filter names, as written.
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, at TEXT NOT NULL); INSERT INTO t VALUES (1, 0, ''), (2, 0, '')")
            .unwrap();
        kept_update!(t::table, t::id.eq(2), (t::n.eq(t::n + 5), t::at.eq(&at)))
            .execute(&mut c)
            .unwrap();
        let n: Vec<i64> = t::table.order(t::id).select(t::n).load(&mut c).unwrap();
        let second: NaiveDateTime = t::table.find(2).select(t::at).first(&mut c).unwrap();
        assert_eq!((n, second), (vec![0, 5], at.time()));
    }

    #[test]
    fn a_stamp_is_stored_as_the_same_text_diesel_writes_for_a_time() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        let times = [
            "2026-11-26 03:04:05",
            "2026-11-26 03:04:05.120",
            "2026-11-26 03:04:05.123456",
            "2026-11-26 03:04:05.123456789",
            "1999-01-02 23:59:59.000001",
            "0001-01-01 00:00:00.5",
            "9999-12-31 23:59:59.999999",
        ];
        for t in times {
            let t = NaiveDateTime::parse_from_str(t, "%F %T%.f").unwrap();
            let p: Pair = diesel::sql_query("SELECT CAST(? AS TEXT) AS ours, CAST(? AS TEXT) AS diesels")
                .bind::<Timestamp, _>(Stamp::new(t))
                .bind::<Timestamp, _>(t)
                .get_result(&mut c)
                .unwrap();
            assert_eq!(p.ours, p.diesels, "{t}");
            assert_eq!(Stamp::new(t).time(), t);
        }
    }

    #[test]
    fn a_stamp_writes_what_chrono_writes_for_any_time() {
        use chrono::{Duration, NaiveDate};
        let start = NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Steps of up to ~3 years; a quarter of them land on whole or milli/micro seconds.
            let nanos = match x % 4 {
                0 => 0,
                1 => (x >> 8) % 1000 * 1_000_000,
                2 => (x >> 8) % 1_000_000 * 1_000,
                _ => (x >> 8) % 1_000_000_000,
            };
            let t = start
                + Duration::seconds(((x >> 20) % 3_000_000_000) as i64)
                + Duration::nanoseconds(nanos as i64);
            assert_eq!(sqlite_text(t), t.format(SQLITE_TIMESTAMP_FORMAT).to_string());
        }
        let far = NaiveDate::from_ymd_opt(12000, 1, 1)
            .unwrap()
            .and_hms_opt(1, 2, 3)
            .unwrap();
        assert_eq!(sqlite_text(far), far.format(SQLITE_TIMESTAMP_FORMAT).to_string());
    }
}
