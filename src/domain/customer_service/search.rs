//! Customer Service search: orders (or abandoned carts) matching what staff typed, newest or
//! oldest first, one keyset page at a time, and the totals of the whole filter per currency.
//!
//! Keyset paging: a page is "the next PAGE_SIZE rows after (time, id)" in the chosen order,
//! so page 5,000 costs an index seek like page 1 and rows never shift while staff page on.
//! Every filter is an index seek on one of the indexes of migration 000005.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::clickbank::TransactionType;
use crate::db::models::{OrderShown, OrderStatus, PurchaseShown, PurchaseStatus};
use crate::db::schema::{campaigns, customers, orders, purchases};
use crate::db::DbConn;
use crate::error::AppError;

use crate::domain::audit::escape_like;
use crate::domain::lower;

/// Rows per page.
pub const PAGE_SIZE: i64 = 25;

/// Order statuses staff can filter on. `PARTIALLY_REFUNDED` is a complete order with some
/// money given back.
pub const ORDER_STATUSES: &[OrderShown] = OrderShown::ALL;

/// Purchase (subscription) statuses staff can filter on. `PAUSED` is an active purchase
/// whose billing restarts later.
pub const PURCHASE_STATUSES: &[PurchaseShown] = PurchaseShown::ALL;

/// What the results list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Show {
    #[default]
    Orders,
    /// Abandoned carts (ClickBank's ABANDONED_ORDER notifications).
    Partials,
}

/// Where a page starts: the row just before it in the reading direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub time: NaiveDateTime,
    pub id: i64,
}

impl Cursor {
    /// `<unix micros>.<id>`: opaque to users, stable in links.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.time.and_utc().timestamp_micros(), self.id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (t, id) = s.trim().split_once('.')?;
        let time = chrono::DateTime::from_timestamp_micros(t.parse().ok()?)?.naive_utc();
        Some(Cursor {
            time,
            id: id.parse().ok()?,
        })
    }
}

/// Which way from the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// The page after the cursor (Next).
    #[default]
    After,
    /// The page before the cursor (Previous).
    Before,
}

/// The search form.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub campaign_id: Option<i64>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// ClickBank receipt, or our order number.
    pub receipt: Option<String>,
    pub affiliate: Option<String>,
    pub order_status: Option<OrderShown>,
    pub purchase_status: Option<PurchaseShown>,
    /// Inclusive lower bound, UTC.
    pub from: Option<NaiveDateTime>,
    /// Exclusive upper bound, UTC.
    pub until: Option<NaiveDateTime>,
    pub show: Show,
    pub oldest_first: bool,
}

/// One order of the results.
#[derive(Debug, Clone, Queryable)]
pub struct OrderHit {
    pub order_id: i64,
    pub receipt: String,
    pub transaction_time: NaiveDateTime,
    pub status: OrderStatus,
    pub order_type: TransactionType,
    pub currency: String,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub affiliate: Option<String>,
    pub campaign: String,
    pub customer_id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// False for an order built from a later event whose sale is not seen yet.
    pub sale_seen: bool,
}

impl OrderHit {
    pub fn status_label(&self) -> OrderShown {
        self.status.shown(self.refunded_minor)
    }
}

/// One page of results and the cursors around it.
#[derive(Debug, Clone, Default)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Cursor of the next page, when more rows follow.
    pub next: Option<Cursor>,
    /// Cursor of the previous page, when this is not the first.
    pub prev: Option<Cursor>,
}

/// Orders and money of the whole filter in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
    pub refunded_minor: i64,
}

impl SearchFilter {
    /// True when a customer field (email, name, phone) narrows the search.
    pub fn names_customer(&self) -> bool {
        clean(&self.email).is_some() || clean(&self.name).is_some() || clean(&self.phone).is_some()
    }
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The upper bound of a prefix range: every string starting with `p` sorts below it.
fn prefix_end(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

/// The customers matching the customer fields of the filter (email, name, phone), or None
/// when the filter names none. A prefix match is a LIKE (exact on both backends) plus, on
/// SQLite, the equivalent range that lets it seek the index.
macro_rules! customer_filters {
    ($q:expr, $f:expr, $sqlite:expr) => {{
        let f: &SearchFilter = $f;
        let sqlite: bool = $sqlite;
        let mut q = $q;
        if let Some(e) = clean(&f.email).map(|e| e.to_lowercase()) {
            q = q.filter(crate::domain::customers_of_any_plugin());
            if e.contains('@') {
                q = q.filter(customers::email.eq(e));
            } else {
                if sqlite {
                    q = q
                        .filter(customers::email.ge(e.clone()))
                        .filter(customers::email.lt(prefix_end(&e)));
                }
                q = q.filter(
                    customers::email
                        .like(format!("{}%", escape_like(&e)))
                        .escape('\\'),
                );
            }
        }
        if let Some(n) = clean(&f.name).map(|n| n.to_lowercase()) {
            let words: Vec<&str> = n.split_whitespace().collect();
            let (first, last) = match words.as_slice() {
                [one] => (None, Some(*one)),
                [first, .., last] => (Some(*first), Some(*last)),
                [] => (None, None),
            };
            match (first, last) {
                (Some(fst), Some(lst)) => {
                    if sqlite {
                        q = q
                            .filter(lower(customers::last_name).ge(lst.to_string()))
                            .filter(lower(customers::last_name).lt(prefix_end(lst)));
                    }
                    q = q
                        .filter(
                            lower(customers::last_name)
                                .like(format!("{}%", escape_like(lst)))
                                .escape('\\'),
                        )
                        .filter(
                            lower(customers::first_name)
                                .like(format!("{}%", escape_like(fst)))
                                .escape('\\'),
                        );
                }
                (None, Some(one)) => {
                    let pattern = format!("{}%", escape_like(one));
                    if sqlite {
                        q = q.filter(
                            lower(customers::last_name)
                                .ge(one.to_string())
                                .and(lower(customers::last_name).lt(prefix_end(one)))
                                .or(lower(customers::first_name)
                                    .ge(one.to_string())
                                    .and(lower(customers::first_name).lt(prefix_end(one)))),
                        );
                    }
                    q = q.filter(
                        lower(customers::last_name)
                            .like(pattern.clone())
                            .escape('\\')
                            .or(lower(customers::first_name).like(pattern).escape('\\')),
                    );
                }
                _ => {}
            }
        }
        if let Some(p) = clean(&f.phone) {
            // The phones ending with the digits typed: a prefix of the reversed digits.
            let rev = crate::domain::phone::search_prefix(&p)?;
            let digits = customers::phone_digits_rev;
            if sqlite {
                q = q
                    .filter(digits.ge(rev.clone()))
                    .filter(digits.lt(prefix_end(&rev)));
            }
            q = q.filter(digits.like(format!("{rev}%")));
        }
        q
    }};
}

/// `$base` (a boxed query over orders joined to customers, or over orders alone when
/// `SearchFilter::names_customer` is false) narrowed by every filter but the cursor.
macro_rules! filtered_orders {
    (joined: $base:expr, $f:expr, $sqlite:expr) => {{
        let q = customer_filters!($base, $f, $sqlite);
        filtered_orders!(orders: q, $f, $sqlite)
    }};
    (orders: $base:expr, $f:expr, $sqlite:expr) => {{
        let f: &SearchFilter = $f;
        let mut q = $base;
        if let Some(c) = f.campaign_id {
            q = q.filter(orders::campaign_id.eq(c));
        }
        if let Some(r) = clean(&f.receipt) {
            let r = r.trim_start_matches('#').to_string();
            match r.parse::<i64>() {
                Ok(id) => {
                    let by_receipt = crate::domain::orders_of_any_plugin().and(orders::receipt.eq(r.to_uppercase()));
                    q = q.filter(by_receipt.or(orders::id.eq(id)));
                }
                Err(_) => {
                    q = q
                        .filter(crate::domain::orders_of_any_plugin())
                        .filter(orders::receipt.eq(r.to_uppercase()))
                }
            }
        }
        if let Some(a) = clean(&f.affiliate).map(|a| a.to_lowercase()) {
            // A prefix, any case (the index is on lower(affiliate)).
            let aff = || lower(orders::affiliate.assume_not_null());
            if $sqlite {
                q = q.filter(aff().ge(a.clone())).filter(aff().lt(prefix_end(&a)));
            }
            q = q.filter(aff().like(format!("{}%", escape_like(&a))).escape('\\'));
        }
        match f.order_status {
            Some(OrderShown::PartiallyRefunded) => {
                q = q
                    .filter(orders::status.eq(OrderStatus::Complete))
                    .filter(orders::refunded_minor.gt(0));
            }
            Some(OrderShown::Complete) => q = q.filter(orders::status.eq(OrderStatus::Complete)),
            Some(OrderShown::Refunded) => q = q.filter(orders::status.eq(OrderStatus::Refunded)),
            None => {}
        }
        match f.purchase_status {
            Some(PurchaseShown::Paused) => {
                let paused = purchases::table
                    .filter(purchases::status.eq(PurchaseStatus::Active))
                    .filter(purchases::paused_until.gt(crate::domain::now()))
                    .select(purchases::order_id);
                q = q.filter(orders::id.eq_any(paused));
            }
            Some(shown) => {
                let stored = match shown {
                    PurchaseShown::Trial => PurchaseStatus::Trial,
                    PurchaseShown::Cancelled => PurchaseStatus::Cancelled,
                    PurchaseShown::Active | PurchaseShown::Paused => PurchaseStatus::Active,
                };
                let with = purchases::table
                    .filter(purchases::status.eq(stored))
                    .select(purchases::order_id);
                q = q.filter(orders::id.eq_any(with));
            }
            None => {}
        }
        if let Some(t) = f.from {
            q = q.filter(orders::transaction_time.ge(t));
        }
        if let Some(t) = f.until {
            q = q.filter(orders::transaction_time.lt(t));
        }
        q
    }};
}

/// Starts `$q` just past `$cursor` on (time, id) and orders it: towards older rows, or newer.
/// `time <= t` (or `>=`) lets the index seek; the tie on equal times is broken by id.
macro_rules! keyset {
    ($q:expr, $time:expr, $id:expr, $cursor:expr, $older:expr) => {{
        let mut q = $q;
        let older: bool = $older;
        if let Some(c) = $cursor {
            q = if older {
                q.filter($time.le(c.time))
                    .filter($time.lt(c.time).or($id.lt(c.id)))
            } else {
                q.filter($time.ge(c.time))
                    .filter($time.gt(c.time).or($id.gt(c.id)))
            };
        }
        if older {
            q.order(($time.desc(), $id.desc()))
        } else {
            q.order(($time.asc(), $id.asc()))
        }
    }};
}

// After the macros above: the abandoned-cart search uses `keyset!`.
mod carts;
pub use carts::{partials_csv, partials_page, PartialHit, CARTS_CSV_HEADER, ITEM_NOT_SENT};

fn is_sqlite(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Sqlite(_))
}

/// True when the reading order from `cursor` goes towards older rows.
fn towards_older(oldest_first: bool, dir: Direction) -> bool {
    oldest_first != (dir == Direction::After)
}

/// One page of orders.
pub fn orders_page(
    conn: &mut DbConn,
    f: &SearchFilter,
    cursor: Option<Cursor>,
    dir: Direction,
) -> Result<Page<OrderHit>, AppError> {
    let sqlite = is_sqlite(conn);
    let base = orders::table
        .inner_join(customers::table)
        .inner_join(campaigns::table.on(campaigns::id.eq(orders::campaign_id)))
        .into_boxed();
    let mut q = filtered_orders!(joined: base, f, sqlite).select((
        orders::id,
        orders::receipt,
        orders::transaction_time,
        orders::status,
        orders::order_type,
        orders::currency,
        orders::total_minor,
        orders::refunded_minor,
        orders::affiliate,
        campaigns::name,
        customers::id,
        customers::email,
        customers::first_name,
        customers::last_name,
        orders::sale_seen,
    ));
    q = keyset!(
        q,
        orders::transaction_time,
        orders::id,
        cursor,
        towards_older(f.oldest_first, dir)
    );
    let rows: Vec<OrderHit> = q.limit(PAGE_SIZE + 1).load(conn)?;
    Ok(paginate(rows, cursor, dir, |h| Cursor {
        time: h.transaction_time,
        id: h.order_id,
    }))
}

/// Cuts the extra row, restores the reading order of a Previous page and works out the cursors.
fn paginate<T>(
    mut rows: Vec<T>,
    cursor: Option<Cursor>,
    dir: Direction,
    key: impl Fn(&T) -> Cursor,
) -> Page<T> {
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    if dir == Direction::Before {
        rows.reverse();
    }
    let (has_prev, has_next) = match dir {
        Direction::After => (cursor.is_some(), more),
        Direction::Before => (more, cursor.is_some()),
    };
    Page {
        prev: rows.first().filter(|_| has_prev).map(&key),
        next: rows.last().filter(|_| has_next).map(&key),
        rows,
    }
}

/// Orders and money of the whole filter, per currency: one query per campaign (a campaign
/// has one currency), each reading the covering index `orders_campaign_time` when only the
/// campaign narrows it.
pub fn totals(conn: &mut DbConn, f: &SearchFilter) -> Result<Vec<CurrencyTotals>, AppError> {
    use diesel::sql_types::{BigInt, Nullable};
    let sqlite = is_sqlite(conn);
    let mut campaigns_q = campaigns::table
        .select((campaigns::id, campaigns::currency))
        .into_boxed();
    if let Some(c) = f.campaign_id {
        campaigns_q = campaigns_q.filter(campaigns::id.eq(c));
    }
    let list: Vec<(i64, String)> = campaigns_q.load(conn)?;
    let mut by_currency: std::collections::BTreeMap<String, CurrencyTotals> = Default::default();
    for (campaign, currency) in list {
        let one = SearchFilter {
            campaign_id: Some(campaign),
            ..f.clone()
        };
        let money = (
            diesel::dsl::count_star(),
            diesel::dsl::sql::<Nullable<BigInt>>("CAST(SUM(orders.total_minor) AS BIGINT)"),
            diesel::dsl::sql::<Nullable<BigInt>>("CAST(SUM(orders.refunded_minor) AS BIGINT)"),
        );
        let (n, revenue, refunded): (i64, Option<i64>, Option<i64>) = if one.names_customer() {
            let base = orders::table.inner_join(customers::table).into_boxed();
            filtered_orders!(joined: base, &one, sqlite)
                .select(money)
                .get_result(conn)?
        } else {
            filtered_orders!(orders: orders::table.into_boxed(), &one, sqlite)
                .select(money)
                .get_result(conn)?
        };
        if n == 0 {
            continue;
        }
        let t = by_currency.entry(currency.clone()).or_insert(CurrencyTotals {
            currency,
            orders: 0,
            revenue_minor: 0,
            refunded_minor: 0,
        });
        t.orders += n;
        t.revenue_minor += revenue.unwrap_or(0);
        t.refunded_minor += refunded.unwrap_or(0);
    }
    Ok(by_currency.into_values().collect())
}

/// Every campaign for the selector: (id, name), test campaigns last.
pub fn campaign_choices(conn: &mut DbConn) -> Result<Vec<(i64, String)>, AppError> {
    Ok(campaigns::table
        .select((campaigns::id, campaigns::name))
        .order((campaigns::is_test.asc(), campaigns::name.asc()))
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// SQLite's plan for the orders page `f` asks for (the SQL captured as it runs).
    fn plan_of_orders_page(f: &SearchFilter) -> String {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Database::connect(dir.path().join("plan.sqlite3").to_str().unwrap(), 1).unwrap();
        db.migrate().unwrap();
        let mut conn = db.conn().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let log = seen.clone();
        conn.set_instrumentation(move |e: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = e {
                log.lock().unwrap().push(query.to_string());
            }
        });
        orders_page(&mut conn, f, None, Direction::After).unwrap();
        let all = seen.lock().unwrap().clone();
        let sql = all
            .iter()
            .find(|q| q.contains("FROM ((`orders`"))
            .cloned()
            .unwrap_or_else(|| panic!("{all:?}"));
        let sql = sql.split("-- binds").next().unwrap();
        let steps: Vec<PlanStep> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(&mut *conn)
            .unwrap();
        steps.into_iter().map(|s| s.detail).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn receipt_and_email_searches_seek_the_per_plugin_unique_indexes_on_sqlite() {
        // There is no index on the bare receipt or email: a search by either must go through
        // the unique (plugin_id, ...) index, never scan the table.
        let cases = [
            (
                SearchFilter {
                    receipt: Some("ABCD1234".into()),
                    ..Default::default()
                },
                "SEARCH orders USING INDEX sqlite_autoindex_orders_1 (plugin_id=? AND receipt=?)",
            ),
            (
                SearchFilter {
                    email: Some("buyer@example.com".into()),
                    ..Default::default()
                },
                "sqlite_autoindex_customers_1 (plugin_id=? AND email=?)",
            ),
            (
                SearchFilter {
                    email: Some("buy".into()),
                    ..Default::default()
                },
                "sqlite_autoindex_customers_1 (plugin_id=? AND email>? AND email<?)",
            ),
            (
                SearchFilter {
                    phone: Some("657 5528".into()),
                    ..Default::default()
                },
                "customers USING INDEX customers_phone_digits (phone_digits_rev>? AND phone_digits_rev<?)",
            ),
        ];
        for (filter, step) in cases {
            let plan = plan_of_orders_page(&filter);
            assert!(plan.contains(step), "{plan}");
            assert!(
                !plan.contains("SCAN orders") && !plan.contains("SCAN customers"),
                "{plan}"
            );
        }
    }

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            time: chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_micro_opt(3, 4, 5, 678_901)
                .unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("12.x"), None);
    }

    #[test]
    fn paging_directions() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let key = |i: &i64| Cursor { time: t, id: *i };
        let full: Vec<i64> = (0..=PAGE_SIZE).collect();
        let first = paginate(full.clone(), None, Direction::After, key);
        assert_eq!(first.rows.len() as i64, PAGE_SIZE);
        assert!(first.prev.is_none());
        assert_eq!(first.next.map(|c| c.id), Some(PAGE_SIZE - 1));
        let back = paginate(full, Some(key(&99)), Direction::Before, key);
        assert_eq!(back.rows.first(), Some(&(PAGE_SIZE - 1)));
        assert!(back.prev.is_some() && back.next.is_some());
        let last = paginate(vec![1, 2], Some(key(&0)), Direction::After, key);
        assert!(last.next.is_none() && last.prev.is_some());
    }
}
