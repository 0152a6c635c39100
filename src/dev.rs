//! Developer tools: `merchant-crm dev seed --orders N` fills the database with a realistic
//! volume of ClickBank orders (customers, campaigns in five currencies, items, transactions,
//! subscriptions, refunds, abandoned carts) for benchmarks and for trying the portal at scale.
//!
//! Rows are written with multi-row INSERTs in large transactions and explicit ids, so a
//! million orders take seconds, not hours. Values are generated here (never user input).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

use crate::clickbank::sandbox::catalog::{FIRST_NAMES, LAST_NAMES};
use crate::db::models::{OrderStatus, PurchaseStatus};
use crate::db::{Database, DbConn};
use crate::domain::{plugins, Actor};
use crate::error::AppError;
use crate::secrets::SecretBox;

/// The customer who has exactly [`FIFTY`] orders (the profile benchmark's subject).
pub const FIFTY_EMAIL: &str = "fifty.orders@example.com";
pub const FIFTY: u64 = 50;

const CURRENCIES: &[(&str, u64)] = &[("USD", 40), ("EUR", 20), ("GBP", 15), ("CAD", 15), ("AUD", 10)];
/// What a seed wrote.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub plugin_id: i64,
    pub orders: u64,
    pub customers: u64,
    pub partials: u64,
    /// (campaign id, name) per currency.
    pub campaigns: Vec<(i64, String)>,
    pub fifty_customer_id: i64,
}

/// A seeded generator: the same N gives the same data.
struct Rng(StdRng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.gen_range(0..n.max(1))
    }
}

/// A SQL string literal.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn max_id(conn: &mut DbConn, table: &str) -> Result<i64, AppError> {
    #[derive(QueryableByName)]
    struct M {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        m: i64,
    }
    let r: M = diesel::sql_query(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS m FROM {table}"
    ))
    .get_result(conn)?;
    Ok(r.m)
}

/// Collects VALUES tuples and flushes them as one INSERT every `BATCH` rows.
struct Bulk {
    head: String,
    rows: Vec<String>,
}

const BATCH: usize = 2000;

impl Bulk {
    fn new(head: &str) -> Self {
        Bulk {
            head: head.to_string(),
            rows: Vec::with_capacity(BATCH),
        }
    }
    fn push(&mut self, conn: &mut DbConn, row: String) -> Result<(), AppError> {
        self.rows.push(row);
        if self.rows.len() >= BATCH {
            self.flush(conn)?;
        }
        Ok(())
    }
    /// Buffers a row whose parent may still be buffered; flushed with the parent.
    fn hold(&mut self, row: String) {
        self.rows.push(row);
    }
    fn flush(&mut self, conn: &mut DbConn) -> Result<(), AppError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let sql = format!("{} VALUES {};", self.head, self.rows.join(","));
        conn.batch_execute(&sql)
            .map_err(|e| AppError::Internal(format!("seed: {e} in {}", self.head)))?;
        self.rows.clear();
        Ok(())
    }
}

fn ts(t: chrono::NaiveDateTime) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// Fills the database with `orders` orders under a plugin named "Seed".
pub fn seed(db: &Database, secrets: &SecretBox, orders: u64) -> Result<SeedReport, AppError> {
    let mut conn = db.conn()?;
    let conn: &mut DbConn = &mut conn;
    let pg = matches!(conn, DbConn::Postgres(_));
    let input = plugins::PluginInput::basic("Seed", "seedvendor", "API-SEED", "SEEDSECRET")?;
    let plugin = plugins::create(conn, &Actor::cli(), secrets, &input, false)?;
    let pid = plugin.id;
    let now = crate::domain::now();
    let mut report = SeedReport {
        plugin_id: pid,
        ..Default::default()
    };
    let house = crate::domain::catalog::clickbank_house_id(conn)?;

    conn.transaction::<_, AppError, _>(|conn| {
        let cat_id = max_id(conn, "product_categories")? + 1;
        conn.batch_execute(&format!(
            "INSERT INTO product_categories (id, name, plugin_id, created_at) VALUES ({cat_id}, 'Seed products', {pid}, {})",
            ts(now)
        ))?;
        let first_product = max_id(conn, "products")? + 1;
        let mut b = Bulk::new("INSERT INTO products (id, category_id, sku, title, currency, msrp_minor, description, shippable, recurring, fulfillment_house_id, fulfillment_type, delay_hours, merchant_edited, created_at, updated_at)");
        for i in 0..20i64 {
            let recurring = i % 4 == 0;
            b.push(conn, format!(
                "({}, {cat_id}, 'SEED-{i:02}', 'Seed product {i}', 'USD', {}, '', {}, {}, {house}, 'standard', 0, {}, {}, {})",
                first_product + i, 1995 + i * 500, i % 3 == 0, recurring, false, ts(now), ts(now)
            ))?;
        }
        b.flush(conn)?;
        let first_campaign = max_id(conn, "campaigns")? + 1;
        for (n, (cur, _)) in CURRENCIES.iter().enumerate() {
            let id = first_campaign + n as i64;
            conn.batch_execute(&format!(
                "INSERT INTO campaigns (id, plugin_id, currency, is_test, name, name_locked, bundle_window_hours, created_at) VALUES ({id}, {pid}, '{cur}', {}, 'Seed_{cur}', {}, 24, {})",
                false, true, ts(now)
            ))?;
            report.campaigns.push((id, format!("Seed_{cur}")));
        }

        let customers_n = (orders / 3).max(FIFTY + 1);
        let first_customer = max_id(conn, "customers")? + 1;
        let mut rng = Rng(StdRng::seed_from_u64(orders ^ 0x5EED));
        let mut b = Bulk::new("INSERT INTO customers (id, plugin_id, email, first_name, last_name, phone, phone_digits_rev, bill_address1, bill_city, bill_state, bill_postal_code, bill_country, ship_first_name, ship_last_name, ship_address1, ship_city, ship_state, ship_postal_code, ship_country, created_at, updated_at)");
        for c in 0..customers_n {
            let id = first_customer + c as i64;
            let f = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
            let l = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
            let email = if c == 0 {
                FIFTY_EMAIL.to_string()
            } else {
                let local: String = format!("{f}.{l}").to_lowercase().chars().filter(|ch| ch.is_ascii_alphanumeric() || *ch == '.').collect();
                format!("{local}{c}@example.com")
            };
            let (email, f, l) = (q(&email), q(f), q(l));
            let phone = format!("+1555{:07}", c);
            let digits = crate::domain::phone::digits_reversed(&phone);
            let street = format!("{} Main St", 1 + rng.below(9000));
            b.push(conn, format!(
                "({id}, {pid}, {email}, {f}, {l}, '{phone}', '{digits}', '{street}', 'Springfield', 'IL', '62701', 'US', {f}, {l}, '{street}', 'Springfield', 'IL', '62701', 'US', {}, {})",
                ts(now), ts(now)
            ))?;
        }
        b.flush(conn)?;
        report.customers = customers_n;
        report.fifty_customer_id = first_customer;

        let first_order = max_id(conn, "orders")? + 1;
        let first_item = max_id(conn, "order_items")? + 1;
        let first_purchase = max_id(conn, "purchases")? + 1;
        let mut o = Bulk::new("INSERT INTO orders (id, plugin_id, campaign_id, customer_id, receipt, order_type, status, affiliate, payment_method, currency, total_minor, tax_minor, shipping_minor, refunded_minor, transaction_time, created_at, updated_at)");
        let mut it = Bulk::new("INSERT INTO order_items (id, order_id, product_id, item_no, title, line_item_type, quantity, amount_minor, shippable, recurring)");
        let mut tx = Bulk::new("INSERT INTO transactions (order_id, kind, item_no, amount_minor, currency, transaction_time, source, created_at)");
        let mut pu = Bulk::new("INSERT INTO purchases (id, order_id, order_item_id, customer_id, product_id, status, billing_cycle, rebill_amount_minor, frequency, next_bill_date, created_at, updated_at)");
        let start = now - chrono::Duration::days(365);
        let span = 365 * 24 * 3600;
        let weights: u64 = CURRENCIES.iter().map(|(_, w)| w).sum();
        let mut purchase_id = first_purchase;
        for n in 0..orders {
            let id = first_order + n as i64;
            let customer = if n < FIFTY {
                first_customer
            } else {
                first_customer + 1 + rng.below(customers_n - 1) as i64
            };
            let mut pick = rng.below(weights);
            let mut cur_ix = 0;
            for (i, (_, w)) in CURRENCIES.iter().enumerate() {
                if pick < *w {
                    cur_ix = i;
                    break;
                }
                pick -= w;
            }
            let (cur, _) = CURRENCIES[cur_ix];
            let campaign = first_campaign + cur_ix as i64;
            let t = start + chrono::Duration::seconds(rng.below(span) as i64);
            let p = rng.below(20) as i64;
            let total = 1995 + p * 500;
            let refunded = rng.below(20) == 0;
            let affiliate = if rng.below(3) == 0 {
                "NULL".to_string()
            } else {
                format!("'aff{}'", rng.below(200))
            };
            o.hold(format!(
                "({id}, {pid}, {campaign}, {customer}, 'SEED{id:09}', 'SALE', '{}', {affiliate}, 'VISA', '{cur}', {total}, 0, 0, {}, {}, {}, {})",
                if refunded { OrderStatus::Refunded } else { OrderStatus::Complete },
                if refunded { total } else { 0 },
                ts(t), ts(t), ts(t)
            ));
            let item = first_item + n as i64;
            let recurring = p % 4 == 0;
            it.hold(format!(
                "({item}, {id}, {}, 'SEED-{p:02}', 'Seed product {p}', 'ORIGINAL', 1, {total}, {}, {recurring})",
                first_product + p, p % 3 == 0
            ));
            tx.hold(format!("({id}, 'SALE', 'SEED-{p:02}', {total}, '{cur}', {}, 'seed', {})", ts(t), ts(t)));
            if refunded {
                let rt = t + chrono::Duration::days(3);
                tx.hold(format!("({id}, 'RFND', 'SEED-{p:02}', {total}, '{cur}', {}, 'seed', {})", ts(rt), ts(rt)));
            }
            if recurring {
                let status = if refunded {
                    PurchaseStatus::Cancelled
                } else {
                    PurchaseStatus::Active
                };
                let next = t + chrono::Duration::days(30);
                pu.hold(format!(
                    "({purchase_id}, {id}, {item}, {customer}, {}, '{status}', 1, {total}, 'MONTHLY', {}, {}, {})",
                    first_product + p, ts(next), ts(t), ts(t)
                ));
                purchase_id += 1;
            }
            if o.rows.len() >= BATCH {
                for b in [&mut o, &mut it, &mut tx, &mut pu] {
                    b.flush(conn)?;
                }
            }
        }
        o.flush(conn)?;
        it.flush(conn)?;
        tx.flush(conn)?;
        pu.flush(conn)?;
        report.orders = orders;

        let partials_n = orders / 20;
        let mut pa = Bulk::new("INSERT INTO partials (plugin_id, email, first_name, last_name, phone, country, item_no, item_title, item_count, event_time, created_at)");
        for n in 0..partials_n {
            let t = start + chrono::Duration::seconds(rng.below(span) as i64);
            // ClickBank sends line items on some abandoned carts only.
            let item = if n % 2 == 0 { "'SEED-01', 'Seed product 1', 1" } else { "NULL, NULL, 0" };
            pa.push(conn, format!(
                "({pid}, 'cart{n}@example.com', 'Cart', 'Visitor{n}', '', 'US', {item}, {}, {})",
                ts(t), ts(t)
            ))?;
        }
        pa.flush(conn)?;
        report.partials = partials_n;
        Ok(())
    })?;

    if pg {
        // Explicit ids leave PostgreSQL's sequences behind: move them past the seed.
        for table in [
            "product_categories",
            "products",
            "campaigns",
            "customers",
            "orders",
            "order_items",
            "purchases",
        ] {
            conn.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            ))?;
        }
        conn.batch_execute("ANALYZE")?;
    } else {
        conn.batch_execute("ANALYZE")?;
    }
    Ok(report)
}
